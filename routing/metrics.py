"""Routing's dashboard metrics: speed to lead, SLA met and time to first touch (per team, routing
rule and rep), and the manual reassignment rate per rule. Registered in ``RoutingConfig.ready``.

A response clock belongs to the day it started (the lead's assignment) and to its owner's team;
a routing decision to the day it was made and to the team of the rep it chose.
"""

from __future__ import annotations

from django.db.models import Count, F, Q

from revops.metrics.days import median, percentile, percentile_points, ratio_points
from revops.metrics.registry import Point
from revops.plugins import register_metric

from .models import RoutingDecision, SlaClock
from .selectors import touch_minutes

GROUP = "Lead response"
NO_RULE = "No routing rule"
NO_OWNER = "No owner"
MEDIAN, P90 = "Median", "90th percentile"


def _minutes(delta) -> float:
    return delta.total_seconds() / 60


def _clocks(start, end):
    return SlaClock.objects.filter(started_at__gte=start, started_at__lt=end)


def clocks_changed(since):
    """Start times of the clocks started, touched, stopped or breached after ``since``."""
    clocks = SlaClock.objects.all()
    if since is not None:
        clocks = clocks.filter(
            Q(started_at__gte=since)
            | Q(stopped_at__gte=since)
            | Q(first_touch_at__gte=since)
            | Q(breached_at__gte=since)
        )
    return clocks.values_list("started_at", flat=True).iterator()


def speed_to_lead_day(day, start, end):
    """Minutes from the lead's arrival in the portal to its owner's first touch, for the clocks
    started on ``day`` that were touched: median and 90th percentile per team and overall."""
    rows = (
        _clocks(start, end)
        .filter(first_touch_at__isnull=False)
        .values_list("owner__team_id", "first_touch_at", "lead__created_at", "started_at")
    )
    # A lead cannot be assigned before it arrived: for a lead stored after its assignment (an
    # import, a backfill) the assignment is the earliest arrival known.
    samples = [(team, max(0.0, _minutes(touch - min(arrived, started)))) for team, touch, arrived, started in rows]
    return percentile_points(samples, {MEDIAN: median, P90: lambda values: percentile(values, 90)})


def _dimension(by: str, rule_name: str | None, rep: str | None) -> str:
    if by == "rule":
        return rule_name or NO_RULE
    if by == "rep":
        return rep or NO_OWNER
    return ""


def _clock_rows(start, end):
    return _clocks(start, end).values_list(
        "owner__team_id",
        "decision__rule_name",
        "owner__name",
        "status",
        "started_at",
        "first_touch_at",
        "business_hours",
    )


def sla_met_day(by: str):
    """SLA met %: of the clocks started on the day that ended (met or breached), the share met."""

    def compute(day, start, end):
        rows = []
        for team, rule, rep, status, *_ in _clock_rows(start, end):
            if status in (SlaClock.Status.MET, SlaClock.Status.BREACHED):
                rows.append((team, _dimension(by, rule, rep), status == SlaClock.Status.MET, 1))
        return ratio_points(rows)

    return compute


def first_touch_day(by: str):
    """Average minutes from assignment (the clock's start) to the owner's first touch, counted
    as the SLA report counts them (``selectors.touch_minutes``: business minutes for a
    business-hours clock)."""

    def compute(day, start, end):
        calendars: list = []
        rows = [
            (
                team,
                _dimension(by, rule, rep),
                touch_minutes(started, touch, business=business, team_id=team, calendars=calendars),
                1,
            )
            for team, rule, rep, _, started, touch, business in _clock_rows(start, end)
            if touch is not None
        ]
        return ratio_points(rows)

    return compute


def decisions_changed(since):
    """Days of the live decisions made or reassigned after ``since``."""
    decisions = RoutingDecision.objects.filter(mode="live")
    if since is not None:
        decisions = decisions.filter(Q(decided_at__gte=since) | Q(reassigned_at__gte=since))
    return decisions.values_list("decided_at", flat=True).iterator()


def reassignment_day(day, start, end):
    """Of the leads routing assigned on the day, the share a person later gave another owner, per rule."""
    rows = (
        RoutingDecision.objects.filter(
            mode="live",
            decided_at__gte=start,
            decided_at__lt=end,
            outcome__in=[RoutingDecision.Outcome.ASSIGNED, RoutingDecision.Outcome.FALLBACK],
        )
        .annotate(team=F("owner__team_id"))
        .values_list("team", "rule_name", "reassigned_at")
    )
    return ratio_points((team, rule or NO_RULE, reassigned is not None, 1) for team, rule, reassigned in rows)


def reassigned_after_routing_day(day, start, end):
    """Per automation (the router's run): leads it assigned on the day that a person later gave
    another owner (the automation health page's "Reassigned after routing")."""
    rows = (
        RoutingDecision.objects.filter(
            mode="live",
            decided_at__gte=start,
            decided_at__lt=end,
            outcome__in=[RoutingDecision.Outcome.ASSIGNED, RoutingDecision.Outcome.FALLBACK],
            reassigned_at__isnull=False,
            run__isnull=False,
        )
        .values("run__automation_id")
        .annotate(n=Count("pk"))
        .values_list("run__automation_id", "n")
        .order_by()
    )
    return [Point(None, str(automation), numerator=n) for automation, n in rows]


def routing_metrics_register() -> None:
    register_metric(
        "speed_to_lead",
        label="Speed to lead",
        description="Minutes from a lead's arrival to its owner's first touch (median and 90th percentile), by the day the lead was assigned.",
        unit="minutes",
        group=GROUP,
        aggregate="percentile",
        compute_day=speed_to_lead_day,
        changed_days=clocks_changed,
        order=10,
        series_order=(MEDIAN, P90),
    )
    for by, suffix, order, chart in (
        ("", "", 11, "line"),
        ("rule", " by routing rule", 12, "bar"),
        ("rep", " by rep", 13, "bar"),
    ):
        register_metric(
            f"sla_met{'_by_' + by if by else ''}",
            label=f"SLA met{suffix}",
            description="Of the response clocks that ended (first touch or breach), the share met in time.",
            unit="percent",
            group=GROUP,
            aggregate="ratio",
            compute_day=sla_met_day(by),
            changed_days=clocks_changed,
            order=order,
            chart=chart,
        )
        register_metric(
            f"first_touch{'_by_' + by if by else ''}",
            label=f"Time to first touch{suffix}",
            description="Average minutes from a lead's assignment to its owner's first touch.",
            unit="minutes",
            group=GROUP,
            aggregate="mean",
            compute_day=first_touch_day(by),
            changed_days=clocks_changed,
            order=order + 5,
            chart=chart,
        )
    register_metric(
        "reassignment_rate",
        label="Manual reassignment rate by routing rule",
        description="Of the leads routing assigned, the share a person later gave another owner in the CRM.",
        unit="percent",
        group="Routing",
        aggregate="ratio",
        compute_day=reassignment_day,
        changed_days=decisions_changed,
        order=20,
        chart="bar",
    )
    register_metric(
        "health_reassigned",
        label="Reassigned after routing",
        description="Leads the router assigned that a person later gave another owner, per automation.",
        unit="count",
        group="Automation health",
        aggregate="sum",
        compute_day=reassigned_after_routing_day,
        changed_days=decisions_changed,
        order=920,
        per_automation=True,
    )
