"""Create or update many rows of one model, with their history rows, in a few statements.

django-simple-history's bulk helpers build one historical instance per row, and Django's
``bulk_update`` compiles a ``CASE WHEN`` per field and row: at thousands of rows that is most of a
batch. On PostgreSQL these helpers instead write the rows with ``COPY`` (creates: ids allocated up
front), then the history rows with one ``INSERT … SELECT`` of the rows just written; updates are one
statement: ``UPDATE … FROM jsonb_to_recordset(…)`` (the new values as one JSON parameter) whose
``RETURNING`` rows feed the history ``INSERT``. Each history row is the row as stored, as
simple-history records it, with one user, change reason and date for the batch.
Elsewhere (SQLite, the embedded default) they are simple-history's ``bulk_create_with_history`` and
``bulk_update_with_history``.

The actor and the reason default to the surrounding ``audited()`` block's. Like Django's bulk
operations, no ``save()`` runs and no signal is sent.

``InArray`` is the filter the batches around these writes select with: ``column = ANY(%s)``, one
array parameter on PostgreSQL, where Django writes ``IN (%s, %s, …)`` — at a thousand values (a
batch's ids or keys) psycopg splits that query and adapts each value on the client, a noticeable
share of the batch. Elsewhere (SQLite) it is the usual ``IN``.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import uuid
from collections.abc import Mapping, Sequence

from django.conf import settings
from django.core.exceptions import EmptyResultSet
from django.db import connections, models, router
from django.db.models import BooleanField, Expression, F
from django.db.models.fields import AutoFieldMixin
from django.utils import timezone
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from .audit import current
from .sync_writers import PgWriter

# The historical model's own columns; with any other (a custom history field) we let simple-history write.
HISTORY_FIELDS = {"history_id", "history_date", "history_change_reason", "history_type", "history_user"}


def _audit(actor, reason: str) -> tuple[object | None, str]:
    ctx = current()
    if ctx is not None:
        actor = actor if actor is not None else ctx.actor
        reason = reason or ctx.reason
    return actor, reason[:100]


def _pg(model):
    connection = connections[router.db_for_write(model)]
    return connection if connection.vendor == "postgresql" else None


def _history_model(model):
    """The historical model if history is on and its rows can be written in SQL, else None."""
    manager = getattr(model, "history", None)
    if manager is None or not getattr(settings, "SIMPLE_HISTORY_ENABLED", True):
        return None
    return manager.model


def _history_insert_sql(history, connection, *, source_sql: str = "", reason_column: str = "") -> str | None:
    """``INSERT … SELECT`` copying rows of the tracked table into ``history``; params: date, reason,
    type, user id, ids. None if ``history`` has columns of its own we do not know.

    With ``source_sql`` (a relation named ``t`` holding the rows, e.g. a CTE), copies all of its
    rows instead; params: date, reason, type, user id. With ``reason_column`` each row's reason is
    that column of ``t`` and the reason parameter is left out."""
    qn = connection.ops.quote_name
    tracked = {f.name for f in history.tracked_fields}
    own = {f.name for f in history._meta.concrete_fields} - tracked
    if own != HISTORY_FIELDS or not isinstance(history._meta.pk, AutoFieldMixin):
        return None
    source = history.instance_type._meta
    pairs = [(history._meta.get_field(f.name).column, f.column) for f in history.tracked_fields]
    columns = [qn(dst) for dst, _src in pairs]
    columns += [qn(history._meta.get_field(name).column) for name in ("history_date", "history_change_reason")]
    columns += [qn("history_type"), qn(history._meta.get_field("history_user").column)]
    selected = ", ".join(f"t.{qn(src)}" for _dst, src in pairs)
    audit = f"%s, left(t.{qn(reason_column)}, 100), %s, %s" if reason_column else "%s, %s, %s, %s"
    if source_sql:
        return (
            f"INSERT INTO {qn(history._meta.db_table)} ({', '.join(columns)}) "
            f"SELECT {selected}, {audit} FROM {source_sql} ORDER BY t.{qn(source.pk.column)}"
        )
    return (
        f"INSERT INTO {qn(history._meta.db_table)} ({', '.join(columns)}) "
        f"SELECT {selected}, %s, %s, %s, %s FROM {qn(source.db_table)} AS t "
        f"WHERE t.{qn(source.pk.column)} = ANY(%s) ORDER BY t.{qn(source.pk.column)}"
    )


def _history_write(model, objs, connection, *, history_type: str, actor, reason: str, date: dt.datetime) -> None:
    history = _history_model(model)
    if history is None:
        return
    sql = _history_insert_sql(history, connection)
    if sql is None:
        model.history.bulk_history_create(
            objs, update=history_type == "~", default_user=actor, default_change_reason=reason, default_date=date
        )
        return
    user_id = getattr(actor, "pk", None)
    with connection.cursor() as cursor:
        cursor.execute(sql, [date, reason, history_type, user_id, [obj.pk for obj in objs]])


def bulk_create_audited(
    *,
    model,
    objs: Sequence,
    actor=None,
    reason: str = "",
    date: dt.datetime | None = None,
    reasons: Sequence[str] | None = None,
):
    """Insert ``objs`` (new instances of ``model``, their ids set on return) and one "+" history row
    each, by ``actor`` for ``reason`` at ``date`` (now); ``reasons``: one reason per object instead
    (e.g. the run that made each). Returns ``objs``."""
    objs = list(objs)
    if not objs:
        return objs
    if reasons is not None and len(set(reasons)) > 1 and _pg(model) is None:
        for group_reason, group in _by_reason(objs, reasons).items():
            bulk_create_audited(model=model, objs=group, actor=actor, reason=group_reason, date=date)
        return objs
    if reasons is not None:
        reason = reasons[0] if len(set(reasons)) == 1 else reason
        reasons = None if len(set(reasons)) == 1 else list(reasons)
    actor, reason = _audit(actor, reason)
    date = date or timezone.now()
    connection = _pg(model)
    if connection is None and _history_model(model) is None:
        return model._default_manager.bulk_create(objs)
    if connection is None:
        return bulk_create_with_history(
            objs, model, default_user=actor, default_change_reason=reason, default_date=date
        )
    meta = model._meta
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [meta.db_table, meta.pk.column, len(objs)],
        )
        ids = [row[0] for row in cursor.fetchall()]
    fields = meta.concrete_fields
    rows = []
    for obj, pk in zip(objs, ids, strict=True):
        obj.pk = pk
        rows.append([field.pre_save(obj, True) for field in fields])  # auto_now(_add), as bulk_create does
        obj._state.adding, obj._state.db = False, connection.alias
    PgWriter._copy(meta.db_table, fields, rows)
    if reasons is not None and _history_reasons_write(model, objs, reasons, connection, actor=actor, date=date):
        return objs
    _history_write(model, objs, connection, history_type="+", actor=actor, reason=reason, date=date)
    return objs


def _by_reason(objs, reasons) -> dict[str, list]:
    groups: dict[str, list] = {}
    for obj, why in zip(objs, reasons, strict=True):
        groups.setdefault(why, []).append(obj)
    return groups


def _history_reasons_write(model, objs, reasons, connection, *, actor, date) -> bool:
    """The "+" history rows of ``objs`` just written, each with its own reason; False if the history
    model has columns of its own (the caller writes them with one reason)."""
    history = _history_model(model)
    if history is None:
        return True
    qn = connection.ops.quote_name
    meta = model._meta
    source = (
        f"(SELECT s.*, r.why AS __why FROM {qn(meta.db_table)} AS s "
        f"JOIN unnest(%s::bigint[], %s::text[]) AS r(id, why) ON s.{qn(meta.pk.column)} = r.id) AS t"
    )
    sql = _history_insert_sql(history, connection, source_sql=source, reason_column="__why")
    if sql is None:
        return False
    with connection.cursor() as cursor:
        cursor.execute(sql, [date, "+", getattr(actor, "pk", None), [obj.pk for obj in objs], list(reasons)])
    return True


def bulk_update_audited(
    *, model, objs: Sequence, fields: list[str], actor=None, reason: str = "", date: dt.datetime | None = None
) -> int:
    """Write ``fields`` of ``objs`` (stored instances of ``model``) and one "~" history row each, by
    ``actor`` for ``reason`` at ``date`` (now). Returns how many rows were given."""
    objs = list(objs)
    if not objs:
        return 0
    actor, reason = _audit(actor, reason)
    date = date or timezone.now()
    connection = _pg(model)
    if connection is None and _history_model(model) is None:
        return model._default_manager.bulk_update(objs, fields)
    if connection is None:
        return bulk_update_with_history(
            objs, model, fields, default_user=actor, default_change_reason=reason, default_date=date
        )
    if not _update_returning(model, objs, fields, connection, actor=actor, reason=reason, date=date):
        PgWriter().update(model, objs, fields)
        _history_write(model, objs, connection, history_type="~", actor=actor, reason=reason, date=date)
    return len(objs)


def _json_default(value):
    """What ``jsonb_to_recordset`` reads back as the column's value, for the types JSON lacks."""
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    raise TypeError(type(value).__name__)


