"""Everything the engine plugs into the layers below it, in one place; ``revops.apps`` calls ``engine_setup``.

- its automation kinds (``builtin``) and generic actions (``generic_actions``), and its
  configuration-as-code section (``configuration``) — registered by importing them;
- the outbox consumer: CRM events are processed by the engine's pipeline;
- the exception item kinds it opens, and the approval handler that applies a prepared action
  once a person approves it;
- its periodic jobs, its admin, the runs panel of the Why page and the run panel of an item's page.
"""

from __future__ import annotations

from django.conf import settings

from exceptions.registry import (
    register_approval_handler,
    register_item_kind,
    register_item_panel,
    register_notification_event,
    register_queue_users,
)
from revops.access import ADMIN
from revops.models import Automation
from revops.outbox import OutboxConsumer, outbox_consumer_register
from revops.plugins import register_demo_builder, register_field_users, register_schedule, register_why_panel
from revops.versions import register_versioned

from . import admin, builtin, configuration, failure_monitor, generic_actions, jobs  # noqa: F401  (registers kinds, actions, admin)
from .admin.health import item_health_panel
from .admin.panels import item_run_panel, proposal_describe, why_reverts_panel, why_runs_panel
from .approvals import approval_apply, approval_override_field, approval_override_params, approval_reject
from .demo import engine_demo_build, engine_demo_revert
from .demo_review import engine_demo_review_build
from .field_users import automation_field_users
from .health_metrics import health_metrics_register
from .health_review import ITEM_EXPECTED, ITEM_KIND, automation_health_demo_build
from .metrics import engine_metrics_register
from .pipeline import engine_process_events
from .services import automation_queue_users, automation_restore
from .stuck import engine_flag_stuck_runs

APPROVAL = "approval_required"

ITEM_KINDS = (
    (APPROVAL, "Approval required", "high", "Approve to apply the prepared action, or reject it."),
    (
        "automation_failed",
        "Automation failed after retries",
        "high",
        "Fix the automation's configuration or the record, then re-run or dismiss.",
    ),
    ("review_overdue", "Automation review overdue", "medium", "Review the automation and record the review."),
    (ITEM_KIND, "Automation health: retire or review", "medium", ITEM_EXPECTED),
    ("missing_data", "Missing required data", "medium", "Fill in the missing fields in the CRM."),
    ("hygiene_alert", "Hygiene alert", "medium", "Review the record and fix what the reason names."),
    # Kinds the built-in alert and required-field kinds may raise for workflows not built as apps yet;
    # the handoff and data-quality apps take them over (a later registration of the same key wins).
    ("handoff_incomplete", "Handoff incomplete", "medium", "Complete the handoff fields in the CRM."),
    ("duplicate_conflict", "Duplicate conflict", "medium", "Decide which record to keep, then merge in the CRM."),
)


def engine_setup() -> None:
    """Register the engine with the core and the queue (idempotent)."""
    for key, label, severity, expected in (*ITEM_KINDS, *failure_monitor.KINDS):
        register_item_kind(key, label, severity=severity, expected_action=expected)
    register_notification_event(
        "automation_notice",
        "A notice from an automation",
        help="An automation's Notify action names you (its owner, a record's owner or their manager).",
        order=40,
    )
    register_notification_event(
        "weekly_revops",
        "RevOps weekly",
        help="The dashboard's headline numbers and the open automation health suggestions (RevOps admins).",
        immediate=False,
        order=70,
        roles=(ADMIN,),
    )
    register_approval_handler(
        APPROVAL,
        approval_apply,
        describe=proposal_describe,
        reject=approval_reject,
        override_field=approval_override_field,
        override_params=approval_override_params,
    )
    register_queue_users("automations", automation_queue_users)
    register_field_users("automations", automation_field_users)
    outbox_consumer_register(
        OutboxConsumer(
            process=lambda event_ids: engine_process_events(event_ids=event_ids).events,
            flag_stuck=lambda minutes: engine_flag_stuck_runs(minutes=minutes),
        )
    )
    register_schedule(jobs.run_scheduled_automations, name="run_scheduled_automations", queue="default", interval=60)
    # Silent failures: late scheduled automations, a silent CRM, alert or error spikes, double runs.
    register_schedule(jobs.check_automation_failures, name="check_automation_failures", queue="default", interval=900)
    register_schedule(jobs.open_review_overdue, name="open_review_overdue", queue="low", interval=86400)
    register_schedule(jobs.sweep_held_events, name="sweep_held_events", queue="default", interval=300)
    register_schedule(jobs.sweep_revert_batches, name="sweep_revert_batches", queue="default", interval=300)
    register_schedule(
        jobs.review_automation_health, name="automation_health_review", queue="low", cron=settings.HEALTH_REVIEW_CRON
    )
    register_schedule(
        jobs.send_weekly_revops_email, name="weekly_revops_email", queue="low", cron=settings.HEALTH_WEEKLY_CRON
    )
    register_why_panel(
        "runs",
        why_runs_panel,
        template="admin/revops/includes/why_runs_panel.html",
        order=100,
    )
    register_why_panel("reverts", why_reverts_panel, template="admin/revops/includes/why_reverts_panel.html", order=90)
    register_item_panel("run", item_run_panel, template="admin/revops/includes/run_card.html")
    register_item_panel("automation_health", item_health_panel, template="admin/revops/includes/health_item_panel.html")
    register_demo_builder("automations", engine_demo_build, order=30)
    # The automation keeps its own rule-version counter (runs point at it); its versions are numbered apart.
    register_versioned(
        Automation,
        label="automation",
        restore=automation_restore,
        counter=None,
        exclude=("identity",),
        conditions={"conditions": None},
    )
    register_demo_builder("reverts", engine_demo_revert, order=80)
    # After every workflow's demo (the renewal monitors are 75), before the metrics roll-up (1000).
    register_demo_builder("automation_review", engine_demo_review_build, order=90)
    engine_metrics_register()
    health_metrics_register()
    # Just before the demo's full metrics roll-up (1000), which then counts the suggestions it opened.
    register_demo_builder("automation_health_review", automation_health_demo_build, order=995)
