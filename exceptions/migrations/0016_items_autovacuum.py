"""Autovacuum of the items table sooner (PostgreSQL only): after 2 % of its rows changed or were added,
not the default 20 %. The triage header's per-queue counts read the ``exception_open_triage`` index
alone where the table's visibility map (which VACUUM keeps) says a page is all-visible; items are
opened, claimed and resolved all day, and with half the pages not all-visible the counts over every
queue (140,000 open items) took 225 ms instead of 42 (bench/README.md, "Sixth pass"). A VACUUM skips
the pages that are all-visible already, so running it more often costs little."""

from django.db import migrations

TABLE = "exceptions_exceptionitem"
SETTINGS = ("autovacuum_vacuum_scale_factor", "autovacuum_vacuum_insert_scale_factor", "autovacuum_analyze_scale_factor")


def autovacuum(scale: float | None):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        if scale is None:
            setting = f"RESET ({', '.join(SETTINGS)})"
        else:
            setting = f"SET ({', '.join(f'{name} = {scale}' for name in SETTINGS)})"
        schema_editor.execute(f"ALTER TABLE {schema_editor.quote_name(TABLE)} {setting}")

    return run


class Migration(migrations.Migration):
    dependencies = [("exceptions", "0015_open_triage_index")]

    operations = [migrations.RunPython(autovacuum(0.02), autovacuum(None))]
