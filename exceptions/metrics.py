"""The queue's dashboard metrics: the backlog by age and by kind (its trend is the daily line),
items opened and closed per day, and the override rate of approvals. Registered in
``ExceptionsConfig.ready``.

An item belongs to its queue's team; it is open from ``first_seen_at`` until ``resolved_at``
(resolved or dismissed), and counted in the backlog of each day it was open at the day's end.
"""

from __future__ import annotations

from django.db.models import Q

from revops.metrics.days import count_points, ratio_points
from revops.plugins import register_metric

from .models import ExceptionItem
from .registry import approval_kinds, item_kind_label

GROUP = "Exception queue"
AGES = ("Under a day", "1 to 3 days", "3 to 7 days", "Over a week")
CREATED, CLOSED = "Opened", "Closed"


def _age(days: float) -> str:
    if days < 1:
        return AGES[0]
    if days < 3:
        return AGES[1]
    if days < 7:
        return AGES[2]
    return AGES[3]


def items_changed(since):
    """Open and close times of the items opened or closed after ``since``."""
    items = ExceptionItem.objects.all()
    if since is not None:
        items = items.filter(Q(first_seen_at__gte=since) | Q(resolved_at__gte=since))
    for opened, closed in items.values_list("first_seen_at", "resolved_at").iterator():
        yield opened
        if closed is not None:
            yield closed


def _open_at(end):
    return ExceptionItem.objects.filter(first_seen_at__lt=end).filter(
        Q(resolved_at__isnull=True) | Q(resolved_at__gte=end)
    )


def backlog_age_day(day, start, end):
    """Items open at the end of the day, by how long they had been open."""
    rows = _open_at(end).values_list("queue__team_id", "first_seen_at")
    return count_points((team, _age((end - opened).total_seconds() / 86400)) for team, opened in rows)


def backlog_kind_day(day, start, end):
    """Items open at the end of the day, by kind."""
    rows = _open_at(end).values_list("queue__team_id", "kind")
    return count_points((team, item_kind_label(kind)) for team, kind in rows)


def flow_day(day, start, end):
    """Items opened and items closed (resolved or dismissed) during the day."""
    opened = ExceptionItem.objects.filter(first_seen_at__gte=start, first_seen_at__lt=end)
    closed = ExceptionItem.objects.filter(resolved_at__gte=start, resolved_at__lt=end)
    rows = [(team, CREATED) for team in opened.values_list("queue__team_id", flat=True)]
    rows += [(team, CLOSED) for team in closed.values_list("queue__team_id", flat=True)]
    return count_points(rows)


def override_day(day, start, end):
    """Of the approvals decided during the day, the share a person overrode (changed what the
    automation prepared) — as ``approvals.automation_override_rate`` counts per automation."""
    decided = ExceptionItem.objects.filter(
        resolved_at__gte=start,
        resolved_at__lt=end,
        kind__in=approval_kinds(),
        decision__in=[
            ExceptionItem.Decision.APPROVED,
            ExceptionItem.Decision.REJECTED,
            ExceptionItem.Decision.OVERRIDDEN,
        ],
    )
    rows = decided.values_list("queue__team_id", "decision")
    return ratio_points((team, "", decision == ExceptionItem.Decision.OVERRIDDEN, 1) for team, decision in rows)


def exceptions_metrics_register() -> None:
    register_metric(
        "backlog_age",
        label="Exception backlog by age",
        description="Items still open at the end of each day, by how long they had been open.",
        unit="count",
        group=GROUP,
        aggregate="level",
        compute_day=backlog_age_day,
        changed_days=items_changed,
        order=30,
        series_order=AGES,
    )
    register_metric(
        "backlog_kind",
        label="Exception backlog by kind",
        description="Items still open at the end of each day, by kind.",
        unit="count",
        group=GROUP,
        aggregate="level",
        compute_day=backlog_kind_day,
        changed_days=items_changed,
        order=31,
    )
    register_metric(
        "items_flow",
        label="Items opened and closed",
        description="Exception items opened, and items resolved or dismissed, each day.",
        unit="count",
        group=GROUP,
        aggregate="sum",
        compute_day=flow_day,
        changed_days=items_changed,
        order=32,
        series_order=(CREATED, CLOSED),
    )
    register_metric(
        "override_rate",
        label="Override rate",
        description="Of the approvals people decided, the share where they changed what the automation prepared.",
        unit="percent",
        group="Automation",
        aggregate="ratio",
        compute_day=override_day,
        changed_days=items_changed,
        order=52,
    )
