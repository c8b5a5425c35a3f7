"""A migration operation that drops fields' own single-column indexes without touching the rest.

Turning ``db_index`` off on a foreign key makes Django drop and re-add the key's constraint, which
checks every existing row again under a lock; on a large table that is a long outage. This drops the
indexes alone (on PostgreSQL also the pattern-matching ``_like`` one beside a text column's index) and
leaves constraints, unique and multi-column indexes as they are. Put it after the migration's
``AddIndex`` operations: building an index blocks writes only, while a dropped index locks its table
until the migration commits.
"""

from django.db import migrations


def drop_own_indexes(fields_by_model: dict[str, list[str]]) -> migrations.RunPython:
    """``RunPython`` dropping every plain (not unique, not primary) index on exactly one of the listed
    fields of each model (``"app_label.Model"``), except the indexes its ``Meta`` names. Reversed, it
    builds the fields' own indexes again as ``db_index=True`` makes them."""

    def forwards(apps, schema_editor):
        connection = schema_editor.connection
        for label, names in fields_by_model.items():
            model = apps.get_model(label)
            table = model._meta.db_table
            columns = {model._meta.get_field(name).column for name in names}
            keep = {index.name for index in model._meta.indexes}
            with connection.cursor() as cursor:
                found = connection.introspection.get_constraints(cursor, table)
            for name, info in found.items():
                if not info["index"] or info["unique"] or info["primary_key"] or name in keep:
                    continue
                if len(info["columns"]) == 1 and info["columns"][0] in columns:
                    schema_editor.execute(f"DROP INDEX IF EXISTS {schema_editor.quote_name(name)}")

    def backwards(apps, schema_editor):
        for label, names in fields_by_model.items():
            model = apps.get_model(label)  # as before the migration: these fields have db_index=True
            for name in names:
                for statement in schema_editor._field_indexes_sql(model, model._meta.get_field(name)):
                    schema_editor.execute(statement)

    return migrations.RunPython(forwards, backwards)
