"""Compiling parsed condition trees into fast predicates.

A predicate is a plain function ``pred(ctx) -> bool``: one generated function per tree
(``codegen``). The closures here are its building blocks and its reference: each leaf is one
closure over a C-level ``operator.attrgetter`` for the field and the coerced value, groups are
closures over their children. ``getter`` and ``_leaf`` also serve the compact explanation
(``compact``). Nothing a user wrote is ever source text: values are closure or namespace constants.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from operator import attrgetter
from typing import Any

from django.utils import timezone

from .schema import RELATIVE_OPS, All, Leaf, Node, Not

Predicate = Callable[["Context"], bool]


class _DictRecord:
    """Attribute access over a plain-dict record, so one compiled predicate serves dicts and model instances.

    A dict record mirrors the model: core fields by key, custom fields under ``"attributes"``, and
    relations as nested dicts (or an external id string, or None). Missing keys read as None.
    """

    def __init__(self, data: Mapping[str, Any]):
        values = dict(data)
        values.setdefault("attributes", {})
        for name, value in data.items():
            if isinstance(value, Mapping) and name != "attributes":
                values[name] = _DictRecord(value)
                values[name + "_id"] = value.get("external_id") or name
            elif isinstance(value, str) and name in _RELATION_NAMES:
                values[name] = _DictRecord({"external_id": value})
                values[name + "_id"] = value
        self.__dict__.update(values)

    def __getattr__(self, name):  # only called for missing names
        return None


_RELATION_NAMES = frozenset(
    {
        "owner",
        "matched_account",
        "account",
        "parent",
        "rep",
        "lead",
        "opportunity",
        "team",
        "manager",
        "converted_from_lead",
    }
)


class Context:
    """What a predicate is evaluated against: the record, the event's changes and the clock.

    ``record`` is a model instance (related objects fetched with ``select_related`` or attached)
    or a plain dict (see ``_DictRecord``). ``changes`` maps field keys to ``[old, new]`` for the
    event being processed. ``now`` is an aware datetime (default: the current time); date fields
    are compared with ``now``'s calendar date in ``now``'s time zone. ``computed`` holds the
    record's computed-field values by key: prefilled for a batch (``computed.batch_contexts``) or
    filled on first use, so every rule sharing the context computes a field once.
    """

    __slots__ = ("record", "changes", "now", "today", "computed", "shared")

    def __init__(
        self,
        record: Any,
        *,
        changes: Mapping[str, Any] | None = None,
        now: dt.datetime | None = None,
        computed: dict[str, Any] | None = None,
    ):
        self.record = _DictRecord(record) if isinstance(record, Mapping) else record
        self.changes = changes or {}
        self.now = now or timezone.now()
        self.today = self.now.date()
        self.computed = {} if computed is None else dict(computed)
        self.shared: dict = {}  # what this record's computed fields share (``computed.shared``)

    def computed_value(self, object_type: str, key: str) -> Any:
        """The record's value of the computed field ``object_type.key`` (computed on first use)."""
        values = self.computed
        if key not in values:
            from .computed import compute_values, computed_field

            spec = computed_field(object_type, key)
            if spec is None:
                values[key] = None
            else:
                found = compute_values(spec, [self.record], self.now, memo=self.shared)
                values[key] = found.get(getattr(self.record, "pk", None))
        return values[key]


def _parse_date(value):
    if value is None or isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(value)
    except (TypeError, ValueError):
        return None


def _parse_datetime(value):
    if value is None or isinstance(value, dt.datetime):
        return value
    try:
        parsed = dt.datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _parse_decimal(value):
    if value is None or isinstance(value, Decimal | int):
        return value
    try:
        return Decimal(str(value))
    except ArithmeticError:
        return None


CONVERTERS = {"date": _parse_date, "datetime": _parse_datetime, "decimal": _parse_decimal}


