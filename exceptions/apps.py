from django.apps import AppConfig
from django.db.models.signals import post_migrate


class ExceptionsConfig(AppConfig):
    verbose_name = "Exception queue"
    name = "exceptions"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from .roles import create_roles_after_migrate

        # After migrate (and after a test flush) the role groups exist with their permissions.
        post_migrate.connect(create_roles_after_migrate, sender=self, dispatch_uid="exceptions.create_roles")
