"""Record values as people read them: a field's label and its value with names, labels and local times.

Runs, approvals and the feed store values the way the CRM speaks (``owner: "REP-0013"``,
``forecast_category: "best_case"``, ISO timestamps). Pages show them through ``FieldText``, which
turns a reference into the record's name, a choice into its label, an amount into grouped digits
and a time into the viewer's local time, looking each referenced record up once per page.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.db import models

from .conditions.render import value_text
from .models import FieldDefinition
from .selectors import RECORD_MODELS, record_model
from .values import moment_text


def _model_field(object_type: str, key: str) -> models.Field | None:
    if object_type not in RECORD_MODELS:
        return None
    try:
        return record_model(object_type)._meta.get_field(key)
    except FieldDoesNotExist:
        return None


def list_labels(model: type[models.Model] | None, name: str) -> dict:
    """Labels of the values a list column holds (a contact's roles), from the model's ``LIST_CHOICES``."""
    return dict(getattr(model, "LIST_CHOICES", {}).get(name, ()))


def record_name(record: models.Model) -> str:
    """What people call a record: its name, or its string form (a lead's name and company)."""
    return str(getattr(record, "name", None) or record)


class FieldText:
    """Labels and values of record fields for one page; referenced records are looked up once each."""

    def __init__(self):
        self._labels: dict[str, dict[str, FieldDefinition]] = {}
        self._records: dict[tuple[type, Any], str | None] = {}
        self._fields: dict | None = None

    def condition_fields(self) -> dict:
        """The data dictionary as conditions read it (``conditions.load_fields``), read once per page."""
        if self._fields is None:
            from revops.conditions import load_fields

            self._fields = load_fields()
        return self._fields

    def entry(self, object_type: str, key: str) -> FieldDefinition | None:
        if object_type not in self._labels:
            self._labels[object_type] = {
                entry.key: entry for entry in FieldDefinition.objects.filter(object_type=object_type)
            }
        return self._labels[object_type].get(key)

    def label(self, object_type: str, key: str) -> str:
        """The dictionary's label for ``object_type.key``, else the column's name, else the key in words."""
        entry = self.entry(object_type, key)
        if entry is not None and entry.label:
            return entry.label
        field = _model_field(object_type, key)
        if field is not None and getattr(field, "verbose_name", None):
            return str(field.verbose_name)[:1].upper() + str(field.verbose_name)[1:]
        return key.replace("_", " ").capitalize()

    def record(self, model: type[models.Model], ref: Any) -> str | None:
        """The name of ``model``'s record whose CRM id (a string) or database id (an integer) is ``ref``."""
        cache_key = (model, ref)
        if cache_key not in self._records:
            lookup = {"pk": ref} if isinstance(ref, int) and not isinstance(ref, bool) else {"external_id": str(ref)}
            if "external_id" in lookup and not any(f.name == "external_id" for f in model._meta.fields):
                self._records[cache_key] = None
            else:
                found = model._default_manager.filter(**lookup).first()
                self._records[cache_key] = record_name(found) if found is not None else None
        return self._records[cache_key]

    def value(self, object_type: str, key: str, value: Any) -> str:
        """``value`` of ``object_type.key`` as people read it ("Katherine Hernandez", "Best case", "20,500.00")."""
        if value is None or value == "" or value == []:
            return "empty"
        field = _model_field(object_type, key)
        target = None
        if isinstance(field, models.ForeignKey):
            target = field.related_model
        else:
            entry = self.entry(object_type, key)
            if entry is not None and entry.reference_to in RECORD_MODELS:
                target = record_model(entry.reference_to)
        if target is not None and isinstance(value, str | int) and not isinstance(value, bool):
            return self.record(target, value) or str(value)
        if field is not None and field.choices and isinstance(value, str | int):
            return str(dict(field.flatchoices).get(value, value))
        if isinstance(value, list) and field is not None and (labels := list_labels(field.model, key)):
            return ", ".join(str(labels.get(item, item)) for item in value)
        if isinstance(field, models.DecimalField) or isinstance(value, Decimal):
            try:
                return f"{Decimal(str(value)):,}"
            except InvalidOperation:
                return str(value)
        if isinstance(value, dt.date):
            return moment_text(value) or str(value)
        if isinstance(value, str) and isinstance(field, models.DateField | models.DateTimeField):
            return moment_text(value) or value
        return value_text(value)
