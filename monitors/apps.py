from django.apps import AppConfig


class MonitorsConfig(AppConfig):
    """Pipeline hygiene and renewal monitors (a workflow app). For now its foundation: the deal
    movements the portal records from its own changes, weekly forecast snapshots, the signals derived
    from both, and the "Forecast movement" panel of a deal's Why page (docs/monitors.md)."""

    name = "monitors"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "Forecast monitors"

    def ready(self):
        from django.conf import settings

        from revops.engine.hooks import register_event_hook
        from revops.plugins import register_schedule, register_why_panel

        from . import jobs
        from .hooks import monitors_note_movements
        from .panels import why_forecast_panel

        register_event_hook(monitors_note_movements)
        register_schedule(
            jobs.monitors_snapshot_forecast,
            name="monitors_snapshot_forecast",
            queue="low",
            cron=settings.MONITORS_SNAPSHOT_CRON,
        )
        register_why_panel(
            "forecast_movement",
            why_forecast_panel,
            template="admin/monitors/includes/why_forecast_panel.html",
            order=40,
        )
