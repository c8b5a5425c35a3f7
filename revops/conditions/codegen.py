"""A parsed tree as one generated Python function: what the engine calls to decide.

The closures of ``compile.py`` cost a Python call per leaf and per group; the function generated
here evaluates the whole tree in one frame, as a hand-written rule would. Its source holds only
generated names and attribute names that are Python identifiers naming the record's own columns
and relations (checked here); every value a user wrote is a constant in the function's namespace,
never source text. A leaf this module does not inline (a computed field, a reference, a clock or
change comparison, an attribute name that is no identifier) calls its ``compile.py`` closure. The
property tests check the generated function against the explain interpreter and the ORM filter.
"""

from __future__ import annotations

import keyword
from collections.abc import Callable
from typing import Any

from .compile import _EMPTY, CONVERTERS, Predicate, _leaf
from .explain import PLAIN_JSON, _jsonable
from .schema import All, Leaf, Node, Not, iter_leaves


def _name(text: str | None) -> bool:
    return bool(text) and text.isidentifier() and not keyword.iskeyword(text) and not text.startswith("_")


class _Source:
    def __init__(self):
        self.env: dict[str, Any] = {"_EMPTY": _EMPTY, "_EMPTY_MAP": {}}
        self.count = 0

    def const(self, value: Any) -> str:
        self.count += 1
        name = f"_k{self.count}"
        self.env[name] = value
        return name

    def temp(self) -> str:
        self.count += 1
        return f"_t{self.count}"

    def value(self, leaf: Leaf) -> str | None:
        """An expression for the leaf's value as ``getter`` reads it, or None to call the getter."""
        field = leaf.field
        if field.computed or field.field_type == "reference" or not _name(field.key):
            return None
        if leaf.relation is not None and not _name(leaf.relation):
            return None
        if field.is_core:
            if leaf.relation is None:
                return f"r.{field.key}"
            related = self.temp()
            return f"({related}.{field.key} if ({related} := r.{leaf.relation}) is not None else None)"
        key = self.const(field.key)
        if leaf.relation is None:
            read = f"(r.attributes or _EMPTY_MAP).get({key})"
        else:
            related = self.temp()
            read = f"((({related}.attributes or _EMPTY_MAP).get({key})) if ({related} := r.{leaf.relation}) is not None else None)"
        convert = CONVERTERS.get(field.field_type)
        return read if convert is None else f"{self.const(convert)}({read})"

    def leaf(self, leaf: Leaf, negate: bool, read: str | None = None) -> str:
        """A test of the leaf; ``read``: an expression for its value (default: read from the record)."""
        op, value, ftype = leaf.op, leaf.value, leaf.field_type
        if read is None:
            read = self.value(leaf) if op in _INLINE else None
        if read is None:
            return f"{self.const(_leaf(leaf, negate))}(c)"
        if op in ("ne", "not_in", "is_not_empty"):
            op, negate = {"ne": "eq", "not_in": "in", "is_not_empty": "is_empty"}[op], not negate
        if op == "eq":
            return f"({read} {'!=' if negate else '=='} {self.const(value)})"
        if op == "in":
            return f"({read} {'not in' if negate else 'in'} {self.const(frozenset(value))})"
        if op == "is_empty":
            test = f"(not {read})" if ftype == "multi_choice" else f"({read} in _EMPTY)"
        else:
            v = self.temp()
            if op in _COMPARE:
                test = f"(({v} := {read}) is not None and {v} {_COMPARE[op]} {self.const(value)})"
            elif op == "between":
                lo, hi = value
                test = f"(({v} := {read}) is not None and {self.const(lo)} <= {v} <= {self.const(hi)})"
            elif op == "contains" and ftype == "multi_choice":
                test = f"(({v} := {read}) is not None and {self.const(value)} in {v})"
            elif op == "contains":
                test = f"(bool({v} := {read}) and {self.const(value.lower())} in {v}.lower())"
            else:  # starts_with, ends_with
                method = "startswith" if op == "starts_with" else "endswith"
                test = f"(bool({v} := {read}) and {v}.lower().{method}({self.const(value.lower())}))"
        return f"(not {test})" if negate else test

    def node(self, node: Node, negate: bool = False) -> str:
        if isinstance(node, Leaf):
            return self.leaf(node, negate)
        if isinstance(node, Not):
            return self.node(node.child, not negate)
        conj = isinstance(node, All)
        if not node.children:
            text = "True" if conj else "False"
        else:
            parts = [self.node(child) for child in node.children]
            text = "(" + (" and " if conj else " or ").join(parts) + ")"
        return f"(not {text})" if negate else text


