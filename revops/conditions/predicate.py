"""``compile_condition``: a validated condition tree compiled into a predicate that can explain itself."""

from __future__ import annotations

from typing import Any

from django.utils import timezone, translation

from revops.values import moment_text

from . import compact
from .codegen import compile_node
from .compile import Predicate
from .explain import explain_node
from .render import leaf_label, leaf_text
from .schema import FieldMap, Leaf, Node, iter_leaves, parse_or_raise


def computed_specs(node: Node) -> tuple:
    """The registered ``ComputedField`` specs a parsed tree reads, once each."""
    from .computed import computed_field

    keys = dict.fromkeys((leaf.field.object_type, leaf.field.key) for leaf in iter_leaves(node) if leaf.field.computed)
    return tuple(spec for spec in (computed_field(*key) for key in keys) if spec is not None)


def _names_moment(value: Any) -> bool:
    if isinstance(value, list | tuple):
        return any(_names_moment(item) for item in value)
    return moment_text(value) is not None


def compile_condition(tree: Any, *, object_type: str, fields: FieldMap | None = None) -> Predicate:
    """Validate ``tree`` and compile it into ``pred(ctx) -> bool`` (raises ``ConditionError`` if invalid).

    Compile once per rule version and reuse. The returned function also carries ``pred.node``
    (the parsed tree), ``pred.explain(ctx)``, the compact form of the same (``pred.check(ctx)``,
    expanded by ``pred.expand(checked)``; ``pred.text_lines(checked)`` its ``explain_text`` lines and
    ``pred.failed_lines(checked)`` the ✗ ones, ``pred.failed_text(checked)`` those joined, remembered for
    the values that failed; ``pred.judge(ctx)`` is ``(pred(ctx), pred.check(ctx))`` in one pass),
    ``pred.uses_changes`` (True if it reads the event's changes), ``pred.computed`` (the
    ``ComputedField`` specs it reads, for ``computed.batch_contexts``) and ``pred.memo``, a dict
    where kinds keep what they derive once per compiled rule.
    """
    node = parse_or_raise(tree, object_type=object_type, fields=fields)
    pred = compile_node(node)  # a fresh closure per compile, so attributes never collide between rules
    pred.node = node
    # Each leaf's label and sentence, rendered on first use (the tree never changes), per time zone and
    # language when a condition names a moment: it reads in the viewer's. Asking for the locale costs
    # more than deciding, so a tree without moments keeps one set.
    words: dict = {}
    layouts: dict = {}  # the lines' layout by leaf results (``compact.failed_lines``), per locale too
    local = any(_names_moment(leaf.raw) for leaf in iter_leaves(node))

    def here(store: dict) -> dict:
        """``store``'s part for the current locale (one part for a tree without moments)."""
        key = (timezone.get_current_timezone_name(), translation.get_language()) if local else None
        part = store.get(key)
        if part is None:
            part = store[key] = {}
        return part

    def said(leaf: Leaf) -> tuple[str, str]:
        known = here(words)
        found = known.get(id(leaf))
        if found is None:
            found = known[id(leaf)] = (leaf_label(leaf), leaf_text(leaf))
        return found

    def check_first(ctx) -> list:  # built on first use: most callers never check
        pred.check = compact.checker(node)
        return pred.check(ctx)

    def judge_first(ctx) -> tuple[bool, list]:
        pred.judge = compact.judge(node, pred)
        return pred.judge(ctx)

    summaries: dict = {}  # the failed lines' text by the failed conditions' values, per locale

    def failed_text(checked: list) -> str:
        known = here(summaries)
        key = compact.failed_key(checked)
        text = known.get(key) if key is not None else None
        if text is None:
            text = "; ".join(compact.failed_lines(node, checked, said, here(layouts)))
            if key is not None and len(known) < _SUMMARIES:
                known[key] = text
        return text

    pred.explain = lambda ctx: explain_node(node, ctx, words=here(words))
    pred.check = check_first
    pred.judge = judge_first
    pred.failed_text = failed_text
    pred.expand = lambda checked: compact.expand(node, checked, said)
    pred.failed_lines = lambda checked: compact.failed_lines(node, checked, said, here(layouts))
    pred.text_lines = lambda checked: compact.text_lines(node, checked, said, here(layouts))
    pred.memo = {}
    pred.uses_changes = any(leaf.op in ("changed", "changed_to") for leaf in iter_leaves(node))
    pred.computed = computed_specs(node)
    return pred


_SUMMARIES = 256  # failed-line texts kept per predicate and locale: the same values fail again and again
_CACHE: dict = {}
_CACHE_MAX = 5000


def compile_cached(key: Any, tree: Any, *, object_type: str, fields: FieldMap) -> Predicate:
    """``compile_condition`` once per process for ``key`` (a rule version, a routing rule…), reused while
    the tree and the very dictionary object ``fields`` are the same: a newer dictionary at a reused
    address, or another rule given the same id (SQLite reuses a rolled-back row's), compiles again."""
    found = _CACHE.get((key, id(fields)))
    if found is not None and found[0] is fields and found[1] == tree:
        return found[2]
    if len(_CACHE) >= _CACHE_MAX:
        _CACHE.clear()
    pred = compile_condition(tree, object_type=object_type, fields=fields)
    _CACHE[(key, id(fields))] = (fields, tree, pred)
    return pred
