"""The duplicate check of large sync batches, on the low lane after the sync committed.

A batch with more than ``DATAQUALITY_INLINE_MAX`` records to check (default 100) none of which a rule
could refuse — the object has no ``block`` rule, or the batch only updates records — is stored
without waiting for its check: the sync records the ids (``PendingDuplicateCheck``) and enqueues
``dataquality_check_pending`` on commit. The job checks them exactly as the sync would have (the
same ``checking`` core), keeps their keys and opens or extends their sets, serialised per
object with the sets' own lock so that two batches checked at once still find each other. Smaller
batches, and any batch a ``block`` rule could refuse records of, are checked in the sync.

A pending row is deleted in the transaction of the check that consumes it; one still here
``DATAQUALITY_PENDING_RETRY_SECONDS`` after its job was enqueued lost it (Redis down at the commit,
a worker killed) and ``dataquality_pending_sweep`` enqueues it again.
"""

from __future__ import annotations

import datetime as dt
import logging

import django_rq
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .checking import check_prepared, record_checked
from .models import PendingDuplicateCheck
from .objects import duplicate_object
from .rules import active_specs, needed_columns, prepare_rows
from .services import lock_object_type

logger = logging.getLogger(__name__)

JOB = "dataquality.jobs.dataquality_check_pending"
LANE = "low"


def inline_max() -> int:
    return int(getattr(settings, "DATAQUALITY_INLINE_MAX", 100))


def retry_seconds() -> int:
    return int(getattr(settings, "DATAQUALITY_PENDING_RETRY_SECONDS", 300))


def _enqueue(pending_id: int) -> bool:
    """Put the check of ``pending_id`` on the low lane; False (logged) when Redis fails: the row stays
    and the sweeper enqueues it later."""
    try:
        django_rq.get_queue(LANE, commit_mode="auto").enqueue(JOB, pending_id)
    except Exception:
        logger.exception("could not enqueue the duplicate check %s; the sweeper will retry", pending_id)
        return False
    return True


def deferred_callback(object_type: str, checked_records):
    """The ingest verdict's ``stored`` callback of a deferred batch: record the stored ids in the
    sync's transaction, enqueue their check on commit."""

    def stored(ids: dict[str, int], *, batch, actor) -> None:
        wanted = [r.external_id for r in checked_records if r.external_id in ids]
        if not wanted:
            return
        pending = PendingDuplicateCheck.objects.create(
            object_type=object_type,
            object_ids=[ids[ext] for ext in wanted],
            enqueued_at=timezone.now(),
        )
        transaction.on_commit(lambda: _enqueue(pending.pk))

    return stored


def duplicate_check_pending(*, pending_id: int) -> dict:
    """Check a recorded batch (see the module docstring); ``{"checked": 0}`` when an earlier run did."""
    with transaction.atomic():
        pending = PendingDuplicateCheck.objects.select_for_update().filter(pk=pending_id).first()
        if pending is None:
            return {"checked": 0}
        object_type = pending.object_type
        entry = duplicate_object(object_type)
        specs = active_specs(object_type) if entry is not None else []
        if specs:
            lock_object_type(object_type)  # a batch checked after another sees its keys
            columns = needed_columns(entry, specs)
            rows = entry.model.objects.filter(pk__in=pending.object_ids).values(*columns)
            order = {pk: n for n, pk in enumerate(pending.object_ids)}
            prepared = sorted(prepare_rows(entry, specs, rows), key=lambda p: order[p.pk])
            is_new = {p.external_id: False for p in prepared}  # stored already: nothing is refused
            checked = check_prepared(entry, specs, prepared, is_new)
            # Every record's keys are replaced (and kept forms dropped): an update's old ones go, and a record in two
            # pending batches keeps one set of keys whichever job runs last.
            record_checked(object_type, prepared, checked, updated=[p.pk for p in prepared])
            found = len(checked.found)
        else:
            prepared, found = [], 0
        pending.delete()
    return {"checked": len(prepared), "pairs": found}


def duplicate_pending_sweep(*, now: dt.datetime | None = None) -> list[int]:
    """Enqueue again the recorded checks whose job was enqueued more than
    ``DATAQUALITY_PENDING_RETRY_SECONDS`` ago and has not consumed them; return their ids."""
    now = now or timezone.now()
    stale = list(
        PendingDuplicateCheck.objects.filter(enqueued_at__lte=now - dt.timedelta(seconds=retry_seconds())).values_list(
            "pk", flat=True
        )
    )
    for pending_id in stale:
        PendingDuplicateCheck.objects.filter(pk=pending_id).update(enqueued_at=now)
        _enqueue(pending_id)
    return stale
