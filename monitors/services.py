"""Writes of the monitors app: recording deal movements and taking forecast snapshots.

Both write in bulk and skip ``full_clean()`` per row: movements copy values the sync (or the
record service) already validated, and snapshots copy stored opportunities. Both are idempotent,
guarded by unique constraints.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.utils import timezone

from revops.models import Opportunity

from .models import DealMovement, ForecastSnapshot, SnapshotRun

TRACKED_FIELDS = tuple(DealMovement.Field.values)
SNAPSHOT_CHUNK = 5000


def _text(field: str, value) -> str:
    """A stored movement value: ISO dates, normalised amounts, choice keys; "" for empty."""
    if value is None:
        return ""
    if field == DealMovement.Field.AMOUNT:
        try:
            return str(Decimal(str(value)).quantize(Decimal("0.01")))
        except InvalidOperation:
            return str(value)[:64]
    return str(value)[:64]


def _days_moved(old, new) -> int | None:
    try:
        return (dt.date.fromisoformat(str(new)[:10]) - dt.date.fromisoformat(str(old)[:10])).days
    except (TypeError, ValueError):
        return None


def deal_movements_record(*, events) -> int:
    """Record a ``DealMovement`` for each change of close date, amount, stage or forecast category
    the given outbox events carry for existing opportunities; return how many rows were new.

    Only ``updated`` events count (a creation is where a deal starts, not a movement). The time is
    the CRM's time of a synced change (the event's ``source_updated_at``; never later than the
    portal applied it), else the event's time (an edit in the portal). Idempotent: ``(outbox_event_id, field)`` is unique, so a
    re-delivered event inserts nothing.
    """
    relevant = [
        e
        for e in events
        if e.object_type == "opportunity" and e.kind == "updated" and set(e.changes or {}) & set(TRACKED_FIELDS)
    ]
    if not relevant:
        return 0
    rows = []
    for event in relevant:
        when = event.created_at or timezone.now()
        source = event.source_updated_at  # the CRM's time of a synced change
        if source is not None and source < when:
            when = source
        for field in TRACKED_FIELDS:
            pair = event.changes.get(field)
            if not isinstance(pair, list | tuple) or len(pair) != 2:
                continue
            old, new = _text(field, pair[0]), _text(field, pair[1])
            if old == new:
                continue
            rows.append(
                DealMovement(
                    opportunity_id=event.object_id,
                    field=field,
                    old_value=old,
                    new_value=new,
                    days_moved=_days_moved(old, new) if field == DealMovement.Field.CLOSE_DATE else None,
                    moved_at=when,
                    outbox_event_id=event.pk,
                )
            )
    if not rows:
        return 0
    keys = {(row.outbox_event_id, row.field) for row in rows}
    present = set(
        DealMovement.objects.filter(outbox_event_id__in={k[0] for k in keys}).values_list("outbox_event_id", "field")
    )
    fresh = [row for row in rows if (row.outbox_event_id, row.field) not in present]
    # The deal may have been deleted since the event; its movements no longer matter.
    alive = set(Opportunity.objects.filter(pk__in={row.opportunity_id for row in fresh}).values_list("pk", flat=True))
    fresh = [row for row in fresh if row.opportunity_id in alive]
    # ignore_conflicts: two workers handling the same event at once insert it once.
    DealMovement.objects.bulk_create(fresh, ignore_conflicts=True)
    return len(fresh)


@transaction.atomic
def forecast_snapshot_take(
    *, taken_on: dt.date | None = None, actor=None, reason: str = "", now: dt.datetime | None = None
) -> SnapshotRun:
    """Snapshot every open opportunity for ``taken_on`` (default: today, local date); return the run.

    Idempotent per day: a deal already snapshotted that day keeps its first snapshot, so a second
    run the same day writes nothing (its ``SnapshotRun`` row says ``written=0``). Works in chunks of
    ``SNAPSHOT_CHUNK`` deals by id — two statements each (the day's existing snapshots in the
    range, one bulk insert) — so 200,000 open deals take about 80 statements and bounded memory.
    """
    now = now or timezone.now()
    taken_on = taken_on or timezone.localdate(now)
    run = SnapshotRun(taken_on=taken_on, started_at=now, actor=actor, reason=reason[:200])
    run.full_clean()
    run.save()
    open_deals = Opportunity.objects.filter(stage__in=Opportunity.OPEN_STAGES).order_by("pk")
    columns = ("pk", "stage", "forecast_category", "amount", "close_date", "owner_id")
    last_pk, seen, written = 0, 0, 0
    while True:
        chunk = list(open_deals.filter(pk__gt=last_pk).values_list(*columns)[:SNAPSHOT_CHUNK])
        if not chunk:
            break
        first, last_pk = chunk[0][0], chunk[-1][0]
        seen += len(chunk)
        taken = set(
            ForecastSnapshot.objects.filter(
                taken_on=taken_on, opportunity_id__gte=first, opportunity_id__lte=last_pk
            ).values_list("opportunity_id", flat=True)
        )
        rows = [
            ForecastSnapshot(
                opportunity_id=pk,
                taken_on=taken_on,
                stage=stage,
                forecast_category=category,
                amount=amount,
                close_date=close_date,
                owner_rep_id=owner_id,
            )
            for pk, stage, category, amount, close_date, owner_id in chunk
            if pk not in taken
        ]
        # ignore_conflicts: a concurrent run of the same day may have inserted some meanwhile.
        ForecastSnapshot.objects.bulk_create(rows, ignore_conflicts=True)
        written += len(rows)
    run.open_deals, run.written, run.finished_at = seen, written, timezone.now()
    run.save(update_fields=["open_deals", "written", "finished_at"])
    return run
