"""The dashboard's numbers for a date range and a set of teams, read from the daily roll-ups only."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from django.db.models import Sum

from revops.access import managed_team_ids, sees_everything, team_subtree_ids
from revops.models import MetricDaily, Team

from .registry import Metric, metrics

MAX_DAYS = 731


def metrics_team_scope(user) -> set[int] | None:
    """The team ids whose numbers ``user`` may read: None for everything (RevOps admins and
    integration tokens); a manager's teams and their sub-teams; nothing for anyone else."""
    if sees_everything(user):
        return None
    return managed_team_ids(user=user)


def metrics_teams_choice(scope: set[int] | None) -> list[Team]:
    """The teams a user may filter by, by name."""
    teams = Team.objects.order_by("name")
    return list(teams if scope is None else teams.filter(pk__in=scope))


def metrics_filter_teams(*, scope: set[int] | None, team: Team | None) -> set[int] | None:
    """The team ids to read: the chosen team and its sub-teams within ``scope``, else the scope."""
    if team is None:
        return scope
    chosen = team_subtree_ids({team.pk})
    return chosen if scope is None else chosen & scope


def _value(metric: Metric, numerator: float, denominator: float | None) -> float | None:
    if metric.aggregate in ("ratio", "mean"):
        if not denominator:
            return None
        factor = 100 if metric.aggregate == "ratio" else 1
        return round(numerator / denominator * factor, 1)
    return round(float(numerator), 1)


def _days(start: dt.date, end: dt.date) -> list[dt.date]:
    return [start + dt.timedelta(days=n) for n in range((end - start).days + 1)]


def _series_sort(metric: Metric, names) -> list[str]:
    order = {name: i for i, name in enumerate(metric.series_order)}
    return sorted(names, key=lambda name: (order.get(name, len(order)), name))


def _bar_totals(metric: Metric, rows) -> list[dict]:
    """A breakdown's series with the range's figure only (what a bar chart draws): ``rows`` are
    ``(dimension, numerator, denominator)`` summed over the range in SQL."""
    names = {dimension or metric.label: (float(n or 0), d) for dimension, n, d in rows}
    return [{"name": name, "total": _value(metric, *names[name]), "points": []} for name in _series_sort(metric, names)]


def _additive(metric: Metric, rows, days: list[dt.date]) -> list[dict]:
    cells: dict[str, dict[dt.date, tuple[float, float | None]]] = defaultdict(dict)
    for day, dimension, numerator, denominator in rows:
        cells[dimension or metric.label][day] = (float(numerator or 0), denominator)
    series = []
    for name in _series_sort(metric, cells):
        by_day = cells[name]
        points = []
        for day in days:
            numerator, denominator = by_day.get(day, (0.0, None))
            if metric.aggregate in ("ratio", "mean") and day not in by_day:
                points.append({"day": day, "value": None, "numerator": None, "denominator": None})
                continue
            points.append(
                {
                    "day": day,
                    "value": _value(metric, numerator, denominator),
                    "numerator": numerator,
                    "denominator": denominator,
                }
            )
        if metric.aggregate == "level":
            total = points[-1]["value"] if points else None
        else:
            numerators = sum(p["numerator"] or 0 for p in points)
            denominators = sum(p["denominator"] or 0 for p in points)
            total = _value(metric, numerators, denominators)
        series.append({"name": name, "total": total, "points": points})
    return series


def _percentiles(metric: Metric, rows, days: list[dt.date], team_names: dict[int, str]) -> list[dict]:
    teams = {team_id for _, _, team_id, _, _ in rows}
    cells: dict[str, dict[dt.date, tuple[float, float]]] = defaultdict(dict)
    for day, dimension, team_id, numerator, value in rows:
        name = dimension or metric.label
        if len(teams) > 1:
            name = f"{name} — {team_names.get(team_id, 'No team')}"
        cells[name][day] = (numerator, value)
    series = []
    for name in _series_sort(metric, cells):
        by_day = cells[name]
        points = [
            {
                "day": day,
                "value": round(by_day[day][1], 1) if day in by_day else None,
                "numerator": by_day[day][0] if day in by_day else None,
                "denominator": None,
            }
            for day in days
        ]
        series.append({"name": name, "total": None, "points": points})
    return series


def metrics_read(
    *, start: dt.date, end: dt.date, team_ids: set[int] | None, keys=None, daily_bars: bool = True
) -> list[dict]:
    """Every registered metric (or those of ``keys``) over ``start``..``end`` for ``team_ids``
    (None: every team, and the records with no team), one series per dimension.

    ``daily_bars=False`` (the dashboard) reads a bar chart's breakdown as range totals only, with
    no per-day points: a per-rep chart over a year would otherwise be tens of thousands of points
    nobody draws.
    """
    days = _days(start, end)
    chosen = [m for m in metrics() if keys is None or m.key in keys]
    base = MetricDaily.objects.filter(day__gte=start, day__lte=end, metric__in=[m.key for m in chosen])
    # Unfiltered, every metric has rows summed over all teams (revops.metrics.rollup.with_all_teams).
    scoped = base.filter(all_teams=True) if team_ids is None else base.filter(all_teams=False, team_id__in=team_ids)
    totals_only = (
        set() if daily_bars else {m.key for m in chosen if m.chart == "bar" and m.aggregate in ("ratio", "mean", "sum")}
    )
    additive = defaultdict(list)
    summed = scoped.exclude(metric__in=[m.key for m in chosen if m.aggregate == "percentile"])
    for row in (
        summed.exclude(metric__in=totals_only)
        .values_list("metric", "day", "dimension")
        .annotate(n=Sum("numerator"), d=Sum("denominator"))
        .order_by()
    ):
        additive[row[0]].append(row[1:])
    bars = defaultdict(list)
    if totals_only:
        for row in (
            summed.filter(metric__in=totals_only)
            .values_list("metric", "dimension")
            .annotate(n=Sum("numerator"), d=Sum("denominator"))
            .order_by()
        ):
            bars[row[0]].append(row[1:])
    percentile_keys = [m.key for m in chosen if m.aggregate == "percentile"]
    ranked = defaultdict(list)
    if percentile_keys:
        for row in scoped.filter(metric__in=percentile_keys).values_list(
            "metric", "day", "dimension", "team_id", "numerator", "value"
        ):
            ranked[row[0]].append(row[1:])
    team_names = dict(Team.objects.filter(pk__in=team_ids or ()).values_list("pk", "name")) if team_ids else {}
    result = []
    for metric in chosen:
        if metric.aggregate == "percentile":
            series = _percentiles(metric, ranked[metric.key], days, team_names)
        elif metric.key in totals_only:
            series = _bar_totals(metric, bars[metric.key])
        else:
            series = _additive(metric, additive[metric.key], days)
        result.append(
            {
                "key": metric.key,
                "label": metric.label,
                "description": metric.description,
                "group": metric.group,
                "unit": metric.unit,
                "aggregate": metric.aggregate,
                "chart": metric.chart,
                "series": series,
            }
        )
    return result
