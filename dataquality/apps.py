from django.apps import AppConfig


class DataQualityConfig(AppConfig):
    """Data quality (a workflow app). This slice is duplicate detection: duplicate rules per object
    (admin, configuration as code, versions), checked on ingest through the core's ingest-check
    registry (report: a duplicate set is opened; block: the record is refused naming the stored one),
    a nightly full scan in short steps on the low lane, duplicate sets with their evidence on their
    own pages and on the records' Why pages, merges approved by a person (or automatic for pairs of
    leads when a rule says so) and undoable, and the data-quality page (docs/dataquality.md)."""

    name = "dataquality"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "Data quality"

    def ready(self):
        from django.conf import settings

        from revops.plugins import (
            register_demo_builder,
            register_field_users,
            register_ingest_check,
            register_schedule,
            register_why_panel,
        )

        from . import configuration, jobs  # noqa: F401  (configuration registers the duplicate_rules section)
        from .demo import dataquality_demo_build
        from .ingest import duplicate_ingest_check
        from .objects import register_builtin_objects
        from .panels import why_duplicates_panel
        from .versions import register as register_versions

        register_builtin_objects()
        from .metrics import dataquality_metrics_register

        dataquality_metrics_register()
        from exceptions.registry import register_approval_handler, register_item_kind, register_item_panel

        from . import merge_approvals, merges

        register_item_kind(merges.ITEM_KIND, merges.ITEM_LABEL, severity="medium", expected_action=merges.ITEM_EXPECTED)
        register_approval_handler(
            merges.ITEM_KIND, merge_approvals.approve, describe=merge_approvals.describe, reject=merge_approvals.reject
        )
        register_item_panel(
            "merge", merge_approvals.item_merge_panel, template="admin/dataquality/includes/merge_item_panel.html"
        )
        register_ingest_check("duplicate_rules", duplicate_ingest_check)
        from .field_users import duplicate_rule_field_users

        register_field_users("duplicate_rules", duplicate_rule_field_users)
        register_schedule(
            jobs.dataquality_scan, name="dataquality_scan", queue="low", cron=settings.DATAQUALITY_SCAN_CRON
        )
        # Large batches' duplicate checks whose job was lost (Redis down at the commit, a worker killed).
        register_schedule(
            jobs.dataquality_pending_sweep, name="dataquality_pending_sweep", queue="default", interval=60
        )
        register_why_panel(
            "duplicates",
            why_duplicates_panel,
            template="admin/dataquality/includes/why_duplicates_panel.html",
            order=35,
        )
        # After the CRM's morning sync (60): its records are stored, the demo's rules then find the
        # duplicates already there (a scan) and report the new ones as they are synced.
        register_demo_builder("dataquality", dataquality_demo_build, order=65)
        register_versions()
