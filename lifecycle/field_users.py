"""Lifecycle's readers of dictionary fields: scoring models (their fit rules' conditions) and the
stages whose entry condition reads the field."""

from __future__ import annotations

from django.urls import reverse

from revops.conditions import fields_used
from revops.plugins import FieldUser

from .models import ScoringModel, Stage

ACTIVE = (ScoringModel.Status.SHADOW, ScoringModel.Status.LIVE)


def lifecycle_field_users(object_type: str, key: str) -> list[FieldUser]:
    path = f"{object_type}.{key}"
    users = []
    for model in ScoringModel.objects.prefetch_related("fit_rules").order_by("name"):
        if any(path in fields_used(rule.condition or {}) for rule in model.fit_rules.all()):
            users.append(
                FieldUser(
                    "Scoring model",
                    model.name,
                    reverse("admin:lifecycle_scoringmodel_change", args=[model.pk]),
                    model.status in ACTIVE,
                )
            )
    for stage in Stage.objects.all():
        if path in fields_used(stage.entry_condition or {}):
            users.append(
                FieldUser("Lifecycle stage", stage.name, reverse("admin:lifecycle_stage_change", args=[stage.pk]), True)
            )
    return users