_COMPARE = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
_INLINE = {
    "eq",
    "ne",
    "in",
    "not_in",
    "is_empty",
    "is_not_empty",
    *_COMPARE,
    "between",
    "contains",
    "starts_with",
    "ends_with",
}


def _compiled(text: str, env: dict, name: str):
    namespace = dict(env)
    exec(compile(text, "<condition>", "exec"), namespace)  # noqa: S102 - identifiers and generated names only
    function = namespace[name]
    function.source = text
    return function


def generate_checker(
    node: Node, probe: Callable[[Leaf], Callable], *, judge: bool = False, fallback: Callable[[Any], Any] | None = None
) -> Callable[[Any], Any]:
    """``check(ctx) -> [[actual, result], …]`` for every leaf of a parsed tree in order, as one generated
    function (see ``compact``): each value is read once and made JSON-ready (``explain._jsonable``)
    unless it is a plain str, int, float, bool or None. ``probe(leaf)``: the closure for a leaf that
    is not inlined. ``judge``: return ``(matched, checked)`` instead, the tree's result worked out from
    the leaves' (every leaf is read either way). ``fallback(ctx)``: what it returns instead should any
    leaf raise (in the same function: no second call per check)."""
    source = _Source()
    source.env.update({"_PLAIN": PLAIN_JSON, "_json": _jsonable})
    body, pairs, results = [], [], {}
    for leaf in iter_leaves(node):
        read = source.value(leaf) if leaf.op in _INLINE else None
        if read is None:
            pair = source.temp()
            body.append(f"    {pair} = {source.const(probe(leaf))}(c)")
            pairs.append(pair)
            results[id(leaf)] = f"{pair}[1]"
            continue
        value, result = source.temp(), source.temp()
        body.append(f"    {value} = {read}")
        body.append(f"    {result} = {source.leaf(leaf, False, read=value)}")
        pairs.append(f"[{value} if {value}.__class__ in _PLAIN else _json({value}), {result}]")
        results[id(leaf)] = result
    checked = f"[{', '.join(pairs)}]"
    body.append(f"    return {_combined(node, results)}, {checked}" if judge else f"    return {checked}")
    if fallback is None:
        text = "def check(c):\n    r = c.record\n" + "".join(line + "\n" for line in body)
    else:
        source.env["_fallback"] = fallback
        text = "def check(c):\n    try:\n        r = c.record\n" + "".join(f"    {line}\n" for line in body)
        text += "    except Exception:\n        return _fallback(c)\n"
    return _compiled(text, source.env, "check")


def _combined(node: Node, results: dict) -> str:
    """The tree's result as an expression over its leaves' result names."""
    if isinstance(node, Leaf):
        return results[id(node)]
    if isinstance(node, Not):
        return f"(not {_combined(node.child, results)})"
    conj = isinstance(node, All)
    if not node.children:
        return "True" if conj else "False"
    return "(" + (" and " if conj else " or ").join(_combined(child, results) for child in node.children) + ")"


def compile_node(node: Node) -> Predicate:
    """``pred(ctx) -> bool`` for a parsed tree, as one generated function (a fresh one per call)."""
    source = _Source()
    expression = source.node(node)
    return _compiled(f"def predicate(c):\n    r = c.record\n    return {expression}\n", source.env, "predicate")
