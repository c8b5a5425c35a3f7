"""The exception queue: everything automation could not finish, with an owner and an expected action."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from simple_history.models import HistoricalRecords

from revops.values import datetime_text

from .codes import resolution_label
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
    version = models.PositiveIntegerField(
        default=0, editable=False, help_text="Counts saved changes (its Versions page)."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords(excluded_fields=["version"])  # versions: revops.versions

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
            # The dashboard's roll-up: items opened and closed per day (exceptions.metrics).
            models.Index(fields=["first_seen_at"], name="exception_first_seen"),
            models.Index(
                fields=["resolved_at"], condition=models.Q(resolved_at__isnull=False), name="exception_resolved"
            ),
            # Open items by due time (the overdue sweeps, "Open and overdue").
            models.Index(
                fields=["due_at", "id"],
                condition=models.Q(status__in=["open", "in_progress", "snoozed", "escalated"]),
                name="exception_open_due",
            ),
            # The triage list's open views, tier by tier (services.triage_tiers), and the per-queue
            # counts over it (admin.helpers), from the index alone where the visibility map allows
            # (PostgreSQL's index-only scan): the columns the counts and the usual filters read.
            # (Key columns after the three ranged ones, not INCLUDE: SQLite has no INCLUDE and warns.)
            models.Index(
                fields=["severity", "due_at", "id", "status", "queue", "owner", "kind", "decision"],
                condition=models.Q(status__in=["open", "in_progress", "snoozed", "escalated"]),
                name="exception_open_triage",
            ),
            # Unclaimed open items by due time (services.claimable_items; "next item" orders them by urgency).
            models.Index(
                fields=["due_at", "id"],
                condition=models.Q(status="open", claimed_at__isnull=True),
                name="exception_unclaimed_due",
            ),
            # "Next item" walks the claimable items severity by severity in due order
            # (exceptions.services.exception_next_item): one short index range per tier.
            models.Index(
                fields=["severity", "due_at", "id"],
                condition=models.Q(status__in=["open", "escalated"], claimed_at__isnull=True),
                name="exception_claimable",
            ),
        ]

    def __str__(self):
        return self.title

    def get_kind_display(self) -> str:
        """The kind's label as its app registered it (the key made readable if no app does any more)."""
        return item_kind_label(self.kind)

    def get_resolution_code_display(self) -> str:
        """Why it was closed, in words ("Noise: the rule is wrong here")."""
        return resolution_label(self.resolution_code)

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
        HELD = "held", "Held for quiet hours"
        OFF = "off", "Turned off by the person"
        SKIPPED = "skipped", "Not needed any more"

    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    item = models.ForeignKey(
        ExceptionItem, null=True, blank=True, on_delete=models.CASCADE, related_name="notifications"
    )
    key = models.CharField(max_length=120)
    reason = models.CharField(max_length=40)
    subject = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=15, choices=Status.choices, default=Status.SENT)
    sent_at = models.DateTimeField(auto_now_add=True)
    deliver_after = models.DateTimeField(null=True, blank=True, help_text="A held notice goes out then.")
    channels = models.CharField(max_length=200, blank=True, help_text="Where it went, e.g. “E-mail, Slack”.")

    class Meta:
        ordering = ["-sent_at"]
        constraints = [
            models.UniqueConstraint(fields=["recipient", "key"], name="exception_notification_once"),
        ]
        indexes = [
            models.Index(fields=["recipient", "sent_at"], name="exception_notification_rate"),
            models.Index(
                fields=["deliver_after"], name="exception_notification_held", condition=models.Q(status="held")
            ),
        ]

    def __str__(self):
        return f"{self.reason} to {self.recipient_id} ({self.status})"


def when_text(value) -> str:
    """A time as people read it, in the viewer's time zone: "30 Dec 2026, 09:00 UTC"."""
    return datetime_text(value)


