"""Checked conditions in compact form: each leaf's actual value and result, in tree order.

An automation run keeps why its rule did or did not fire. Building the full explain tree
(``explain.explain_node``) for every run costs far more than deciding; a run therefore stores
``checked`` — ``[[actual, result], …]`` for the leaves of its version's tree — and the pages that
show it expand that into exactly the tree ``explain`` builds (``expand``), labels and sentences
included. ``failed_lines`` gives the ✗ lines of that tree (the not-fired summary) without building it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .compile import _leaf, getter
from .explain import _jsonable, evaluate_leaf, json_ready
from .render import actual_text, comparison_text
from .schema import All, Leaf, Node, Not, iter_leaves

_SUMMARY_SHAPES = 256  # failed-line layouts kept per predicate (one per combination of leaf results)


def _probe(leaf: Leaf) -> Callable[[Any], list]:
    if leaf.op in ("changed", "changed_to"):

        def probe_change(ctx):
            result, actual = evaluate_leaf(leaf, ctx)
            return [_jsonable(actual), result]

        return probe_change
    get, test = getter(leaf), _leaf(leaf, False)

    def probe(ctx):
        return [json_ready(get(ctx)), test(ctx)]

    return probe


def checker(node: Node) -> Callable[[Any], list]:
    """A function ``ctx -> checked`` for a parsed tree: every leaf evaluated (no short-circuit), one
    generated function (``codegen.generate_checker``).

    Evaluating every leaf reaches leaves a short-circuiting predicate never would, on whatever data
    the CRM sent (a list where a choice was expected, say): should the fast form raise, each leaf is
    evaluated by the explain interpreter, which reads any value."""
    from .codegen import generate_checker

    leaves = tuple(iter_leaves(node))

    def interpreted(ctx) -> list:  # the interpreter gives every leaf its value and result
        return [_interpreted(leaf, ctx) for leaf in leaves]

    return generate_checker(node, _probe, fallback=interpreted)


def judge(node: Node, predicate: Callable[[Any], bool]) -> Callable[[Any], tuple[bool, list]]:
    """A function ``ctx -> (matched, checked)``: ``checker``'s list and whether the tree holds, in one
    generated function. Should it raise, ``predicate`` decides and the interpreter checks each leaf."""
    from .codegen import generate_checker

    leaves = tuple(iter_leaves(node))

    def interpreted(ctx) -> tuple[bool, list]:
        return bool(predicate(ctx)), [_interpreted(leaf, ctx) for leaf in leaves]

    return generate_checker(node, _probe, judge=True, fallback=interpreted)


def _interpreted(leaf: Leaf, ctx) -> list:
    try:
        result, actual = evaluate_leaf(leaf, ctx)
    except Exception:  # a value no comparison can read: the condition does not hold
        return [None, False]
    return [_jsonable(actual), result]


def expand(node: Node, checked: list, words: Callable[[Leaf], tuple[str, str]]) -> dict:
    """The explain tree of ``node`` from its ``checked`` leaves; ``words(leaf)`` is (label, sentence).

    Raises ``ValueError`` when ``checked`` does not fit the tree (the rule's tree changed shape)."""

    def shape(item: Node):
        if isinstance(item, Leaf):
            label, text = words(item)
            return "leaf", lambda _actual: {
                "field": item.path,
                "label": label,
                "op": item.op,
                "expected": item.raw,
                "text": text,
            }
        if isinstance(item, Not):
            return "not", item.child
        return ("all" if isinstance(item, All) else "any"), item.children

    return _assembled(node, checked, shape)


def expand_stored(tree: Any, checked: list) -> dict:
    """The explain tree from a rule's stored conditions (their JSON) and ``checked``, for a rule that no
    longer reads with today's dictionary (a field or a choice removed since): each condition is named
    by its path. Raises ``ValueError`` when ``checked`` does not fit the tree."""

    def shape(item: Any):
        if not isinstance(item, dict):
            raise ValueError("the stored conditions are not a condition tree")
        if "field" in item:
            path, op, raw = str(item["field"]), str(item.get("op")), item.get("value")
            return "leaf", lambda actual: {
                "field": path,
                "label": path,
                "op": op,
                "expected": raw,
                # A multiple-choice field's values are a list: its "contains" reads "includes".
                "text": comparison_text(path, op, raw, multi=isinstance(actual, list) and op == "contains"),
            }
        if "not" in item:
            return "not", item["not"]
        for word in ("all", "any"):
            if isinstance(item.get(word), list):
                return word, item[word]
        raise ValueError("the stored conditions are not a condition tree")

    return _assembled(tree, checked, shape)


def _assembled(root: Any, checked: list, shape) -> dict:
    """The explain tree of ``root``, each leaf taking the next ``checked`` pair; ``shape(item)`` says what
    ``item`` is: ("leaf", a function of the actual value giving the leaf's other fields), ("not", child)
    or ("all" or "any", children)."""
    if not isinstance(checked, list):
        raise ValueError("the checked values are not a list")
    leaves = iter(checked)

    def walk(item: Any) -> dict:
        kind, body = shape(item)
        if kind == "leaf":
            try:
                actual, result = next(leaves)
            except (StopIteration, TypeError, ValueError):
                raise ValueError("the checked values do not fit the rule's conditions") from None
            return {**body(actual), "actual": actual, "result": bool(result)}
        if kind == "not":
            child = walk(body)
            return {"op": "not", "result": not child["result"], "condition": child}
        children = [walk(child) for child in body]
        combine = all if kind == "all" else any
        return {"op": kind, "result": combine(c["result"] for c in children), "conditions": children}

    tree = walk(root)
    if next(leaves, None) is not None:
        raise ValueError("the checked values do not fit the rule's conditions")
    return tree


def _layout(node: Node, results: tuple, words, *, every: bool, indent: str = "  ") -> list:
    """The lines of ``node``'s explain text for these leaf ``results`` — every line, indented, or (not
    ``every``) the ✗ lines below the first, bare: text, or (text, leaf index, operator) where the
    leaf's actual value follows."""
    lines: list = []
    counter = iter(range(len(results)))

    def walk(item: Node, depth: int) -> bool:
        if isinstance(item, Leaf):
            index = next(counter)
            ok = bool(results[index])
            if every or (not ok and depth):
                mark = f"{indent * depth if every else ''}{'✓' if ok else '✗'}"
                lines.append((f"{mark} {words(item)[1]}", index, item.op))
            return ok
        at = len(lines)
        if isinstance(item, Not):
            ok = not walk(item.child, depth + 1)
            head = "not:"
        else:
            found = [walk(child, depth + 1) for child in item.children]
            ok = all(found) if isinstance(item, All) else any(found)
            head = f"{'all of' if isinstance(item, All) else 'any of'}:"
        if every or (not ok and depth):
            lines.insert(at, f"{indent * depth if every else ''}{'✓' if ok else '✗'} {head}")
        return ok

    walk(node, 0)
    return lines


def _filled(layout: list, checked: list) -> list[str]:
    out = []
    for line in layout:
        if isinstance(line, str):
            out.append(line)
            continue
        text, index, op = line
        out.append(f"{text} (actual: {actual_text(op, checked[index][0])})")
    return out


def _cached_layout(node: Node, checked: list, words, layouts: dict, every: bool) -> list:
    results = tuple([pair[1] for pair in checked])
    key = (every, results)
    layout = layouts.get(key)
    if layout is None:
        layout = _layout(node, tuple(map(bool, results)), words, every=every)
        if len(layouts) < _SUMMARY_SHAPES:
            layouts[key] = layout
    return layout


_PASSED = object()
_KEYED_TEXT = 100  # longer failed texts are not remembered (memory)


def failed_key(checked: list) -> tuple | None:
    """What the ✗ lines of ``checked`` depend on: which conditions failed and with what values (a value
    by itself when a text or empty, else with its type: 1, 1.0 and True read differently, a float by
    its ``repr``: -0.0 and nan too). None when the lines are not to be remembered: a value that cannot
    be a key (a list), a long text, or a text that reads as a moment (shown in the viewer's time zone)."""
    key = []
    for actual, result in checked:
        if result:
            key.append(_PASSED)
        elif actual is None:
            key.append(None)
        elif actual.__class__ is str:
            if len(actual) > 10 and (len(actual) > _KEYED_TEXT or actual[4:5] == "-"):
                return None
            key.append(actual)
        elif actual.__class__ is float:
            key.append((float, repr(actual)))
        else:
            key.append((actual.__class__, actual))
    try:
        hash(key := tuple(key))
    except TypeError:
        return None
    return key


def failed_lines(node: Node, checked: list, words, layouts: dict) -> list[str]:
    """The ✗ lines of the explain text (without its first line), bare, as ``explain_text`` writes them.

    ``layouts`` caches, per combination of leaf results, which lines there are (kept by the predicate)."""
    return _filled(_cached_layout(node, checked, words, layouts, False), checked)


def text_lines(node: Node, checked: list, words, layouts: dict) -> list[str]:
    """Every line of the explain text, as ``explain_text(explain(...))`` writes them, from ``checked``."""
    return _filled(_cached_layout(node, checked, words, layouts, True), checked)
