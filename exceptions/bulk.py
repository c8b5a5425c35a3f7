"""Open or refresh many exception items in one go — the bulk form of ``exception_item_open``.

Used where one transaction raises an item per record of a batch (rejected sync records, stored
records with missing fields, handoffs waiting for context): a few queries whatever the number of
items, instead of several per item.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from revops.bulk_writes import InArray, bulk_create_audited, bulk_update_rows_audited

from .models import ExceptionItem, Queue
from .services import OPEN, due_time, exception_item_open

logger = logging.getLogger(__name__)

# What refreshing an open item writes.
REFRESHED = ["title", "reason", "expected_action", "occurrences", "last_seen_at"]


@dataclass
class ItemSpec:
    """One item to open, or to refresh if an open item has its ``dedupe_key``."""

    dedupe_key: str
    kind: str
    title: str
    reason: str
    expected_action: str
    queue: Queue
    owner_id: int | None = None
    object_type: str = ""
    object_id: int | None = None
    external_id: str = ""
    severity: str = ExceptionItem.Severity.MEDIUM
    occurrences: int = 1  # how many times it happened in this batch


def exception_items_open_many(
    specs: list[ItemSpec], *, actor=None, change_reason: str, now: dt.datetime | None = None
) -> dict[str, int]:
    """Open the items of ``specs``, or refresh the open ones with the same dedupe key (title, reason,
    expected action, occurrences, last seen), with history. Call inside the caller's transaction.

    If a concurrent writer opened one of the same items meanwhile (the partial unique constraint on
    open items), falls back to ``exception_item_open`` per item. Returns ``{"created", "refreshed"}``.
    """
    if not specs:
        return {"created": 0, "refreshed": 0}
    now = now or timezone.now()
    by_key = {spec.dedupe_key: spec for spec in specs}
    try:
        with transaction.atomic():
            # Only what the refresh needs: no instance is built for the items refreshed.
            existing = {
                key: (pk, occurrences)
                for pk, key, occurrences in ExceptionItem.objects.select_for_update()
                .filter(InArray("dedupe_key", by_key), status__in=OPEN)
                .order_by()
                .values_list("id", "dedupe_key", "occurrences")
            }
            refreshed = {}
            for key, (pk, occurrences) in existing.items():
                spec = by_key[key]
                refreshed[pk] = {
                    "title": spec.title,
                    "reason": spec.reason,
                    "expected_action": spec.expected_action,
                    "occurrences": occurrences + spec.occurrences,
                    "last_seen_at": now,
                }
            bulk_update_rows_audited(
                model=ExceptionItem, rows=refreshed, fields=REFRESHED, actor=actor, reason=change_reason
            )
            created = [
                ExceptionItem(
                    dedupe_key=spec.dedupe_key,
                    kind=spec.kind,
                    title=spec.title[:200],
                    reason=spec.reason,
                    expected_action=spec.expected_action,
                    severity=spec.severity,
                    owner_id=spec.owner_id,
                    queue=spec.queue,
                    queue_name=spec.queue.name,
                    object_type=spec.object_type,
                    object_id=spec.object_id,
                    external_id=spec.external_id[:64],
                    occurrences=spec.occurrences,
                    first_seen_at=now,
                    last_seen_at=now,
                    due_at=due_time(spec.queue, spec.severity, now=now),
                )
                for key, spec in by_key.items()
                if key not in existing
            ]
            bulk_create_audited(model=ExceptionItem, objs=created, actor=actor, reason=change_reason)
            return {"created": len(created), "refreshed": len(existing)}
    except IntegrityError:
        logger.info("%s: a concurrent opener; falling back to one call per item", change_reason)
    counts = {"created": 0, "refreshed": 0}
    from django.contrib.auth import get_user_model

    owners = get_user_model().objects.in_bulk([s.owner_id for s in specs if s.owner_id])
    for spec in specs:
        _item, was_created = exception_item_open(
            dedupe_key=spec.dedupe_key,
            kind=spec.kind,
            title=spec.title,
            reason=spec.reason,
            expected_action=spec.expected_action,
            owner=owners.get(spec.owner_id),
            severity=spec.severity,
            queue=spec.queue,
            object_type=spec.object_type,
            object_id=spec.object_id,
            external_id=spec.external_id,
            actor=actor,
        )
        counts["created" if was_created else "refreshed"] += 1
    return counts
