"""The automations that read a dictionary field, for the dictionary's "used by" and its protection:
conditions (``fields_used``), the fields whose change triggers them, and fields named in their kind's
parameters (a task's due-date field, the field an action sets…)."""

from __future__ import annotations

from django.urls import reverse

from revops.models import Automation
from revops.plugins import FieldUser

ACTIVE = (Automation.Mode.LIVE, Automation.Mode.SHADOW)


def _names(value, object_type: str, key: str) -> bool:
    """Whether the kind parameters ``value`` name the field (as ``key`` or ``object.key``)."""
    if isinstance(value, str):
        return value in (key, f"{object_type}.{key}")
    if isinstance(value, dict):
        return any(_names(v, object_type, key) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_names(v, object_type, key) for v in value)
    return False


def automation_field_users(object_type: str, key: str) -> list[FieldUser]:
    path = f"{object_type}.{key}"
    users = []
    for automation in Automation.objects.only(
        "pk", "name", "mode", "object_type", "fields_used", "trigger_fields", "config"
    ).order_by("name"):
        own = automation.object_type == object_type
        if (
            path in (automation.fields_used or [])
            or (own and key in (automation.trigger_fields or []))
            or (own and _names(automation.config or {}, object_type, key))
        ):
            users.append(
                FieldUser(
                    kind="Automation",
                    name=automation.name,
                    url=reverse("admin:revops_automation_change", args=[automation.pk]),
                    active=automation.mode in ACTIVE,
                )
            )
    return users