def record_word(object_type: str) -> str:
    """What people call a record of ``object_type``: a deal, a lead, an account (``record`` when unknown)."""
    return {"opportunity": "deal"}.get(object_type, object_type or "record")


class Suppression(models.Model):
    """A person silenced one rule (a topic) for one record: until a date, or until the record changes.

    The topic is an automation (a hygiene policy, say) and/or an item kind. While active, the producer of
    that kind of item leaves the topic off the record's item (it still records what it found, for audit
    and the Why page). ``until_change`` stores a ``fingerprint`` of the record's values (see
    ``exceptions.suppressions.record_fingerprint``): a rescan of the same data keeps it, a real change of
    the record (a CRM sync or an edit that changes a value) lifts it. Lifted early by a person, replaced
    by a new suppression, or lapsed (the date passed, the record changed): ``lifted_at`` with who (none
    for the producer) and why. Every change is in the history. The ``reason_code`` is counted per topic;
    ``noise`` counts in the rule's noise rate.
    """

    class Reason(models.TextChoices):
        BEING_HANDLED = "being_handled", "Known, being handled"
        DATA_CORRECT = "data_correct", "The data is right as it is"
        NOISE = "noise", "Noise: the rule is wrong here"
        OTHER = "other", "Other (see note)"

    object_type = models.CharField(max_length=20)
    object_id = models.BigIntegerField()
    external_id = models.CharField(max_length=64, blank=True)
    record_label = models.CharField(max_length=200, blank=True, help_text="The record's name when suppressed.")
    automation = models.ForeignKey(
        "revops.Automation", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    kind = models.CharField(max_length=30, blank=True, help_text="The item kind whose items leave the rule out.")
    until = models.DateTimeField(null=True, blank=True)
    until_change = models.BooleanField(default=False, help_text="Until the record changes.")
    fingerprint = models.CharField(max_length=64, blank=True, help_text="The record's values when suppressed.")
    reason_code = models.CharField(max_length=20, choices=Reason.choices)
    note = models.TextField(blank=True)
    item = models.ForeignKey(
        ExceptionItem, null=True, blank=True, on_delete=models.SET_NULL, related_name="suppressions"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    lifted_at = models.DateTimeField(null=True, blank=True)
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    lift_reason = models.CharField(max_length=300, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(until__isnull=False) | models.Q(until_change=True),
                name="exception_suppression_has_end",
            ),
        ]
        indexes = [
            models.Index(fields=["object_type", "object_id", "lifted_at"], name="exception_suppression_record"),
            models.Index(fields=["automation", "created_at"], name="exception_suppression_topic"),
        ]

    def __str__(self):
        return f"{self.topic_label} on {self.record_label or f'{self.object_type} #{self.object_id}'}"

    @property
    def topic_label(self) -> str:
        if self.automation_id is not None:
            return self.automation.name
        return item_kind_label(self.kind)

    def is_active(self, now=None) -> bool:
        now = now or timezone.now()
        return self.lifted_at is None and (self.until is None or self.until > now)

    def ends_text(self) -> str:
        """ "until the record changes", "until 30 Dec 2026 09:00 UTC" or both."""
        parts = []
        if self.until is not None:
            parts.append(f"until {when_text(self.until)}")
        if self.until_change:
            parts.append(f"until the {record_word(self.object_type)} changes")
        return " or ".join(parts)


class RateLimit(models.Model):
    """At most ``per_owner`` new items of ``kind`` for one owner within ``period_hours`` (RevOps sets it).

    Producers that honour it (the forecast-hygiene scan) open the most important items first and hold
    the rest back, counted per owner in ``RateLimitHold``; what is held reaches an item on a later pass
    when there is room. Items refreshed or closed are never held back.
    """

    kind = models.CharField(max_length=30, unique=True, help_text="The item kind it limits.")
    per_owner = models.PositiveIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(100000)],
        help_text="How many new items one owner gets at most in the period.",
    )
    period_hours = models.PositiveIntegerField(
        default=24,
        validators=[MinValueValidator(1), MaxValueValidator(24 * 31)],
        help_text="The period, in hours (24: per day).",
    )
    is_active = models.BooleanField(default=True)
    note = models.TextField(blank=True, help_text="Why this limit (for the next person who reads it).")
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["kind"]

    def __str__(self):
        return f"{item_kind_label(self.kind)}: {self.per_owner} per owner per {self.period_text}"

    @property
    def period_text(self) -> str:
        if self.period_hours % 24 == 0:
            days = self.period_hours // 24
            return "day" if days == 1 else f"{days} days"
        return "hour" if self.period_hours == 1 else f"{self.period_hours} hours"


