from django.apps import AppConfig


class LifecycleConfig(AppConfig):
    """The lead lifecycle (a workflow app): explainable scoring (scoring models with fit and engagement
    rules, lead scores recomputed by an event hook and a nightly decay run, the shadow report) and
    stages (entry criteria, SLAs through the engine's SLA timers, acceptance and rejection by sales,
    the rejection report, overdue items), with the "Lead score" and "Lifecycle stage" panels of a
    lead's Why page (docs/lifecycle.md)."""

    name = "lifecycle"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "Lead lifecycle"

    def ready(self):
        from django.conf import settings

        from exceptions.registry import register_item_kind
        from revops.engine.hooks import register_event_hook
        from revops.plugins import register_demo_builder, register_field_users, register_schedule, register_why_panel
        from revops.versions import register_versioned, restore_with_save

        from . import configuration, jobs, stage_configuration  # noqa: F401  (they register their config sections)
        from .demo import lifecycle_demo_build
        from .field_users import lifecycle_field_users
        from .hooks import lifecycle_rescore_leads
        from .metrics import lifecycle_metrics_register
        from .models import Stage
        from .panels import why_score_panel, why_stage_panel
        from .stage_demo import lifecycle_stages_demo_build
        from .stage_hooks import lifecycle_stage_leads
        from .stage_services import OVERDUE_KIND, STAGE_OVERDUE_KIND, stage_save

        register_field_users("lifecycle", lifecycle_field_users)
        register_event_hook(lifecycle_rescore_leads)
        lifecycle_metrics_register()
        register_event_hook(lifecycle_stage_leads)  # after the scores: criteria read the fresh score
        register_schedule(
            jobs.lifecycle_rescore, name="lifecycle_rescore", queue="low", cron=settings.LIFECYCLE_RESCORE_CRON
        )
        # After the records (10) and routing (40), before the CRM's morning sync (60) re-scores through the hook.
        register_demo_builder("lifecycle_scoring", lifecycle_demo_build, order=58)
        register_why_panel(
            "lead_score", why_score_panel, template="admin/lifecycle/includes/why_score_panel.html", order=15
        )
        register_why_panel(
            "lead_stage", why_stage_panel, template="admin/lifecycle/includes/why_stage_panel.html", order=16
        )
        register_schedule(jobs.lifecycle_stage_tick, name="lifecycle_stage_tick", queue="default", interval=300)
        register_item_kind(
            OVERDUE_KIND,
            "MQL not answered in time",
            severity="high",
            expected_action="Accept or reject the MQL (Lead lifecycle → MQLs waiting for an answer), or reassign it.",
        )
        register_item_kind(
            STAGE_OVERDUE_KIND,
            "Lead too long in a stage",
            severity="medium",
            expected_action="Follow the lead up and move it on in the CRM.",
        )
        register_versioned(
            Stage,
            label="lifecycle stage",
            restore=restore_with_save(lambda stage, **kw: stage_save(stage=stage, **kw)),
            conditions={"entry_condition": "lead"},
            describe=lambda name, value: (
                "none: only an answer, a person or the CRM" if name == "entry_condition" and not value else None
            ),
        )
        # After the CRM's morning sync (60): the scoring model goes live, then the stages and answers.
        register_demo_builder("lifecycle_stages", lifecycle_stages_demo_build, order=62)
