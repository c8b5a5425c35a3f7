"""Reads of the routing app.

SLA: ``sla_metrics`` (met rate and time to first touch per team, routing rule or rep) and
``sla_clock_for_lead`` (the clock a lead page shows).
"""

from __future__ import annotations

import datetime as dt
import statistics

from django.db.models import Case, Count, F, IntegerField, Q, Value, When
from django.db.models.functions import Coalesce

from .models import SlaClock
from .sla import business_minutes_between, calendar_for_team, load_calendars

Status = SlaClock.Status

# group_by → (the grouping expression, its label column or None, the label when it is empty)
SLA_GROUPS = {
    "team": (F("owner__team_id"), "owner__team__name", "(no team)"),
    "rule": (Coalesce(F("decision__rule_name"), Value("")), None, "(no routing rule)"),
    "rep": (F("owner_id"), "owner__name", "(no owner)"),
}


def sla_metrics(*, group_by: str, since: dt.datetime, until: dt.datetime | None = None) -> list[dict]:
    """SLA outcomes of the clocks started in ``[since, until)``, one row per team, rule or rep.

    Rows: ``{key, label, clocks, met, breached, running, cancelled, met_rate, median_first_touch_minutes,
    avg_first_touch_minutes}``, most clocks first. ``met_rate`` is met / (met + breached), None when
    no clock has finished either way. Time to first touch covers every touched clock (met, or
    breached and touched later), from the clock's start, in business minutes for business-hours
    clocks (the owner's team's calendar as it is now) and wall minutes otherwise. Counts are
    aggregated in SQL (one query); the durations are one more query, plus the calendars if needed.
    """
    if group_by not in SLA_GROUPS:
        raise ValueError(f"group_by must be one of {', '.join(SLA_GROUPS)}, not {group_by!r}")
    expression, label_field, empty_label = SLA_GROUPS[group_by]
    clocks = SlaClock.objects.filter(started_at__gte=since)
    if until is not None:
        clocks = clocks.filter(started_at__lt=until)
    clocks = clocks.annotate(group_key=expression)
    columns = ["group_key", *([label_field] if label_field else [])]
    counts = (
        clocks.values(*columns)
        .annotate(
            clocks=Count("id"),
            met=Count("id", filter=Q(status=Status.MET)),
            breached=Count("id", filter=Q(status=Status.BREACHED)),
            running=Count("id", filter=Q(status=Status.RUNNING)),
            cancelled=Count("id", filter=Q(status=Status.CANCELLED)),
        )
        .order_by()
    )
    durations: dict = {}
    touched = clocks.filter(first_touch_at__isnull=False).values_list(
        "group_key", "started_at", "first_touch_at", "business_hours", "owner__team_id"
    )
    calendars = None
    for key, started, touched_at, business, team_id in touched:
        calendar = None
        if business:
            if calendars is None:
                calendars = load_calendars()
            calendar = calendar_for_team(team_id, calendars)
        try:
            minutes = business_minutes_between(started, touched_at, calendar)
        except ValueError:  # the calendar lost its working time since: count wall time
            minutes = business_minutes_between(started, touched_at, None)
        durations.setdefault(key, []).append(max(minutes, 0.0))
    rows = []
    for row in counts:
        key = row["group_key"]
        label = row[label_field] if label_field else key
        values = durations.get(key, [])
        finished = row["met"] + row["breached"]
        rows.append(
            {
                "key": key if key != "" else None,
                "label": label or empty_label,
                "clocks": row["clocks"],
                "met": row["met"],
                "breached": row["breached"],
                "running": row["running"],
                "cancelled": row["cancelled"],
                "met_rate": round(row["met"] / finished, 4) if finished else None,
                "median_first_touch_minutes": round(statistics.median(values), 1) if values else None,
                "avg_first_touch_minutes": round(statistics.fmean(values), 1) if values else None,
            }
        )
    rows.sort(key=lambda r: (-r["clocks"], str(r["label"])))
    return rows


def sla_clock_for_lead(lead) -> SlaClock | None:
    """The lead's running clock, else its latest one, else None (one query)."""
    return (
        SlaClock.objects.filter(lead_id=lead.pk)
        .select_related("owner", "policy_ref", "decision")
        .order_by(
            Case(When(status=Status.RUNNING, then=Value(0)), default=Value(1), output_field=IntegerField()),
            "-started_at",
            "-pk",
        )
        .first()
    )
