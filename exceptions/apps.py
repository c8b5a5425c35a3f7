from django.apps import AppConfig
from django.db.models.signals import post_migrate

# The queue's own kinds of notice: (key, label, help, immediate, order) — see exceptions.notifications.
NOTIFICATION_EVENTS = (
    ("critical", "A critical item for me", "A critical item opens and it is yours.", True, 10),
    ("escalated", "An item escalated to me", "An overdue item reaches you on its queue's escalation path.", True, 20),
    ("woke", "My snoozed item is back", "An item you snoozed comes back to your queue.", True, 30),
    (
        "digest",
        "My daily digest",
        "If you manage a queue: its open, overdue and waiting items, once a day at your hour.",
        False,
        50,
    ),
)


class ExceptionsConfig(AppConfig):
    verbose_name = "Exception queue"
    name = "exceptions"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from revops.plugins import (
            register_demo_builder,
            register_schedule,
            register_sync_gap_handler,
            register_sync_rejection_handler,
            register_why_panel,
        )
        from revops.versions import register_versioned, restore_with_save

        from . import configuration, jobs  # noqa: F401  (configuration: registers the queues section)
        from .demo import exceptions_demo_build
        from .gap_items import EXPECTED_ACTION, MISSING_FIELDS, exception_items_sync_gaps
        from .metrics import exceptions_metrics_register
        from .models import Queue
        from .queues import queue_save
        from .registry import register_item_kind, register_notification_event
        from .roles import create_roles_after_migrate
        from .selectors import why_items_panel
        from .services import SYNC_REJECTED
        from .sync_items import exception_items_open_sync_rejected

        # After migrate (and after a test flush) the role groups exist with their permissions.
        post_migrate.connect(create_roles_after_migrate, sender=self, dispatch_uid="exceptions.create_roles")

        # Records the CRM sync refused land in the queue (the core calls this in the sync transaction).
        register_item_kind(
            SYNC_REJECTED,
            "Sync record rejected",
            expected_action="Correct the record in the CRM so the next sync is accepted, then resolve this item.",
        )
        register_sync_rejection_handler("exceptions", exception_items_open_sync_rejected)
        # Records stored without required "prompt" fields (closed-won handoff context): one item each.
        register_item_kind(MISSING_FIELDS, "Required fields missing", expected_action=EXPECTED_ACTION)
        register_sync_gap_handler("exceptions", exception_items_sync_gaps, fallback=True)
        register_versioned(
            Queue, label="queue", restore=restore_with_save(lambda queue, **kw: queue_save(queue=queue, **kw))
        )

        register_schedule(jobs.escalate_overdue, name="exceptions_escalate_overdue", queue="default", interval=300)
        register_schedule(jobs.wake_snoozed, name="exceptions_wake_snoozed", queue="default", interval=60)
        # Each manager's digest at their local digest hour; the Notification rows make a re-run a no-op.
        register_schedule(jobs.send_daily_digests, name="exceptions_daily_digests", queue="low", cron="*/15 * * * *")
        register_schedule(jobs.release_held, name="exceptions_release_held", queue="default", interval=60)
        for key, label, help_text, immediate, order in NOTIFICATION_EVENTS:
            register_notification_event(key, label, help=help_text, immediate=immediate, order=order)
        register_why_panel(
            "open_items", why_items_panel, template="admin/exceptions/includes/why_items_panel.html", order=30
        )
        register_demo_builder("queues", exceptions_demo_build, order=20)
        exceptions_metrics_register()
