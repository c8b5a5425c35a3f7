from django.apps import AppConfig


class ExceptionsConfig(AppConfig):
    verbose_name = "Exception queue"
    name = "exceptions"
    default_auto_field = "django.db.models.BigAutoField"
