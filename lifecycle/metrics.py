"""The lifecycle's dashboard metrics (registered in ``LifecycleConfig.ready``): leads entering each funnel
stage per day, and the share of MQL answers that accepted. A move belongs to the day it happened and to
the team of the lead's owner then (``StageTransition.team``)."""

from __future__ import annotations

from revops.metrics.days import count_points, ratio_points
from revops.plugins import register_metric

from .models import Stage, StageTransition


def moves_changed(since):
    moves = StageTransition.objects.all()
    if since is not None:
        moves = moves.filter(at__gte=since)
    return moves.values_list("at", flat=True).iterator()


def stage_entries_day(day, start, end):
    """Leads that entered each funnel stage on the day (series: the stage's name)."""
    rows = StageTransition.objects.filter(at__gte=start, at__lt=end, to_stage__kind=Stage.Kind.FUNNEL).values_list(
        "team_id", "to_stage__name"
    )
    return count_points(rows)


def acceptance_day(day, start, end):
    """Of the MQLs answered on the day (in the portal, the API or the CRM), the share accepted."""
    rows = StageTransition.objects.filter(
        at__gte=start,
        at__lt=end,
        cause__in=[StageTransition.Cause.ACCEPTED, StageTransition.Cause.REJECTED],
    ).values_list("team_id", "cause")
    return ratio_points((team, "", cause == StageTransition.Cause.ACCEPTED, 1) for team, cause in rows)


def lifecycle_metrics_register() -> None:
    register_metric(
        "lifecycle_stage_entries",
        label="Leads entering each stage",
        description="Leads that entered each funnel stage (MQL, accepted, SQL, opportunity…) per day.",
        unit="count",
        group="Lead lifecycle",
        aggregate="sum",
        compute_day=stage_entries_day,
        changed_days=moves_changed,
        order=60,
        chart="bar",
    )
    register_metric(
        "mql_acceptance_rate",
        label="MQLs accepted by sales",
        description="Of the MQLs sales answered, the share accepted (the rest were rejected with a reason).",
        unit="percent",
        group="Lead lifecycle",
        aggregate="ratio",
        compute_day=acceptance_day,
        changed_days=moves_changed,
        order=61,
    )
