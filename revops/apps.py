from django.apps import AppConfig


class RevopsConfig(AppConfig):
    name = "revops"
    verbose_name = "RevOps core"

    def ready(self):
        from . import audit  # noqa: F401  (connects the history signal)
        from .engine import builtin  # noqa: F401  (registers the built-in automation kinds)
