"""Routing's readers of dictionary fields: routing rules and SLA policies (their lead conditions)."""

from __future__ import annotations

from django.urls import reverse

from revops.plugins import FieldUser

from .models import RoutingRule, SlaPolicy

ACTIVE_RULES = (RoutingRule.Status.LIVE, RoutingRule.Status.SHADOW)


def routing_field_users(object_type: str, key: str) -> list[FieldUser]:
    path = f"{object_type}.{key}"
    users = [
        FieldUser(
            "Routing rule",
            rule.name,
            reverse("admin:routing_routingrule_change", args=[rule.pk]),
            rule.status in ACTIVE_RULES,
        )
        for rule in RoutingRule.objects.only("pk", "name", "status", "fields_used").order_by("name")
        if path in (rule.fields_used or [])
    ]
    users += [
        FieldUser(
            "SLA policy", policy.name, reverse("admin:routing_slapolicy_change", args=[policy.pk]), policy.is_active
        )
        for policy in SlaPolicy.objects.only("pk", "name", "is_active", "fields_used").order_by("name")
        if path in (policy.fields_used or [])
    ]
    return users
