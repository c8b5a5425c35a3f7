"""A migration operation that drops a column's own single-column indexes without touching the rest.

Turning ``db_index`` off on a foreign key makes Django drop and re-add the key's constraint, which
checks every existing row again under a lock; on a large table that is a long outage. This drops the
indexes alone (on PostgreSQL also the pattern-matching ``_like`` one beside a text column's index) and
leaves constraints, unique and multi-column indexes as they are.
"""

from django.db import migrations


def drop_own_indexes(columns_by_table: dict[str, list[str]]) -> migrations.RunPython:
    """``RunPython`` dropping every plain (not unique, not primary) index on exactly one of the listed
    columns of each table. Reversing it recreates nothing: the indexes the migration adds (or the
    wider ones already there) serve these columns."""

    def forwards(apps, schema_editor):
        connection = schema_editor.connection
        for table, columns in columns_by_table.items():
            with connection.cursor() as cursor:
                found = connection.introspection.get_constraints(cursor, table)
            for name, info in found.items():
                if not info["index"] or info["unique"] or info["primary_key"]:
                    continue
                if len(info["columns"]) == 1 and info["columns"][0] in columns:
                    schema_editor.execute(f"DROP INDEX IF EXISTS {schema_editor.quote_name(name)}")

    return migrations.RunPython(forwards, migrations.RunPython.noop)
