from django.apps import AppConfig


class RoutingConfig(AppConfig):
    name = "routing"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "Routing and SLAs"

    def ready(self):
        from revops.engine.hooks import register_event_hook

        # registers the routing sections of configuration as code and the lead_routing automation kind
        from . import configuration, kind  # noqa: F401
        from .services import decisions_note_reassignments, sla_note_touches

        register_event_hook(decisions_note_reassignments)
        register_event_hook(sla_note_touches)
