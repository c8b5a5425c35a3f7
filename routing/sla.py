"""Response-SLA maths and policy choice: pure functions, no database writes.

- ``business_deadline`` / ``business_minutes_between``: time counted only inside a business
  calendar's working hours (its working days, ``day_start``–``day_end`` in its own time zone,
  holidays skipped), or around the clock when there is no calendar. Hours are wall-clock times
  in the calendar's zone, so a working day opens at 09:00 local on both sides of a DST change;
  durations are real elapsed time. Whole days are jumped, so long targets cost one step per day.
- ``calendar_for``: the owner's team's calendar, else the default calendar, else None (24/7).
- ``choose_policy``: the first active SLA policy, in (priority, pk) order, whose conditions hold.
- ``sla_plan``: everything needed to start a clock (target, due and reminder times, explanation).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from revops import conditions

logger = logging.getLogger(__name__)

UTC = dt.UTC
MAX_SCAN_DAYS = 3660  # a target needing more than ten years of calendar days is refused
_COMPILED_MAX = 512
_compiled: dict[tuple, Any] = {}


# --- business hours -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Hours:
    name: str
    tz: ZoneInfo
    days: frozenset[int]
    start: dt.time
    end: dt.time
    holidays: frozenset[dt.date]

    def window(self, day: dt.date) -> tuple[dt.datetime, dt.datetime] | None:
        """The day's working window as UTC instants, or None on a closed day."""
        if day.weekday() not in self.days or day in self.holidays:
            return None
        # Wall-clock opening and closing in the calendar's zone; converting to UTC applies the
        # offset of that very day (a time that does not exist in a spring-forward gap resolves
        # to the same instant one hour later, as zoneinfo does with fold=0).
        opens = dt.datetime.combine(day, self.start, tzinfo=self.tz).astimezone(UTC)
        closes = dt.datetime.combine(day, self.end, tzinfo=self.tz).astimezone(UTC)
        return (opens, closes) if closes > opens else None


def _as_time(value: Any, what: str, name: str) -> dt.time:
    if isinstance(value, dt.time):
        return value.replace(tzinfo=None)
    try:
        return dt.time.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"business calendar {name!r}: {what} {value!r} is not a time of day (HH:MM)") from None


def _hours(calendar) -> _Hours:
    """Validate a calendar into ``_Hours``; ValueError (plain language) when it has no working time."""
    name = getattr(calendar, "name", "") or "(unnamed)"
    try:
        tz = ZoneInfo(str(calendar.time_zone or "UTC"))
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"business calendar {name!r}: unknown time zone {calendar.time_zone!r}") from None
    try:
        days = frozenset(int(d) for d in (calendar.working_days or []))
    except (TypeError, ValueError):
        raise ValueError(f"business calendar {name!r}: working days must be numbers 0 (Monday) to 6 (Sunday)") from None
    if not days & set(range(7)):
        raise ValueError(f"business calendar {name!r} has no working days, so it has no working time")
    start = _as_time(calendar.day_start, "day start", name)
    end = _as_time(calendar.day_end, "day end", name)
    if end <= start:
        raise ValueError(
            f"business calendar {name!r} has no working time: its day ends ({end:%H:%M}) "
            f"at or before it starts ({start:%H:%M})"
        )
    holidays = set()
    for value in calendar.holidays or []:
        try:
            holidays.add(value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)))
        except ValueError:
            raise ValueError(f"business calendar {name!r}: holiday {value!r} is not a date (YYYY-MM-DD)") from None
    return _Hours(name, tz, days, start, end, frozenset(holidays))


