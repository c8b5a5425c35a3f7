"""The full duplicate scan: every active rule over the stored records, in short steps on the low lane.

A scan (``DuplicateScan``) walks the registered objects in order, each in two phases:

1. ``keys`` — the records in id order, ``KEY_CHUNK`` at a time: prepared for the object's active
   rules, their blocking keys rewritten (``keys_write_range``: keys of records deleted since go too)
   and their compared forms kept (``DuplicatePrepared``), so the next phase need not prepare a
   record again each time it meets it as a partner.
2. ``pairs`` — the records again, ``PAIR_CHUNK`` at a time: the pairs that share a blocking key
   (one self-join of the key index, each pair once: the partner has the higher id), keys shared by
   more than ``BLOCK_LIMIT`` records left out; every pair scored by every active rule, the
   duplicates recorded as sets (``duplicate_pairs_record``: re-running keeps and extends sets,
   never duplicates them).

``scan_step`` works for about ``STEP_SECONDS`` (it starts no chunk that would overrun them, as long
as the chunk before) and returns whether more is left; the job re-enqueues
itself, so no job holds the lane for more than a second or two, and a scan whose worker died is
picked up again by the next scheduled run (``scan_start`` resumes a running scan).
"""

from __future__ import annotations

import datetime as dt
import time

from django.db import connection, transaction
from django.db.models import Count
from django.utils import timezone

from .auto_merge import auto_merge_enqueue, auto_merge_rule_ids
from .bounds import exact_prefixes
from .keys import BLOCK_LIMIT, keys_write_range, prepared_read, prepared_write_range
from .models import DuplicateKey, DuplicatePrepared, DuplicateScan, DuplicateSet
from .objects import duplicate_object, duplicate_objects
from .rules import active_specs, best_match, needed_columns, prepare_rows
from .services import Pair, duplicate_pairs_record

KEY_CHUNK = 8000
PAIR_CHUNK = 8000
STEP_SECONDS = 1.0
STALE_MINUTES = 10


def scan_start(*, reason: str = "", now: dt.datetime | None = None) -> DuplicateScan:
    """A new scan, or the running one (resumed when it has been silent for ``STALE_MINUTES``)."""
    now = now or timezone.now()
    running = DuplicateScan.objects.filter(status=DuplicateScan.Status.RUNNING).order_by("pk").first()
    if running is not None:
        return running
    types = [entry.object_type for entry in duplicate_objects() if active_specs(entry.object_type)]
    return DuplicateScan.objects.create(
        object_type=types[0] if types else "",
        phase="keys",
        reason=reason[:200],
        progress_at=now,
        counts={"objects": types},
    )


def scan_is_stale(scan: DuplicateScan, now: dt.datetime) -> bool:
    return scan.progress_at is None or scan.progress_at < now - dt.timedelta(minutes=STALE_MINUTES)


def scan_step(*, scan_id: int, seconds: float = STEP_SECONDS) -> bool:
    """Work on the scan for about ``seconds``; True when more is left."""
    deadline = time.monotonic() + seconds
    while True:
        began = time.monotonic()
        with transaction.atomic():
            _no_commit_wait()
            scan = DuplicateScan.objects.select_for_update().get(pk=scan_id)
            if scan.status != DuplicateScan.Status.RUNNING:
                return False
            more = _advance(scan)
            scan.steps += 1
            scan.progress_at = timezone.now()
            if not more:
                scan.status = DuplicateScan.Status.FINISHED
                scan.finished_at = scan.progress_at
            scan.save()
        if not more:
            if auto_merge_rule_ids():  # sets a missed hand-over left open (Redis down) are merged now
                transaction.on_commit(lambda: auto_merge_enqueue(None))
            return False
        now = time.monotonic()
        if now + (now - began) > deadline:  # another chunk as long as this one would overrun the step
            return True


def _add(scan: DuplicateScan, object_type: str, name: str, value: int) -> None:
    counts = scan.counts.setdefault(object_type, {})
    counts[name] = counts.get(name, 0) + value


def _next_object(scan: DuplicateScan) -> bool:
    types = scan.counts.get("objects", [])
    later = types[types.index(scan.object_type) + 1 :] if scan.object_type in types else []
    if not later:
        return False
    scan.object_type, scan.phase, scan.cursor, scan.big_keys = later[0], "keys", 0, []
    return True


