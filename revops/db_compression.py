"""lz4 for the portal's JSON columns on PostgreSQL.

A JSON value over about 2 KB (a routing decision's explanation is 7 KB of text) is compressed by
PostgreSQL before it is stored. Its default method, pglz, costs more than lz4 for about the same
size on disk (20,000 such explanations inserted in 3.3 s with pglz, 1.6 s with lz4), and that cost
is paid on every bulk write. After every ``migrate``
(``post_migrate``), each JSON column of the installed models is set to lz4, where the server was built
with it (PostgreSQL 14 or later); elsewhere, and on SQLite, nothing changes. Setting a column's method
changes only how new values are stored: nothing is rewritten, and values stored before stay readable.
Each table takes one ``ALTER TABLE`` for all its JSON columns, which needs the table to itself for a
moment (an ACCESS EXCLUSIVE lock); while it waits for a transaction that uses the table, the table's
other readers and writers wait too, so it waits at most ``LOCK_TIMEOUT``. A table still in use then,
or one the migrating role does not own, is left as it is (with a warning in the log) until the next
``migrate``: a migration never fails for it. Only the first ``migrate`` after an upgrade, and a
new model's, has anything to do.
"""

from __future__ import annotations

import logging

from django.db import DatabaseError, connections, models, transaction

logger = logging.getLogger(__name__)
_SUPPORTED: dict[str, bool] = {}
# How long the ALTER may wait for a table in use; meanwhile that table's readers and writers wait behind it.
LOCK_TIMEOUT = "500ms"


def lz4_supported(connection) -> bool:
    """Whether ``connection``'s server can compress with lz4 (remembered per database alias)."""
    if connection.vendor != "postgresql":
        return False
    if connection.alias not in _SUPPORTED:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'")
            row = cursor.fetchone()
        _SUPPORTED[connection.alias] = bool(row and row[0])
    return _SUPPORTED[connection.alias]


def json_columns(app_config) -> list[tuple[str, str]]:
    """The (table, column) of every JSON field of ``app_config``'s models that have a table of their own."""
    found = []
    for model in app_config.get_models():
        meta = model._meta
        if meta.proxy or not meta.managed:
            continue
        found.extend((meta.db_table, f.column) for f in meta.local_concrete_fields if isinstance(f, models.JSONField))
    return found


def compress_json_columns(*, app_config, using: str = "default") -> list[tuple[str, str]]:
    """Set lz4 on ``app_config``'s JSON columns that do not have it yet; return those changed."""
    connection = connections[using]
    columns = json_columns(app_config)
    if not columns or not lz4_supported(connection):
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relname = ANY(%s) AND c.relkind IN ('r', 'p') AND n.nspname = ANY(current_schemas(false)) "
            "AND a.attnum > 0 AND NOT a.attisdropped AND a.attcompression IS DISTINCT FROM 'l'",
            [sorted({table for table, _column in columns})],
        )
        pending = set(cursor.fetchall()) & set(columns)
    by_table: dict[str, list[str]] = {}
    for table, column in sorted(pending):
        by_table.setdefault(table, []).append(column)
    quote = connection.ops.quote_name
    changed = []
    for table, names in by_table.items():
        clauses = ", ".join(f"ALTER COLUMN {quote(column)} SET COMPRESSION lz4" for column in names)
        try:
            with transaction.atomic(using=using), connection.cursor() as cursor:
                cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
                cursor.execute(f"ALTER TABLE {quote(table)} {clauses}")
        except DatabaseError as exc:  # in use too long, or not this role's table: it keeps pglz for now
            logger.warning("%s keeps its columns' compression until the next migrate: %s", table, exc)
            continue
        changed.extend((table, column) for column in names)
    return changed


def compress_after_migrate(sender, using="default", **kwargs) -> None:
    """``post_migrate`` receiver: the migrated app's JSON columns to lz4 (``compress_json_columns``)."""
    compress_json_columns(app_config=sender, using=using)