def _utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def business_deadline(start: dt.datetime, minutes: float, calendar) -> dt.datetime:
    """The instant (UTC) when ``minutes`` of working time have passed since ``start``.

    Without a calendar that is simply ``start + minutes``. With one, only its working hours
    count; a start outside them counts from the next opening, and a target that fills the rest
    of a day exactly ends at that day's closing time. Raises ValueError when the calendar has
    no working time (no working days, an empty day, a bad time zone) or the target needs more
    than ten years of calendar days.
    """
    start = _utc(start)
    if calendar is None or minutes <= 0:
        return start + dt.timedelta(minutes=max(minutes, 0))
    hours = _hours(calendar)
    remaining = dt.timedelta(minutes=minutes)
    day = start.astimezone(hours.tz).date()
    for _ in range(MAX_SCAN_DAYS):
        window = hours.window(day)
        if window is not None:
            opens, closes = window
            begin = max(start, opens)
            if begin < closes:
                available = closes - begin
                if remaining <= available:
                    return begin + remaining
                remaining -= available
        day += dt.timedelta(days=1)
    raise ValueError(
        f"business calendar {hours.name!r}: {minutes:g} working minutes need more than "
        f"{MAX_SCAN_DAYS} calendar days (are all working days holidays?)"
    )


def business_minutes_between(a: dt.datetime, b: dt.datetime, calendar) -> float:
    """Working minutes from ``a`` to ``b`` (negative when ``b`` is before ``a``); wall minutes without a calendar."""
    a, b = _utc(a), _utc(b)
    if b < a:
        return -business_minutes_between(b, a, calendar)
    if calendar is None:
        return (b - a).total_seconds() / 60
    hours = _hours(calendar)
    day, last = a.astimezone(hours.tz).date(), b.astimezone(hours.tz).date()
    total = dt.timedelta()
    while day <= last:
        window = hours.window(day)
        if window is not None:
            begin, end = max(a, window[0]), min(b, window[1])
            if end > begin:
                total += end - begin
        day += dt.timedelta(days=1)
    return total.total_seconds() / 60


# --- calendars ------------------------------------------------------------------------------------


def load_calendars() -> list:
    """Every business calendar with its team ids prefetched (two queries); cache it per batch."""
    from django.db.models import Prefetch

    from revops.models import Team

    from .models import BusinessCalendar

    return list(BusinessCalendar.objects.prefetch_related(Prefetch("teams", queryset=Team.objects.only("id"))))


def _team_ids(calendar) -> set[int]:
    ids = getattr(calendar, "_sla_team_ids", None)
    if ids is None:
        ids = {team.pk for team in calendar.teams.all()}
        try:
            calendar._sla_team_ids = ids
        except AttributeError:  # a read-only stand-in: recompute next time
            pass
    return ids


def calendar_for_team(team_id: int | None, calendars: Iterable):
    """The calendar listing team ``team_id``, else the default calendar, else None."""
    calendars = list(calendars)
    if team_id is not None:
        for calendar in calendars:
            if team_id in _team_ids(calendar):
                return calendar
    return next((c for c in calendars if c.is_default), None)


def calendar_for(rep, calendars: Iterable):
    """The calendar of ``rep``'s team, else the default calendar, else None (count 24/7)."""
    return calendar_for_team(getattr(rep, "team_id", None), calendars)


# --- policy choice --------------------------------------------------------------------------------


def load_policies() -> list:
    """The active SLA policies in the order they are tried."""
    from .models import SlaPolicy

    return list(SlaPolicy.objects.filter(is_active=True).order_by("priority", "pk"))


def _predicate(policy, fields):
    key = (policy.pk, policy.updated_at) if policy.pk is not None else None
    if key is not None and key in _compiled:
        return _compiled[key]
    pred = conditions.compile_condition(policy.conditions or {"all": []}, object_type="lead", fields=fields)
    if key is not None:
        if len(_compiled) >= _COMPILED_MAX:
            _compiled.clear()
        _compiled[key] = pred
    return pred


