"""Records the CRM sync refused, raised to a person: one ``sync_rejected`` item per record.

Registered as the core's sync rejection handler (``revops.plugins``) in ``exceptions.apps``: it runs
inside the sync's transaction, in bulk, de-duplicated by object type and external id, so a record
re-sent unchanged refreshes its open item instead of opening another.
"""

from __future__ import annotations

from django.utils import timezone

from .bulk import ItemSpec, exception_items_open_many
from .queues import queue_resolve
from .services import SYNC_QUEUE_NAME, SYNC_REJECTED


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

    target = queue_resolve(queue_name=SYNC_QUEUE_NAME)
    owner = target.manager or getattr(token, "created_by", None)
    specs = []
    for key, rows in grouped.items():
        failure = rows[-1]
        specs.append(
            ItemSpec(
                dedupe_key=key,
                kind=SYNC_REJECTED,
                title=f"CRM {failure.object_type} {failure.external_id or '?'} rejected by the sync",
                reason=describe(failure),
                expected_action=(
                    "Correct the record in the CRM (or the dictionary rule that rejects it) so the next "
                    "sync is accepted, then resolve this item."
                ),
                queue=target,
                owner_id=getattr(owner, "pk", None),
                object_type=failure.object_type,
                external_id=failure.external_id,
                occurrences=len(rows),
            )
        )
    return exception_items_open_many(specs, actor=actor, change_reason=change_reason, now=now)
