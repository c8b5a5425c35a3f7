"""What the monitors keep of their own: deal movements (from the portal's record of changes) and
forecast snapshots, with one audit row per snapshot run."""

from django.conf import settings
from django.db import models
from simple_history.models import HistoricalRecords

from revops.models import Opportunity


class DealMovement(models.Model):
    """One change of a forecast field of an opportunity, as the portal applied it.

    Recorded by the engine event hook (``monitors.hooks``) from the outbox event of an applied CRM
    sync or portal edit — never from the CRM's own counters (``Opportunity.close_date_pushes``).
    ``moved_at`` is when it happened: the CRM's ``source_updated_at`` of the change when known, else
    the time the portal applied it. ``outbox_event_id`` makes recording idempotent: a re-delivered
    event records nothing twice (one row per event and field).
    """

    class Field(models.TextChoices):
        CLOSE_DATE = "close_date", "Close date"
        AMOUNT = "amount", "Amount"
        STAGE = "stage", "Stage"
        FORECAST_CATEGORY = "forecast_category", "Forecast category"

    opportunity = models.ForeignKey(Opportunity, on_delete=models.CASCADE, related_name="deal_movements")
    field = models.CharField(max_length=20, choices=Field.choices)
    old_value = models.CharField(max_length=64, blank=True, help_text="Empty when the field was empty.")
    new_value = models.CharField(max_length=64, blank=True, help_text="Empty when the field was emptied.")
    days_moved = models.IntegerField(
        null=True,
        blank=True,
        help_text="Close date only: new minus old, in days (positive: moved later). Empty when either is empty.",
    )
    moved_at = models.DateTimeField(help_text="When the change happened (the CRM's time when known).")
    outbox_event_id = models.BigIntegerField(help_text="The outbox event that carried the change.")
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-moved_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["outbox_event_id", "field"], name="monitors_movement_once_per_event"),
        ]
        indexes = [models.Index(fields=["opportunity", "field", "moved_at"], name="monitors_move_opp_field_at")]

    def __str__(self):
        return f"{self.get_field_display()} of deal #{self.opportunity_id}: {self.old_value or '—'} → {self.new_value or '—'}"


class SnapshotRun(models.Model):
    """The audit row of one snapshot run: for which day, when, how many open deals, who and why.

    A second run on the same day writes no snapshots (each deal has one per day) but still leaves
    its row, so every request to snapshot the forecast is accounted for.
    """

    taken_on = models.DateField(db_index=True, help_text="The day the snapshots are for (local date).")
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    open_deals = models.PositiveIntegerField(default=0, help_text="Open opportunities seen.")
    written = models.PositiveIntegerField(default=0, help_text="Snapshots this run wrote (0: the day was taken).")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(max_length=200, blank=True, help_text="Why: the schedule, or who asked.")

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self):
        return f"Snapshot of {self.taken_on} ({self.written} written)"


class ForecastSnapshot(models.Model):
    """An open opportunity's forecast fields as they stood on ``taken_on``; one per deal and day.

    ``owner_rep_id`` is the owning rep's id that day, kept as a plain number so that history is never
    rewritten when a rep is removed. No per-row history: the ``SnapshotRun`` rows are the audit.
    """

    opportunity = models.ForeignKey(
        Opportunity, on_delete=models.CASCADE, related_name="forecast_snapshots", db_index=False
    )
    taken_on = models.DateField()
    stage = models.CharField(max_length=20, choices=Opportunity.Stage.choices)
    forecast_category = models.CharField(max_length=20, choices=Opportunity.ForecastCategory.choices)
    amount = models.DecimalField(max_digits=16, decimal_places=2, null=True, blank=True)
    close_date = models.DateField(null=True, blank=True)
    owner_rep_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-taken_on", "opportunity_id"]
        constraints = [
            # Also the index for "the latest snapshot of this deal".
            models.UniqueConstraint(fields=["opportunity", "taken_on"], name="monitors_snapshot_once_per_day"),
        ]
        indexes = [models.Index(fields=["taken_on"], name="monitors_snapshot_taken_on")]

    def __str__(self):
        return f"Deal #{self.opportunity_id} on {self.taken_on}"


def _weekday_choices():
    return [
        (0, "Monday"),
        (1, "Tuesday"),
        (2, "Wednesday"),
        (3, "Thursday"),
        (4, "Friday"),
        (5, "Saturday"),
        (6, "Sunday"),
    ]


def validate_time_zone(value: str) -> None:
    """An IANA time zone name such as Europe/Berlin."""
    import zoneinfo

    from django.core.exceptions import ValidationError

    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"{value!r} is not an IANA time zone (e.g. Europe/Berlin, America/New_York).") from None


class ForecastCall(models.Model):
    """When a team holds its weekly forecast call, in its own time zone (e.g. Monday 09:00 Europe/Berlin).

    Hygiene items for the team's deals are due one hour before the next call. A team without a call of
    its own uses its parent team's (the nearest up the tree); with none, items are due in two days.
    """

    team = models.OneToOneField("revops.Team", on_delete=models.CASCADE, related_name="forecast_call")
    weekday = models.PositiveSmallIntegerField(choices=_weekday_choices())
    time = models.TimeField(help_text="Local time of the call in the time zone below.")
    time_zone = models.CharField(
        max_length=64, validators=[validate_time_zone], help_text="IANA name, e.g. Europe/Berlin."
    )
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["team__name"]

    def __str__(self):
        return f"{self.team}: {self.get_weekday_display()} {self.time:%H:%M} {self.time_zone}"