def _update_returning(model, objs, fields: list[str], connection, *, actor, reason: str, date, reasons=None) -> bool:
    """Write ``fields`` of ``objs`` and their "~" history rows in one statement: the new values as one
    JSON array read by ``jsonb_to_recordset`` (no parameter per value, no scratch table), the rows
    updated by id through the primary key, and the history rows inserted from the ``RETURNING`` rows.
    False (nothing written) where that does not fit: a JSON field with its own encoder, a value JSON
    cannot carry, a history model with columns of its own."""
    meta = model._meta
    written = [meta.get_field(name) for name in fields]
    if any(isinstance(f, models.JSONField) and f.encoder is not None for f in written):
        return False
    history = _history_model(model)
    qn = connection.ops.quote_name
    columns = [meta.pk, *written]
    names = [f"c{i}" for i in range(len(columns))]  # the recordset's keys: short, whatever the columns are called
    try:
        values = [{key: getattr(obj, f.attname) for key, f in zip(names, columns, strict=True)} for obj in objs]
        if reasons is not None:
            for value, obj in zip(values, objs, strict=True):
                value["why"] = reasons[obj.pk][:100]
        document = json.dumps(values, default=_json_default, allow_nan=False)
    except (TypeError, ValueError):
        return False
    declared = ", ".join(f"{key} {f.cast_db_type(connection)}" for key, f in zip(names, columns, strict=True))
    if reasons is not None:
        declared += ", why text"
    assignments = ", ".join(f"{qn(f.column)} = s.{key}" for key, f in zip(names[1:], written, strict=True))
    update = (
        f"UPDATE {qn(meta.db_table)} AS t SET {assignments} FROM jsonb_to_recordset(%s::jsonb) AS s({declared}) "
        f"WHERE t.{qn(meta.pk.column)} = s.c0"
    )
    if history is None:
        with connection.cursor() as cursor:
            cursor.execute(update, [document])
        return True
    if reasons is not None:
        insert = _history_insert_sql(history, connection, source_sql="updated AS t", reason_column="__why")
        returning, audit = "t.*, s.why AS __why", [date, "~", getattr(actor, "pk", None)]
    else:
        insert = _history_insert_sql(history, connection, source_sql="updated AS t")
        returning, audit = "t.*", [date, reason, "~", getattr(actor, "pk", None)]
    if insert is None:
        return False
    with connection.cursor() as cursor:
        cursor.execute(f"WITH updated AS ({update} RETURNING {returning}) {insert}", [document, *audit])
    return True


