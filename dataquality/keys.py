"""The blocking-key index (``DuplicateKey``): written for the records ingest checks, rewritten by the scan.

``candidates`` finds the stored records that share a key with given keys, leaving out keys shared
by more than ``BLOCK_LIMIT`` records: such a key ("john|smit", a domain every employee shares) says
too little to be worth comparing every pair, and those pairs are found through their other keys.
"""

from __future__ import annotations

from collections import defaultdict

from django.db import connection

from revops.bulk_writes import InArray
from revops.sync_writers import OrmWriter, PgWriter

from .models import DuplicateKey, DuplicatePrepared
from .rules import Prepared, prepare_rows, prepared_from_rows, prepared_rows

BLOCK_LIMIT = 50


def _writer():
    return PgWriter() if connection.vendor == "postgresql" else OrmWriter()


def keys_write(object_type: str, keys_by_id: dict[int, set[str]], *, replace=None) -> int:
    """Store the keys of records, replacing those of the ids in ``replace`` (records that had keys: not
    new ones); returns the rows written."""
    if replace:
        DuplicateKey.objects.filter(InArray("object_id", list(replace)), object_type=object_type).delete()
    rows = [(object_type, key, pk) for pk, keys in keys_by_id.items() for key in keys]
    if rows:
        _writer().insert_tuples(DuplicateKey, ("object_type", "key", "object_id"), rows)
    return len(rows)


def keys_write_range(object_type: str, low: int, high: int | None, keys_by_id: dict[int, set[str]]) -> int:
    """Replace every key of the records with ``low < id <= high`` (``high`` None: no upper bound) — also
    those of records deleted since — by ``keys_by_id``; returns the rows written."""
    stale = DuplicateKey.objects.filter(object_type=object_type, object_id__gt=low)
    if high is not None:
        stale = stale.filter(object_id__lte=high)
    stale.delete()
    return keys_write(object_type, keys_by_id)


def candidates(object_type: str, keys: set[str], *, limit: int = BLOCK_LIMIT) -> dict[str, list[int]]:
    """Stored record ids per key, for the keys shared by at most ``limit`` records."""
    return candidates_and_crowded(object_type, keys, limit=limit)[0]


def candidates_and_crowded(
    object_type: str, keys: set[str], *, limit: int = BLOCK_LIMIT
) -> tuple[dict[str, list[int]], set[str]]:
    """``candidates`` and the keys left out for being shared by more than ``limit`` records."""
    found: dict[str, list[int]] = defaultdict(list)
    if not keys:
        return {}, set()
    rows = DuplicateKey.objects.filter(InArray("key", list(keys)), object_type=object_type).values_list(
        "key", "object_id"
    )
    for key, object_id in rows:
        found[key].append(object_id)
    crowded = {key for key, ids in found.items() if len(ids) > limit}
    return {key: ids for key, ids in found.items() if key not in crowded}, crowded


def prepared_write_range(object_type: str, low: int, high: int | None, records: list[Prepared]) -> None:
    """Replace the kept forms of the records with ``low < id <= high`` (``high`` None: no upper bound)."""
    stale = DuplicatePrepared.objects.filter(object_type=object_type, object_id__gt=low)
    if high is not None:
        stale = stale.filter(object_id__lte=high)
    stale.delete()
    rows = [dict(row, object_type=object_type) for row in prepared_rows(records)]
    if rows:
        _writer().insert_rows(DuplicatePrepared, rows)


def prepared_forget(object_type: str, ids) -> None:
    """Drop the kept forms of the records ``ids`` (they changed: read from their rows until the next scan)."""
    if ids:
        DuplicatePrepared.objects.filter(InArray("object_id", list(ids)), object_type=object_type).delete()


def prepared_read(entry, specs, object_type: str, ids: set[int], columns: list[str]) -> dict[int, Prepared]:
    """The ``Prepared`` records of ``ids``: kept forms where there are, prepared from the records otherwise."""
    rows = DuplicatePrepared.objects.filter(InArray("object_id", list(ids)), object_type=object_type).values_list(
        "object_id", "external_id", "name", "forms"
    )
    found = {p.pk: p for p in prepared_from_rows(rows)}
    missing = ids - found.keys()
    if missing:
        records = entry.model.objects.filter(InArray("id", list(missing))).values(*columns)
        found.update((p.pk, p) for p in prepare_rows(entry, specs, records))
    return found
