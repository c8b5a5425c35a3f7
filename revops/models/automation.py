"""The automation registry and its runs: what each automation is, who owns it, and what it did."""

from django.conf import settings
from django.db import models
from simple_history.models import HistoricalRecords

from .dictionary import ObjectType


class Automation(models.Model):
    """A governed automation: a kind of work, a trigger, conditions over dictionary fields, owners.

    The current rule lives in ``conditions``/``config``; every change to them creates a new
    ``AutomationVersion`` so runs always point at the exact rule they evaluated. ``fields_used``
    is derived from the conditions, never typed by hand.
    """

    class Trigger(models.TextChoices):
        CREATED = "created", "Record created"
        UPDATED = "updated", "Record created or updated"
        FIELD_CHANGED = "field_changed", "A field changed"
        STAGE_CHANGED_TO = "stage_changed_to", "Stage/status changed to"
        SCHEDULE = "schedule", "On a schedule"

    class Risk(models.TextChoices):
        LOW = "low", "Low"
        MEDIUM = "medium", "Medium"
        HIGH = "high", "High (actions need approval)"

    class Mode(models.TextChoices):
        DRAFT = "draft", "Draft"
        SHADOW = "shadow", "Shadow (log only)"
        LIVE = "live", "Live"
        PAUSED = "paused", "Switched off"
        RETIRED = "retired", "Retired"

    name = models.CharField(max_length=120, unique=True)
    purpose = models.TextField(help_text="Why this automation exists, in plain language.")
    kind = models.CharField(max_length=40, help_text="What it does; one of the registered automation kinds.")
    object_type = models.CharField(max_length=20, help_text="The record type it watches (lead, opportunity, …).")
    trigger = models.CharField(max_length=20, choices=Trigger.choices, default=Trigger.UPDATED)
    trigger_fields = models.JSONField(
        default=list, blank=True, help_text="For 'a field changed': the dictionary keys that trigger it."
    )
    trigger_value = models.CharField(
        max_length=60, blank=True, help_text="For 'stage/status changed to': the value, e.g. closed_won."
    )
    schedule_minutes = models.PositiveIntegerField(
        null=True, blank=True, help_text="For scheduled automations: run every N minutes over matching records."
    )
    conditions = models.JSONField(default=dict, blank=True, help_text="Condition tree (see docs/config.md).")
    config = models.JSONField(default=dict, blank=True, help_text="Parameters of the kind (e.g. the task to create).")
    version = models.PositiveIntegerField(default=0, editable=False)
    fields_used = models.JSONField(default=list, blank=True, editable=False)
    rule_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    system_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    failure_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    risk = models.CharField(max_length=10, choices=Risk.choices, default=Risk.LOW)
    mode = models.CharField(max_length=10, choices=Mode.choices, default=Mode.DRAFT, db_index=True)
    exception_queue = models.CharField(
        max_length=120, blank=True, help_text="Where what this automation cannot finish goes (exception path)."
    )
    downstream_effect = models.TextField(blank=True, help_text="What changes downstream when it acts.")
    rollback_notes = models.TextField(blank=True, help_text="How to undo its effects.")
    last_reviewed_at = models.DateField(null=True, blank=True)
    review_cadence_days = models.PositiveIntegerField(default=90)
    minutes_saved_per_run = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Optional: minutes of a person's work one fired run saves (the health page's time saved estimate).",
    )
    identity = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        editable=False,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The system login its changes are attributed to in history.",
    )
    # The kill switch (revops.engine.pause): orthogonal to the mode, which it keeps for the resume.
    paused_at = models.DateTimeField(null=True, blank=True, editable=False)
    paused_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, editable=False, on_delete=models.SET_NULL, related_name="+"
    )
    pause_reason = models.TextField(blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["object_type", "mode"], name="automation_object_mode")]

    def __str__(self):
        return self.name


class AutomationVersion(models.Model):
    """An immutable snapshot of an automation's rule; runs are keyed by (version, event)."""

    automation = models.ForeignKey(Automation, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    conditions = models.JSONField(default=dict)
    config = models.JSONField(default=dict)
    risk = models.CharField(max_length=10, choices=Automation.Risk.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["automation", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["automation", "number"], name="automation_version_unique"),
        ]

    def __str__(self):
        return f"{self.automation} v{self.number}"


class AutomationRun(models.Model):
    """One evaluation of one automation version for one event (or one scheduled pass over a record)."""

    class Outcome(models.TextChoices):
        PENDING = "pending", "Pending"
        FIRED = "fired", "Fired"
        NOT_FIRED = "not_fired", "Did not fire"
        ERROR = "error", "Error"

    # Their own indexes would repeat run_automation's and automation_run_once_per_trigger's first column.
    automation = models.ForeignKey(Automation, on_delete=models.CASCADE, related_name="runs", db_index=False)
    version = models.ForeignKey(AutomationVersion, on_delete=models.PROTECT, related_name="runs", db_index=False)
    event = models.ForeignKey(
        "revops.OutboxEvent", null=True, blank=True, on_delete=models.SET_NULL, related_name="runs"
    )
    trigger_key = models.CharField(
        max_length=120, help_text="What this run is for: 'event:<id>' or 'schedule:<slot>:<object id>'."
    )
    mode = models.CharField(max_length=10, choices=Automation.Mode.choices)
    object_type = models.CharField(max_length=20)
    object_id = models.BigIntegerField()
    external_id = models.CharField(max_length=64, blank=True)
    outcome = models.CharField(max_length=12, choices=Outcome.choices, default=Outcome.PENDING)
    explanation = models.JSONField(default=dict, blank=True)
    summary = models.TextField(blank=True, help_text="The explanation in plain language.")
    expected_next = models.TextField(blank=True, help_text="What is expected next, and from whom.")
    actions_planned = models.JSONField(default=list, blank=True)
    actions_applied = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    duration_ms = models.FloatField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["version", "trigger_key"], name="automation_run_once_per_trigger"),
        ]
        indexes = [
            models.Index(fields=["object_type", "object_id", "-created_at"], name="run_record"),
            models.Index(fields=["automation", "-created_at"], name="run_automation"),
            models.Index(fields=["outcome"], name="run_outcome"),  # a plain b-tree (no pattern index)
        ]

    def __str__(self):
        return f"run #{self.pk} of {self.automation} v{self.version.number if self.version_id else '?'}"