class _Row:
    """A row's values as attributes, ``pk`` among them (what ``PgWriter.update`` and the history insert read)."""

    def __init__(self, values: dict):
        self.__dict__ = values


def bulk_update_rows_audited(
    *,
    model,
    rows: Mapping[int, Mapping[str, object]],
    fields: list[str],
    actor=None,
    reason: str = "",
    date: dt.datetime | None = None,
    reasons: Mapping[int, str] | None = None,
) -> int:
    """``bulk_update_audited`` without loading the instances: ``rows`` maps the id of each stored row
    of ``model`` to its new values of ``fields`` (by attribute name). On PostgreSQL the rows are
    written and their history copied as stored (no instance is built); elsewhere, or if the history
    model has columns of its own, the instances are loaded and go through ``bulk_update_audited``.
    ``reasons``: each row's history reason by id, instead of one ``reason``. Returns how many rows
    were given."""
    if not rows:
        return 0
    connection = _pg(model)
    history = _history_model(model)
    plain = connection is None or history is None or _history_insert_sql(history, connection) is None
    if reasons is not None and plain:
        return _grouped(model, rows, fields, actor, date, reasons)
    if connection is None or (history is not None and _history_insert_sql(history, connection) is None):
        objs = model._default_manager.in_bulk(list(rows))
        for pk, values in rows.items():
            for name, value in values.items():
                setattr(objs[pk], name, value)
        return bulk_update_audited(
            model=model, objs=objs.values(), fields=fields, actor=actor, reason=reason, date=date
        )
    actor, reason = _audit(actor, reason)
    date = date or timezone.now()
    pk = model._meta.pk.attname
    objs = [_Row({**values, pk: id_, "pk": id_}) for id_, values in rows.items()]
    if reasons is not None:
        if _update_returning(model, objs, fields, connection, actor=actor, reason=reason, date=date, reasons=reasons):
            return len(objs)
        return _grouped(model, rows, fields, actor, date, reasons)
    if not _update_returning(model, objs, fields, connection, actor=actor, reason=reason, date=date):
        PgWriter().update(model, objs, fields)
        _history_write(model, objs, connection, history_type="~", actor=actor, reason=reason, date=date)
    return len(objs)


