"""Compiling condition trees into Django ``Q`` filters, for backtests over stored records.

Each comparison becomes ``lhs IS NOT NULL AND <comparison>``, which is never SQL NULL, so
``not``/``ne``/``not_in`` are plain ``NOT`` and match missing values exactly as the Python
evaluators do (three-valued SQL logic never leaks through). Related fields join with ``__``
paths (``matched_account__employees``; nullable joins stay LEFT OUTER). Custom attributes read
the JSON key as text and cast it for numeric and date comparisons.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.db.models import (
    BooleanField,
    DateField,
    DateTimeField,
    DecimalField,
    F,
    Func,
    IntegerField,
    JSONField,
    Q,
    TextField,
    Value,
)
from django.db.models.functions import Cast
from django.db.models.lookups import (
    Exact,
    GreaterThan,
    GreaterThanOrEqual,
    IContains,
    IEndsWith,
    In,
    IsNull,
    IStartsWith,
    LessThan,
    LessThanOrEqual,
)

from .compile import relative_bounds
from .schema import EVENT_OPS, RELATIVE_OPS, TEXTUAL, All, FieldMap, Leaf, Node, Not, parse_or_raise


class ConditionNotQueryable(ValueError):
    """The tree has no ORM form: an operator that needs an event (``changed``, ``changed_to``) or a
    computed field (evaluated in Python only; ``candidates_q`` gives the part SQL can check)."""


class _JsonKey(Func):
    """One key of a JSON column: as text (``->>``) or as JSON (``->``) on PostgreSQL, ``json_extract`` on SQLite.

    Django's own ``KeyTextTransform`` reads JSON null as the text ``'null'`` on SQLite; a missing
    value must be SQL NULL for the null rules to hold on every backend.
    """

    def __init__(self, column: str, key: str, *, as_text: bool):
        super().__init__(F(column), output_field=TextField() if as_text else JSONField())
        self.key, self.as_text = key, as_text

    def as_sql(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        return f"({sql} {'->>' if self.as_text else '->'} %s)", (*params, self.key)

    def as_sqlite(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        return f"json_extract({sql}, %s)", (*params, f'$."{self.key}"')


class _Numeric(Func):
    """Text to an unconstrained numeric (PostgreSQL ``numeric``; SQLite ``CAST … AS NUMERIC``)."""

    output_field = DecimalField()

    def as_sql(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        return f"CAST({sql} AS NUMERIC)", params


class _Timestamp(Func):
    """An ISO 8601 text as a comparable timestamp: ``timestamptz`` on PostgreSQL, normalised UTC text on SQLite."""

    output_field = DateTimeField()

    def as_sql(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        return f"CAST({sql} AS timestamp with time zone)", params

    def as_sqlite(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        return f"strftime('%%Y-%%m-%%d %%H:%%M:%%f', {sql})", params


class _JsonArrayHas(Func):
    """True when a JSON array contains the string ``value`` (never NULL)."""

    output_field = BooleanField()

    def __init__(self, lhs, value: str):
        super().__init__(lhs)
        self.value = value

    def as_sql(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        return f"COALESCE(({sql})::jsonb @> %s::jsonb, false)", (*params, json.dumps([self.value]))

    def as_sqlite(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        return (
            f"EXISTS (SELECT 1 FROM json_each(CASE WHEN json_valid({sql}) THEN {sql} END) AS je "
            f"WHERE je.type = 'text' AND je.value = %s)",
            (*params, *params, self.value),
        )


def json_array_has_q(field: str, value: str) -> Q:
    """Rows whose JSON array column ``field`` holds the string ``value`` (PostgreSQL and SQLite)."""
    return Q(_JsonArrayHas(F(field), value))


class _JsonArrayEmpty(Func):
    """True when a JSON value is missing, null, not an array or an empty array (never NULL)."""

    output_field = BooleanField()

    def as_sql(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        return (
            f"COALESCE(jsonb_array_length(CASE WHEN jsonb_typeof(({sql})::jsonb) = 'array' "
            f"THEN ({sql})::jsonb END), 0) = 0",
            (*params, *params),
        )

    def as_sqlite(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        return f"COALESCE(json_array_length(CASE WHEN json_valid({sql}) THEN {sql} END), 0) = 0", (*params, *params)


def _lhs(leaf: Leaf):
    field = leaf.field
    prefix = f"{leaf.relation}__" if leaf.relation else ""
    if field.is_core:
        if field.field_type == "reference" and leaf.op not in ("is_empty", "is_not_empty"):
            return F(f"{prefix}{field.key}__external_id")
        return F(prefix + field.key)
    attributes = prefix + "attributes"
    ftype = field.field_type
    if ftype == "multi_choice":
        return _JsonKey(attributes, field.key, as_text=False)
    text = _JsonKey(attributes, field.key, as_text=True)
    if ftype == "integer":
        return Cast(text, IntegerField())
    if ftype == "decimal":
        return _Numeric(text)
    if ftype == "date":
        return Cast(text, DateField())
    if ftype == "datetime":
        return _Timestamp(text)
    if ftype == "boolean":
        return Cast(text, BooleanField())
    return text


def _rhs(leaf: Leaf, value: Any):
    if leaf.field_type == "datetime" and not leaf.field.is_core:
        return _Timestamp(Value(value.isoformat()))
    return value


_LOOKUPS = {
    "eq": Exact,
    "gt": GreaterThan,
    "gte": GreaterThanOrEqual,
    "lt": LessThan,
    "lte": LessThanOrEqual,
    "contains": IContains,
    "starts_with": IStartsWith,
    "ends_with": IEndsWith,
}
_NEGATED = {"ne": "eq", "not_in": "in", "is_not_empty": "is_empty"}


def _leaf_q(leaf: Leaf, now: dt.datetime) -> Q:
    op = leaf.op
    if leaf.field.computed:
        raise ConditionNotQueryable(
            f"{leaf.field.label} ({leaf.path}) is a computed field: it is worked out in Python from the app's "
            "own data and cannot be evaluated over stored records in the database"
        )
    if op in EVENT_OPS:
        raise ConditionNotQueryable(
            f"{leaf.path} {op.replace('_', ' ')}: this condition reads the event's changes and cannot be "
            "evaluated over stored records"
        )
    if op in _NEGATED:
        positive = Leaf(leaf.path, leaf.relation, leaf.relation_label, leaf.field, _NEGATED[op], leaf.value, leaf.raw)
        return ~_leaf_q(positive, now)
    lhs = _lhs(leaf)
    ftype = leaf.field_type
    if op == "is_empty":
        if ftype == "multi_choice":
            return Q(_JsonArrayEmpty(lhs))
        empty = Q(IsNull(lhs, True))
        if ftype in TEXTUAL or ftype == "choice" or (ftype == "reference" and not leaf.field.is_core):
            empty |= Q(Exact(lhs, ""))
        return empty
    if op == "contains" and ftype == "multi_choice":
        return Q(_JsonArrayHas(lhs, leaf.value))
    present = Q(IsNull(lhs, False))
    value = leaf.value
    if op in _LOOKUPS:
        return present & Q(_LOOKUPS[op](lhs, _rhs(leaf, value)))
    if op == "in":
        return present & Q(In(lhs, list(value)))
    if op == "between":
        lo, hi = value
        return present & Q(GreaterThanOrEqual(lhs, _rhs(leaf, lo))) & Q(LessThanOrEqual(lhs, _rhs(leaf, hi)))
    if op in RELATIVE_OPS:
        lo, hi = relative_bounds(op, value, now.date() if ftype == "date" else now)
        if op in ("older_than_days", "in_past"):
            return present & Q(LessThan(lhs, _rhs(leaf, hi)))
        if op == "in_future":
            return present & Q(GreaterThan(lhs, _rhs(leaf, lo)))
        return present & Q(GreaterThanOrEqual(lhs, _rhs(leaf, lo))) & Q(LessThanOrEqual(lhs, _rhs(leaf, hi)))
    raise ValueError(op)  # pragma: no cover


def node_to_q(node: Node, now: dt.datetime) -> Q:
    """The ``Q`` for an already parsed tree."""
    if isinstance(node, Leaf):
        return _leaf_q(node, now)
    if isinstance(node, Not):
        return ~node_to_q(node.child, now)
    if not node.children:
        # Explicit always-true / always-false conditions: an empty Q() would vanish under negation.
        return Q(pk__isnull=False) if isinstance(node, All) else Q(pk__in=[])
    qs = [node_to_q(c, now) for c in node.children]
    result = qs[0]
    for q in qs[1:]:
        result = (result & q) if isinstance(node, All) else (result | q)
    return result


def candidates_node_q(node: Node, now: dt.datetime) -> Q | None:
    """A ``Q`` every record matching ``node`` satisfies (None: no SQL restriction at all).

    The parts with an ORM form are checked in SQL; a comparison without one (a computed field,
    ``changed``) counts as "maybe", so the result is a superset to evaluate in Python. Equal to
    ``node_to_q`` when the whole tree is queryable.
    """
    try:
        return node_to_q(node, now)
    except ConditionNotQueryable:
        pass
    if isinstance(node, Leaf):
        return None
    if isinstance(node, Not):
        return None  # not(maybe) is maybe
    parts = [candidates_node_q(c, now) for c in node.children]
    if isinstance(node, All):
        parts = [q for q in parts if q is not None]
        if not parts:
            return None
    elif any(q is None for q in parts):
        return None
    result = parts[0]
    for q in parts[1:]:
        result = (result & q) if isinstance(node, All) else (result | q)
    return result


def candidates_q(
    tree: Any, *, object_type: str, fields: FieldMap | None = None, now: dt.datetime | None = None
) -> Q | None:
    """The SQL-able part of ``tree`` as a ``Q`` over-approximating its matches (None: every record).

    For trees ``to_q`` refuses (computed fields, event operators): filter with this, then evaluate
    the compiled predicate on the candidates (``computed.batch_contexts`` computes fields per batch).
    """
    from django.utils import timezone

    node = parse_or_raise(tree, object_type=object_type, fields=fields)
    return candidates_node_q(node, now or timezone.now())


def to_q(tree: Any, *, object_type: str, fields: FieldMap | None = None, now: dt.datetime | None = None) -> Q:
    """Validate ``tree`` and compile it into a ``Q`` for ``<Model>.objects.filter()`` of ``object_type``.

    ``now`` anchors the clock comparisons (``in_past``, ``within_next_days``, ``older_than_days``…;
    default: the current time). Raises ``ConditionError`` for an invalid tree and
    ``ConditionNotQueryable`` when the tree uses ``changed``/``changed_to`` (they need an event and
    have no meaning over stored rows) or a computed field (Python only; see ``candidates_q``).
    """
    from django.utils import timezone

    node = parse_or_raise(tree, object_type=object_type, fields=fields)
    return node_to_q(node, now or timezone.now())


def queryset(tree: Any, *, object_type: str, fields: FieldMap | None = None, now: dt.datetime | None = None):
    """``<Model>.objects.filter(to_q(...))`` for ``object_type`` (a convenience for backtests)."""
    from django.apps import apps

    model = apps.get_model("revops", object_type)
    return model.objects.filter(to_q(tree, object_type=object_type, fields=fields, now=now))
