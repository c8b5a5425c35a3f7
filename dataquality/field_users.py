"""The duplicate rules that compare a dictionary field (a virtual field such as a lead's name reads
the columns it is made of)."""

from __future__ import annotations

from django.urls import reverse

from revops.plugins import FieldUser

from .models import DuplicateRule
from .objects import duplicate_object


def duplicate_rule_field_users(object_type: str, key: str) -> list[FieldUser]:
    entry = duplicate_object(object_type)
    if entry is None:
        return []
    users = []
    for rule in DuplicateRule.objects.filter(object_type=object_type).prefetch_related("fields").order_by("name"):
        if any(f.field == key or key in entry.sources(f.field) for f in rule.fields.all()):
            users.append(
                FieldUser(
                    "Duplicate rule",
                    rule.name,
                    reverse("admin:dataquality_duplicaterule_change", args=[rule.pk]),
                    rule.is_active,
                )
            )
    return users
