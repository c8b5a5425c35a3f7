"""The checklists that read a dictionary field: in when they apply, as a field that must be filled
(or its condition), as the account field naming the receiving rep, or the renewal date."""

from __future__ import annotations

from django.urls import reverse

from revops.conditions import fields_used
from revops.plugins import FieldUser

from .models import Checklist
from .services import subject_type_of


def _paths(checklist: Checklist) -> set[str]:
    subject = subject_type_of(checklist)
    paths = set(fields_used(checklist.conditions or {}))
    for entry in checklist.required_fields or []:
        if isinstance(entry, dict) and entry.get("field"):
            paths.add(f"{subject}.{entry['field']}")
            paths |= fields_used(entry.get("when") or {})
    for name in ("owner_field", "renewal_field"):
        if getattr(checklist, name):
            paths.add(f"account.{getattr(checklist, name)}")
    return paths


def checklist_field_users(object_type: str, key: str) -> list[FieldUser]:
    path = f"{object_type}.{key}"
    return [
        FieldUser(
            "Handoff checklist",
            checklist.name,
            reverse("admin:handoffs_checklist_change", args=[checklist.pk]),
            checklist.is_active,
        )
        for checklist in Checklist.objects.order_by("name")
        if path in _paths(checklist)
    ]
