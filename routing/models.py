"""Routing and response-SLA models.

- ``RoutingRule``: the ordered rule set (first match wins) with a target each.
- ``Pool``/``PoolMember``/``PoolCounter``: who shares leads, how, within which caps.
- ``RoutingDecision``: what was decided for one lead and why (inputs, match, rules, candidates).
- ``SlaPolicy``/``BusinessCalendar``/``SlaClock``: response targets, business hours, running clocks.

The routing automation (kind ``lead_routing``, ``routing.kind``) holds the rule set's fallback and
matching settings in its versioned config; rules, pools and SLA policies are audited with history.
"""

import datetime as dt

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from simple_history.models import HistoricalRecords

WEEKDAYS = [0, 1, 2, 3, 4]  # Monday … Friday (Python's weekday numbers)


def default_weekdays():
    return list(WEEKDAYS)


class Pool(models.Model):
    """A group of reps that share leads.

    Members are reps or whole teams (optionally narrowed to a role), so a pool survives staff
    changes. ``strategy`` picks among the available members; caps (per member, overridable on the
    member) and availability (inactive, out of office, outside working hours in the rep's time
    zone) skip members, and every skip is explained in the decision.
    """

    class Strategy(models.TextChoices):
        ROUND_ROBIN = "round_robin", "Round robin (in member order)"
        WEIGHTED = "weighted", "Weighted (fewest leads per unit of weight)"
        LEAST_LOADED = "least_loaded", "Least loaded (fewest open leads)"

    name = models.CharField(max_length=120, unique=True)
    description = models.TextField(blank=True)
    strategy = models.CharField(max_length=20, choices=Strategy.choices, default=Strategy.WEIGHTED)
    max_open_leads = models.PositiveIntegerField(
        null=True, blank=True, help_text="Cap on open leads (new or working) per member; empty: no cap."
    )
    max_per_day = models.PositiveIntegerField(
        null=True, blank=True, help_text="Cap on leads routed to a member per day (in the rep's time zone)."
    )
    respect_working_hours = models.BooleanField(
        default=False, help_text="Skip members outside the working hours below, in each rep's own time zone."
    )
    working_hours_start = models.TimeField(default=dt.time(9, 0))
    working_hours_end = models.TimeField(default=dt.time(17, 0))
    working_days = models.JSONField(default=default_weekdays, blank=True, help_text="0 = Monday … 6 = Sunday.")
    is_active = models.BooleanField(default=True)
    managers = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="managed_pools",
        verbose_name="pool managers",
        help_text="People who may change this pool's members, weights, caps and their members' out of office "
        "(Manage the pool), without RevOps rights.",
    )
    last_rep = models.ForeignKey(
        "revops.Rep", null=True, blank=True, editable=False, on_delete=models.SET_NULL, related_name="+"
    )
    version = models.PositiveIntegerField(
        default=0, editable=False, help_text="Counts saved changes (its Versions page)."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords(excluded_fields=["last_rep", "version"])

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class PoolMember(models.Model):
    """One entry of a pool: a rep, or every active rep of a team whose title contains ``role``."""

    pool = models.ForeignKey(Pool, on_delete=models.CASCADE, related_name="members")
    rep = models.ForeignKey("revops.Rep", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    team = models.ForeignKey("revops.Team", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    role = models.CharField(
        max_length=80, blank=True, help_text="With a team: only reps whose title contains this (e.g. 'SDR')."
    )
    weight = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(100)], help_text="Share of leads (1–100)."
    )
    max_open_leads = models.PositiveIntegerField(null=True, blank=True, help_text="Overrides the pool's cap.")
    max_per_day = models.PositiveIntegerField(null=True, blank=True, help_text="Overrides the pool's cap.")
    position = models.PositiveSmallIntegerField(default=0, help_text="Order in the rotation.")
    is_active = models.BooleanField(default=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["pool", "position", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(rep__isnull=False, team__isnull=True) | models.Q(rep__isnull=True, team__isnull=False)
                ),
                name="pool_member_rep_xor_team",
            )
        ]

    def __str__(self):
        if self.rep_id:
            return f"{self.rep} (×{self.weight})"
        role = f", role {self.role}" if self.role else ""
        return f"team {self.team}{role} (×{self.weight})"


