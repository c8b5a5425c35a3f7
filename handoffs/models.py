"""Closed-won handoffs: readiness checklists per handoff type, and each deal's passage through them."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from simple_history.models import HistoricalRecords


class Checklist(models.Model):
    """What a deal must carry before a receiving team gets it (e.g. Sales → Onboarding).

    A checklist applies to a deal that reaches ``trigger_stage`` (closed won by default) and matches
    ``conditions`` (the engine's condition language; empty: every such deal). It is ready when every
    required field is filled — a field with a ``when`` condition only counts when the condition
    holds ("billing contact when amount ≥ 50,000") — and every attestation is ticked. Then the
    downstream ``tasks`` are created for the receiving owner, once.
    """

    class Kind(models.TextChoices):
        DEAL = "deal", "When a deal reaches a stage"
        RENEWAL = "renewal", "Before an account's renewal date"

    class OwnerRule(models.TextChoices):
        REP = "rep", "A named rep"
        ACCOUNT_FIELD = "account_field", "The rep named in an account field (e.g. the CSM)"
        POOL = "pool", "The next member of a routing pool (fair distribution)"
        DEAL_OWNER = "deal_owner", "The record's owner (the deal's, or the account's for renewals)"

    name = models.CharField(max_length=120, unique=True, help_text="The handoff type, e.g. Sales → Onboarding.")
    description = models.TextField(blank=True)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.DEAL)
    trigger_stage = models.CharField(max_length=40, default="closed_won", help_text="For deal handoffs.")
    renewal_field = models.CharField(
        max_length=64,
        default="renewal_date",
        help_text="For renewal handoffs: the account field holding the renewal date.",
    )
    days_before = models.PositiveIntegerField(
        default=90, help_text="For renewal handoffs: how many days before the renewal date the handoff starts."
    )
    conditions = models.JSONField(default=dict, blank=True, help_text="When the checklist applies; empty: always.")
    required_fields = models.JSONField(
        default=list,
        blank=True,
        help_text='Opportunity fields that must be filled: [{"field": "billing_contact", "when": {…} or null}].',
    )
    attestations = models.JSONField(
        default=list,
        blank=True,
        help_text='What a person must confirm in the portal: [{"key": "risks_reviewed", "label": "…", "role": "…"}].',
    )
    tasks = models.JSONField(
        default=list,
        blank=True,
        help_text='Downstream work created when ready: [{"title": "Onboarding kickoff", "due_in_days": 3}].',
    )
    receiving_team = models.ForeignKey(
        "revops.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    owner_rule = models.CharField(max_length=20, choices=OwnerRule.choices, default=OwnerRule.DEAL_OWNER)
    owner_rep = models.ForeignKey("revops.Rep", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    owner_field = models.CharField(
        max_length=64, blank=True, help_text="For 'account field': the account attribute holding the rep's CRM id."
    )
    owner_pool_id = models.PositiveIntegerField(
        null=True,
        blank=True,
        verbose_name="owner pool",
        help_text="For 'routing pool': the pool that picks the receiver.",
    )
    accept_within_hours = models.PositiveIntegerField(default=48, help_text="Acceptance SLA of the receiving team.")
    is_active = models.BooleanField(default=True)
    version = models.PositiveIntegerField(
        default=0, editable=False, help_text="Counts saved changes (its Versions page)."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords(excluded_fields=["version"])  # versions: revops.versions

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def clean(self):
        errors = {}
        if self.owner_rule == self.OwnerRule.REP and self.owner_rep_id is None:
            errors["owner_rep"] = "Choose the rep who receives these handoffs."
        if self.owner_rule == self.OwnerRule.ACCOUNT_FIELD and not self.owner_field:
            errors["owner_field"] = "Name the account field that holds the receiving rep's CRM id."
        if self.owner_rule == self.OwnerRule.POOL and self.owner_pool_id is None:
            errors["owner_pool_id"] = "Choose the pool that picks the receiving rep."
        if self.kind == self.Kind.RENEWAL and not self.renewal_field:
            errors["renewal_field"] = "Name the account field that holds the renewal date."
        for index, entry in enumerate(self.required_fields or []):
            if not isinstance(entry, dict) or not isinstance(entry.get("field"), str) or not entry["field"]:
                errors["required_fields"] = f"Entry {index + 1} needs a field key."
        for index, entry in enumerate(self.attestations or []):
            if not isinstance(entry, dict) or not entry.get("key") or not entry.get("label"):
                errors["attestations"] = f"Attestation {index + 1} needs a key and a label."
        for index, entry in enumerate(self.tasks or []):
            if not isinstance(entry, dict) or not entry.get("title"):
                errors["tasks"] = f"Task {index + 1} needs a title."
        if errors:
            raise ValidationError(errors)


class Handoff(models.Model):
    """One deal's passage through one checklist: waiting for context → ready → sent → accepted, or
    rejected back to the deal owner; cancelled when the deal leaves the stage.

    A renewal handoff belongs to an account and one renewal date instead of a deal (``opportunity``
    is empty); it is cancelled when the renewal date moves out of the checklist's window."""

    class Status(models.TextChoices):
        WAITING = "waiting", "Waiting for context"
        READY = "ready", "Ready"
        SENT = "sent", "Sent"
        ACCEPTED = "accepted", "Accepted"
        REJECTED = "rejected", "Rejected"
        CANCELLED = "cancelled", "Cancelled"

    OPEN_STATUSES = (Status.WAITING, Status.READY, Status.SENT, Status.REJECTED)

    checklist = models.ForeignKey(Checklist, on_delete=models.PROTECT, related_name="handoffs")
    opportunity = models.ForeignKey(
        "revops.Opportunity", null=True, blank=True, on_delete=models.CASCADE, related_name="handoffs"
    )
    account = models.ForeignKey(
        "revops.Account",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="handoffs",
        help_text="For renewal handoffs: the account renewing.",
    )
    renewal_date = models.DateField(null=True, blank=True, help_text="For renewal handoffs: the renewal it prepares.")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.WAITING, db_index=True)
    missing = models.JSONField(
        default=list, blank=True, help_text='What keeps it from ready: [{"key", "label", "kind": field|attestation}].'
    )
    attested = models.JSONField(default=dict, blank=True, help_text='{key: {"by": username, "at": ISO time}}.')
    receiver = models.ForeignKey("revops.Rep", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    ready_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    rejected_at = models.DateTimeField(null=True, blank=True)
    rejection_code = models.CharField(max_length=40, blank=True)
    rejection_note = models.TextField(blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    # When the handoff started: the evaluation's clock (a replayed or back-dated evaluation says when).
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["opportunity", "checklist"], name="handoff_one_per_deal_and_checklist"),
            models.UniqueConstraint(
                fields=["account", "checklist", "renewal_date"],
                condition=models.Q(opportunity__isnull=True),
                name="handoff_one_per_renewal_and_checklist",
            ),
        ]
        indexes = [models.Index(fields=["status", "created_at"], name="handoff_status_created")]

    def __str__(self):
        return f"{self.checklist} for {self.subject}"

    @property
    def subject(self):
        """The record handed off: the deal, or the account for a renewal handoff."""
        return self.opportunity if self.opportunity_id else self.account

    @property
    def subject_type(self) -> str:
        return "opportunity" if self.opportunity_id else "account"


class PendingEvaluation(models.Model):
    """A sync batch's deals whose handoffs are evaluated on the bulk lane after the sync committed
    (``handoffs.deferred``), so a batch of many Won deals costs the sync about what any batch costs.

    Written in the sync's transaction and deleted in the transaction of the evaluation that consumes
    it: a job that runs twice evaluates once, and a row still here long after it was enqueued lost its
    job and is enqueued again by the sweeper."""

    opportunity_ids = models.JSONField(default=list, help_text="The deals to evaluate, by id.")
    cause = models.CharField(max_length=100, help_text="What the handoffs' history names, e.g. “sync batch #12”.")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    batch = models.ForeignKey("revops.SyncBatch", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    enqueued_at = models.DateTimeField(default=timezone.now, help_text="When its job was last put on the lane.")

    class Meta:
        ordering = ["pk"]

    def __str__(self):
        return f"{len(self.opportunity_ids)} deals of {self.cause} waiting for evaluation"