class RateLimitHold(models.Model):
    """What a rate limit holds back for one owner now: rewritten by each full pass of the producer."""

    kind = models.CharField(max_length=30)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    held = models.PositiveIntegerField()
    limit = models.PositiveIntegerField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["kind", "-held"]
        constraints = [models.UniqueConstraint(fields=["kind", "owner"], name="exception_rate_hold_once")]

    def __str__(self):
        return f"{self.held} {item_kind_label(self.kind)} item(s) held back for {self.owner_id}"


class NotificationChannel(models.Model):
    """Somewhere one person receives notifications: an e-mail address, a Slack or Microsoft Teams
    incoming webhook, or any HTTPS webhook. Which channels get which kind of notice is the person's
    ``NotificationPreference``; a person without one gets e-mail at their login's address."""

    class Kind(models.TextChoices):
        EMAIL = "email", "E-mail"
        SLACK = "slack", "Slack"
        TEAMS = "teams", "Microsoft Teams"
        WEBHOOK = "webhook", "Webhook"

    person = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_channels")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    name = models.CharField(max_length=80, help_text="How you recognise it, e.g. “#east-alerts” or “Work e-mail”.")
    address = models.CharField(
        max_length=500,
        blank=True,
        help_text="E-mail: the address (empty: your login's). Slack, Teams, webhook: the incoming webhook's URL.",
    )
    is_active = models.BooleanField(default=True)
    last_sent_at = models.DateTimeField(null=True, blank=True)
    last_failed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    history = HistoricalRecords()

    class Meta:
        ordering = ["person_id", "kind", "name"]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.name}"


class NotificationPreference(models.Model):
    """One person's notification settings: the time zone their digest and quiet hours are read in,
    the hour of their daily digest, their quiet hours, and which of their channels get each kind of
    notice (``routes``: ``{event key: [channel id, …]}``, set through the *My notifications* form;
    an event not listed goes to e-mail)."""

    person = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preference"
    )
    time_zone = models.CharField(
        max_length=64, blank=True, help_text="Empty: the time zone of your Rep record, else the portal's."
    )
    digest_hour = models.PositiveSmallIntegerField(
        default=7, validators=[MaxValueValidator(23)], help_text="Local hour the daily digest arrives."
    )
    quiet_from = models.TimeField(null=True, blank=True)
    quiet_until = models.TimeField(null=True, blank=True)
    routes = models.JSONField(default=dict, blank=True)
    history = HistoricalRecords()

    def __str__(self):
        return f"Notification settings of {self.person}"


class NotificationLimits(models.Model):
    """The portal's notification limits, one row edited by RevOps in the admin: how many immediate
    notices one person gets per rolling hour before the rest wait for their digest."""

    per_person_per_hour = models.PositiveSmallIntegerField(
        default=10,
        validators=[MinValueValidator(1), MaxValueValidator(1000)],
        help_text="Immediate notices (critical items, escalations, SLA breaches…) per person per rolling hour. "
        "Beyond it a notice is recorded as rate limited and the item waits for the digest.",
    )
    history = HistoricalRecords()

    class Meta:
        verbose_name = "notification limits"
        verbose_name_plural = "notification limits"

    def __str__(self):
        return f"At most {self.per_person_per_hour} immediate notices per person per hour"
