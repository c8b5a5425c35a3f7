"""What a sync batch leaves for people: its rejected records kept (a re-send refreshes, never
duplicates), and its stored records' missing "prompt" fields handed to the apps that raise them."""

from __future__ import annotations

import hashlib
import json

from .models import SyncFailure
from .plugins import sync_gap_handlers
from .validation import storable


def record_failures(planned, exts, unstorable, object_type, batch, token, now) -> list[SyncFailure]:
    """Keep the batch's rejected records as ``SyncFailure`` rows; a record re-sent unchanged (same
    payload, same errors) while its earlier failure is unresolved refreshes that row (occurrences,
    last seen, latest batch) instead of adding one. Returns the rows, new and refreshed."""
    rows: dict[str, SyncFailure] = {}
    repeats: dict[str, int] = {}
    for index, record, errors in planned:
        payload = storable(record) if index in unstorable else record
        fingerprint = hashlib.sha256(
            json.dumps([object_type, payload, errors], sort_keys=True, default=str).encode()
        ).hexdigest()
        if fingerprint in rows:
            repeats[fingerprint] += 1
            continue
        repeats[fingerprint] = 0
        rows[fingerprint] = SyncFailure(
            batch=batch,
            token=token,
            object_type=object_type,
            external_id=exts[index][:64],
            payload=payload,
            errors=errors,
            fingerprint=fingerprint,
            occurrences=1,
            last_seen_at=now,
        )
    known = {
        failure.fingerprint: failure
        for failure in SyncFailure.objects.filter(
            object_type=object_type, fingerprint__in=list(rows), resolved_at__isnull=True
        ).order_by("pk")
    }
    for fingerprint, failure in known.items():
        failure.occurrences += 1 + repeats[fingerprint]
        failure.last_seen_at = now
        failure.batch = batch
    if known:
        SyncFailure.objects.bulk_update(list(known.values()), ["occurrences", "last_seen_at", "batch"])
    new = [row for fingerprint, row in rows.items() if fingerprint not in known]
    for row in new:
        row.occurrences += repeats[row.fingerprint]
    return [*known.values(), *SyncFailure.objects.bulk_create(new)]


def raise_gaps(object_type: str, results: list[dict], states: dict, batch, actor) -> None:
    """Hand the stored records' missing "prompt" fields (and the records now complete) to the apps
    that raise them to a person, in the sync's transaction."""
    handlers = sync_gap_handlers(object_type)
    if not handlers:
        return
    gaps: dict[int, dict] = {}
    complete: list[int] = []
    records = {}
    for entry in results:
        if entry["status"] not in ("created", "updated", "unchanged"):
            continue
        instance = states[entry["external_id"]].instance
        records[instance.pk] = instance
        if "missing" in entry:
            gaps[instance.pk] = entry["missing"]
        else:
            complete.append(instance.pk)
    for handler in handlers:
        handler(object_type=object_type, gaps=gaps, complete=complete, batch=batch, actor=actor, records=records)
