"""Records the CRM sync refused, raised to a person: one ``sync_rejected`` item per record.

Registered as the core's sync rejection handler (``revops.plugins``) in ``exceptions.apps``: it runs
inside the sync's transaction, in bulk, de-duplicated by object type and external id, so a record
re-sent unchanged refreshes its open item instead of opening another.
"""

from __future__ import annotations

import logging

from django.db import IntegrityError, transaction
from django.utils import timezone
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from .models import ExceptionItem
from .queues import queue_resolve
from .services import OPEN, SYNC_QUEUE_NAME, SYNC_REJECTED, due_time, exception_item_open

logger = logging.getLogger(__name__)


def exception_items_open_sync_rejected(*, failures: list, batch, token=None, actor=None) -> dict[str, int]:
    """Open (or refresh) one ``sync_rejected`` item per rejected record of a sync batch, in bulk.

    ``failures`` are the batch's saved ``SyncFailure`` rows. Items are de-duplicated by object type
    and external id (``sync_rejected:<type>:<external id>``): a record rejected again while its item
    is open bumps the count. Costs a handful of queries whatever the number of rejections; if a
    concurrent batch opened one of the same items meanwhile, it falls back to one call per record.
    Call inside the batch's transaction. Returns ``{"created": n, "refreshed": m}``.
    """
    if not failures:
        return {"created": 0, "refreshed": 0}
    now = timezone.now()
    who = f"token {token.name!r}" if token is not None else "a user"
    change_reason = f"sync batch #{batch.pk} rejected records"[:100]
    grouped: dict[str, list] = {}
    for failure in failures:
        grouped.setdefault(f"sync_rejected:{failure.object_type}:{failure.external_id}"[:200], []).append(failure)

    def describe(failure) -> str:
        errors = "; ".join(
            f"{field}: {' '.join(str(m) for m in (msgs if isinstance(msgs, list) else [msgs]))}"
            for field, msgs in (failure.errors or {}).items()
        )
        return (
            f"The CRM sent {failure.object_type} {failure.external_id or '(no external id)'} in sync batch "
            f"#{batch.pk} ({who}) and it was rejected: {errors or 'invalid record'}. "
            f"The payload is kept as sync failure #{failure.pk}."
        )

    try:
        with transaction.atomic():
            existing = {
                item.dedupe_key: item
                for item in ExceptionItem.objects.select_for_update()
                .filter(dedupe_key__in=list(grouped), status__in=OPEN)
                .order_by()
            }
            for key, item in existing.items():
                item.occurrences += len(grouped[key])
                item.last_seen_at = now
                item.reason = describe(grouped[key][-1])
            if existing:
                bulk_update_with_history(
                    list(existing.values()),
                    ExceptionItem,
                    ["occurrences", "last_seen_at", "reason"],
                    default_user=actor,
                    default_change_reason=change_reason,
                )
            new_keys = [key for key in grouped if key not in existing]
            if new_keys:
                target = queue_resolve(queue_name=SYNC_QUEUE_NAME)
                due = due_time(target, ExceptionItem.Severity.MEDIUM, now=now)
                owner = target.manager or getattr(token, "created_by", None)
                items = []
                for key in new_keys:
                    failure = grouped[key][-1]
                    items.append(
                        ExceptionItem(
                            dedupe_key=key,
                            kind=SYNC_REJECTED,
                            title=f"CRM {failure.object_type} {failure.external_id or '?'} rejected by the sync"[:200],
                            reason=describe(failure),
                            expected_action=(
                                "Correct the record in the CRM (or the dictionary rule that rejects it) so the next "
                                "sync is accepted, then resolve this item."
                            ),
                            owner=owner,
                            severity=ExceptionItem.Severity.MEDIUM,
                            queue=target,
                            queue_name=SYNC_QUEUE_NAME,
                            object_type=failure.object_type,
                            external_id=failure.external_id[:64],
                            occurrences=len(grouped[key]),
                            first_seen_at=now,
                            last_seen_at=now,
                            due_at=due,
                        )
                    )
                bulk_create_with_history(items, ExceptionItem, default_user=actor, default_change_reason=change_reason)
            return {"created": len(new_keys), "refreshed": len(existing)}
    except IntegrityError:
        logger.info("sync batch %s: concurrent exception opener, falling back to one call per record", batch.pk)
    created = refreshed = 0
    for key, rows in grouped.items():
        failure = rows[-1]
        _item, was_created = exception_item_open(
            dedupe_key=key,
            kind=SYNC_REJECTED,
            title=f"CRM {failure.object_type} {failure.external_id or '?'} rejected by the sync",
            reason=describe(failure),
            expected_action="Correct the record in the CRM so the next sync is accepted, then resolve this item.",
            queue_name=SYNC_QUEUE_NAME,
            object_type=failure.object_type,
            external_id=failure.external_id,
            actor=actor,
        )
        created += was_created
        refreshed += not was_created
    return {"created": created, "refreshed": refreshed}
