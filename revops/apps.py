from django.apps import AppConfig
from django.conf import settings
from django.db.models.signals import post_migrate


class RevopsConfig(AppConfig):
    """The project's own app: the core and the engine. ``ready`` is wiring: it registers the core's
    periodic jobs and plugs the engine into the core and the queue (``revops.engine.setup``)."""

    name = "revops"
    verbose_name = "RevOps core"

    def ready(self):
        from . import (
            audit,  # noqa: F401  (connects the history signal)
            jobs,
        )
        from .db_compression import compress_after_migrate
        from .demo_records.builders import demo_crm_morning_build, demo_records_build
        from .engine.setup import engine_setup
        from .metrics.demo import metrics_demo_build
        from .models import FieldDefinition
        from .plugins import register_core_merge_relations, register_demo_builder, register_schedule
        from .services import dictionary_field_restore
        from .versions import register_versioned

        register_schedule(jobs.heartbeat, name="heartbeat", queue="low", interval=60)
        register_core_merge_relations()
        register_versioned(FieldDefinition, label="dictionary entry", restore=dictionary_field_restore)
        sweep_every = getattr(settings, "OUTBOX_SWEEP_SECONDS", 60)
        register_schedule(jobs.sweep_outbox, name="sweep_outbox", queue="default", interval=sweep_every)
        register_schedule(jobs.purge_idempotency_keys, name="purge_idempotency_keys", queue="low", interval=3600)
        register_schedule(jobs.rollup_metrics, name="metrics_rollup", queue="low", interval=300)
        register_schedule(jobs.logins_follow_reps, name="logins_follow_reps", queue="default", interval=60)
        # Last: the numbers of everything the other builders did.
        register_demo_builder("metrics", metrics_demo_build, order=1000)
        register_demo_builder("records", demo_records_build, order=10)
        register_demo_builder("crm_morning_sync", demo_crm_morning_build, order=60)
        engine_setup()
        # Every app's JSON columns, after each migrate (revops.db_compression).
        post_migrate.connect(compress_after_migrate, dispatch_uid="revops.compress_json_columns")
