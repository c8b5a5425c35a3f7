from django.apps import AppConfig


class PluginAppConfig(AppConfig):
    """Registers everything the callback workflow needs with the engine, the queue and the core."""

    name = "tests.plugin_app"
    label = "plugin_app"
    verbose_name = "Callback requests (test plug-in)"

    def ready(self):
        from exceptions.registry import register_item_kind
        from revops.plugins import register_schedule, register_why_panel

        from . import jobs, kind  # noqa: F401  (registers the automation kind and the action)
        from .panels import callback_panel

        register_item_kind(
            kind.ITEM_KIND,
            "Callback requested",
            severity="high",
            expected_action="Call the lead back today.",
        )
        register_why_panel("callback", callback_panel, template="plugin_app/why_callback_panel.html", order=50)
        register_schedule(jobs.count_callbacks, name="plugin_count_callbacks", queue="low", interval=600)
