"""The duplicate-checkable objects: one entry per object type the duplicate rules can look at.

An entry names the model, how a record is called in sentences ("Ada Moreno"), the fields a rule can
compare besides the dictionary's (``virtual``: a lead's full name is its first and last name), and
which text fields hold company names (compared as company keys: "Acme, Inc." == "ACME"). Every
other field a rule names is a dictionary key of the object: a core column or a custom attribute.

Leads, contacts and accounts are registered in ``DataQualityConfig.ready``; another object is one more
``register_duplicate_object`` call (see docs/dataquality.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from django.db import models


@dataclass(frozen=True)
class VirtualField:
    """A field computed from columns: ``compute(row)`` over a row of ``sources`` columns."""

    label: str
    sources: tuple[str, ...]
    compute: Callable[[dict], str]


@dataclass(frozen=True)
class DuplicateObject:
    """How the duplicate rules read one object type (see the module docstring)."""

    object_type: str
    model: type[models.Model]
    label: str  # "lead": "This lead looks like …"
    display_columns: tuple[str, ...]
    display: Callable[[dict], str]
    virtual: dict[str, VirtualField] = field(default_factory=dict)
    company_fields: frozenset[str] = frozenset()
    person_fields: frozenset[str] = frozenset()

    @property
    def columns(self) -> frozenset[str]:
        return _columns(self.model)

    def getter(self, key: str) -> Callable[[dict], Any]:
        """A function reading the field ``key`` from a row (faster than ``value`` in a loop)."""
        virtual = self.virtual.get(key)
        if virtual is not None:
            return virtual.compute
        if key in self.columns:
            return lambda row: row.get(key)
        return lambda row: (row.get("attributes") or {}).get(key)

    def sources(self, key: str) -> tuple[str, ...]:
        """The columns a field is read from (custom fields: ``attributes``)."""
        if key in self.virtual:
            return self.virtual[key].sources
        return (key,) if key in self.columns else ("attributes",)

    def value(self, row: dict, key: str) -> Any:
        """The field's value in ``row`` (a ``values()`` row, or an instance's ``__dict__``)."""
        virtual = self.virtual.get(key)
        if virtual is not None:
            return virtual.compute(row)
        if key in self.columns:
            return row.get(key)
        return (row.get("attributes") or {}).get(key)

    def name_of(self, row: dict) -> str:
        return self.display(row) or f"{self.label} {row.get('external_id')}"


_OBJECTS: dict[str, DuplicateObject] = {}


@cache
def _columns(model) -> frozenset[str]:
    return frozenset(f.attname for f in model._meta.concrete_fields)


def register_duplicate_object(entry: DuplicateObject) -> DuplicateObject:
    """Make ``entry.object_type`` checkable by duplicate rules (idempotent by object type)."""
    _OBJECTS[entry.object_type] = entry
    return entry


def duplicate_object(object_type: str) -> DuplicateObject | None:
    return _OBJECTS.get(object_type)


def duplicate_objects() -> list[DuplicateObject]:
    """Every registered object, in registration order (the scan's order)."""
    return list(_OBJECTS.values())


def object_choices() -> list[tuple[str, str]]:
    return [(entry.object_type, entry.label.capitalize()) for entry in _OBJECTS.values()]


def _person(row: dict) -> str:
    return " ".join(
        part for part in ((row.get("first_name") or "").strip(), (row.get("last_name") or "").strip()) if part
    )


def register_builtin_objects() -> None:
    """Leads, contacts and accounts (called from ``DataQualityConfig.ready``)."""
    from revops.models import Account, Contact, Lead

    register_duplicate_object(
        DuplicateObject(
            object_type="lead",
            model=Lead,
            label="lead",
            display_columns=("first_name", "last_name", "email"),
            display=lambda row: _person(row) or (row.get("email") or ""),
            virtual={"name": VirtualField("Name", ("first_name", "last_name"), _person)},
            company_fields=frozenset({"company"}),
            person_fields=frozenset({"name", "first_name", "last_name"}),
        )
    )
    register_duplicate_object(
        DuplicateObject(
            object_type="contact",
            model=Contact,
            label="contact",
            display_columns=("first_name", "last_name", "email"),
            display=lambda row: _person(row) or (row.get("email") or ""),
            virtual={"name": VirtualField("Name", ("first_name", "last_name"), _person)},
            person_fields=frozenset({"name", "first_name", "last_name"}),
        )
    )
    register_duplicate_object(
        DuplicateObject(
            object_type="account",
            model=Account,
            label="account",
            display_columns=("name",),
            display=lambda row: row.get("name") or "",
            virtual={
                "web_domain": VirtualField(
                    "Web domain", ("domain", "website"), lambda row: row.get("domain") or row.get("website") or ""
                )
            },
            company_fields=frozenset({"name"}),
        )
    )
