"""The exception queue: everything automation could not finish, with an owner and an expected action."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from simple_history.models import HistoricalRecords

from .registry import approval_kinds, item_kind_label


class Queue(models.Model):
    """A work queue for exception items, owned by a team and its manager, with an escalation path.

    Overdue items escalate owner → the queue's manager → the named escalation target. Items get a
    due time from the queue's target hours for their severity.
    """

    name = models.CharField(max_length=120, unique=True)
    description = models.TextField(blank=True)
    team = models.ForeignKey(
        "revops.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="exception_queues"
    )
    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="managed_queues"
    )
    escalation_target = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Who an item reaches after the manager (the last step of the escalation path).",
    )
    due_hours_critical = models.PositiveIntegerField(default=4)
    due_hours_high = models.PositiveIntegerField(default=24)
    due_hours_medium = models.PositiveIntegerField(default=72)
    due_hours_low = models.PositiveIntegerField(default=168)
    is_default = models.BooleanField(default=False, help_text="Items with no known queue land here.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=models.Q(is_default=True), name="exception_one_default_queue"
            )
        ]

    def __str__(self):
        return self.name

    def due_hours(self, severity: str) -> int:
        return getattr(self, f"due_hours_{severity}", self.due_hours_medium)


class ExceptionItem(models.Model):
    """One thing a human must look at: why it is here, what to do, who, and by when.

    While an item is open, a repeat occurrence with the same ``dedupe_key`` updates its count and
    last-seen time instead of opening another item (a partial unique constraint guarantees it).
    """

    class Severity(models.TextChoices):
        LOW = "low", "Low"
        MEDIUM = "medium", "Medium"
        HIGH = "high", "High"
        CRITICAL = "critical", "Critical"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        IN_PROGRESS = "in_progress", "In progress"
        SNOOZED = "snoozed", "Snoozed"
        RESOLVED = "resolved", "Resolved"
        DISMISSED = "dismissed", "Dismissed"
        ESCALATED = "escalated", "Escalated"

    OPEN_STATUSES = (Status.OPEN, Status.IN_PROGRESS, Status.SNOOZED, Status.ESCALATED)

    class Decision(models.TextChoices):
        NONE = "", "—"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        OVERRIDDEN = "overridden", "Overridden"

    kind = models.CharField(
        max_length=30,
        db_index=True,
        help_text="What produced it, as the key its app registered (exceptions.registry.register_item_kind).",
    )
    title = models.CharField(max_length=200)
    reason = models.TextField(help_text="Why it is here, with the values that made it fire.")
    expected_action = models.TextField(help_text="What the owner is expected to do.")
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.MEDIUM)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.OPEN)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="exception_items"
    )
    queue_name = models.CharField(max_length=120, blank=True)
    queue = models.ForeignKey(Queue, null=True, blank=True, on_delete=models.PROTECT, related_name="items")
    escalation_level = models.PositiveSmallIntegerField(
        default=0, help_text="0 = with the owner, 1 = the queue's manager, 2 = the escalation target."
    )
    escalated_at = models.DateTimeField(null=True, blank=True)
    next_escalation_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When an escalated item that is still overdue moves up the path again. Escalation never "
        "moves the due time: an overdue item stays overdue until it is dealt with.",
    )
    snoozed_until = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    automation = models.ForeignKey(
        "revops.Automation", null=True, blank=True, on_delete=models.SET_NULL, related_name="exception_items"
    )
    run = models.ForeignKey(
        "revops.AutomationRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="exception_items"
    )
    object_type = models.CharField(max_length=20, blank=True)
    object_id = models.BigIntegerField(null=True, blank=True)
    external_id = models.CharField(max_length=64, blank=True)
    dedupe_key = models.CharField(max_length=200)
    occurrences = models.PositiveIntegerField(default=1)
    # The opener's clock (a replayed or back-dated opening says when), so age and due time agree.
    first_seen_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    due_at = models.DateTimeField(null=True, blank=True)
    proposal = models.JSONField(default=dict, blank=True, help_text="For approvals: the prepared action.")
    decision = models.CharField(max_length=12, choices=Decision.choices, blank=True, default="")
    resolution_code = models.CharField(max_length=40, blank=True)
    resolution_note = models.TextField(blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["due_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["dedupe_key"],
                condition=models.Q(status__in=["open", "in_progress", "snoozed", "escalated"]),
                name="exception_open_dedupe_unique",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "due_at"], name="exception_status_due"),
            models.Index(fields=["queue", "status", "due_at", "id"], name="exception_triage"),
            models.Index(fields=["owner", "status", "due_at"], name="exception_owner_triage"),
            models.Index(fields=["status", "snoozed_until"], name="exception_snoozed"),
            models.Index(fields=["object_type", "object_id"], name="exception_record"),
            # The triage default ordering over every open item (what a RevOps admin sees).
            models.Index(
                fields=["due_at", "id"],
                condition=models.Q(status__in=["open", "in_progress", "snoozed", "escalated"]),
                name="exception_open_due",
            ),
            # "Next item": the oldest-due unclaimed open item (services.exception_next_item).
            models.Index(
                fields=["due_at", "id"],
                condition=models.Q(status="open", claimed_at__isnull=True),
                name="exception_unclaimed_due",
            ),
        ]

    def __str__(self):
        return self.title

    def get_kind_display(self) -> str:
        """The kind's label as its app registered it (the key made readable if no app does any more)."""
        return item_kind_label(self.kind)

    @property
    def is_approval(self) -> bool:
        """Whether this is an approval request (its kind has an approval handler)."""
        return self.kind in approval_kinds()


class Notification(models.Model):
    """One notification sent (or deliberately not sent) to one person, so none is ever repeated.

    ``key`` names what it was about — ``item:<id>:<reason>`` for an item, ``digest:<date>`` for the
    daily digest — and is unique per recipient: the same item and reason never notify twice. The
    rows of the last hour also give the per-recipient rate limit.
    """

    class Status(models.TextChoices):
        SENT = "sent", "Sent"
        RATE_LIMITED = "rate_limited", "Rate limited"
        NO_ADDRESS = "no_address", "No email address"
        FAILED = "failed", "Failed"

    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    item = models.ForeignKey(
        ExceptionItem, null=True, blank=True, on_delete=models.CASCADE, related_name="notifications"
    )
    key = models.CharField(max_length=120)
    reason = models.CharField(max_length=40)
    subject = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=15, choices=Status.choices, default=Status.SENT)
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-sent_at"]
        constraints = [
            models.UniqueConstraint(fields=["recipient", "key"], name="exception_notification_once"),
        ]
        indexes = [models.Index(fields=["recipient", "sent_at"], name="exception_notification_rate")]

    def __str__(self):
        return f"{self.reason} to {self.recipient_id} ({self.status})"