class PolicyFinding(models.Model):
    """What a finding of a monitor policy holds (``monitors.findings.findings_write`` writes them): the
    policy automation, its key and mode when written, the sentence and values, when first seen and last
    rewritten, and when and how it was resolved. Concrete findings add the record they are about."""

    automation = models.ForeignKey("revops.Automation", on_delete=models.CASCADE, related_name="+")
    policy = models.CharField(max_length=40)
    mode = models.CharField(max_length=10)
    text = models.TextField()
    values = models.JSONField(default=dict, blank=True)
    first_seen_at = models.DateTimeField()
    last_changed_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution = models.CharField(max_length=300, blank=True, help_text="What fixed it, in words.")

    class Meta:
        abstract = True
        ordering = ["-last_changed_at", "-id"]


class HygieneFinding(PolicyFinding):
    """A hygiene policy (a ``forecast_hygiene`` automation) that a deal breaks, with the sentence and values.

    Written in bulk by ``monitors.hygiene.hygiene_scan``: at most one unresolved finding per deal and
    policy. ``last_changed_at`` is when the scan last wrote its text or values (a rescan that finds the
    same thing writes nothing); ``resolved_at`` is when a scan found it fixed (or the deal closed, or the
    policy stopped running). ``mode`` is the automation's mode when written: only ``live`` findings
    reach the deal's item; ``shadow`` ones are recorded only.
    """

    opportunity = models.ForeignKey(Opportunity, on_delete=models.CASCADE, related_name="hygiene_findings")

    class Meta(PolicyFinding.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["opportunity", "automation"],
                condition=models.Q(resolved_at__isnull=True),
                name="monitors_finding_open_once",
            ),
        ]
        indexes = [models.Index(fields=["opportunity", "resolved_at"], name="monitors_finding_opp_open")]

    def __str__(self):
        return f"Deal #{self.opportunity_id}: {self.text}"


# --- renewal monitors (monitors/renewal_*.py) --------------------------------------------------------


class AccountChange(models.Model):
    """One change of an account field the renewal monitors read (health, usage, sponsor, renewal date…),
    as the portal applied it.

    Recorded by the engine event hook (``monitors.renewal_hooks``) from the outbox event of an applied
    CRM sync or portal edit, for the fields named by the renewal automations (and the shipped
    defaults) — the portal's own history, never a counter the CRM keeps. ``changed_at`` is the CRM's
    ``source_updated_at`` of the change when known (never later than the portal applied it), else the
    time the portal applied it. Idempotent: one row per (outbox event, field). Values are stored as
    text ("" for empty), at most 255 characters; the executive sponsor is a person's name (PII), kept
    as long as the account's own history keeps it.
    """

    account = models.ForeignKey("revops.Account", on_delete=models.CASCADE, related_name="renewal_changes")
    field = models.CharField(max_length=64, help_text="The dictionary key of the account field.")
    old_value = models.CharField(max_length=255, blank=True, help_text="Empty when the field was empty.")
    new_value = models.CharField(max_length=255, blank=True, help_text="Empty when the field was emptied.")
    changed_at = models.DateTimeField(help_text="When the change happened (the CRM's time when known).")
    outbox_event_id = models.BigIntegerField(help_text="The outbox event that carried the change.")
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-changed_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["outbox_event_id", "field"], name="monitors_acctchange_once_per_event"),
        ]
        indexes = [models.Index(fields=["account", "field", "changed_at"], name="monitors_acctchange_at")]

    def __str__(self):
        return f"{self.field} of account #{self.account_id}: {self.old_value or '—'} → {self.new_value or '—'}"


class RenewalFinding(PolicyFinding):
    """A renewal risk (a ``renewal_monitor`` automation of a risk policy) an account has, with its sentence.

    Written by ``monitors.renewal_scan``: at most one unresolved finding per account and policy,
    rewritten only when its sentence, values or mode change, resolved with what fixed it. Only ``live``
    findings reach the account's "renewal risk" item; ``shadow`` ones are recorded only.
    """

    account = models.ForeignKey("revops.Account", on_delete=models.CASCADE, related_name="renewal_findings")

    class Meta(PolicyFinding.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["account", "automation"],
                condition=models.Q(resolved_at__isnull=True),
                name="monitors_renewal_finding_open_once",
            ),
        ]
        indexes = [models.Index(fields=["account", "resolved_at"], name="monitors_rfinding_acct_open")]

    def __str__(self):
        return f"Account #{self.account_id}: {self.text}"


class RenewalTask(models.Model):
    """A task the renewal monitors created for an account's owner, so that each is created once.

    ``renewal_task``: one row per account, policy and renewal (``renewal_date``; a corrected date is
    followed while the task is open). ``save_plan``: one row per red spell — ``ended_at`` is set when
    the account is no longer red, and the next spell gets a new task. ``task`` is the CRM-bound task
    (empty if it was deleted since). Rows are never deleted by the monitors: they are the record of
    what was asked of whom.
    """

    account = models.ForeignKey("revops.Account", on_delete=models.CASCADE, related_name="renewal_tasks")
    automation = models.ForeignKey("revops.Automation", on_delete=models.CASCADE, related_name="+")
    policy = models.CharField(max_length=40)
    renewal_date = models.DateField(null=True, blank=True)
    task = models.ForeignKey("revops.Task", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True, help_text="Save plans: when the account left red.")
    end_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["account", "automation"], name="monitors_rtask_acct_auto")]

    def __str__(self):
        return f"{self.policy} task of account #{self.account_id}"
