"""Lead lifecycle models. This first slice holds scoring: ``ScoringModel`` with its fit and
engagement rules, and ``LeadScore``, the latest score of a lead under a model with its explanation.
Stages, acceptance and the closed loop join this app later (docs/lifecycle.md)."""

from __future__ import annotations

from django.db import models
from simple_history.models import HistoricalRecords

from revops.models import Activity, Lead


class ScoringModel(models.Model):
    """A named set of points rules that scores leads from 0 to ``max_total`` (see ``lifecycle.scoring``).

    ``live``: the portal's score is the source of truth, written to the lead's ``score`` and to the
    changes feed. ``shadow``: computed and compared with the CRM's score, never written to the lead.
    ``draft``: not computed.
    """

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SHADOW = "shadow", "Shadow (compare with the CRM's score)"
        LIVE = "live", "Live (the portal's score is the source of truth)"

    name = models.CharField(max_length=120, unique=True)
    description = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    min_total = models.IntegerField(
        "lowest score", default=0, help_text="The lowest score (the total is never below it)."
    )
    max_total = models.IntegerField(
        "highest score", default=100, help_text="The highest score (the total is never above it)."
    )
    agreement_points = models.PositiveIntegerField(
        "agreement within (points)",
        default=10,
        help_text="Shadow report: a score within this many points of the CRM's agrees with it.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class FitRule(models.Model):
    """Points when a lead (or its matched account) meets a condition of the engine's language."""

    model = models.ForeignKey(ScoringModel, on_delete=models.CASCADE, related_name="fit_rules")
    position = models.PositiveIntegerField(default=0)
    label = models.CharField(max_length=120, blank=True, help_text="Shown in the explanation; default: the condition.")
    condition = models.JSONField(default=dict, help_text="A lead condition (the lead's and its account's fields).")
    points = models.IntegerField(help_text="Points when the condition holds; negative to subtract.")
    history = HistoricalRecords()

    class Meta:
        ordering = ["model", "position", "id"]

    def __str__(self):
        return self.label or f"fit rule {self.position}"


class EngagementRule(models.Model):
    """Points per activity of a kind within a window of days, decayed by age, capped per rule."""

    class Decay(models.TextChoices):
        NONE = "none", "None (full points inside the window)"
        LINEAR = "linear", "Linear (to zero at the window's end)"
        HALF_LIFE = "half_life", "Half-life (halves every N days)"

    model = models.ForeignKey(ScoringModel, on_delete=models.CASCADE, related_name="engagement_rules")
    position = models.PositiveIntegerField(default=0)
    label = models.CharField(max_length=120, blank=True, help_text="Shown in the explanation; default: the kind.")
    activity_kind = models.CharField(max_length=20, choices=Activity.Kind.choices)
    subject_contains = models.CharField(
        max_length=120, blank=True, help_text="Only activities whose subject contains this text (any case)."
    )
    points = models.IntegerField(help_text="Points per activity before decay; negative to subtract.")
    window_days = models.PositiveIntegerField(
        "window (days)", default=30, help_text="Only activities of the last N days count."
    )
    decay = models.CharField(max_length=10, choices=Decay.choices, default=Decay.NONE)
    half_life_days = models.FloatField(
        "half-life (days)", null=True, blank=True, help_text="For half-life decay: days to halve."
    )
    cap = models.PositiveIntegerField(
        null=True, blank=True, help_text="At most this many points (in either direction) from this rule."
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["model", "position", "id"]

    def __str__(self):
        return self.label or f"{self.get_activity_kind_display()} rule"


class LeadScore(models.Model):
    """A lead's latest score under one model: the total, the explanation line by line, the CRM's score then."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="lifecycle_scores")
    model = models.ForeignKey(ScoringModel, on_delete=models.CASCADE, related_name="scores")
    total = models.IntegerField()
    explanation = models.JSONField(default=list)
    crm_score = models.IntegerField(null=True, blank=True, help_text="The lead's score field when computed.")
    computed_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["lead", "model"], name="lifecycle_leadscore_unique")]
        indexes = [models.Index(fields=["model", "total"], name="lifecycle_leadscore_total")]

    def __str__(self):
        return f"{self.lead_id} {self.model_id}: {self.total}"