def getter(leaf: Leaf) -> Callable[[Context], Any]:
    """A function ``ctx -> value`` for the leaf's field, as fast as the path allows.

    Own core fields are a bare C ``attrgetter``; a relation adds one small Python frame that
    returns None when the related record is missing (no exceptions on the hot path). Custom
    attributes stored as JSON strings (dates, datetimes, decimals) are converted to Python types.
    """
    field = leaf.field
    if field.computed:
        object_type, key = field.object_type, field.key
        convert = CONVERTERS.get(field.field_type)
        if convert is None:
            return lambda ctx: ctx.computed_value(object_type, key)
        return lambda ctx: convert(ctx.computed_value(object_type, key))
    base = "record" if leaf.relation is None else f"record.{leaf.relation}"
    if field.is_core:
        if field.field_type == "reference" and leaf.op not in ("is_empty", "is_not_empty"):
            if leaf.relation is not None:  # a reference one hop away: either record may be missing
                related, key = attrgetter(base), field.key

                def get_reference(ctx):
                    obj = related(ctx)
                    referenced = None if obj is None else getattr(obj, key)
                    return None if referenced is None else referenced.external_id

                return get_reference
            holder, name = attrgetter(f"{base}.{field.key}"), "external_id"
        elif leaf.relation is None:
            return attrgetter(f"record.{field.key}_id" if field.field_type == "reference" else f"record.{field.key}")
        else:
            holder = attrgetter(base)
            name = f"{field.key}_id" if field.field_type == "reference" else field.key
        value_of = attrgetter(name)

        def get_core(ctx):
            obj = holder(ctx)
            return None if obj is None else value_of(obj)

        return get_core
    key = field.key
    convert = CONVERTERS.get(field.field_type)
    if leaf.relation is None:
        attributes_of = attrgetter("record.attributes")

        def get_attribute(ctx):
            attributes = attributes_of(ctx)
            return None if attributes is None else attributes.get(key)

    else:
        holder = attrgetter(base)

        def get_attribute(ctx):
            obj = holder(ctx)
            attributes = None if obj is None else obj.attributes
            return None if attributes is None else attributes.get(key)

    if convert is None:
        return get_attribute

    def get_converted(ctx):
        return convert(get_attribute(ctx))

    return get_converted


_EMPTY = (None, "")


def _leaf(leaf: Leaf, negate: bool) -> Predicate:
    get = getter(leaf)
    op, value, ftype = leaf.op, leaf.value, leaf.field_type
    if op in ("ne", "not_in", "is_not_empty"):
        op, negate = {"ne": "eq", "not_in": "in", "is_not_empty": "is_empty"}[op], not negate
    pred: Predicate
    if op == "eq":
        pred = (lambda c: get(c) != value) if negate else (lambda c: get(c) == value)
        return pred
    if op == "in":
        values = frozenset(value)
        pred = (lambda c: get(c) not in values) if negate else (lambda c: get(c) in values)
        return pred
    if op == "is_empty":
        if ftype == "multi_choice":
            pred = lambda c: not get(c)  # noqa: E731 - None or []
        else:
            pred = lambda c: get(c) in _EMPTY  # noqa: E731
    elif op == "gt":
        pred = lambda c: (v := get(c)) is not None and v > value  # noqa: E731
    elif op == "gte":
        pred = lambda c: (v := get(c)) is not None and v >= value  # noqa: E731
    elif op == "lt":
        pred = lambda c: (v := get(c)) is not None and v < value  # noqa: E731
    elif op == "lte":
        pred = lambda c: (v := get(c)) is not None and v <= value  # noqa: E731
    elif op == "between":
        lo, hi = value
        pred = lambda c: (v := get(c)) is not None and lo <= v <= hi  # noqa: E731
    elif op == "contains" and ftype == "multi_choice":
        pred = lambda c: (v := get(c)) is not None and value in v  # noqa: E731
    elif op == "contains":
        needle = value.lower()
        pred = lambda c: bool(v := get(c)) and needle in v.lower()  # noqa: E731
    elif op == "starts_with":
        needle = value.lower()
        pred = lambda c: bool(v := get(c)) and v.lower().startswith(needle)  # noqa: E731
    elif op == "ends_with":
        needle = value.lower()
        pred = lambda c: bool(v := get(c)) and v.lower().endswith(needle)  # noqa: E731
    elif op in RELATIVE_OPS:
        pred = _relative(get, op, value, leaf.field_type)
    elif op in ("changed", "changed_to"):
        pred = _changed(leaf)
    else:  # pragma: no cover - parse() refuses unknown ops
        raise ValueError(op)
    if negate:
        positive = pred
        return lambda c: not positive(c)
    return pred


