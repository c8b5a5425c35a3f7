from django.apps import AppConfig


class MonitorsConfig(AppConfig):
    """Pipeline hygiene and renewal monitors (a workflow app): the deal movements the portal records
    from its own changes, weekly forecast snapshots and the signals derived from both; the shipped
    hygiene policies (the ``forecast_hygiene`` automation kind) with their hourly scan, one item per
    deal for the rep's manager due before the team's forecast call; and the "Forecast movement" panel
    of a deal's Why page (docs/monitors.md)."""

    name = "monitors"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "Forecast monitors"

    def ready(self):
        from django.conf import settings

        from exceptions.registry import register_item_kind, register_notification_event
        from revops.access import ADMIN, MANAGER
        from revops.engine.hooks import register_event_hook
        from revops.plugins import register_demo_builder, register_schedule, register_why_panel

        from . import demo_history, jobs, kind  # noqa: F401  (kind registers the forecast_hygiene automation kind)
        from .demo import monitors_demo_build, monitors_demo_policies_build, monitors_demo_snapshot_build
        from .hooks import monitors_note_movements
        from .hygiene import EXPECTED, ITEM_KIND
        from .metrics import monitors_metrics_register
        from .panels import why_forecast_panel

        register_event_hook(monitors_note_movements)
        from .signal_fields import monitors_register_signal_fields

        monitors_register_signal_fields()  # the forecast signals as computed opportunity fields
        register_schedule(
            jobs.monitors_snapshot_forecast,
            name="monitors_snapshot_forecast",
            queue="low",
            cron=settings.MONITORS_SNAPSHOT_CRON,
        )
        register_schedule(jobs.monitors_hygiene_scan, name="monitors_hygiene_scan", queue="low", interval=3600)
        register_item_kind(ITEM_KIND, "Forecast hygiene", severity="medium", expected_action=EXPECTED)
        register_notification_event(
            "forecast_digest",
            "Before my forecast call",
            help="Your deals with hygiene items, within a day of each forecast call.",
            immediate=False,
            order=60,
            roles=(ADMIN, MANAGER),
        )
        # Last week's snapshot before the CRM's morning sync (60) moves deals; the scan after everything.
        register_demo_builder("monitors_policies", monitors_demo_policies_build, order=53)
        register_demo_builder("monitors_history_before", demo_history.monitors_demo_history_before_build, order=54)
        register_demo_builder("monitors_snapshot", monitors_demo_snapshot_build, order=55)
        register_demo_builder("monitors_history_after", demo_history.monitors_demo_history_after_build, order=56)
        register_demo_builder("monitors", monitors_demo_build, order=70)
        register_why_panel(
            "forecast_movement",
            why_forecast_panel,
            template="admin/monitors/includes/why_forecast_panel.html",
            order=40,
        )
        monitors_metrics_register()
        self._ready_renewals()

    def _ready_renewals(self):
        """The renewal monitors (monitors/renewal_*.py): the ``renewal_monitor`` kind, the account-change
        hook, the daily scan, the renewal-risk item kind, the demo and the account's Why panel."""
        from django.conf import settings

        from exceptions.registry import register_item_kind
        from revops.engine.hooks import register_event_hook
        from revops.plugins import register_demo_builder, register_schedule, register_why_panel

        from . import jobs, renewal_kind  # noqa: F401  (registers the renewal_monitor automation kind)
        from .renewal_demo import renewal_demo_build
        from .renewal_hooks import renewal_note_changes
        from .renewal_panels import why_renewal_panel
        from .renewal_scan import EXPECTED, ITEM_KIND

        register_event_hook(renewal_note_changes)
        register_schedule(
            jobs.monitors_renewal_scan,
            name="monitors_renewal_scan",
            queue="low",
            cron=settings.MONITORS_RENEWAL_CRON,
        )
        register_item_kind(ITEM_KIND, "Renewal risk", severity="medium", expected_action=EXPECTED)
        # After the monitors' own demo (70): the CRM's changes to a few customer accounts, then one scan.
        register_demo_builder("monitors_renewals", renewal_demo_build, order=75)
        register_why_panel(
            "renewal_monitors",
            why_renewal_panel,
            template="admin/monitors/includes/why_renewal_panel.html",
            order=42,
        )
