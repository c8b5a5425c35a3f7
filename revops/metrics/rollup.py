"""The roll-up job's work: recompute the days whose numbers changed into ``MetricDaily`` rows.

Each run asks every metric which days changed since the last run (``changed_days``, a read of
indexed timestamps after the watermark), adds today and yesterday (ages and clocks move without
an event), and recomputes those days only; a ``level`` metric (a backlog) recomputes from its
earliest changed day to today, since a change carries forward. The first run (no watermark)
computes every day that has data. The watermark goes back a few minutes on each run so that a
transaction committed late is still seen; recomputing a day twice gives the same rows.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from revops.models import MetricDaily, MetricState

from .days import day_bounds, local_day
from .registry import Metric, Point, all_metrics

STATE = "daily"
OVERLAP = dt.timedelta(minutes=15)


def _as_day(value) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return local_day(value)
    return value


def metric_dirty_days(
    metric: Metric, *, since: dt.datetime | None, today: dt.date, seen: dict | None = None
) -> list[dt.date]:
    """The days of ``metric`` to recompute: changed after ``since``, plus today and yesterday.

    ``seen`` keeps each ``changed_days`` function's days for one roll-up: metrics over the same
    data (six over runs, seven over response clocks) read its timestamps once.
    """
    days = {today, today - dt.timedelta(days=1)}
    if metric.changed_days is not None:
        seen = {} if seen is None else seen
        if metric.changed_days not in seen:
            seen[metric.changed_days] = {day for day in map(_as_day, metric.changed_days(since)) if day is not None}
        days |= seen[metric.changed_days]
    days = {day for day in days if day <= today}
    if metric.aggregate == "level":
        first = min(days)
        days = {first + dt.timedelta(days=n) for n in range((today - first).days + 1)}
    return sorted(days)


SUMMED = ("ratio", "mean", "sum", "level")


def with_all_teams(metric: Metric, points: list[Point]) -> list[Point]:
    """``points`` plus, for a metric that adds up, one ``all_teams`` point per series summing every
    team (and the records with no team): what an unfiltered RevOps admin reads, so that a year of
    a dozen charts reads hundreds of rows, not tens of thousands. A percentile's ``all_teams``
    points come from its own computation (it does not add up)."""
    if metric.aggregate not in SUMMED or metric.per_automation:
        return points
    sums: dict[str, list] = {}
    for point in points:
        entry = sums.setdefault(point.dimension, [0.0, None])
        entry[0] += point.numerator
        if point.denominator is not None:
            entry[1] = (entry[1] or 0.0) + point.denominator
    return points + [Point(None, dim, numerator=n, denominator=d, all_teams=True) for dim, (n, d) in sums.items()]


@transaction.atomic
def metric_day_recompute(*, metric: Metric, day: dt.date, now: dt.datetime) -> int:
    """Replace the rows of ``metric`` for ``day`` with a fresh computation; returns the row count.

    The state row is locked first, so two roll-ups never interleave their writes of one day.
    """
    MetricState.objects.select_for_update().get_or_create(name=STATE)
    start, end = day_bounds(day)
    rows = []
    for point in with_all_teams(metric, list(metric.compute_day(day, start, end))):
        if metric.aggregate in ("ratio", "mean") and not point.denominator:
            continue
        if metric.aggregate == "percentile" and point.value is None:
            continue
        rows.append(
            MetricDaily(
                metric=metric.key,
                day=day,
                team_id=point.team_id,
                all_teams=point.all_teams,
                dimension=point.dimension[:200],
                numerator=point.numerator,
                denominator=point.denominator,
                value=point.value,
                computed_at=now,
            )
        )
    MetricDaily.objects.filter(metric=metric.key, day=day).delete()
    MetricDaily.objects.bulk_create(rows)
    return len(rows)


def metrics_rollup(*, now: dt.datetime | None = None, full: bool = False, keys=None) -> dict[str, int]:
    """Recompute the dirty days of every registered metric (of ``keys`` only, when given).

    ``full`` recomputes every day that has data. Returns ``{metric key: days recomputed}``.
    """
    now = now or timezone.now()
    state, _ = MetricState.objects.get_or_create(name=STATE)
    since = None if full or state.watermark is None else state.watermark - OVERLAP
    today = local_day(now)
    done, seen = {}, {}
    for metric in all_metrics():
        if keys is not None and metric.key not in keys:
            continue
        days = metric_dirty_days(metric, since=since, today=today, seen=seen)
        for day in days:
            metric_day_recompute(metric=metric, day=day, now=now)
        done[metric.key] = len(days)
    if keys is None:
        MetricState.objects.filter(pk=state.pk).update(watermark=now)
    return done
