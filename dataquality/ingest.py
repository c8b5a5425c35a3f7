"""The duplicate rules on ingest: the sync's ingest check (``revops.plugins.register_ingest_check``).

For the records a batch is about to store, in the sync transaction: prepare them for the active
rules of their object, find the stored records that share a blocking key with them (one query for
the keys, one for those records) and the earlier records of the same batch, and score each pair.

* A **new** record that duplicates a stored one (or an earlier one of the batch) under a ``block``
  rule is refused, naming the record it looks like: "This lead looks like Ada Moreno (L-1003):
  email: same (ada@x.com)". A record the CRM already holds is never refused for being a duplicate:
  its update is stored, and its duplicates are reported.
* Under a ``report`` rule (and for updates under a ``block`` rule) the record is stored; once the
  batch is written its duplicate sets are opened or extended, in the same transaction.

The stored records' blocking keys and compared forms are written in the same transaction, so the next
batch finds them without preparing them again. (A record edited in the portal's admin rather than
synced keeps its forms until the next full scan rewrites them.)
An update whose compared fields did not change is not checked again.
"""

from __future__ import annotations

from collections import defaultdict

from revops.plugins import IngestVerdict

from .keys import candidates, keys_write, prepared_read, prepared_write
from .models import DuplicateRule, DuplicateSet
from .objects import duplicate_object
from .rules import Prepared, RuleSpec, active_specs, best_match, needed_columns, prepare_rows
from .services import Pair, duplicate_pairs_record


def _instance_row(instance, columns: list[str]) -> dict:
    values = instance.__dict__
    return {column: values.get(column) for column in columns}


def _block(label: str, blockers: list[RuleSpec], record: Prepared, others, batch_others) -> str:
    """The refusal of a new record that a blocking rule finds a duplicate of a stored record (or of an
    earlier record of the batch): names the best match and says why; ``""`` when none."""
    for in_batch, pool in ((False, others), (True, batch_others)):
        best = None
        for spec in blockers:
            for other in pool:
                score, lines = spec.score(record, other)
                if score >= spec.threshold and (best is None or score > best[0]):
                    best = (score, lines, other)
        if best is not None:
            return block_message(label, best[2], best[1], in_batch=in_batch)
    return ""


def block_message(label: str, other: Prepared, lines: list[str], *, in_batch: bool) -> str:
    where = " earlier in this batch" if in_batch else ""
    return (
        f"This {label} looks like {other.name} ({other.external_id}){where}: {'; '.join(lines)}. "
        f"A duplicate rule blocks it; update that {label} instead, or merge the two in the CRM first."
    )


def duplicate_ingest_check(*, object_type: str, records) -> IngestVerdict | None:
    """The ingest check (see the module docstring)."""
    entry = duplicate_object(object_type)
    specs = active_specs(object_type) if entry is not None else []
    if not specs:
        return None
    columns = needed_columns(entry, specs)
    compared = {name for spec in specs for f in spec.fields for name in (f.key, *entry.sources(f.key))}
    checked = [r for r in records if r.is_new or set(r.changed) & compared]
    if not checked:
        return None
    prepared = prepare_rows(entry, specs, [_instance_row(r.instance, columns) for r in checked])
    for record, source in zip(prepared, checked, strict=True):
        record.pk = source.instance.pk  # None for a new record
    is_new = {r.external_id: r.is_new for r in checked}
    all_keys = set().union(*(p.keys for p in prepared))
    by_key = candidates(object_type, all_keys)
    own_ids = {p.pk for p in prepared if p.pk}
    stored_ids = {i for ids in by_key.values() for i in ids} - own_ids
    # The stored records' forms as the last scan (or ingest) kept them; prepared afresh where missing.
    stored = prepared_read(entry, specs, object_type, stored_ids, columns) if stored_ids else {}
    rejected: dict[str, dict[str, list[str]]] = {}
    found: list[tuple[Prepared, Prepared, tuple]] = []
    blockers = [spec for spec in specs if spec.action == DuplicateRule.Action.BLOCK]
    earlier: dict[str, list[Prepared]] = defaultdict(list)  # key -> records of this batch so far
    for record in prepared:
        stored_others = {i for key in record.keys for i in by_key.get(key, ())} - {record.pk}
        others = [stored[i] for i in sorted(stored_others) if i in stored]
        batch_others = list({id(p): p for key in record.keys for p in earlier.get(key, ())}.values())
        if is_new[record.external_id] and blockers:
            message = _block(entry.label, blockers, record, others, batch_others)
            if message:
                rejected[record.external_id] = {"duplicate": [message]}
                continue
        for other in (*others, *batch_others):
            match = best_match(specs, record, other)
            if match is not None:
                found.append((record, other, match))
        for key in record.keys:
            earlier[key].append(record)

    def stored_callback(ids: dict[str, int], *, batch, actor) -> None:
        keys_by_id = {}
        for record in prepared:
            pk = ids.get(record.external_id)
            if pk is not None:
                record.pk = pk
                keys_by_id[pk] = record.keys
        changed = [p.pk for p in prepared if p.pk and not is_new[p.external_id]]
        keys_write(object_type, keys_by_id, replace=changed)
        prepared_write(object_type, [p for p in prepared if p.pk in keys_by_id], replace=changed)
        chosen = [
            Pair(a.pk, b.pk, *match)
            for a, b, match in found
            if a.external_id in ids and (b.external_id in ids or b.pk in stored)
        ]
        duplicate_pairs_record(object_type=object_type, pairs=chosen, found_by=DuplicateSet.FoundBy.INGEST)

    return IngestVerdict(rejected=rejected, stored=stored_callback)
