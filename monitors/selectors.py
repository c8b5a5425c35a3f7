"""Reads of the monitors app: the forecast signals of many deals at once, as of a given ``now``.

Every signal comes from the portal's own records — ``DealMovement`` rows (what the portal applied),
``ForecastSnapshot`` rows and the opportunity itself — never from the CRM's counters. Two queries
per chunk of ``CHUNK`` deals, whatever the history's length.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

from django.db.models import Count, OuterRef, Q, Subquery, Sum
from django.utils import timezone

from revops.models import Opportunity

from .models import DealMovement, ForecastSnapshot

CHUNK = 2000
_CLOSE = DealMovement.Field.CLOSE_DATE
_CATEGORY = DealMovement.Field.FORECAST_CATEGORY
_STAGE = DealMovement.Field.STAGE


def quarter_start(day: dt.date) -> dt.date:
    """The first day of ``day``'s calendar quarter."""
    return dt.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


@dataclass(frozen=True)
class DealSignals:
    """The forecast signals of one deal as of ``now``; the window is ``[window_start 00:00 local, now]``.

    * ``pushes`` — close-date changes in the window that moved the date **later** (a pull-in or a
      date set or cleared is not a push); ``days_slipped`` — the days those pushes added, summed
      (pull-ins are not subtracted).
    * ``snapshot_on`` / ``snapshot_amount`` — the deal's latest snapshot taken on or before
      ``snapshot_on_or_before`` (default: ``now``'s local date); ``amount_change`` — the amount now
      minus the snapshot's; ``amount_change_pct`` — that as a percentage of the snapshot's amount
      (None when either amount is empty or the snapshot's is zero).
    * ``stage_since`` — when the deal entered its current stage: the latest stage movement up to
      ``now``, else the record's creation in the portal; ``days_in_stage`` — whole days since then.
    * ``category_changes`` — forecast-category changes in the window; ``last_category_change`` —
      the latest one up to ``now`` (in or before the window) as ``(when, old, new)``, or None.
    * ``days_since_activity`` — whole days since ``last_activity_at`` (None: no activity logged).
    """

    opportunity_id: int
    now: dt.datetime
    window_start: dt.date
    stage: str
    forecast_category: str
    amount: Decimal | None
    close_date: dt.date | None
    pushes: int
    days_slipped: int
    snapshot_on: dt.date | None
    snapshot_amount: Decimal | None
    amount_change: Decimal | None
    amount_change_pct: float | None
    stage_since: dt.datetime
    days_in_stage: int
    category_changes: int
    last_category_change: tuple[dt.datetime, str, str] | None
    last_activity_at: dt.datetime | None
    days_since_activity: int | None


class _Figures(NamedTuple):
    """The annotated figures of one deal, when its own fields come from an instance already loaded."""

    pk: int
    snapshot_on: dt.date | None
    snapshot_amount: Decimal | None
    stage_moved_at: dt.datetime | None
    category_moved_at: dt.datetime | None
    category_old: str | None
    category_new: str | None


def _latest(field: str, column: str, now: dt.datetime):
    return Subquery(
        DealMovement.objects.filter(opportunity_id=OuterRef("pk"), field=field, moved_at__lte=now)
        .order_by("-moved_at", "-id")
        .values(column)[:1]
    )


def _days(later: dt.datetime, earlier: dt.datetime) -> int:
    return max((later - earlier).days, 0)


_FIGURES = ("snapshot_on", "snapshot_amount", "stage_moved_at", "category_moved_at", "category_old", "category_new")