class PoolCounter(models.Model):
    """How many leads a pool has given a rep; written only while the pool's row is locked."""

    pool = models.ForeignKey(Pool, on_delete=models.CASCADE, related_name="counters")
    rep = models.ForeignKey("revops.Rep", on_delete=models.CASCADE, related_name="+")
    assigned = models.PositiveIntegerField(default=0)
    last_assigned_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["pool", "rep"], name="pool_counter_unique")]

    def __str__(self):
        return f"{self.pool}: {self.rep} {self.assigned}"


class RoutingRule(models.Model):
    """One routing rule: when its conditions hold (the first rule in ``priority`` order wins), route to its target.

    ``status``: live rules route; shadow rules are evaluated and recorded ("would have routed to…")
    without effect; draft rules only take part in previews and backtests; disabled rules are kept
    for the record. ``fields_used`` is derived from the conditions.
    """

    class Target(models.TextChoices):
        ACCOUNT_OWNER = "account_owner", "Matched account's owner (named accounts)"
        OPPORTUNITY_OWNER = "opportunity_owner", "Owner of an open opportunity on the matched account"
        REP = "rep", "A specific rep"
        POOL = "pool", "A pool (round robin / weighted / least loaded)"
        QUEUE = "queue", "A queue for manual review"
        APPROVAL = "approval", "An owner, after approval"

    class Status(models.TextChoices):
        LIVE = "live", "Live"
        SHADOW = "shadow", "Shadow (log only)"
        DRAFT = "draft", "Draft (preview and backtest only)"
        DISABLED = "disabled", "Disabled"

    class WhenUnavailable(models.TextChoices):
        NEXT_RULE = "next_rule", "Try the next rule"
        ASSIGN_ANYWAY = "assign_anyway", "Assign anyway"

    class ApprovalOwner(models.TextChoices):
        ACCOUNT_OWNER = "account_owner", "The matched account's owner"
        OPPORTUNITY_OWNER = "opportunity_owner", "The open opportunity's owner"
        REP = "rep", "The rep named on the rule"

    name = models.CharField(max_length=120, unique=True)
    description = models.TextField(blank=True, help_text="Why this rule exists, in plain language.")
    priority = models.PositiveIntegerField(default=100, db_index=True, help_text="Lower runs first.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT, db_index=True)
    conditions = models.JSONField(default=dict, blank=True, help_text="Condition tree over lead fields.")
    target_type = models.CharField(max_length=20, choices=Target.choices)
    target_rep = models.ForeignKey("revops.Rep", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    target_pool = models.ForeignKey(Pool, null=True, blank=True, on_delete=models.PROTECT, related_name="rules")
    target_queue = models.CharField(max_length=120, blank=True, help_text="Exception queue for manual review.")
    approval_owner = models.CharField(
        max_length=20, choices=ApprovalOwner.choices, blank=True, help_text="For approval targets: who is proposed."
    )
    use_parent_account = models.BooleanField(
        default=True,
        help_text="Account-owner targets: when the matched account has no owner (or its parent is named), "
        "route through the parent account's owner.",
    )
    when_unavailable = models.CharField(
        max_length=20,
        choices=WhenUnavailable.choices,
        default=WhenUnavailable.NEXT_RULE,
        help_text="When the target rep is inactive or out of office.",
    )
    fields_used = models.JSONField(default=list, blank=True, editable=False)
    # The kill switch (routing.pause): while set, leads this live rule matches go to the fallback with an item.
    paused_at = models.DateTimeField(null=True, blank=True, editable=False)
    paused_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, editable=False, on_delete=models.SET_NULL, related_name="+"
    )
    pause_reason = models.TextField(blank=True, editable=False)
    version = models.PositiveIntegerField(
        default=0, editable=False, help_text="Counts saved changes (its Versions page)."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords(excluded_fields=["version"])  # versions: revops.versions

    class Meta:
        ordering = ["priority", "pk"]

    def __str__(self):
        return self.name


class RoutingDecision(models.Model):
    """What routing decided for one lead, and why. One per routing run (live or shadow)."""

    class Outcome(models.TextChoices):
        ASSIGNED = "assigned", "Assigned"
        QUEUED = "queued", "Sent to a review queue"
        APPROVAL = "approval", "Waiting for approval"
        FALLBACK = "fallback", "Assigned by the fallback"
        UNASSIGNED = "unassigned", "Left unassigned (exception item)"
        NOT_ROUTED = "not_routed", "Not routed"

    class MatchStatus(models.TextChoices):
        MATCHED = "matched", "Matched"
        AMBIGUOUS = "ambiguous", "Ambiguous"
        NONE = "none", "No match"

    # lead, rule and owner: decision_lead, decision_rule and decision_owner serve them (an index of its
    # own each would be one more written for every routed lead).
    lead = models.ForeignKey("revops.Lead", on_delete=models.CASCADE, related_name="routing_decisions", db_index=False)
    run = models.ForeignKey(
        "revops.AutomationRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="routing_decisions"
    )
    mode = models.CharField(max_length=10, default="live", help_text="live or shadow")
    outcome = models.CharField(max_length=12, choices=Outcome.choices)
    rule = models.ForeignKey(
        RoutingRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="decisions", db_index=False
    )
    rule_name = models.CharField(max_length=120, blank=True)
    target_type = models.CharField(max_length=20, blank=True)
    pool = models.ForeignKey(Pool, null=True, blank=True, on_delete=models.SET_NULL, related_name="decisions")
    owner = models.ForeignKey(
        "revops.Rep", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    previous_owner = models.ForeignKey("revops.Rep", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    match_status = models.CharField(max_length=10, choices=MatchStatus.choices, default=MatchStatus.NONE)
    matched_account = models.ForeignKey(
        "revops.Account", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    explanation = models.JSONField(default=dict, blank=True)
    summary = models.TextField(blank=True)
    latency_ms = models.FloatField(default=0, help_text="From the lead's arrival to the decision's commit.")
    decided_at = models.DateTimeField(db_index=True)
    reassigned_at = models.DateTimeField(null=True, blank=True)
    reassigned_to = models.ForeignKey("revops.Rep", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-decided_at", "-pk"]
        indexes = [
            models.Index(fields=["lead", "-decided_at"], name="decision_lead"),
            models.Index(fields=["rule", "decided_at"], name="decision_rule"),
            models.Index(fields=["owner", "decided_at"], name="decision_owner"),
            # Each pick reads its members' assignments today (routing.pools.load_states_many): these
            # rows alone, not every decision of the day (PostgreSQL; SQLite plans decision_owner).
            models.Index(
                fields=["owner", "decided_at"],
                condition=models.Q(mode="live", outcome__in=["assigned", "fallback"]),
                name="decision_counted_owner",
            ),
            # The dashboard's roll-up: reassignments since its last run (routing.metrics).
            models.Index(
                fields=["reassigned_at"], condition=models.Q(reassigned_at__isnull=False), name="decision_reassigned"
            ),
        ]

    def __str__(self):
        return f"{self.get_outcome_display()}: {self.lead} ({self.rule_name or 'no rule'})"


class BusinessCalendar(models.Model):
    """Working days, hours and holidays of one or more teams, in one time zone; SLA clocks count only these."""

    name = models.CharField(max_length=120, unique=True)
    time_zone = models.CharField(max_length=64, default="UTC")
    working_days = models.JSONField(default=default_weekdays, blank=True, help_text="0 = Monday … 6 = Sunday.")
    day_start = models.TimeField(default=dt.time(9, 0))
    day_end = models.TimeField(default=dt.time(17, 0))
    holidays = models.JSONField(default=list, blank=True, help_text="Dates (YYYY-MM-DD) with no working hours.")
    teams = models.ManyToManyField("revops.Team", blank=True, related_name="calendars")
    is_default = models.BooleanField(default=False, help_text="Used for owners whose team has no calendar.")
    history = HistoricalRecords(m2m_fields=[teams])

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class SlaPolicy(models.Model):
    """A response target chosen by conditions (first match in ``priority`` order), e.g. hot inbound: 5 minutes."""

    name = models.CharField(max_length=120, unique=True)
    description = models.TextField(blank=True)
    priority = models.PositiveIntegerField(default=100, db_index=True, help_text="Lower is tried first.")
    is_active = models.BooleanField(default=True)
    conditions = models.JSONField(default=dict, blank=True, help_text="Condition tree over lead fields.")
    target_minutes = models.PositiveIntegerField(help_text="Time to first touch.")
    reminder_share = models.FloatField(
        default=0.5,
        validators=[MinValueValidator(0), MaxValueValidator(0.99)],
        help_text="Remind the owner when this share of the time is used (0: no reminder).",
    )
    use_business_hours = models.BooleanField(
        default=False, help_text="Count only the owner's team's business hours (see business calendars)."
    )
    reroute_on_breach = models.BooleanField(default=False, help_text="On breach, route the lead again.")
    fields_used = models.JSONField(default=list, blank=True, editable=False)
    version = models.PositiveIntegerField(
        default=0, editable=False, help_text="Counts saved changes (its Versions page)."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords(excluded_fields=["version"])  # versions: revops.versions

    class Meta:
        ordering = ["priority", "pk"]
        verbose_name = "SLA policy"
        verbose_name_plural = "SLA policies"

    def __str__(self):
        return self.name


class SlaClock(models.Model):
    """A response clock on a lead: started at assignment, stopped by the owner's first touch.

    At most one clock runs per lead (partial unique constraint), so a repeated start is a no-op.
    """

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        MET = "met", "Met"
        BREACHED = "breached", "Breached"
        CANCELLED = "cancelled", "Cancelled"

    lead = models.ForeignKey("revops.Lead", on_delete=models.CASCADE, related_name="sla_clocks")
    owner = models.ForeignKey("revops.Rep", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    policy = models.CharField(max_length=120, help_text="The SLA policy that set the target.")
    policy_ref = models.ForeignKey(SlaPolicy, null=True, blank=True, on_delete=models.SET_NULL, related_name="clocks")
    decision = models.ForeignKey(
        RoutingDecision, null=True, blank=True, on_delete=models.SET_NULL, related_name="clocks"
    )
    target_minutes = models.PositiveIntegerField()
    business_hours = models.BooleanField(default=False)
    started_at = models.DateTimeField()
    due_at = models.DateTimeField(db_index=True)
    remind_at = models.DateTimeField(null=True, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)
    stopped_at = models.DateTimeField(null=True, blank=True)
    first_touch_at = models.DateTimeField(null=True, blank=True)
    breached_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.RUNNING)
    run = models.ForeignKey("revops.AutomationRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    history = HistoricalRecords()

    class Meta:
        ordering = ["due_at"]
        verbose_name = "SLA clock"
        constraints = [
            models.UniqueConstraint(
                fields=["lead"], condition=models.Q(status="running"), name="sla_one_running_clock_per_lead"
            )
        ]
        # The dashboard's roll-up recomputes a day's clocks by their start (routing.metrics).
        indexes = [
            models.Index(fields=["started_at"], name="sla_clock_started"),
            models.Index(fields=["status"], name="sla_clock_status"),  # a plain b-tree (no pattern index)
        ]

    def __str__(self):
        return f"{self.policy} on {self.lead_id} ({self.status})"