class AppliedAction(models.Model):
    """One action a run applied (or, in shadow mode, would have applied), with before/after values."""

    class Status(models.TextChoices):
        APPLIED = "applied", "Applied"
        SHADOW = "shadow", "Shadow (not applied)"
        APPROVAL = "approval", "Sent for approval"
        SKIPPED = "skipped", "Skipped (already so)"
        REVERTED = "reverted", "Reverted"

    run = models.ForeignKey(
        AutomationRun, on_delete=models.CASCADE, related_name="applied", db_index=False
    )  # applied_action_once serves it
    index = models.PositiveSmallIntegerField()
    action = models.CharField(max_length=30)
    object_type = models.CharField(max_length=20, blank=True)
    object_id = models.BigIntegerField(null=True, blank=True)
    params = models.JSONField(default=dict)
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["run", "index"]
        constraints = [models.UniqueConstraint(fields=["run", "index"], name="applied_action_once")]
        # The dashboard's roll-up reads the actions applied since its last run (revops.engine.metrics).
        indexes = [models.Index(fields=["created_at"], name="applied_action_created")]

    def __str__(self):
        return f"{self.action} ({self.status})"


class AutomationPass(models.Model):
    """When a scheduled automation last finished a pass over its records (``revops.engine.schedule``);
    the failure monitor (``revops.engine.failure_monitor``) opens an item when it is late."""

    automation = models.OneToOneField(Automation, on_delete=models.CASCADE, related_name="last_pass")
    finished_at = models.DateTimeField()

    def __str__(self):
        return f"{self.automation} passed at {self.finished_at}"


class AutomationCandidate(models.Model):
    """A piece of work someone wants automated, in the automation backlog (``revops.engine.backlog``):
    its volume and the 1–5 scores the prioritisation reads (risk, rule clarity, data readiness,
    exception clarity, user impact, maintenance cost), which give its priority and its place in the
    decision matrix — ready to automate, needs process design, or keep human. A ready candidate
    becomes a draft automation."""

    class Status(models.TextChoices):
        PROPOSED = "proposed", "In the backlog"
        DRAFTED = "drafted", "Draft automation created"
        DECLINED = "declined", "Declined"

    SCORE_CHOICES = [(n, str(n)) for n in range(1, 6)]

    name = models.CharField(max_length=120, unique=True)
    process = models.TextField(help_text="What people do by hand today, and when.")
    object_type = models.CharField(
        "record", max_length=20, choices=ObjectType.choices, help_text="The records it is about."
    )
    kind = models.CharField(
        "would become", max_length=40, blank=True, help_text="The automation kind it would be (when known)."
    )
    volume_per_month = models.PositiveIntegerField("times a month", default=0, help_text="How often the work comes up.")
    risk = models.PositiveSmallIntegerField(
        choices=SCORE_CHOICES, default=3, help_text="1: a wrong result is harmless … 5: it costs revenue or trust."
    )
    rule_clarity = models.PositiveSmallIntegerField(
        choices=SCORE_CHOICES, default=3, help_text="1: judgement every time … 5: a rule anyone could write down."
    )
    data_readiness = models.PositiveSmallIntegerField(
        choices=SCORE_CHOICES, default=3, help_text="1: the data is missing or wrong … 5: in the dictionary and filled."
    )
    exception_clarity = models.PositiveSmallIntegerField(
        choices=SCORE_CHOICES, default=3, help_text="1: nobody knows who handles exceptions … 5: an owner and a path."
    )
    user_impact = models.PositiveSmallIntegerField(
        choices=SCORE_CHOICES, default=3, help_text="1: nobody would notice … 5: reps or customers wait for it."
    )
    maintenance_cost = models.PositiveSmallIntegerField(
        choices=SCORE_CHOICES, default=3, help_text="1: set and forget … 5: changes every quarter."
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PROPOSED)
    automation = models.ForeignKey(
        Automation, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["status", "name"]
        verbose_name = "automation candidate"
        verbose_name_plural = "automation backlog"

    def __str__(self):
        return self.name
