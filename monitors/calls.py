"""Forecast-call times per team and the due time of hygiene items: one hour before the team's next call.

Times are wall-clock times in the team's IANA time zone (``zoneinfo``), so "Monday 09:00
Europe/Berlin" stays 09:00 in Berlin across daylight-saving changes. A team without a call of its
own uses the nearest ancestor's; with none at all, items are due ``NO_CALL_DUE`` after the scan.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django.db import transaction

from revops.audit import audited
from revops.models import Team

from .models import ForecastCall

DUE_BEFORE_CALL = dt.timedelta(hours=1)
NO_CALL_DUE = dt.timedelta(days=2)


def call_next_time(call: ForecastCall, *, now: dt.datetime) -> dt.datetime:
    """The first start of ``call`` strictly after ``now`` (an aware datetime in the call's time zone)."""
    tz = zoneinfo.ZoneInfo(call.time_zone)
    local_today = now.astimezone(tz).date()
    for offset in range(8):
        day = local_today + dt.timedelta(days=offset)
        if day.weekday() != call.weekday:
            continue
        start = dt.datetime.combine(day, call.time, tzinfo=tz)
        # A wall time skipped by a spring-forward change is read with the offset before it (fold=0).
        if start.astimezone(dt.UTC) > now:
            return start
    raise AssertionError("unreachable: a weekday recurs within eight days")


class CallBook:
    """The forecast calls of every team, with the team tree, loaded once per scan (two queries)."""

    def __init__(self):
        self.parents = dict(Team.objects.values_list("id", "parent_id"))
        self.calls = {call.team_id: call for call in ForecastCall.objects.all()}

    def call_for(self, team_id) -> ForecastCall | None:
        """The call of ``team_id``, else of its nearest ancestor that has one."""
        seen = set()
        while team_id is not None and team_id not in seen:
            seen.add(team_id)
            call = self.calls.get(team_id)
            if call is not None:
                return call
            team_id = self.parents.get(team_id)
        return None

    def due(self, team_id, *, now: dt.datetime) -> tuple[dt.datetime, ForecastCall | None]:
        """When an item for a deal of ``team_id`` is due: an hour before the next call (at the call if that
        hour has begun), else two days from ``now``; and the call it is due for."""
        call = self.call_for(team_id)
        if call is None:
            return now + NO_CALL_DUE, None
        start = call_next_time(call, now=now)
        due = start - DUE_BEFORE_CALL
        return (due if due > now else start), call


def next_forecast_call(team: Team, now: dt.datetime) -> dt.datetime | None:
    """The next forecast call of ``team`` (or its nearest ancestor with one) after ``now``; None without one."""
    call = CallBook().call_for(team.pk)
    return call_next_time(call, now=now) if call is not None else None


@transaction.atomic
def forecast_call_save(*, call: ForecastCall, actor, reason: str = "") -> ForecastCall:
    """Create or change a team's forecast call, validated and audited."""
    call.full_clean()
    with audited(actor=actor, reason=reason or f"forecast call of {call.team} set"):
        call.save()
    return call
