"""Reads for the core app: the data dictionary and the record models it describes."""

from __future__ import annotations

from django.apps import apps
from django.db import models
from django.db.models import QuerySet

from .models import FieldDefinition, ObjectType

# The record model behind each dictionary object type.
RECORD_MODELS = {
    ObjectType.TEAM: "Team",
    ObjectType.REP: "Rep",
    ObjectType.ACCOUNT: "Account",
    ObjectType.LEAD: "Lead",
    ObjectType.CONTACT: "Contact",
    ObjectType.OPPORTUNITY: "Opportunity",
    ObjectType.ACTIVITY: "Activity",
    ObjectType.TASK: "Task",
}


def record_model(object_type: str) -> type[models.Model]:
    """The model class that stores records of ``object_type`` (``"lead"`` → ``Lead``)."""
    return apps.get_model("revops", RECORD_MODELS[object_type])


def record_has_attributes(object_type: str) -> bool:
    """Whether records of ``object_type`` can carry custom attributes (have an ``attributes`` column)."""
    try:
        record_model(object_type)._meta.get_field("attributes")
    except Exception:
        return False
    return True


def record_column_names(object_type: str) -> list[str]:
    """Names of the concrete columns a core dictionary entry may describe (FKs by field name)."""
    return [
        field.name
        for field in record_model(object_type)._meta.concrete_fields
        if not field.primary_key and field.name not in {"attributes", "raw_values", "created_at", "updated_at"}
    ]


def dictionary_fields(*, object_type: str | None = None, include_deprecated: bool = True) -> QuerySet[FieldDefinition]:
    """Dictionary entries, core columns first, optionally for one object type only."""
    qs = FieldDefinition.objects.all()
    if object_type:
        qs = qs.filter(object_type=object_type)
    if not include_deprecated:
        qs = qs.filter(is_deprecated=False)
    return qs.order_by("object_type", "-is_core", "key")


def dictionary_field_usage(*, object_type: str, key: str) -> int:
    """How many records hold a value under custom attribute ``key`` (0 for objects without attributes)."""
    if not record_has_attributes(object_type):
        return 0
    return record_model(object_type).objects.filter(attributes__has_key=key).count()
