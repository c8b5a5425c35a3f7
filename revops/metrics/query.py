"""The dashboard's and the API's filters: a date range, a team and metric keys, read from query
parameters; a bad value is refused with a sentence that says what is accepted."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone

from revops.models import Team

from .registry import metric, metrics
from .selectors import MAX_DAYS, metrics_filter_teams, metrics_read, metrics_team_scope

DEFAULT_DAYS = 30


class MetricsQueryError(ValueError):
    """A filter value the dashboard and the API cannot use; ``field`` names the parameter."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class MetricsQuery:
    start: dt.date
    end: dt.date
    team: Team | None
    team_ids: set[int] | None
    keys: list[str] | None


def _date(params, name: str) -> dt.date | None:
    raw = (params.get(name) or "").strip()
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise MetricsQueryError(
            name, f"“{raw[:40]}” is not a date; give {name} as YYYY-MM-DD, e.g. 2026-03-01."
        ) from None


def metrics_query(params, *, scope: set[int] | None, today: dt.date) -> MetricsQuery:
    """The filters of ``params`` for a user whose team scope is ``scope`` (None: every team).

    ``start``/``end`` default to the last 30 days up to today; ``team`` is a team's external id
    (its sub-teams count with it) and must be one the user may read; ``metric`` is a
    comma-separated list of metric keys.
    """
    end = _date(params, "end") or today
    start = _date(params, "start") or end - dt.timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise MetricsQueryError("start", "The start date is after the end date; give a start on or before the end.")
    if (end - start).days + 1 > MAX_DAYS:
        raise MetricsQueryError("start", f"The range is longer than {MAX_DAYS} days; choose a shorter range.")
    team = None
    raw_team = (params.get("team") or "").strip()
    if raw_team:
        team = Team.objects.filter(external_id=raw_team).first()
        if team is None or (scope is not None and team.pk not in scope):
            raise MetricsQueryError("team", f"No team “{raw_team[:64]}” that you can see; give a team's external id.")
    keys = None
    raw_keys = (params.get("metric") or "").strip()
    if raw_keys:
        keys = [key.strip() for key in raw_keys.split(",") if key.strip()]
        unknown = [key for key in keys if metric(key) is None]
        if unknown:
            known = ", ".join(m.key for m in metrics())
            raise MetricsQueryError("metric", f"Unknown metric “{unknown[0][:60]}”; known metrics: {known}.")
    return MetricsQuery(start, end, team, metrics_filter_teams(scope=scope, team=team), keys)


def metrics_answer(*, user, params, daily_bars: bool = True) -> dict:
    """The numbers ``params`` ask for, as ``user`` may read them: what ``GET /api/v1/metrics/``
    answers and the dashboard's CSV exports. Raises ``MetricsQueryError`` for a bad filter."""
    query = metrics_query(params, scope=metrics_team_scope(user), today=timezone.localdate())
    team = query.team
    return {
        "start": query.start,
        "end": query.end,
        "team": {"external_id": team.external_id, "name": team.name} if team else None,
        "metrics": metrics_read(
            start=query.start, end=query.end, team_ids=query.team_ids, keys=query.keys, daily_bars=daily_bars
        ),
    }