def _grouped(model, rows, fields, actor, date, reasons) -> int:
    """The rows written one reason at a time (a value JSON cannot carry, a history of its own)."""
    groups: dict[str, dict] = {}
    for id_, values in rows.items():
        groups.setdefault(reasons[id_], {})[id_] = values
    for why, group in groups.items():
        bulk_update_rows_audited(model=model, rows=group, fields=fields, actor=actor, reason=why, date=date)
    return len(rows)


class InArray(Expression):
    """True where the field ``name`` is one of ``values`` (plain ids or keys, no expressions):
    ``Handoff.objects.filter(InArray("opportunity_id", ids))``."""

    output_field = BooleanField()
    conditional = True

    def __init__(self, name: str, values):
        super().__init__()
        self.lhs = F(name)
        self.values = list(values)

    def get_source_expressions(self):
        return [self.lhs]

    def set_source_expressions(self, exprs):
        (self.lhs,) = exprs

    def resolve_expression(self, query=None, allow_joins=True, reuse=None, summarize=False, for_save=False):
        clone = self.copy()
        clone.lhs = self.lhs.resolve_expression(query, allow_joins, reuse, summarize, for_save)
        return clone

    def as_sql(self, compiler, connection):
        if not self.values:
            raise EmptyResultSet
        sql, params = compiler.compile(self.lhs)
        return f"{sql} IN ({', '.join(['%s'] * len(self.values))})", [*params, *self.values]

    def as_postgresql(self, compiler, connection):
        if not self.values:
            raise EmptyResultSet
        sql, params = compiler.compile(self.lhs)
        return f"{sql} = ANY(%s)", [*params, self.values]
