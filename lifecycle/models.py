"""Lead lifecycle models. Scoring: ``ScoringModel`` with its fit and engagement rules, and
``LeadScore``, the latest score of a lead under a model with its explanation. Stages: ``Stage``
(versioned), ``LeadStage`` (where a lead is now, with its SLA) and ``StageTransition`` (every move
with its cause; rejections carry a reason code and a note). See docs/lifecycle.md."""

from __future__ import annotations

from django.conf import settings
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


# --- stages, acceptance and rejection (docs/lifecycle.md#stages) ------------------------------------

REJECTION_REASONS = {
    "not_icp": "Not our ideal customer (ICP)",
    "bad_data": "Bad or missing data",
    "duplicate": "Duplicate",
    "existing_opportunity": "Existing opportunity",
    "no_contact": "Could not reach them",
    "other": "Other",
}
REJECTION_REASON_CHOICES = list(REJECTION_REASONS.items())  # also the API schema's LeadRejectionReasonEnum


class Stage(models.Model):
    """A lifecycle stage (new, MQL, accepted, SQL, opportunity; recycled, disqualified).

    A lead enters a *funnel* stage when its ``entry_condition`` (the engine's condition language) holds,
    moving forward only: to the furthest funnel stage whose condition holds. A stage that
    ``awaits_acceptance`` (MQL) must be answered by the lead's owner within the stage's SLA: accepted
    (to ``accept_to``) or rejected with a reason (to ``reject_to``, the recycled stage). A *recycled*
    lead re-enters the funnel when a condition holds again, after ``hold_days``; a *closed* one
    (disqualified) stays until a person or the CRM moves it.
    """

    class Kind(models.TextChoices):
        FUNNEL = "funnel", "Funnel (entered when its criteria hold, forward only)"
        RECYCLED = "recycled", "Recycled (back to marketing; re-enters the funnel by criteria)"
        CLOSED = "closed", "Closed (left only by a person or the CRM)"

    name = models.CharField(max_length=60, unique=True, help_text="As people read it: MQL, Sales accepted…")
    key = models.SlugField(
        max_length=40, unique=True, help_text="The value the CRM receives in the changes feed (mql, sal, sql…)."
    )
    description = models.TextField(blank=True)
    position = models.PositiveIntegerField(default=0, help_text="Order in the funnel: a lead only moves forward.")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.FUNNEL)
    entry_condition = models.JSONField(
        default=dict,
        blank=True,
        help_text="When a lead enters the stage (lead fields, e.g. score ≥ 60); empty: only by a person, "
        "an answer or the CRM.",
    )
    awaits_acceptance = models.BooleanField(
        default=False, help_text="The lead's owner must accept or reject it (MQL), within the SLA."
    )
    accept_to = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="+", help_text="Accepted leads go here."
    )
    reject_to = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="+", help_text="Rejected leads go here."
    )
    crm_accepted_status = models.CharField(
        "CRM status meaning accepted",
        max_length=20,
        blank=True,
        choices=Lead.Status.choices,
        help_text="The CRM accepts the lead by syncing this status (empty: only in the portal).",
    )
    crm_rejected_status = models.CharField(
        "CRM status meaning rejected",
        max_length=20,
        blank=True,
        choices=Lead.Status.choices,
        help_text="The CRM rejects the lead by syncing this status (its reason: the lead's rejection_reason "
        "field when it holds a reason code, else Other).",
    )
    sla_policy = models.CharField(
        "SLA policy",
        max_length=120,
        blank=True,
        help_text="How long a lead may wait in the stage, by the SLA policy's name (the owner's business hours "
        "when the policy says so).",
    )
    hold_days = models.PositiveIntegerField(
        default=0, help_text="Criteria move a lead out of this stage only after this many days in it."
    )
    version = models.PositiveIntegerField(default=0, editable=False, help_text="Counts saved changes.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords(excluded_fields=["version"])  # versions: revops.versions

    class Meta:
        ordering = ["position", "pk"]

    def __str__(self):
        return self.name


class LeadStage(models.Model):
    """Where a lead is now: its stage, since when, and when the stage's SLA is due (None: no SLA yet)."""

    lead = models.OneToOneField(Lead, on_delete=models.CASCADE, related_name="lifecycle_stage")
    stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="leads")
    entered_at = models.DateTimeField()
    due_at = models.DateTimeField(null=True, blank=True)
    sla_text = models.CharField(max_length=255, blank=True)
    overdue_at = models.DateTimeField(null=True, blank=True, help_text="When the overdue item was opened.")

    class Meta:
        indexes = [models.Index(fields=["stage", "due_at"], name="lifecycle_leadstage_due")]

    def __str__(self):
        return f"{self.lead_id}: {self.stage_id}"


class StageTransition(models.Model):
    """One move of a lead between stages, with its cause: criteria, an answer by a person, the CRM."""

    class Cause(models.TextChoices):
        CRITERIA = "criteria", "Entry criteria held"
        ACCEPTED = "accepted", "Accepted by sales"
        REJECTED = "rejected", "Rejected by sales"
        CRM = "crm", "Set in the CRM"
        PERSON = "person", "Moved by a person"

    class Source(models.TextChoices):
        ENGINE = "engine", "The portal's rules"
        PORTAL = "portal", "The portal"
        API = "api", "The API"
        CRM = "crm", "The CRM's sync"

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="stage_transitions")
    from_stage = models.ForeignKey(Stage, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    to_stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField("when", db_index=True)
    cause = models.CharField(max_length=10, choices=Cause.choices)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.ENGINE)
    text = models.TextField(help_text="The cause in words.")
    detail = models.JSONField(default=dict, blank=True, help_text="The criteria checked, with their values.")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Who answered.",
    )
    rep = models.ForeignKey(
        "revops.Rep", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", help_text="The lead's owner."
    )
    team = models.ForeignKey(
        "revops.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", help_text="The owner's team."
    )
    reason_code = models.CharField("reason", max_length=30, blank=True, choices=list(REJECTION_REASONS.items()))
    note = models.TextField(blank=True)
    event_id = models.BigIntegerField(null=True, blank=True, help_text="The CRM change (outbox event) that caused it.")

    class Meta:
        ordering = ["at", "pk"]
        indexes = [
            models.Index(fields=["lead", "at"], name="lifecycle_transition_lead"),
            models.Index(fields=["cause", "at"], name="lifecycle_transition_cause"),
        ]

    def __str__(self):
        return f"{self.lead_id}: {self.from_stage_id} → {self.to_stage_id}"


class Rejection(StageTransition):
    """The rejections sales sent back to marketing (a proxy: the report lists them per team and reason)."""

    class Meta:
        proxy = True
        verbose_name = "rejected MQL"
        verbose_name_plural = "rejected MQLs (report)"


class WaitingLead(LeadStage):
    """MQLs waiting for their owner's answer (a proxy: the rep's acceptance page)."""

    class Meta:
        proxy = True
        verbose_name = "MQL waiting for you"
        verbose_name_plural = "MQLs waiting for an answer"


class ClosedLoopReport(StageTransition):
    """The closed-loop report: source, campaign, rule and rep to accepted, SQL, opportunity and won revenue
    (a proxy: the report page, ``lifecycle.closed_loop``)."""

    class Meta:
        proxy = True
        verbose_name = "closed loop (report)"
        verbose_name_plural = "closed loop: source to revenue (report)"
