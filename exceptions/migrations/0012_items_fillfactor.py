"""Room on each page of the items table (PostgreSQL only): refreshing an open item rewrites its texts,
occurrences and last-seen time, none of them indexed, so with free space on the page the update is
HOT (no new entry in each of the table's indexes). Measured on the handoff re-evaluation (bench/
handoffs.py): the items' UPDATE took about half the time. Pages written before keep no room until the
table is rewritten (``VACUUM FULL``, ``pg_repack``)."""

from django.db import migrations

TABLE = "exceptions_exceptionitem"


def fillfactor(value: int | None):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        setting = f"SET (fillfactor = {value})" if value else "RESET (fillfactor)"
        schema_editor.execute(f"ALTER TABLE {schema_editor.quote_name(TABLE)} {setting}")

    return run


class Migration(migrations.Migration):
    dependencies = [("exceptions", "0011_dashboard_rollup_indexes")]

    operations = [migrations.RunPython(fillfactor(70), fillfactor(None))]
