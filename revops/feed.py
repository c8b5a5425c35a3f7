"""The changes feed: what the portal decided, in a stable order, for the CRM to apply.

Write with ``change_entry_record`` (the only writer: routing, handoffs and the automation engine call
it inside their own transactions). Read with ``change_entries_after``, which the
``GET /api/v1/changes/?after=<cursor>`` endpoint serves.

Why writers are serialised: ids come from a sequence when a row is inserted, not when its
transaction commits. With two overlapping transactions, entry 41 may commit after entry 42; a
reader that already saw 42 and polls ``after=42`` would never see 41. So on PostgreSQL every writer
takes one transaction-scoped advisory lock right before its insert and keeps it until its
transaction ends: ids are then handed out in commit order and a reader never skips an entry.
(SQLite serialises write transactions anyway.) The price is that feed writes queue behind each
other, so callers record feed entries as the last step of their transaction.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from revops.models import ChangeEntry
from revops.sync_writers import PgWriter

# Arbitrary constant naming the feed's advisory lock ("rvpfeed" in ASCII).
FEED_LOCK_ID = 0x72767066656564

logger = logging.getLogger(__name__)
FEED_LISTENERS: list[Callable[[], None]] = []


def register_feed_listener(listener: Callable[[], None]) -> Callable[[], None]:
    """Call ``listener()`` once after each commit that added feed entries (e.g. the webhooks app queues
    its push). A listener must be cheap and must not raise; an exception is logged, never propagated."""
    if listener not in FEED_LISTENERS:
        FEED_LISTENERS.append(listener)
    return listener


def _run_listeners() -> None:
    for listener in FEED_LISTENERS:
        try:
            listener()
        except Exception:
            logger.exception("feed listener %s failed", getattr(listener, "__name__", listener))


def _notify_after_commit() -> None:
    """Schedule the listeners once per transaction, however many entries it writes."""
    if not FEED_LISTENERS:
        return
    pending = transaction.get_connection().run_on_commit
    if not any(func is _run_listeners for _sids, func, _robust in pending):
        transaction.on_commit(_run_listeners)


def _lock_feed() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [FEED_LOCK_ID])


@transaction.atomic
def change_entry_record(
    *,
    kind: str,
    object_type: str,
    external_id: str,
    payload: dict,
    reason: str = "",
    dedupe_key: str | None = None,
) -> ChangeEntry:
    """Append one decision to the changes feed and return it.

    ``kind`` is a ``ChangeEntry.Kind`` value, ``object_type`` the API name of the record's object
    (``lead``, ``account``…) and ``external_id`` its CRM id. With a ``dedupe_key`` (e.g.
    ``"routing:run:812"``) recording the same decision again is a no-op that returns the existing
    entry, also when two transactions race to record it. Call inside the transaction that makes
    the decision, as late as possible: the entry becomes visible when that transaction commits.
    """
    if dedupe_key:
        existing = ChangeEntry.objects.filter(dedupe_key=dedupe_key).first()
        if existing is not None:
            return existing
    _lock_feed()
    if dedupe_key:
        # A writer that held the lock before us may have committed the same key meanwhile;
        # under READ COMMITTED this new statement sees it.
        existing = ChangeEntry.objects.filter(dedupe_key=dedupe_key).first()
        if existing is not None:
            return existing
    entry = ChangeEntry(
        kind=kind,
        object_type=object_type,
        external_id=external_id,
        payload=payload,
        reason=reason[:255],
        dedupe_key=dedupe_key or None,
    )
    entry.full_clean(validate_unique=False)
    try:
        with transaction.atomic():
            entry.save()
    except IntegrityError:
        # Only reachable without the lock (e.g. REPEATABLE READ callers): the key won elsewhere.
        if dedupe_key:
            return ChangeEntry.objects.get(dedupe_key=dedupe_key)
        raise
    _notify_after_commit()
    return entry


def _copy_supported() -> bool:
    return connection.vendor == "postgresql"


def change_entries_after(*, after: int = 0, limit: int = 100) -> tuple[list[ChangeEntry], bool]:
    """Up to ``limit`` entries with an id greater than ``after``, in id order, and whether more wait."""
    rows = list(ChangeEntry.objects.filter(id__gt=after).order_by("id")[: limit + 1])
    return rows[:limit], len(rows) > limit


# Up to this many rows a batch is one INSERT … ON CONFLICT DO NOTHING (one round trip, for the single-lead
# paths); above it, a lookup of the known keys and a COPY, which is faster in bulk.
_INSERT_AT_MOST = 50


@transaction.atomic(savepoint=False)
def change_entries_record(entries: list[dict]) -> int:
    """Append many decisions at once (each a dict of ``change_entry_record``'s arguments, with a
    ``dedupe_key``); keys already in the feed are skipped. One lock and one or two statements, in the
    order given. Returns how many were added.

    On PostgreSQL a small batch is one ``INSERT … ON CONFLICT (dedupe_key) DO NOTHING`` and a big one a
    lookup of the known keys then a ``COPY`` (ids from the column's sequence, handed out in row order,
    under the lock like any feed write); elsewhere ``bulk_create``. Like ``bulk_create`` neither
    validates the entries: callers build them. No savepoint of its own: callers write the feed last in
    their transaction, and an error here fails that transaction."""
    if not entries:
        return 0
    rows, seen = [], set()
    for entry in entries:
        key = entry["dedupe_key"]
        if key in seen:
            continue
        seen.add(key)
        rows.append(
            (
                entry["kind"],
                entry["object_type"],
                entry["external_id"],
                entry["payload"],
                entry.get("reason", "")[:255],
                key,
            )
        )
    if _copy_supported() and len(rows) <= _INSERT_AT_MOST:
        added = _insert_new(rows)
    else:
        _lock_feed()
        known = set(ChangeEntry.objects.filter(dedupe_key__in=list(seen)).values_list("dedupe_key", flat=True))
        rows = [row for row in rows if row[5] not in known]
        if rows and _copy_supported():
            now = timezone.now()
            PgWriter._copy(ChangeEntry._meta.db_table, _COPIED, [(*row, now) for row in rows])
        elif rows:
            ChangeEntry.objects.bulk_create(
                ChangeEntry(kind=k, object_type=t, external_id=e, payload=p, reason=r, dedupe_key=d)
                for k, t, e, p, r, d in rows
            )
        added = len(rows)
    if added:
        _notify_after_commit()
    return added


def _insert_new(rows: list[tuple]) -> int:
    """INSERT ``rows`` (kind, object type, external id, payload, reason, key) in order, skipping keys the
    feed has, under the feed's lock; returns how many were added. One statement: the lock is an InitPlan
    behind a one-time filter, so PostgreSQL takes it before the first row draws its id."""
    qn = connection.ops.quote_name
    columns = ", ".join(qn(f.column) for f in _COPIED)
    values = ", ".join(["(%s, %s, %s, %s::jsonb, %s, %s, %s::timestamptz)"] * len(rows))
    now = timezone.now()
    params = [v for k, t, e, p, r, d in rows for v in (k, t, e, json.dumps(p), r, d, now)]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {qn(ChangeEntry._meta.db_table)} ({columns}) SELECT * FROM (VALUES {values}) AS v "
            f"WHERE (SELECT pg_advisory_xact_lock(%s)::text) IS NOT NULL "
            f"ON CONFLICT ({qn('dedupe_key')}) DO NOTHING",
            [*params, FEED_LOCK_ID],
        )
        return cursor.rowcount


_COPIED = [
    ChangeEntry._meta.get_field(name)
    for name in ("kind", "object_type", "external_id", "payload", "reason", "dedupe_key", "created_at")
]
