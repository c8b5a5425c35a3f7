"""The condition language of automations: JSON trees over data-dictionary fields.

Format
======

A condition is a JSON tree of groups and comparisons::

    {"all": [
        {"field": "lead.country", "op": "in", "value": ["US", "CA"]},
        {"field": "lead.matched_account.employees", "op": "gte", "value": 500},
        {"any": [
            {"field": "lead.source", "op": "eq", "value": "webinar"},
            {"not": {"field": "lead.owner", "op": "is_not_empty"}}
        ]}
    ]}

- Groups: ``{"all": [...]}`` (every condition holds; an empty list is always true),
  ``{"any": [...]}`` (at least one holds; an empty list is never true), ``{"not": {...}}``.
- Comparisons: ``{"field": <path>, "op": <operator>, "value": <value>}``; ``value`` is omitted
  (or null) for ``is_empty``, ``is_not_empty``, ``changed``, ``in_past`` and ``in_future``.
- Paths: ``<object>.<key>`` for the record's own fields, where ``<object>`` is the rule's object
  type (``lead.score``), or ``<object>.<relation>.<key>`` one hop away. Relations (``RELATIONS``):
  lead → owner (rep), matched_account (account); opportunity → owner, account; account → owner,
  parent (account); contact → owner, account, converted_from_lead (lead); activity → rep, lead,
  opportunity, account; task → owner, lead, opportunity,
  account; rep → team, manager. Keys are data-dictionary keys of the target object; core fields
  are columns, custom fields are read from ``attributes[key]``. A core reference field compared
  with a value (``lead.owner eq "R-17"``) compares the related record's CRM ``external_id``.

Operators per dictionary type (``OPS_BY_TYPE``)
-----------------------------------------------
- text, email, url: eq, ne, in, not_in, contains, starts_with, ends_with
- integer: eq, ne, in, not_in, gt, gte, lt, lte, between; decimal: the same without in/not_in
- date: eq, ne, gt, gte, lt, lte, between, older_than_days, within_days, in_past, in_future,
  within_next_days, within_last_days; datetime: the same without eq/ne
- boolean: eq, ne; choice and reference: eq, ne, in, not_in
- multi_choice: contains ("has this value")
- every type: is_empty, is_not_empty, changed; every type but multi_choice: changed_to

Values are coerced with the dictionary's types when the tree is validated: whole numbers for
integer fields, decimals as strings, dates ``YYYY-MM-DD``, datetimes ISO 8601 with a zone, choice
values from the allowed list. ``between`` takes ``[lowest, highest]`` (inclusive); ``in`` a
non-empty list; ``older_than_days``/``within_days``/``within_next_days``/``within_last_days`` a
whole number of days. ``clean_condition``
returns the canonical JSON (e.g. ``"17"`` → ``17``), which is what should be stored.

Semantics
=========
- Text: ``eq``/``in`` are exact (case-sensitive; dictionary values such as country codes and
  choices are canonical). ``contains``/``starts_with``/``ends_with`` ignore case; ASCII letters
  fold identically in Python, PostgreSQL and SQLite (SQLite does not fold other letters).
- Missing values: None, an absent attribute, an empty string, an empty multi-choice list, and any
  field behind an empty relation (a lead with no matched account) are *missing*. ``is_empty`` is
  true for them; every positive comparison (eq, in, gt…, between, contains…, older/within) is
  false; ``ne``, ``not_in`` and ``is_not_empty`` are exactly ``not`` of eq, in, is_empty, so
  ``"country ne US"`` is true for a lead with no country. ``not`` is plain boolean negation.
  The Python evaluators and the ORM filter implement the same rule (see ``orm``).
- ``older_than_days N``: the value is before ``now - N days``. ``within_days N``: the value lies
  between ``now - N days`` and ``now + N days`` inclusive (recent activity, or a close date coming
  up). ``in_past``: before now; ``in_future``: after now. ``within_next_days N``: from now up to
  ``now + N days``; ``within_last_days N``: from ``now - N days`` up to now (both inclusive).
  Date fields compare with ``now``'s calendar date (a close date of today is neither in the past
  nor in the future). ``now`` is passed in, so tests control the clock.
- ``changed`` / ``changed_to`` read the event's ``changes`` mapping ``{key: [old, new]}`` (own
  fields only): changed means the key is present with old ≠ new; changed_to additionally needs
  new == value. They have no meaning over stored rows: ``to_q`` refuses them with
  ``ConditionNotQueryable``.

Computed fields
===============
A workflow app can offer values computed from its own data (``computed.py``, registered through
``revops.plugins.register_computed_field``): ``opportunity.close_date_pushes_this_quarter``
resolves to one when the dictionary has no such key. They take their type's operators except
``changed``/``changed_to``, are evaluated in Python only (``to_q`` raises
``ConditionNotQueryable``; ``candidates_q`` gives the SQL-able part) and are read lazily through
the ``Context``; ``batch_contexts`` computes them once for many records.

API
===
``validate_condition`` (errors), ``clean_condition`` (canonical JSON or ``ConditionError``),
``fields_used``, ``render``, ``compile_condition`` → ``pred(Context(record, changes=, now=))``,
``explain`` / ``explain_text``, ``to_q``, ``candidates_q``, ``batch_contexts``, ``computed_fields``. ``fields=`` everywhere accepts a preloaded dictionary
``{(object_type, key): spec}`` (``FieldDefinition`` rows, dicts or ``Field``); without it the
database dictionary is loaded (cached until it changes). ``default_fields()`` gives the default
dictionary without a database.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .codegen import compile_node
from .compile import Context, Predicate, batch_contexts
from .computed import ComputedField, computed_fields, register_computed_field
from .explain import explain, explain_node, explain_text
from .orm import ConditionNotQueryable, candidates_q, node_to_q, queryset, to_q
from .predicate import compile_cached, compile_condition
from .render import render, render_node
from .schema import (
    ALL_OPS,
    OPS_BY_TYPE,
    RELATIONS,
    ConditionError,
    Field,
    FieldMap,
    default_fields,
    dump,
    load_fields,
    parse,
)

__all__ = [
    "ALL_OPS",
    "OPS_BY_TYPE",
    "RELATIONS",
    "ComputedField",
    "ConditionError",
    "ConditionNotQueryable",
    "Context",
    "Field",
    "Predicate",
    "batch_contexts",
    "candidates_q",
    "clean_condition",
    "compile_cached",
    "compile_condition",
    "compile_node",
    "computed_fields",
    "default_fields",
    "explain",
    "explain_node",
    "explain_text",
    "fields_used",
    "load_fields",
    "node_to_q",
    "parse",
    "queryset",
    "register_computed_field",
    "render",
    "render_node",
    "to_q",
    "validate_condition",
]


def validate_condition(tree: Any, *, object_type: str, fields: FieldMap | None = None) -> list[str]:
    """Check ``tree`` against the dictionary; return plain-language errors (empty when valid).

    Each message starts with the condition's place in the tree, e.g.
    ``condition 2 of 'all' › condition 1 of 'any': lead.employes is not a lead field in the data
    dictionary``.
    """
    return parse(tree, object_type=object_type, fields=fields)[1]


def clean_condition(tree: Any, *, object_type: str, fields: FieldMap | None = None) -> dict:
    """The canonical, JSON-serialisable form of ``tree``; raises ``ConditionError`` (a ``ValidationError``)."""
    node, errors = parse(tree, object_type=object_type, fields=fields)
    if errors:
        raise ConditionError(errors)
    return dump(node)


def fields_used(tree: Any) -> set[str]:
    """The dictionary fields a tree reads, as ``"<object>.<key>"`` of the object that defines them.

    ``lead.matched_account.employees`` contributes ``account.employees`` and the reference it
    follows, ``lead.matched_account``. Malformed parts are skipped (validate first).
    """
    used: set[str] = set()

    def walk(node):
        if not isinstance(node, Mapping):
            return
        for kind in ("all", "any"):
            if isinstance(node.get(kind), list):
                for child in node[kind]:
                    walk(child)
        if "not" in node:
            walk(node["not"])
        path = node.get("field")
        if isinstance(path, str):
            parts = path.split(".")
            if len(parts) == 2:
                used.add(path)
            elif len(parts) == 3:
                target = RELATIONS.get(parts[0], {}).get(parts[1])
                if target:
                    used.add(f"{parts[0]}.{parts[1]}")
                    used.add(f"{target}.{parts[2]}")

    walk(tree)
    return used