def _advance(scan: DuplicateScan) -> bool:
    """One chunk of the scan's current phase; False when the scan is done."""
    entry = duplicate_object(scan.object_type) if scan.object_type else None
    specs = active_specs(scan.object_type) if entry else []
    if not specs:
        return _next_object(scan)
    columns = needed_columns(entry, specs)
    chunk = KEY_CHUNK if scan.phase == "keys" else PAIR_CHUNK
    ids = list(entry.model.objects.filter(pk__gt=scan.cursor).order_by("pk").values_list("pk", flat=True)[: chunk + 1])
    last = ids[chunk - 1] if len(ids) > chunk else None  # None: this chunk reaches the end
    if scan.phase == "keys":
        rows = entry.model.objects.filter(pk__gt=scan.cursor).order_by("pk").values(*columns)[:chunk]
        prepared = prepare_rows(entry, specs, rows)
        written = keys_write_range(scan.object_type, scan.cursor, last, {p.pk: p.keys for p in prepared})
        prepared_write_range(scan.object_type, scan.cursor, last, prepared)
        _add(scan, scan.object_type, "records", len(prepared))
        _add(scan, scan.object_type, "keys", written)
        if last is None:
            scan.phase, scan.cursor = "pairs", 0
            _analyze()  # fresh statistics after rewriting the index: else the planner may scan it whole per pair
            scan.big_keys = list(
                DuplicateKey.objects.filter(object_type=scan.object_type)
                .values("key")
                .annotate(n=Count("id"))
                .filter(n__gt=BLOCK_LIMIT)
                .values_list("key", flat=True)
            )
            _add(scan, scan.object_type, "common_keys_skipped", len(scan.big_keys))
        else:
            scan.cursor = last
        return True
    if not ids:
        return _next_object(scan)
    high = last if last is not None else ids[-1]
    pairs = candidate_pairs(scan.object_type, scan.cursor, high, scan.big_keys, exact_prefixes(specs))
    _add(scan, scan.object_type, "pairs_compared", len(pairs))
    if pairs:
        records = prepared_read(entry, specs, scan.object_type, {i for pair in pairs for i in pair}, columns)
        found = []
        for a, b in pairs:
            ra, rb = records.get(a), records.get(b)
            if ra is not None and rb is not None:
                match = best_match(specs, rb, ra)
                if match is not None:
                    found.append(Pair(b, a, *match))
        _add(scan, scan.object_type, "duplicate_pairs", len(found))
        if found:
            counts = duplicate_pairs_record(
                object_type=scan.object_type, pairs=found, found_by=DuplicateSet.FoundBy.SCAN
            )
            for name, value in counts.as_dict().items():
                _add(scan, scan.object_type, f"sets_{name}", value)
    if last is None:
        return _next_object(scan)
    scan.cursor = last
    return True


def _no_commit_wait() -> None:
    """A scan step's commit does not wait for the WAL flush: the scan only rewrites what it can
    rewrite again (keys, forms, sets), and after a crash the next run resumes from its last
    durable step — so each step saves the flush a durable commit costs (PostgreSQL's documented
    per-transaction ``synchronous_commit``; the database stays consistent either way)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


def _analyze() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {DuplicateKey._meta.db_table}, {DuplicatePrepared._meta.db_table}")


def candidate_pairs(
    object_type: str, low: int, high: int, big_keys: list[str], anchors: list[str] | None = None
) -> set[tuple[int, int]]:
    """``(a, b)`` with ``low < a <= high`` and ``b > a`` sharing a blocking key not in ``big_keys``; with
    ``anchors`` (``bounds.exact_prefixes``), only a key of those fields, or any key when ``a`` holds one
    of those fields' keys in ``big_keys`` (a switchboard's phone: the name must tell)."""
    table = connection.ops.quote_name(DuplicateKey._meta.db_table)
    sql = (
        f"SELECT DISTINCT a.object_id, b.object_id FROM {table} a JOIN {table} b "
        "ON b.object_type = a.object_type AND b.key = a.key AND b.object_id > a.object_id "
        "WHERE a.object_type = %s AND a.object_id > %s AND a.object_id <= %s"
    )
    params: list = [object_type, low, high]
    if big_keys:
        sql += f" AND NOT ({_in_list('a.key', big_keys, params)})"
    if anchors is not None:
        shared = " OR ".join(f"substr(a.key, 1, {len(prefix)}) = %s" for prefix in anchors)
        params.extend(anchors)
        crowded = [key for key in big_keys if key.startswith(tuple(anchors))]
        if crowded:
            params.append(object_type)
            holds = _in_list("c.key", crowded, params)
            shared += f" OR a.object_id IN (SELECT c.object_id FROM {table} c WHERE c.object_type = %s AND {holds})"
        sql += f" AND ({shared or 'FALSE'})"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return set(cursor.fetchall())


def _in_list(column: str, values: list[str], params: list) -> str:
    """``column`` is one of ``values`` (added to ``params``): ``= ANY`` on PostgreSQL, ``IN`` elsewhere."""
    if connection.vendor == "postgresql":
        params.append(list(values))
        return f"{column} = ANY(%s)"
    params.extend(values)
    return f"{column} IN ({', '.join(['%s'] * len(values))})"
