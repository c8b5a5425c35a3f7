"""``compile_condition``: a validated condition tree compiled into a predicate that can explain itself."""

from __future__ import annotations

from typing import Any

from django.utils import timezone, translation

from .compile import Predicate, compile_node
from .explain import explain_node
from .schema import FieldMap, Node, iter_leaves, parse_or_raise


def computed_specs(node: Node) -> tuple:
    """The registered ``ComputedField`` specs a parsed tree reads, once each."""
    from .computed import computed_field

    keys = dict.fromkeys((leaf.field.object_type, leaf.field.key) for leaf in iter_leaves(node) if leaf.field.computed)
    return tuple(spec for spec in (computed_field(*key) for key in keys) if spec is not None)


def compile_condition(tree: Any, *, object_type: str, fields: FieldMap | None = None) -> Predicate:
    """Validate ``tree`` and compile it into ``pred(ctx) -> bool`` (raises ``ConditionError`` if invalid).

    Compile once per rule version and reuse. The returned function also carries ``pred.node``
    (the parsed tree), ``pred.explain(ctx)``, ``pred.uses_changes`` (True if it reads the
    event's changes) and ``pred.computed`` (the ``ComputedField`` specs it reads, for
    ``computed.batch_contexts``).
    """
    node = parse_or_raise(tree, object_type=object_type, fields=fields)
    pred = compile_node(node)  # a fresh closure per compile, so attributes never collide between rules
    pred.node = node
    # Each leaf's label and sentence, rendered on first use (the tree never changes), per time zone and
    # language: a date in a condition reads in the viewer's.
    words: dict = {}
    pred.explain = lambda ctx: explain_node(
        node, ctx, words=words.setdefault((timezone.get_current_timezone_name(), translation.get_language()), {})
    )
    pred.uses_changes = any(leaf.op in ("changed", "changed_to") for leaf in iter_leaves(node))
    pred.computed = computed_specs(node)
    return pred
