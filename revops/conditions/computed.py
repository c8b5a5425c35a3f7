"""Computed fields: values a workflow app computes from its own data, usable in every automation's conditions.

An app registers them in its ``AppConfig.ready()`` (through ``revops.plugins.register_computed_field``)::

    register_computed_field(
        "opportunity", "close_date_pushes_this_quarter",
        label="Close-date pushes this quarter", field_type="integer",
        compute=lambda records, now: {deal.pk: ... for deal in records},
        description="Close-date changes this quarter that moved the date later.",
    )

A condition path ``<object>.<key>`` on the record's own fields resolves to a computed field when
the data dictionary has no such key (dictionary fields win; a key that is a core column cannot be
registered). ``compute(records, now) -> {pk: value}`` computes many records at once; a missing pk
or None is a missing value. Values are Python values of the field type (int, Decimal, date,
aware datetime, bool, str).

Computed fields take every operator of their type except ``changed``/``changed_to`` and are
evaluated in Python only: ``to_q`` refuses them (``ConditionNotQueryable``) and ``candidates_q``
gives the SQL-able part. A predicate reads a value lazily through its ``Context`` (one
``compute([record], now)`` call per field and context, cached on the context); a caller
evaluating many records calls ``compile.batch_contexts`` to compute each field once for the batch.
Fields computed from the same data share it with ``shared(key, load)``: within one batch (or one
context) ``load`` runs once per key, so three signals of one app cost one read.
This module imports nothing else of the condition language (it is a leaf, registered into early).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Hashable
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

COMPUTED_TYPES = frozenset({"text", "integer", "decimal", "date", "datetime", "boolean"})


@dataclass(frozen=True)
class ComputedField:
    """One registered computed field: ``compute(records, now) -> {pk: value}`` of ``field_type``."""

    object_type: str
    key: str
    label: str
    field_type: str
    compute: Callable[[list, dt.datetime], dict]
    description: str = ""


_REGISTRY: dict[tuple[str, str], ComputedField] = {}


def _core_keys(object_type: str) -> set[str]:
    """The core columns of ``object_type``: the default dictionary's core keys and the model's fields."""
    from revops.dictionary_defaults import DEFAULT_FIELDS

    keys = {e["key"] for e in DEFAULT_FIELDS if e["object_type"] == object_type and e.get("is_core")}
    try:
        from django.apps import apps

        model = apps.get_model("revops", object_type)
    except (LookupError, ValueError, Exception):  # apps not ready, or no such model
        return keys
    for field in model._meta.get_fields():
        keys.add(field.name)
        if getattr(field, "attname", None):
            keys.add(field.attname)
    return keys


def register_computed_field(
    object_type: str,
    key: str,
    *,
    label: str,
    field_type: str,
    compute: Callable[[list, dt.datetime], dict],
    description: str = "",
) -> ComputedField:
    """Offer ``<object_type>.<key>`` to every condition; idempotent by (object type, key).

    Raises ``ValueError`` for a key that is a core column of the object, a key that is not
    lowercase letters, digits and underscores, or an unsupported ``field_type``.
    """
    if not key or not key.replace("_", "a").isalnum() or not key[0].isalpha() or key.lower() != key:
        raise ValueError(f"computed field {object_type}.{key}: a key is lowercase letters, digits and underscores")
    if field_type not in COMPUTED_TYPES:
        raise ValueError(
            f"computed field {object_type}.{key}: type {field_type!r} is not one of {', '.join(sorted(COMPUTED_TYPES))}"
        )
    if key in _core_keys(object_type):
        raise ValueError(f"computed field {object_type}.{key}: {key!r} is already a core field of {object_type}")
    spec = ComputedField(object_type, key, label, field_type, compute, description)
    _REGISTRY[(object_type, key)] = spec
    return spec


def unregister_computed_field(object_type: str, key: str) -> None:
    """Remove a registration (tests)."""
    _REGISTRY.pop((object_type, key), None)


def computed_field(object_type: str, key: str) -> ComputedField | None:
    return _REGISTRY.get((object_type, key))


def computed_fields(object_type: str | None = None) -> list[ComputedField]:
    """The registered computed fields (of ``object_type``), by object type and key."""
    return [_REGISTRY[k] for k in sorted(_REGISTRY) if object_type is None or k[0] == object_type]


_SHARED: ContextVar[dict | None] = ContextVar("computed_fields_shared", default=None)


def shared(key: Hashable, load: Callable[[], Any]) -> Any:
    """``load()``, once per ``key`` within the batch (or context) being computed; outside one, every time.

    For an app's compute functions that read the same data: key it by what it depends on (e.g.
    ``("deal_signals", pks, now)``). The memory lasts as long as the batch's evaluation, no longer.
    """
    memo = _SHARED.get()
    if memo is None:
        return load()
    if key not in memo:
        memo[key] = load()
    return memo[key]


@contextmanager
def _sharing(memo: dict | None):
    token = _SHARED.set(memo)
    try:
        yield
    finally:
        _SHARED.reset(token)


def compute_values(spec: ComputedField, records: list, now: dt.datetime, *, memo: dict | None = None) -> dict:
    """``spec.compute`` over the records that have a primary key (a plain-dict record has none).

    ``memo`` is the batch's (or context's) memory for ``shared``."""
    keyed = [r for r in records if getattr(r, "pk", None) is not None]
    if not keyed:
        return {}
    with _sharing(memo):
        return spec.compute(keyed, now) or {}


def predicate_computed(predicate) -> tuple[ComputedField, ...]:
    """The computed fields a compiled predicate reads (``pred.computed``; empty for other callables)."""
    return tuple(getattr(predicate, "computed", ()) or ())