def deal_signals(
    *,
    opportunity_ids=None,
    deals=None,
    now: dt.datetime | None = None,
    window_start: dt.date | None = None,
    snapshot_on_or_before: dt.date | None = None,
) -> dict[int, DealSignals]:
    """The ``DealSignals`` of each existing opportunity in ``opportunity_ids``, by id.

    ``now`` defaults to the current time; ``window_start`` to the first day of ``now``'s calendar
    quarter (local time); ``snapshot_on_or_before`` to ``now``'s local date (pass an earlier day,
    e.g. a week ago, to compare with last week's snapshot). Movements after ``now`` are ignored.

    A caller that has already loaded the opportunities may pass them as ``deals`` (instead of
    ``opportunity_ids``): their own fields are read from those instances and only the movement and
    snapshot figures are queried.
    """
    now = now or timezone.now()
    today = timezone.localdate(now)
    window_start = window_start or quarter_start(today)
    snapshot_day = snapshot_on_or_before or today
    since = timezone.make_aware(dt.datetime.combine(window_start, dt.time.min))
    loaded = None
    if deals is not None:
        loaded = {deal.pk: deal for deal in deals}
        opportunity_ids = loaded
    ids = sorted(set(opportunity_ids or ()))
    result: dict[int, DealSignals] = {}
    for offset in range(0, len(ids), CHUNK):
        chunk = ids[offset : offset + CHUNK]
        snapshots = ForecastSnapshot.objects.filter(opportunity_id=OuterRef("pk"), taken_on__lte=snapshot_day)
        latest_snapshot = snapshots.order_by("-taken_on")
        annotated = Opportunity.objects.filter(pk__in=chunk).annotate(
            snapshot_on=Subquery(latest_snapshot.values("taken_on")[:1]),
            snapshot_amount=Subquery(latest_snapshot.values("amount")[:1]),
            stage_moved_at=_latest(_STAGE, "moved_at", now),
            category_moved_at=_latest(_CATEGORY, "moved_at", now),
            category_old=_latest(_CATEGORY, "old_value", now),
            category_new=_latest(_CATEGORY, "new_value", now),
        )
        if loaded is None:
            rows = ((deal, deal) for deal in annotated)
        else:
            rows = ((loaded[row[0]], _Figures(*row)) for row in annotated.values_list("pk", *_FIGURES))
        counts = {
            row["opportunity_id"]: row
            for row in DealMovement.objects.filter(
                opportunity_id__in=chunk, field__in=(_CLOSE, _CATEGORY), moved_at__gte=since, moved_at__lte=now
            )
            .values("opportunity_id")
            .annotate(
                pushes=Count("id", filter=Q(field=_CLOSE, days_moved__gt=0)),
                slipped=Sum("days_moved", filter=Q(field=_CLOSE, days_moved__gt=0)),
                categories=Count("id", filter=Q(field=_CATEGORY)),
            )
        }
        for deal, fig in rows:
            row = counts.get(deal.pk, {})
            change = pct = None
            if deal.amount is not None and fig.snapshot_amount is not None:
                change = deal.amount - fig.snapshot_amount
                if fig.snapshot_amount:
                    pct = float(change / fig.snapshot_amount * 100)
            stage_since = fig.stage_moved_at or deal.created_at
            last_category = None
            if fig.category_moved_at is not None:
                last_category = (fig.category_moved_at, fig.category_old, fig.category_new)
            result[deal.pk] = DealSignals(
                opportunity_id=deal.pk,
                now=now,
                window_start=window_start,
                stage=deal.stage,
                forecast_category=deal.forecast_category,
                amount=deal.amount,
                close_date=deal.close_date,
                pushes=row.get("pushes", 0),
                days_slipped=row.get("slipped") or 0,
                snapshot_on=fig.snapshot_on,
                snapshot_amount=fig.snapshot_amount,
                amount_change=change,
                amount_change_pct=pct,
                stage_since=stage_since,
                days_in_stage=_days(now, stage_since),
                category_changes=row.get("categories", 0),
                last_category_change=last_category,
                last_activity_at=deal.last_activity_at,
                days_since_activity=_days(now, deal.last_activity_at) if deal.last_activity_at else None,
            )
    return result


def evidence_labels() -> dict[str, str]:
    """The data dictionary's labels of opportunity fields, by key (the evidence fields' names in words)."""
    from revops.models import FieldDefinition

    return dict(FieldDefinition.objects.filter(object_type="opportunity").values_list("key", "label"))


def hygiene_policies():
    """The live and shadow ``forecast_hygiene`` automations, by name (their config is cleaned)."""
    from revops.models import Automation

    return list(
        Automation.objects.filter(
            kind="forecast_hygiene",
            object_type="opportunity",
            mode__in=(Automation.Mode.LIVE, Automation.Mode.SHADOW),
        ).order_by("name")
    )
