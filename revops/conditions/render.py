"""Plain-language rendering of condition trees for the admin: "Country is one of US, CA and Employees ≥ 500"."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from revops.values import moment_text

from .schema import All, FieldMap, Leaf, Node, Not, parse_or_raise

_PHRASES = {
    "eq": "is {v}",
    "ne": "is not {v}",
    "in": "is one of {v}",
    "not_in": "is not one of {v}",
    "gt": "> {v}",
    "gte": "≥ {v}",
    "lt": "< {v}",
    "lte": "≤ {v}",
    "between": "is between {lo} and {hi}",
    "contains": 'contains "{v}"',
    "starts_with": 'starts with "{v}"',
    "ends_with": 'ends with "{v}"',
    "is_empty": "is empty",
    "is_not_empty": "is not empty",
    "changed": "changed",
    "changed_to": "changed to {v}",
    "older_than_days": "is more than {v} days ago",
    "within_days": "is within {v} days of today",
    "in_past": "is in the past",
    "in_future": "is in the future",
    "within_next_days": "is within the next {v} days",
    "within_last_days": "is within the last {v} days",
}
_ONE_DAY = {
    "within_next_days": "is within the next day",
    "within_last_days": "is within the last day",
}


def value_text(value: Any) -> str:
    """A JSON value as people read it: lists comma-separated, booleans yes/no, missing as "empty"."""
    if value is None or value == "" or value == []:
        return "empty"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(value_text(v) for v in value)
    if isinstance(value, dt.datetime) or (isinstance(value, str) and len(value) > 10):
        return moment_text(value) or str(value)  # stored times: "25 Oct 2026, 21:30 UTC"
    return str(value)


def actual_text(op: str, actual: Any) -> str:
    """A condition's actual value as its explanation shows it; a change reads "old → new"."""
    if op in ("changed", "changed_to"):
        return "no change" if not actual else f"{value_text(actual[0])} → {value_text(actual[1])}"
    return value_text(actual)


def leaf_label(leaf: Leaf, labels: Mapping | None = None) -> str:
    """The field's label: from ``labels`` (by path or by (object, key)), else the dictionary's."""
    if labels:
        for key in (leaf.path, (leaf.field.object_type, leaf.field.key)):
            if key in labels:
                return labels[key]
    if leaf.relation is None:
        return leaf.field.label
    return f"{leaf.field.label} ({leaf.relation_label.lower()})"


def leaf_text(leaf: Leaf, labels: Mapping | None = None) -> str:
    """One comparison in plain language."""
    return comparison_text(leaf_label(leaf, labels), leaf.op, leaf.raw, multi=leaf.field_type == "multi_choice")


def comparison_text(label: str, op: str, raw: Any, *, multi: bool = False) -> str:
    """``label`` compared by ``op`` with the stored value ``raw``, in plain language."""
    phrase = _PHRASES.get(op)
    if phrase is None:
        rest = f"{op} {value_text(raw)}"
    elif op == "between":
        lo, hi = raw if isinstance(raw, list | tuple) and len(raw) == 2 else (raw, raw)
        rest = phrase.format(lo=value_text(lo), hi=value_text(hi))
    elif raw == 1 and op in _ONE_DAY:
        rest = _ONE_DAY[op]
    elif op == "contains" and multi:
        rest = f"includes {value_text(raw)}"
    else:
        rest = phrase.format(v=value_text(raw))
    return f"{label} {rest}"


def render_node(node: Node, labels: Mapping | None = None, nested: bool = False) -> str:
    """Plain language for a parsed tree; groups inside groups are parenthesised."""
    if isinstance(node, Leaf):
        return leaf_text(node, labels)
    if isinstance(node, Not):
        return f"not ({render_node(node.child, labels)})"
    if not node.children:
        return "always" if isinstance(node, All) else "never"
    if len(node.children) == 1:
        return render_node(node.children[0], labels, nested)
    joiner = " and " if isinstance(node, All) else " or "
    text = joiner.join(render_node(c, labels, nested=True) for c in node.children)
    return f"({text})" if nested else text


def render(
    tree: Any,
    *,
    object_type: str | None = None,
    fields: FieldMap | None = None,
    labels: Mapping | None = None,
) -> str:
    """Render ``tree`` in plain language using dictionary labels.

    ``object_type`` defaults to the first segment of the first field path; ``fields`` to the
    database dictionary; ``labels`` overrides labels by path ("lead.country") or by
    (object_type, key). Raises ``ConditionError`` for an invalid tree.
    """
    if object_type is None:
        object_type = _guess_object_type(tree) or "lead"
    return render_node(parse_or_raise(tree, object_type=object_type, fields=fields), labels)


def _guess_object_type(tree: Any) -> str | None:
    if isinstance(tree, Mapping):
        if isinstance(tree.get("field"), str):
            return tree["field"].split(".", 1)[0]
        for kind in ("all", "any"):
            for child in tree.get(kind) or () if isinstance(tree.get(kind), list) else ():
                found = _guess_object_type(child)
                if found:
                    return found
        if "not" in tree:
            return _guess_object_type(tree["not"])
    return None
