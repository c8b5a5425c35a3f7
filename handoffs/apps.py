from django.apps import AppConfig


class HandoffsConfig(AppConfig):
    """Closed-won handoffs (being built): a workflow app that registers what it owns."""

    name = "handoffs"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "Handoffs"

    def ready(self):
        from exceptions.registry import register_item_kind

        # A generic alert automation may already raise incomplete handoffs as items of this kind.
        register_item_kind(
            "handoff_incomplete",
            "Handoff incomplete",
            expected_action="Complete the missing handoff fields in the CRM before the handoff goes out.",
        )
