from django.apps import AppConfig


class RoutingConfig(AppConfig):
    """Lead routing and response SLAs: a workflow app that plugs into the engine, the queue and the core."""

    name = "routing"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "Routing and SLAs"

    def ready(self):
        from exceptions.registry import register_item_kind, register_notification_event, register_queue_users
        from revops.engine.hooks import register_event_hook
        from revops.engine.registry import register_deadline_source, register_sla_timer
        from revops.plugins import (
            register_assignee_source,
            register_demo_builder,
            register_field_users,
            register_record_detail,
            register_schedule,
            register_why_panel,
            register_worker_warmup,
        )

        # Importing these registers routing's actions, its automation kind and its config sections.
        from . import actions, configuration, jobs, kind  # noqa: F401
        from .demo import routing_demo_build
        from .field_users import routing_field_users
        from .hooks import decisions_note_reassignments, sla_note_touches
        from .kind import routing_warm_up
        from .lead_fields import routing_register_lead_fields
        from .metrics import routing_metrics_register
        from .panels import why_decision_panel, why_sla_panel
        from .pools import pool_assign_next, pools_as_choices
        from .selectors import lead_latest_decision_dict, sla_deadline, sla_policy_choices, sla_policy_deadline
        from .setup_services import routing_queue_users
        from .versions import register as register_versions

        register_field_users("routing", routing_field_users)
        register_worker_warmup("routing", routing_warm_up)
        register_event_hook(decisions_note_reassignments)
        register_event_hook(sla_note_touches)
        for key, label, severity, expected in ITEM_KINDS:
            # An SLA breach is the rep's manager's to act on now: told at once on their chosen channels.
            register_item_kind(
                key, label, severity=severity, expected_action=expected, notify_on_open=key == "sla_breach"
            )
        register_notification_event(
            "sla_reminder",
            "SLA reminder for my lead",
            help="A lead of yours is close to its first-touch deadline. Not held for quiet hours: it is about minutes.",
            order=12,
        )
        register_queue_users("routing", routing_queue_users)
        register_schedule(jobs.tick_sla_clocks, name="tick_sla_clocks", queue="default", interval=60)
        register_why_panel(
            "routing_decision",
            why_decision_panel,
            template="admin/routing/includes/why_decision_panel.html",
            styles="admin/routing/includes/styles.html",
            order=10,
        )
        register_why_panel("sla_clock", why_sla_panel, template="admin/routing/includes/why_sla_panel.html", order=20)
        register_record_detail("lead", "latest_decision", lead_latest_decision_dict)
        register_demo_builder("routing", routing_demo_build, order=40)
        register_deadline_source("response_sla", sla_deadline)
        register_sla_timer("sla_policy", label="SLA policy", choices=sla_policy_choices, deadline=sla_policy_deadline)
        register_assignee_source("pool", label="Routing pool", choices=pools_as_choices, assign=pool_assign_next)
        register_versions()
        register_rule_run_filter()
        routing_metrics_register()
        routing_register_lead_fields()


def register_rule_run_filter() -> None:
    """Routing runs can be narrowed to the routing rule that decided them (to revert one rule's bad hour)."""
    from revops.engine.registry import register_run_filter

    from .selectors import rule_choices, rule_name, runs_of_rule

    register_run_filter(
        "lead_routing", "rule", label="Routing rule", choices=rule_choices, apply=runs_of_rule, describe=rule_name
    )


ITEM_KINDS = (
    ("no_routing_match", "No routing match", "high", "Assign an owner by hand, or add a rule that covers such leads."),
    ("routing_review", "Manual routing review", "medium", "Choose the owner for this lead."),
    ("account_match", "Account match failed or ambiguous", "medium", "Pick the right account for this lead."),
    ("sla_breach", "SLA breach", "high", "Contact the lead now, or reassign it."),
    (
        "routing_paused",
        "Routing paused",
        "medium",
        "Check the fallback owner is right for this lead; routing resumes by rule once the pause ends.",
    ),
)
