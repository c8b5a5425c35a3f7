"""The monitors' dashboard metrics: forecast hygiene issues per team and renewal task
completion. Registered in ``MonitorsConfig.ready``.

A hygiene issue is a forecast-hygiene exception item, counted on the day it was opened for the
team of the deal's owner; a renewal task is a task a renewal monitor created, counted on the day
it was created for the team of its owner.
"""

from __future__ import annotations

from django.db.models import Q

from exceptions.models import ExceptionItem
from revops.metrics.days import count_points, ratio_points, record_teams
from revops.models import Automation, Task
from revops.plugins import register_metric

from .hygiene import ITEM_KIND as HYGIENE_KIND
from .renewal_selectors import KIND as RENEWAL_KIND

GROUP = "Handoffs and monitors"


def hygiene_changed(since):
    items = ExceptionItem.objects.filter(kind=HYGIENE_KIND)
    if since is not None:
        items = items.filter(first_seen_at__gte=since)
    return items.values_list("first_seen_at", flat=True).iterator()


def hygiene_day(day, start, end):
    """Forecast hygiene issues opened on the day."""
    rows = list(
        ExceptionItem.objects.filter(kind=HYGIENE_KIND, first_seen_at__gte=start, first_seen_at__lt=end).values_list(
            "object_type", "object_id"
        )
    )
    teams = record_teams(rows)
    return count_points((teams.get(pair), "") for pair in rows)


def _renewal_tasks():
    names = Automation.objects.filter(kind=RENEWAL_KIND).values_list("name", flat=True)
    return Task.objects.filter(created_by_automation__in=[name[:120] for name in names])


def renewal_tasks_changed(since):
    tasks = _renewal_tasks()
    if since is not None:
        tasks = tasks.filter(Q(created_at__gte=since) | Q(updated_at__gte=since))
    return tasks.values_list("created_at", flat=True).iterator()


def renewal_tasks_day(day, start, end):
    """Of the renewal tasks created on the day (cancelled ones left out), the share done."""
    rows = (
        _renewal_tasks()
        .filter(created_at__gte=start, created_at__lt=end)
        .exclude(status=Task.Status.CANCELLED)
        .values_list("owner__team_id", "status")
    )
    return ratio_points((team, "", status == Task.Status.DONE, 1) for team, status in rows)


def monitors_metrics_register() -> None:
    register_metric(
        "hygiene_issues",
        label="Forecast hygiene issues",
        description="Forecast hygiene issues the monitors opened each day, for the team of the deal's owner.",
        unit="count",
        group=GROUP,
        aggregate="sum",
        compute_day=hygiene_day,
        changed_days=hygiene_changed,
        order=42,
        chart="bar",
    )
    register_metric(
        "renewal_task_completion",
        label="Renewal task completion",
        description="Of the tasks the renewal monitors created, the share done.",
        unit="percent",
        group=GROUP,
        aggregate="ratio",
        compute_day=renewal_tasks_day,
        changed_days=renewal_tasks_changed,
        order=43,
    )