def _relative(get, op, days, ftype):
    if op in ("in_past", "in_future"):
        if ftype == "date":
            if op == "in_past":
                return lambda c: (v := get(c)) is not None and v < c.today
            return lambda c: (v := get(c)) is not None and v > c.today
        if op == "in_past":
            return lambda c: (v := get(c)) is not None and v < c.now
        return lambda c: (v := get(c)) is not None and v > c.now
    delta = dt.timedelta(days=days)
    if ftype == "date":
        if op == "older_than_days":
            return lambda c: (v := get(c)) is not None and v < c.today - delta
        if op == "within_next_days":
            return lambda c: (v := get(c)) is not None and c.today <= v <= c.today + delta
        if op == "within_last_days":
            return lambda c: (v := get(c)) is not None and c.today - delta <= v <= c.today
        return lambda c: (v := get(c)) is not None and c.today - delta <= v <= c.today + delta
    if op == "older_than_days":
        return lambda c: (v := get(c)) is not None and v < c.now - delta
    if op == "within_next_days":
        return lambda c: (v := get(c)) is not None and c.now <= v <= c.now + delta
    if op == "within_last_days":
        return lambda c: (v := get(c)) is not None and c.now - delta <= v <= c.now
    return lambda c: (v := get(c)) is not None and c.now - delta <= v <= c.now + delta


def relative_bounds(op: str, days: int | None, anchor) -> tuple[Any, Any]:
    """(lowest, highest) a value must lie within for a clock comparison (None: unbounded, both exclusive
    for ``in_past``/``in_future``, inclusive otherwise). ``anchor`` is ``now`` or today's date."""
    if op == "in_past":
        return None, anchor
    if op == "in_future":
        return anchor, None
    delta = dt.timedelta(days=days)
    if op == "older_than_days":
        return None, anchor - delta
    if op == "within_next_days":
        return anchor, anchor + delta
    if op == "within_last_days":
        return anchor - delta, anchor
    return anchor - delta, anchor + delta  # within_days


def changed_values(leaf: Leaf, changes: Mapping[str, Any]):
    """The (old, new) pair the event reports for the leaf's field, coerced; None if it did not change."""
    pair = changes.get(leaf.field.key)
    if not isinstance(pair, list | tuple) or len(pair) != 2:
        return None
    convert = CONVERTERS.get(leaf.field_type)
    old, new = (convert(v) for v in pair) if convert else pair
    if old == new:
        return None
    return old, new


def _changed(leaf: Leaf) -> Predicate:
    if leaf.op == "changed":
        return lambda c: changed_values(leaf, c.changes) is not None
    value = leaf.value
    return lambda c: (pair := changed_values(leaf, c.changes)) is not None and pair[1] == value


def _node(node: Node, negate: bool = False) -> Predicate:
    if isinstance(node, Leaf):
        return _leaf(node, negate)
    if isinstance(node, Not):
        return _node(node.child, not negate)
    children = [_node(c) for c in node.children]
    conj = isinstance(node, All)
    pred = _all(children) if conj else _any(children)
    if negate:
        positive = pred
        return lambda c: not positive(c)
    return pred


def _all(ps):
    if not ps:
        return lambda c: True
    if len(ps) == 1:
        return ps[0]
    if len(ps) == 2:
        a, b = ps
        return lambda c: a(c) and b(c)
    if len(ps) == 3:
        a, b, d = ps
        return lambda c: a(c) and b(c) and d(c)
    ps = tuple(ps)

    def every(c):
        for p in ps:
            if not p(c):
                return False
        return True

    return every


def _any(ps):
    if not ps:
        return lambda c: False
    if len(ps) == 1:
        return ps[0]
    if len(ps) == 2:
        a, b = ps
        return lambda c: bool(a(c) or b(c))
    if len(ps) == 3:
        a, b, d = ps
        return lambda c: bool(a(c) or b(c) or d(c))
    ps = tuple(ps)

    def some(c):
        for p in ps:
            if p(c):
                return True
        return False

    return some


def batch_contexts(records: Iterable, *, predicate=None, now: dt.datetime | None = None, changes=None) -> list:
    """One ``Context`` per record, with the computed fields ``predicate`` reads computed once for the batch."""
    from .computed import compute_values, predicate_computed

    records = list(records)
    now = now or timezone.now()
    prefilled: dict[Any, dict[str, Any]] = {}
    memo: dict = {}  # shared by the fields of this batch
    for spec in predicate_computed(predicate):
        values = compute_values(spec, records, now, memo=memo)
        for record in records:
            pk = getattr(record, "pk", None)
            if pk is not None:
                prefilled.setdefault(pk, {})[spec.key] = values.get(pk)
    return [
        Context(record, changes=changes, now=now, computed=prefilled.get(getattr(record, "pk", None), {}))
        for record in records
    ]
