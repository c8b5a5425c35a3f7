from django.apps import AppConfig


class HandoffsConfig(AppConfig):
    """Closed-won handoffs (being built): a workflow app that will register its kind, actions and items."""

    name = "handoffs"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "Handoffs"
