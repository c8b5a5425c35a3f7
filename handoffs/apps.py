from django.apps import AppConfig


class HandoffsConfig(AppConfig):
    """Closed-won handoffs: readiness checklists that gate downstream work (a workflow app)."""

    name = "handoffs"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "Handoffs"

    def ready(self):
        from exceptions.registry import register_item_kind
        from revops.engine.hooks import register_event_hook
        from revops.plugins import (
            register_demo_builder,
            register_field_users,
            register_schedule,
            register_sync_gap_handler,
            register_why_panel,
        )

        from . import (
            configuration,  # noqa: F401  (registers the checklists section)
            jobs,
        )
        from .demo import handoffs_demo_build
        from .field_users import checklist_field_users
        from .gaps import handoffs_note_changes, handoffs_sync_gaps
        from .metrics import handoffs_metrics_register
        from .panels import why_handoffs_panel
        from .services import ITEM_KIND, LATE_KIND, RETURN_KIND
        from .versions import register as register_versions

        register_field_users("handoffs", checklist_field_users)
        register_item_kind(
            ITEM_KIND,
            "Handoff waiting for context",
            severity="medium",
            expected_action="Get the missing handoff context filled in; the handoff goes out by itself once complete.",
        )
        register_item_kind(
            RETURN_KIND,
            "Handoff sent back",
            severity="high",
            expected_action="Fix what the receiving team named, then send the handoff again.",
        )
        register_item_kind(
            LATE_KIND,
            "Handoff not accepted in time",
            severity="high",
            expected_action="Accept the handoff or send it back with a reason.",
        )
        register_schedule(jobs.handoffs_acceptance_tick, name="handoffs_acceptance_tick", queue="default", interval=900)
        register_schedule(jobs.handoffs_renewals_tick, name="handoffs_renewals_tick", queue="low", cron="15 5 * * *")
        # Bulk sync batches' evaluations whose job was lost (Redis down at the commit, a worker killed).
        register_schedule(jobs.handoffs_pending_sweep, name="handoffs_pending_sweep", queue="default", interval=60)
        # Deals' gaps are the handoffs' to raise: one item per deal and checklist, not per field.
        register_sync_gap_handler("handoffs", handoffs_sync_gaps, object_types=("opportunity",))
        register_event_hook(handoffs_note_changes)
        # After routing (40), before the CRM's morning sync (60), whose won deals it then sees.
        register_demo_builder("handoffs", handoffs_demo_build, order=50)
        register_versions()
        handoffs_metrics_register()
        register_why_panel(
            "handoffs", why_handoffs_panel, template="admin/handoffs/includes/why_handoffs_panel.html", order=25
        )
