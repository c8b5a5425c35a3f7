"""The engine's dashboard metrics: automation success and error rates, unintended side effects
(reverted runs, rejected approvals, items dismissed as wrong) and the share of work done by
automation and by hand. Registered by ``engine_setup``.

A run counts on the day it was created (live runs only; shadow runs change nothing) and for the
team of its record's owner; an item for its queue's team.
"""

from __future__ import annotations

from exceptions.codes import NOISE
from exceptions.models import ExceptionItem
from exceptions.registry import approval_kinds
from revops.metrics.days import count_points, ratio_points, record_teams
from revops.models import AppliedAction, Automation, AutomationRun, ChangeEntry
from revops.plugins import register_metric

GROUP = "Automation"
REVERTED, REJECTED, DISMISSED = "Reverted runs", "Rejected approvals", "Items dismissed as wrong"
BY_AUTOMATION, BY_HAND = "Done by automation", "Done by hand"
REVERT_PREFIX = "revert:run:"
FINISHED = (AutomationRun.Outcome.FIRED, AutomationRun.Outcome.NOT_FIRED, AutomationRun.Outcome.ERROR)


def runs_changed(since):
    runs = AutomationRun.objects.filter(mode=Automation.Mode.LIVE)
    if since is not None:
        runs = runs.filter(created_at__gte=since)
    return runs.values_list("created_at", flat=True).iterator()


def _finished_runs(start, end):
    rows = list(
        AutomationRun.objects.filter(
            created_at__gte=start, created_at__lt=end, mode=Automation.Mode.LIVE, outcome__in=FINISHED
        ).values_list("object_type", "object_id", "outcome")
    )
    teams = record_teams((t, i) for t, i, _ in rows)
    return [(teams.get((t, i)), outcome) for t, i, outcome in rows]


def success_day(day, start, end):
    """Of the live runs that finished, the share that ran without an error (fired or not)."""
    return ratio_points(
        (team, "", outcome != AutomationRun.Outcome.ERROR, 1) for team, outcome in _finished_runs(start, end)
    )


def error_day(day, start, end):
    """Of the live runs that finished, the share that ended in an error."""
    return ratio_points(
        (team, "", outcome == AutomationRun.Outcome.ERROR, 1) for team, outcome in _finished_runs(start, end)
    )


def side_effects_changed(since):
    """Times of reverts, and of the approvals and items closed, after ``since``."""
    reverts = ChangeEntry.objects.filter(dedupe_key__startswith=REVERT_PREFIX)
    items = ExceptionItem.objects.filter(resolved_at__isnull=False)
    if since is not None:
        reverts = reverts.filter(created_at__gte=since)
        items = items.filter(resolved_at__gte=since)
    yield from reverts.values_list("created_at", flat=True).iterator()
    yield from items.values_list("resolved_at", flat=True).iterator()


def _reverted_runs(start, end) -> list[tuple[int | None, str]]:
    keys = ChangeEntry.objects.filter(
        dedupe_key__startswith=REVERT_PREFIX, created_at__gte=start, created_at__lt=end
    ).values_list("dedupe_key", flat=True)
    run_ids = {int(key.split(":")[2]) for key in keys if key.split(":")[2].isdigit()}
    runs = list(AutomationRun.objects.filter(pk__in=run_ids).values_list("object_type", "object_id"))
    teams = record_teams(runs)
    return [(teams.get(run), REVERTED) for run in runs]


def side_effects_day(day, start, end):
    """Reverted runs (a person undid what a run applied), approvals rejected, and items closed as
    "Noise: the rule is wrong here", on the day they happened."""
    rows = _reverted_runs(start, end)
    closed = ExceptionItem.objects.filter(resolved_at__gte=start, resolved_at__lt=end)
    rows += [
        (team, REJECTED)
        for team in closed.filter(kind__in=approval_kinds(), decision=ExceptionItem.Decision.REJECTED).values_list(
            "queue__team_id", flat=True
        )
    ]
    rows += [
        (team, DISMISSED)
        for team in closed.filter(status=ExceptionItem.Status.DISMISSED, resolution_code=NOISE).values_list(
            "queue__team_id", flat=True
        )
    ]
    return count_points(rows)


def work_changed(since):
    applied = AppliedAction.objects.filter(status__in=[AppliedAction.Status.APPLIED, AppliedAction.Status.REVERTED])
    items = ExceptionItem.objects.filter(resolved_by__isnull=False)
    if since is not None:
        applied = applied.filter(created_at__gte=since)
        items = items.filter(resolved_at__gte=since)
    yield from applied.values_list("created_at", flat=True).iterator()
    yield from items.values_list("resolved_at", flat=True).iterator()


def work_day(day, start, end):
    """Work done by automation (actions live runs applied to records) and by hand (exception
    items a person resolved or dismissed), each day."""
    applied = list(
        AppliedAction.objects.filter(
            created_at__gte=start,
            created_at__lt=end,
            status__in=[AppliedAction.Status.APPLIED, AppliedAction.Status.REVERTED],
        ).values_list("object_type", "object_id")
    )
    teams = record_teams(applied)
    rows = [(teams.get(pair), BY_AUTOMATION) for pair in applied]
    by_hand = ExceptionItem.objects.filter(resolved_at__gte=start, resolved_at__lt=end, resolved_by__isnull=False)
    rows += [(team, BY_HAND) for team in by_hand.values_list("queue__team_id", flat=True)]
    return count_points(rows)


def engine_metrics_register() -> None:
    register_metric(
        "automation_success",
        label="Automation success rate",
        description="Of the live automation runs that finished, the share that ran without an error.",
        unit="percent",
        group=GROUP,
        aggregate="ratio",
        compute_day=success_day,
        changed_days=runs_changed,
        order=50,
    )
    register_metric(
        "automation_errors",
        label="Error rate",
        description="Of the live automation runs that finished, the share that ended in an error.",
        unit="percent",
        group=GROUP,
        aggregate="ratio",
        compute_day=error_day,
        changed_days=runs_changed,
        order=51,
    )
    register_metric(
        "side_effects",
        label="Unintended side effects",
        description="Runs a person reverted, approvals rejected, and items dismissed as the rule being wrong.",
        unit="count",
        group=GROUP,
        aggregate="sum",
        compute_day=side_effects_day,
        changed_days=side_effects_changed,
        order=53,
        chart="bar",
        series_order=(REVERTED, REJECTED, DISMISSED),
    )
    register_metric(
        "work_share",
        label="Work done by automation and by hand",
        description="Actions automations applied to records, and exception items people closed, each day.",
        unit="count",
        group=GROUP,
        aggregate="sum",
        compute_day=work_day,
        changed_days=work_changed,
        order=54,
        series_order=(BY_AUTOMATION, BY_HAND),
    )
