"""Explain mode: evaluate every condition of a tree and report its actual value and result.

This is a deliberately plain, generic interpreter (read the value, apply the operator) kept
separate from the specialised closures in ``compile.py``; the property tests check that the two,
and the ORM filter, always agree.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from .compile import CONVERTERS, Context, changed_values, relative_bounds
from .render import actual_text, leaf_label, leaf_text
from .schema import RELATIVE_OPS, All, Any_, FieldMap, Leaf, Node, Not, parse_or_raise, to_json


def _missing(value: Any) -> bool:
    return value is None or value == "" or (isinstance(value, list | tuple) and not value)


def read_value(leaf: Leaf, record: Any, ctx: Context | None = None) -> Any:
    """The current value of the leaf's field on ``record`` (None when missing or behind an empty relation).

    A computed field is read through ``ctx`` (its cache, or one ``compute`` call)."""
    if leaf.field.computed:
        ctx = ctx if ctx is not None else Context(record)
        value = ctx.computed_value(leaf.field.object_type, leaf.field.key)
        convert = CONVERTERS.get(leaf.field.field_type)
        return convert(value) if convert else value
    if leaf.relation is not None:
        record = getattr(record, leaf.relation, None)
        if record is None:
            return None
    field = leaf.field
    if field.field_type == "reference" and field.is_core:
        if leaf.op in ("is_empty", "is_not_empty"):
            return getattr(record, f"{field.key}_id", None)
        related = getattr(record, field.key, None)
        return None if related is None else getattr(related, "external_id", None)
    if field.is_core:
        return getattr(record, field.key, None)
    attributes = getattr(record, "attributes", None) or {}
    value = attributes.get(field.key)
    convert = CONVERTERS.get(field.field_type)
    return convert(value) if convert else value


def evaluate_leaf(leaf: Leaf, ctx: Context) -> tuple[bool, Any]:
    """(result, actual value) of one leaf under the documented null semantics."""
    op, expected = leaf.op, leaf.value
    if op in ("changed", "changed_to"):
        pair = changed_values(leaf, ctx.changes)
        if op == "changed":
            return pair is not None, pair
        return pair is not None and pair[1] == expected, pair
    actual = read_value(leaf, ctx.record, ctx)
    missing = _missing(actual)
    if op == "is_empty":
        return missing, actual
    if op == "is_not_empty":
        return not missing, actual
    if op in ("ne", "not_in"):
        positive = {"ne": "eq", "not_in": "in"}[op]
        return not _compare(positive, actual, missing, expected, leaf, ctx), actual
    return _compare(op, actual, missing, expected, leaf, ctx), actual


def _compare(op, actual, missing, expected, leaf, ctx) -> bool:
    if missing:
        return False
    if op == "eq":
        return actual == expected
    if op == "in":
        return actual in expected
    if op == "gt":
        return actual > expected
    if op == "gte":
        return actual >= expected
    if op == "lt":
        return actual < expected
    if op == "lte":
        return actual <= expected
    if op == "between":
        return expected[0] <= actual <= expected[1]
    if op == "contains":
        if leaf.field_type == "multi_choice":
            return expected in actual
        return expected.lower() in actual.lower()
    if op == "starts_with":
        return actual.lower().startswith(expected.lower())
    if op == "ends_with":
        return actual.lower().endswith(expected.lower())
    if op in RELATIVE_OPS:
        lo, hi = relative_bounds(op, expected, ctx.today if leaf.field_type == "date" else ctx.now)
        if op in ("older_than_days", "in_past"):
            return actual < hi
        if op == "in_future":
            return actual > lo
        return lo <= actual <= hi
    raise ValueError(op)  # pragma: no cover


PLAIN_JSON = frozenset({str, int, float, bool, type(None)})  # values JSON carries as they are


def json_ready(value: Any) -> Any:
    """``value`` as a stored explanation carries it (``_jsonable``, with the common types passed through)."""
    return value if value.__class__ in PLAIN_JSON else _jsonable(value)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.date | Decimal | tuple | list):
        return to_json(value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def explain_node(node: Node, ctx: Context, labels: Mapping | None = None, *, words: dict | None = None) -> dict:
    """The structured explanation of a parsed tree (see ``explain``). ``words``: a cache of each leaf's
    label and sentence by leaf, kept by the caller that owns the tree (a compiled predicate)."""
    if isinstance(node, Leaf):
        result, actual = evaluate_leaf(node, ctx)
        said = words.get(id(node)) if words is not None else None
        if said is None:
            said = (leaf_label(node, labels), leaf_text(node, labels))
            if words is not None:
                words[id(node)] = said
        return {
            "field": node.path,
            "label": said[0],
            "op": node.op,
            "expected": node.raw,
            "actual": _jsonable(actual),
            "result": result,
            "text": said[1],
        }
    if isinstance(node, Not):
        child = explain_node(node.child, ctx, labels, words=words)
        return {"op": "not", "result": not child["result"], "condition": child}
    children = [explain_node(c, ctx, labels, words=words) for c in node.children]
    if isinstance(node, All):
        return {"op": "all", "result": all(c["result"] for c in children), "conditions": children}
    assert isinstance(node, Any_)
    return {"op": "any", "result": any(c["result"] for c in children), "conditions": children}


def explain(
    tree: Any,
    ctx: Context | Any,
    *,
    object_type: str,
    fields: FieldMap | None = None,
    labels: Mapping | None = None,
) -> dict:
    """Evaluate ``tree`` against ``ctx`` (a ``Context`` or a bare record) and explain every condition.

    Returns ``{"op": "all"|"any", "result", "conditions": [...]}``, ``{"op": "not", "result",
    "condition"}`` or, for a comparison, ``{"field", "label", "op", "expected", "actual",
    "result", "text"}``. Every child is evaluated (no short-circuit) so the explanation is
    complete; values are JSON-serialisable.
    """
    if not isinstance(ctx, Context):
        ctx = Context(ctx)
    return explain_node(parse_or_raise(tree, object_type=object_type, fields=fields), ctx, labels)


def explain_text(explanation: dict, indent: str = "  ") -> list[str]:
    """Plain-language lines for an explanation: ``✓ Country is one of US, CA (actual: US)``."""
    lines: list[str] = []

    def walk(item, depth):
        mark = "✓" if item["result"] else "✗"
        pad = indent * depth
        if "field" in item:
            lines.append(f"{pad}{mark} {item['text']} (actual: {actual_text(item['op'], item['actual'])})")
        elif item["op"] == "not":
            lines.append(f"{pad}{mark} not:")
            walk(item["condition"], depth + 1)
        else:
            word = "all of" if item["op"] == "all" else "any of"
            lines.append(f"{pad}{mark} {word}:")
            for child in item["conditions"]:
                walk(child, depth + 1)

    walk(explanation, 0)
    return lines
