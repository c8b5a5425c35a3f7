from django.apps import AppConfig


class LifecycleConfig(AppConfig):
    """The lead lifecycle (a workflow app). This first slice is explainable scoring: scoring models with
    fit and engagement rules (admin and configuration as code), lead scores recomputed by an event hook
    on lead changes and new activities and by a nightly decay run, the "Lead score" panel of a lead's
    Why page and the shadow report (docs/lifecycle.md). Stages, acceptance and the closed loop follow."""

    name = "lifecycle"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "Lead lifecycle"

    def ready(self):
        from django.conf import settings

        from revops.engine.hooks import register_event_hook
        from revops.plugins import register_demo_builder, register_schedule, register_why_panel

        from . import configuration, jobs  # noqa: F401  (configuration registers the scoring_models section)
        from .demo import lifecycle_demo_build
        from .hooks import lifecycle_rescore_leads
        from .panels import why_score_panel

        register_event_hook(lifecycle_rescore_leads)
        register_schedule(
            jobs.lifecycle_rescore, name="lifecycle_rescore", queue="low", cron=settings.LIFECYCLE_RESCORE_CRON
        )
        # After the records (10) and routing (40), before the CRM's morning sync (60) re-scores through the hook.
        register_demo_builder("lifecycle_scoring", lifecycle_demo_build, order=58)
        register_why_panel(
            "lead_score", why_score_panel, template="admin/lifecycle/includes/why_score_panel.html", order=15
        )
