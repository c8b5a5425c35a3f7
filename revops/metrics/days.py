"""Helpers the metrics of every layer share: local days, percentiles, the team of records."""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Iterable

from django.utils import timezone

from .registry import Point


def day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The aware start and end (exclusive) of local ``day`` in the portal's time zone."""
    tz = timezone.get_current_timezone()
    start = timezone.make_aware(dt.datetime.combine(day, dt.time.min), tz)
    end = timezone.make_aware(dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min), tz)
    return start, end


def local_day(moment: dt.datetime) -> dt.date:
    return timezone.localtime(moment).date() if timezone.is_aware(moment) else moment.date()


def percentile(values: list[float], p: float) -> float | None:
    """The nearest-rank ``p``-th percentile (the smallest value with at least ``p`` % at or below it)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def median(values: list[float]) -> float | None:
    """The median (the mean of the two middle values for an even count)."""
    if not values:
        return None
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def percentile_points(samples: Iterable[tuple[int | None, float]], series: dict[str, callable]) -> list[Point]:
    """Points for percentile metrics: ``series`` maps a name to ``fn(values)``; one point per team
    and series, plus one over all teams (``all_teams``)."""
    by_team: dict[int | None, list[float]] = defaultdict(list)
    everything: list[float] = []
    for team_id, value in samples:
        by_team[team_id].append(value)
        everything.append(value)
    points = []
    for name, fn in series.items():
        for team_id, values in by_team.items():
            points.append(Point(team_id, name, numerator=len(values), value=fn(values)))
        if everything:
            points.append(Point(None, name, numerator=len(everything), value=fn(everything), all_teams=True))
    return points


def ratio_points(rows: Iterable[tuple[int | None, str, float, float]]) -> list[Point]:
    """Points from ``(team, dimension, numerator, denominator)`` rows, added up per team and dimension."""
    sums: dict[tuple[int | None, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    for team_id, dimension, numerator, denominator in rows:
        entry = sums[(team_id, dimension)]
        entry[0] += numerator
        entry[1] += denominator
    return [Point(team, dim, numerator=n, denominator=d) for (team, dim), (n, d) in sums.items()]


def count_points(rows: Iterable[tuple[int | None, str]]) -> list[Point]:
    """Points counting ``(team, dimension)`` rows."""
    counts: dict[tuple[int | None, str], int] = defaultdict(int)
    for key in rows:
        counts[key] += 1
    return [Point(team, dim, numerator=n) for (team, dim), n in counts.items()]


def record_teams(pairs: Iterable[tuple[str, int]]) -> dict[tuple[str, int], int | None]:
    """The team of each ``(object_type, object_id)``: the owner's team of a lead, account,
    opportunity or task, a rep's own team, a team itself (one query per object type)."""
    from revops.models import Account, Lead, Opportunity, Rep, Task

    wanted: dict[str, set[int]] = defaultdict(set)
    for object_type, object_id in pairs:
        if object_id is not None:
            wanted[object_type].add(object_id)
    found: dict[tuple[str, int], int | None] = {}
    owned = {"lead": Lead, "account": Account, "opportunity": Opportunity, "task": Task}
    for object_type, ids in wanted.items():
        if object_type in owned:
            rows = owned[object_type].objects.filter(pk__in=ids).values_list("pk", "owner__team_id")
        elif object_type == "rep":
            rows = Rep.objects.filter(pk__in=ids).values_list("pk", "team_id")
        elif object_type == "team":
            rows = [(pk, pk) for pk in ids]
        else:
            rows = []
        for pk, team_id in rows:
            found[(object_type, pk)] = team_id
    return found
