"""``compile_condition``: a validated condition tree compiled into a predicate that can explain itself."""

from __future__ import annotations

from typing import Any

from .compile import Predicate, compile_node
from .explain import explain_node
from .schema import FieldMap, iter_leaves, parse_or_raise


def compile_condition(tree: Any, *, object_type: str, fields: FieldMap | None = None) -> Predicate:
    """Validate ``tree`` and compile it into ``pred(ctx) -> bool`` (raises ``ConditionError`` if invalid).

    Compile once per rule version and reuse. The returned function also carries ``pred.node``
    (the parsed tree), ``pred.explain(ctx)`` and ``pred.uses_changes`` (True if it reads the
    event's changes).
    """
    node = parse_or_raise(tree, object_type=object_type, fields=fields)
    pred = compile_node(node)  # a fresh closure per compile, so attributes never collide between rules
    pred.node = node
    pred.explain = lambda ctx: explain_node(node, ctx)
    pred.uses_changes = any(leaf.op in ("changed", "changed_to") for leaf in iter_leaves(node))
    return pred
