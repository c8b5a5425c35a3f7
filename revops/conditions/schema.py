"""Parsing and validation of condition trees against the data dictionary.

``parse()`` turns a stored JSON tree into a small typed tree (``All``/``Any``/``Not``/``Leaf``)
with values coerced to Python types; every evaluator (compiled predicates, explain mode, ORM
filters, rendering) works from that parsed form, so they cannot disagree about what a condition
means. Errors name the condition's place in the tree.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError

from revops.validation import COERCERS, InvalidValue

# The relations a condition may follow, one hop from the record: object -> relation -> target.
RELATIONS: dict[str, dict[str, str]] = {
    "lead": {"owner": "rep", "matched_account": "account"},
    "opportunity": {"owner": "rep", "account": "account"},
    "account": {"owner": "rep", "parent": "account"},
    "contact": {"owner": "rep", "account": "account", "converted_from_lead": "lead"},
    "activity": {"rep": "rep", "lead": "lead", "opportunity": "opportunity", "account": "account"},
    "task": {"owner": "rep", "lead": "lead", "opportunity": "opportunity", "account": "account"},
    "rep": {"team": "team", "manager": "rep"},
    "team": {"manager": "rep", "parent": "team"},
}

TEXTUAL = {"text", "email", "url"}
ORDERED = {"integer", "decimal", "date", "datetime"}
TEMPORAL = {"date", "datetime"}

_COMMON = {"is_empty", "is_not_empty", "changed", "changed_to"}
_RELATIVE = {"older_than_days", "within_days", "in_past", "in_future", "within_next_days", "within_last_days"}
OPS_BY_TYPE: dict[str, frozenset[str]] = {
    "text": frozenset({"eq", "ne", "in", "not_in", "contains", "starts_with", "ends_with", *_COMMON}),
    "email": frozenset({"eq", "ne", "in", "not_in", "contains", "starts_with", "ends_with", *_COMMON}),
    "url": frozenset({"eq", "ne", "in", "not_in", "contains", "starts_with", "ends_with", *_COMMON}),
    "integer": frozenset({"eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "between", *_COMMON}),
    "decimal": frozenset({"eq", "ne", "gt", "gte", "lt", "lte", "between", *_COMMON}),
    "date": frozenset({"eq", "ne", "gt", "gte", "lt", "lte", "between", *_RELATIVE, *_COMMON}),
    "datetime": frozenset({"gt", "gte", "lt", "lte", "between", *_RELATIVE, *_COMMON}),
    "boolean": frozenset({"eq", "ne", *_COMMON}),
    "choice": frozenset({"eq", "ne", "in", "not_in", *_COMMON}),
    "multi_choice": frozenset({"contains", "is_empty", "is_not_empty", "changed"}),
    "reference": frozenset({"eq", "ne", "in", "not_in", *_COMMON}),
}
ALL_OPS = (
    "eq",
    "ne",
    "in",
    "not_in",
    "gt",
    "gte",
    "lt",
    "lte",
    "between",
    "contains",
    "starts_with",
    "ends_with",
    "is_empty",
    "is_not_empty",
    "changed",
    "changed_to",
    "older_than_days",
    "within_days",
    "in_past",
    "in_future",
    "within_next_days",
    "within_last_days",
)
NO_VALUE_OPS = frozenset({"is_empty", "is_not_empty", "changed", "in_past", "in_future"})
LIST_OPS = frozenset({"in", "not_in"})
PATTERN_OPS = frozenset({"contains", "starts_with", "ends_with"})
DAY_OPS = frozenset({"older_than_days", "within_days", "within_next_days", "within_last_days"})
# Comparisons with the clock (``now``, or its calendar date for date fields).
RELATIVE_OPS = frozenset(_RELATIVE)
EVENT_OPS = frozenset({"changed", "changed_to"})

MAX_DEPTH = 12
MAX_NODES = 500
MAX_DAYS = 36_600
_PATH_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*){1,2}$")


@dataclass(frozen=True, slots=True)
class Field:
    """What conditions need to know about one dictionary entry."""

    object_type: str
    key: str
    label: str
    field_type: str
    is_core: bool
    allowed_values: tuple = ()
    reference_to: str = ""
    max_length: int | None = None
    computed: bool = False  # a value an app computes (``computed.py``), not a stored column or attribute
    description: str = ""


def computed_field(object_type: str, key: str) -> Field | None:
    """The registered computed field ``object_type.key`` as a ``Field`` (None when no app offers it)."""
    from .computed import computed_field as registered

    spec = registered(object_type, key)
    if spec is None:
        return None
    return Field(
        object_type=object_type,
        key=key,
        label=spec.label,
        field_type=spec.field_type,
        is_core=False,
        computed=True,
        description=spec.description,
    )


def computed_keys(object_type: str) -> list[str]:
    from .computed import computed_fields

    return [spec.key for spec in computed_fields(object_type)]


def ops_for(field: Field) -> frozenset[str]:
    """The operators a field takes: those of its type; a computed field has no event operators."""
    ops = OPS_BY_TYPE.get(field.field_type, frozenset())
    return ops - EVENT_OPS if field.computed else ops


def as_field(object_type: str, key: str, spec: Any) -> Field:
    """Normalise a ``FieldDefinition``, ``validation.FieldSpec``, ``Field`` or plain dict into a ``Field``."""
    if isinstance(spec, Field):
        return spec
    get = spec.get if isinstance(spec, Mapping) else (lambda name, default=None: getattr(spec, name, default))
    return Field(
        object_type=object_type,
        key=key,
        label=get("label") or key.replace("_", " ").capitalize(),
        field_type=str(get("field_type")),
        is_core=bool(get("is_core", False)),
        allowed_values=tuple(get("allowed_values") or ()),
        reference_to=str(get("reference_to") or ""),
        max_length=None,
    )


FieldMap = Mapping[tuple[str, str], Any]


def normalise_fields(fields: FieldMap) -> dict[tuple[str, str], Field]:
    """``{(object_type, key): Field}`` from any mapping of dictionary specs."""
    return {(obj, key): as_field(obj, key, spec) for (obj, key), spec in fields.items()}


def default_fields() -> dict[tuple[str, str], Field]:
    """The default data dictionary (``revops.dictionary_defaults``) as ``Field`` specs, without the database."""
    from revops.dictionary_defaults import DEFAULT_FIELDS

    return {(e["object_type"], e["key"]): as_field(e["object_type"], e["key"], e) for e in DEFAULT_FIELDS}


_cache: dict[str, Any] = {}
_lock = threading.Lock()


def load_fields() -> dict[tuple[str, str], Field]:
    """The data dictionary from the database as ``Field`` specs, cached until an entry changes."""
    from django.db.models import Count, Max

    from revops.models import FieldDefinition

    stamp = tuple(FieldDefinition.objects.aggregate(n=Count("id"), at=Max("updated_at")).values())
    cached = _cache.get("fields")
    if cached and cached[0] == stamp:
        return cached[1]
    with _lock:
        fields = {(d.object_type, d.key): as_field(d.object_type, d.key, d) for d in FieldDefinition.objects.all()}
        _cache["fields"] = (stamp, fields)
    return fields


# --- the parsed tree -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Leaf:
    """One comparison, resolved against the dictionary, with its value coerced."""

    path: str  # as written: "lead.matched_account.employees"
    relation: str | None  # "matched_account", or None for the record's own field
    relation_label: str | None
    field: Field
    op: str
    value: Any  # coerced: Decimal, date, datetime, tuple for in/not_in and between, int days…
    raw: Any  # the JSON value as normalised for storage

    @property
    def field_type(self) -> str:
        return self.field.field_type


@dataclass(frozen=True, slots=True)
class All:
    children: tuple


@dataclass(frozen=True, slots=True)
class Any_:
    children: tuple


@dataclass(frozen=True, slots=True)
class Not:
    child: Any


Node = Leaf | All | Any_ | Not


class ConditionError(ValidationError):
    """A condition tree that does not validate; ``messages`` lists every problem with its place in the tree."""

    def __init__(self, errors: list[str]):
        super().__init__(errors)
        self.errors = errors


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _where(path: tuple[str, ...]) -> str:
    return " › ".join(path) + ": " if path else ""


class _Parser:
    def __init__(self, object_type: str, fields: dict[tuple[str, str], Field]):
        self.object_type = object_type
        self.fields = fields
        self.errors: list[str] = []
        self.nodes = 0

    def error(self, path, message):
        self.errors.append(_where(path) + message)

    def node(self, data, path, depth):
        self.nodes += 1
        if self.nodes == MAX_NODES + 1:
            self.error((), f"the condition has more than {MAX_NODES} parts")
        if depth > MAX_DEPTH:
            self.error(path, f"conditions nest more than {MAX_DEPTH} levels deep")
            return None
        if not isinstance(data, Mapping):
            self.error(path, f"expected a condition object, got {_show(data)}")
            return None
        groups = [k for k in ("all", "any", "not") if k in data]
        if groups:
            if len(data) != 1:
                self.error(path, f"a group has exactly one key ('all', 'any' or 'not'), got {sorted(data)}")
                return None
            kind = groups[0]
            body = data[kind]
            if kind == "not":
                child = self.node(body, (*path, "'not'"), depth + 1)
                return None if child is None else Not(child)
            if not isinstance(body, list):
                self.error(path, f"'{kind}' needs a list of conditions, got {_show(body)}")
                return None
            children = [self.node(c, (*path, f"condition {i} of '{kind}'"), depth + 1) for i, c in enumerate(body, 1)]
            if any(c is None for c in children):
                return None
            return All(tuple(children)) if kind == "all" else Any_(tuple(children))
        return self.leaf(data, path)

    def leaf(self, data, path):
        extra = set(data) - {"field", "op", "value"}
        if extra or "field" not in data or "op" not in data:
            self.error(
                path,
                "expected {'all': [...]}, {'any': [...]}, {'not': {...}} or "
                f"{{'field': ..., 'op': ..., 'value': ...}}, got keys {sorted(data)}",
            )
            return None
        name, op = data["field"], data["op"]
        resolved = self.resolve(name, path)
        if op not in ALL_OPS:
            self.error(path, f"{_show(op)} is not a condition operator (use one of {', '.join(ALL_OPS)})")
            return None
        if resolved is None:
            return None
        relation, relation_label, field = resolved
        label = field.label if relation is None else f"{field.label} ({relation_label.lower()})"
        usable = ops_for(field)
        if op not in usable:
            allowed = ", ".join(o for o in ALL_OPS if o in usable)
            kind = f"a computed {field.field_type}" if field.computed else field.field_type
            why = "; a computed field has no event changes" if field.computed and op in EVENT_OPS else ""
            self.error(path, f"'{op}' cannot be used with {label} ({kind}{why}); use one of {allowed}")
            return None
        if op in EVENT_OPS and relation is not None:
            self.error(path, f"'{op}' only applies to the {self.object_type}'s own fields, not to {name}")
            return None
        has_value = "value" in data and data["value"] is not None
        if op in NO_VALUE_OPS:
            if has_value:
                self.error(path, f"'{op}' takes no value (got {_show(data['value'])})")
                return None
            return Leaf(name, relation, relation_label, field, op, None, None)
        if not has_value:
            self.error(path, f"'{op}' on {label} needs a value")
            return None
        try:
            value, raw = self.value(field, op, data["value"])
        except InvalidValue as exc:
            self.error(path, f"{exc} for {label}")
            return None
        return Leaf(name, relation, relation_label, field, op, value, raw)

    def resolve(self, name, path):
        if not isinstance(name, str) or not _PATH_RE.match(name):
            self.error(path, f"{_show(name)} is not a field path (expected e.g. {self.object_type}.status)")
            return None
        parts = name.split(".")
        if parts[0] != self.object_type:
            self.error(
                path,
                f"{name}: conditions of a {self.object_type} rule start with '{self.object_type}.' "
                f"(e.g. {self.object_type}.{parts[-1]})",
            )
            return None
        relation = relation_label = None
        target = self.object_type
        if len(parts) == 3:
            relation = parts[1]
            relations = RELATIONS.get(self.object_type, {})
            if relation not in relations:
                options = ", ".join(relations) or "none"
                self.error(
                    path, f"{name}: {relation!r} is not a relation of {self.object_type} (use one of: {options})"
                )
                return None
            target = relations[relation]
            ref = self.fields.get((self.object_type, relation))
            relation_label = ref.label if ref else relation.replace("_", " ").capitalize()
        field = self.fields.get((target, parts[-1]))
        if field is None:
            spec = computed_field(target, parts[-1])
            if spec is not None and relation is None:
                return relation, relation_label, spec
            if spec is not None:
                self.error(
                    path,
                    f"{name}: {spec.label} is a computed {target} field, usable only in conditions of "
                    f"a{'n' if target[0] in 'aeiou' else ''} {target} rule ({target}.{spec.key}), not through a "
                    "relation",
                )
                return None
            self.error(path, self.unknown_field(name, target, parts[-1], own=relation is None))
            return None
        return relation, relation_label, field

    def unknown_field(self, name: str, target: str, key: str, *, own: bool) -> str:
        """The error for a key that is neither a dictionary field nor a computed field, with what exists."""
        message = f"{name} is not a{'n' if target[0] in 'aeiou' else ''} {target} field in the data dictionary"
        computed = computed_keys(target) if own else []
        if computed:
            close = difflib.get_close_matches(key, computed, n=1, cutoff=0.75)
            hint = f" (did you mean {target}.{close[0]}?)" if close else ""
            message += f" nor a computed {target} field{hint}; computed {target} fields: {', '.join(computed)}"
        return message

    def value(self, field, op, raw):
        """Coerce ``raw`` for ``op`` on ``field``; return (python value, JSON value for storage)."""
        if op in DAY_OPS:
            if isinstance(raw, bool) or not isinstance(raw, int) or not 0 <= raw <= MAX_DAYS:
                raise InvalidValue(f"{_show(raw)} is not a number of days (a whole number from 0 to {MAX_DAYS})")
            return raw, raw
        if op in LIST_OPS:
            if not isinstance(raw, list) or not raw:
                raise InvalidValue(f"{_show(raw)} is not a non-empty list of values")
            items = [self.scalar(field, v) for v in raw]
            values = tuple(dict.fromkeys(v for v, _ in items))
            return values, list(dict.fromkeys(r for _, r in items))
        if op == "between":
            if not isinstance(raw, list) or len(raw) != 2:
                raise InvalidValue(f"{_show(raw)} is not a [lowest, highest] pair")
            (lo, lo_raw), (hi, hi_raw) = (self.scalar(field, v) for v in raw)
            if lo > hi:
                raise InvalidValue(f"the range {_show(lo_raw)}–{_show(hi_raw)} is empty (lowest comes first)")
            return (lo, hi), [lo_raw, hi_raw]
        if op in PATTERN_OPS and field.field_type in TEXTUAL:
            if not isinstance(raw, str) or not raw.strip():
                raise InvalidValue(f"{_show(raw)} is not a non-empty text")
            return raw, raw
        if op == "contains":  # multi_choice: "has this value"
            return self.scalar(field, raw)
        return self.scalar(field, raw)

    def scalar(self, field, raw):
        ftype = field.field_type
        if isinstance(raw, str) and not raw.strip():
            raise InvalidValue(f"{_show(raw)} is empty (use 'is empty' to test for a missing value)")
        if ftype in ("multi_choice", "choice"):
            value = COERCERS["choice"](raw, field)
        elif ftype == "reference":
            value = COERCERS["reference"](raw, field)
        else:
            value = COERCERS[ftype](raw, field)
        return value, to_json(value)


def to_json(value: Any) -> Any:
    """A coerced value as stored in the tree: dates ISO 8601, decimals as strings."""
    if isinstance(value, dt.datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, tuple | list):
        return [to_json(v) for v in value]
    return value


def parse(tree: Any, *, object_type: str, fields: FieldMap | None = None) -> tuple[Node | None, list[str]]:
    """Parse and validate ``tree``; return (parsed tree or None, error messages)."""
    parser = _Parser(object_type, normalise_fields(load_fields() if fields is None else fields))
    node = parser.node(tree, (), 0)
    return (node if not parser.errors else None), parser.errors


def parse_or_raise(tree: Any, *, object_type: str, fields: FieldMap | None = None) -> Node:
    node, errors = parse(tree, object_type=object_type, fields=fields)
    if errors:
        raise ConditionError(errors)
    return node


def dump(node: Node) -> dict:
    """The canonical JSON form of a parsed tree."""
    if isinstance(node, All):
        return {"all": [dump(c) for c in node.children]}
    if isinstance(node, Any_):
        return {"any": [dump(c) for c in node.children]}
    if isinstance(node, Not):
        return {"not": dump(node.child)}
    out = {"field": node.path, "op": node.op}
    if node.op not in NO_VALUE_OPS:
        out["value"] = node.raw
    return out


def iter_leaves(node: Node) -> Iterable[Leaf]:
    if isinstance(node, Leaf):
        yield node
    elif isinstance(node, Not):
        yield from iter_leaves(node.child)
    else:
        for child in node.children:
            yield from iter_leaves(child)