def choose_policy(lead, *, policies: Iterable, now: dt.datetime, fields=None) -> tuple[Any, dict]:
    """The first active policy (by priority, then pk) whose conditions hold for ``lead``, and why.

    The explanation lists every policy tried (``✓``/``✗``; a policy with invalid conditions is
    skipped and says so) and the matched policy's conditions with their actual values.
    """
    ordered = sorted((p for p in policies if p.is_active), key=lambda p: (p.priority, p.pk or 0))
    ctx = conditions.Context(lead, changes={}, now=now)
    tried: list[dict] = []
    explanation: dict = {"policies": tried, "matched": None, "conditions": None, "conditions_text": []}
    for policy in ordered:
        entry = {"id": policy.pk, "name": policy.name, "priority": policy.priority}
        tried.append(entry)
        try:
            if fields is None:
                fields = conditions.load_fields()
            pred = _predicate(policy, fields)
        except conditions.ConditionError as exc:
            message = "; ".join(exc.messages)
            logger.warning("SLA policy %s has invalid conditions: %s", policy.name, message)
            entry.update(matched=False, error=message, text=f"✗ {policy.name} (invalid conditions: {message})")
            continue
        matched = bool(pred(ctx))
        entry.update(matched=matched, text=f"{'✓' if matched else '✗'} {policy.name} (priority {policy.priority})")
        if matched:
            tree = pred.explain(ctx)
            explanation.update(
                matched={"id": policy.pk, "name": policy.name},
                conditions=tree,
                conditions_text=conditions.explain_text(tree),
                summary=f"SLA policy {policy.name} applies (policy {len(tried)} of {len(ordered)} tried).",
            )
            return policy, explanation
    explanation["summary"] = (
        f"No SLA policy matched ({len(ordered)} tried)." if ordered else "No active SLA policy exists."
    )
    return None, explanation


# --- the plan for a new clock ---------------------------------------------------------------------


def _minutes_text(minutes: float) -> str:
    minutes = int(minutes) if float(minutes).is_integer() else minutes
    return f"{minutes:g} minute{'' if minutes == 1 else 's'}"


def sla_plan(lead, owner, *, now: dt.datetime, policies: Iterable, calendars: Iterable, fields=None) -> dict | None:
    """What starting a clock for ``lead`` owned by ``owner`` means now; None when no policy matches.

    Returns ``{"policy", "policy_id", "target_minutes", "business_hours", "calendar", "started_at",
    "due_at", "remind_at", "explanation", "text"}`` with ISO datetimes. With business hours the
    owner's team's calendar (else the default one) counts; when there is none, or it has no working
    time, the clock counts 24/7 and the explanation says why. The reminder falls when
    ``reminder_share`` of the target has passed, in the same (business or 24/7) time.
    """
    policy, chosen = choose_policy(lead, policies=policies, now=now, fields=fields)
    if policy is None:
        return None
    now = _utc(now)
    minutes = policy.target_minutes
    explanation: dict = {"policy": chosen, "calendar": None, "note": ""}
    calendar = None
    if policy.use_business_hours:
        calendar = calendar_for(owner, calendars)
        if calendar is None:
            explanation["note"] = (
                "The policy counts business hours, but the owner's team has no business calendar and "
                "there is no default calendar, so the clock counts 24/7."
            )
        else:
            team_listed = getattr(owner, "team_id", None) in _team_ids(calendar)
            explanation["calendar"] = {
                "id": calendar.pk,
                "name": calendar.name,
                "time_zone": calendar.time_zone,
                "why": "the owner's team's calendar" if team_listed else "the default calendar",
            }
    share = policy.reminder_share or 0
    try:
        due = business_deadline(now, minutes, calendar)
        remind = business_deadline(now, share * minutes, calendar) if share > 0 else None
    except ValueError as exc:
        explanation["note"] = f"{exc}; the clock counts 24/7 instead."
        explanation["calendar"] = None
        calendar = None
        due = business_deadline(now, minutes, None)
        remind = business_deadline(now, share * minutes, None) if share > 0 else None
    if calendar is None:
        how = "24/7"
    else:
        local = due.astimezone(ZoneInfo(calendar.time_zone))
        how = f"business hours of {calendar.name}; {local:%Y-%m-%d %H:%M} {calendar.time_zone}"
    text = f"{policy.name}: first touch due by {due:%Y-%m-%d %H:%M} UTC ({_minutes_text(minutes)}, {how})"
    if explanation["note"]:
        text += f". {explanation['note']}"
    return {
        "policy": policy.name,
        "policy_id": policy.pk,
        "target_minutes": minutes,
        "business_hours": calendar is not None,
        "calendar": calendar.name if calendar is not None else None,
        "started_at": now.isoformat(),
        "due_at": due.isoformat(),
        "remind_at": remind.isoformat() if remind is not None else None,
        "explanation": explanation,
        "text": text,
    }
