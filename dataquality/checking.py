"""Checking prepared records against the stored ones: the shared core of the ingest check (in the
sync's transaction) and of the deferred check of large batches (on the low lane).

``check_prepared`` compares records with the stored records sharing a blocking key (one query for the
keys, one for those records' kept forms) and with the earlier records of the same list, refusing a new
record a ``block`` rule matches; ``record_checked`` keeps the records' keys and forms and records the
pairs as duplicate sets.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from .keys import candidates, keys_write, prepared_read, prepared_write
from .models import DuplicateRule, DuplicateSet
from .rules import Prepared, RuleSpec, best_match, needed_columns
from .services import Pair, duplicate_pairs_record


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


@dataclass
class Checked:
    """What checking prepared records found: refusals by external id, matched pairs, the stored
    records compared (by id)."""

    rejected: dict[str, dict[str, list[str]]]
    found: list[tuple[Prepared, Prepared, tuple]]
    stored: dict[int, Prepared]


def check_prepared(entry, specs: list[RuleSpec], prepared: list[Prepared], is_new: dict[str, bool]) -> Checked:
    """Compare ``prepared`` (their ``pk`` set for stored records) with the stored records sharing a
    blocking key and with the earlier ones of the list; a new record a ``block`` rule matches is refused."""
    object_type = entry.object_type
    columns = needed_columns(entry, specs)
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
    return Checked(rejected, found, stored)


def record_checked(object_type: str, prepared: list[Prepared], checked: Checked, *, updated: list[int]) -> None:
    """Keep the stored records' keys and forms (replacing those of ``updated``) and record their pairs."""
    keys_write(object_type, {p.pk: p.keys for p in prepared if p.pk}, replace=updated)
    prepared_write(object_type, [p for p in prepared if p.pk], replace=updated)
    mine = {p.external_id for p in prepared if p.pk}
    chosen = [
        Pair(a.pk, b.pk, *match)
        for a, b, match in checked.found
        if a.external_id in mine and (b.external_id in mine or b.pk in checked.stored)
    ]
    duplicate_pairs_record(object_type=object_type, pairs=chosen, found_by=DuplicateSet.FoundBy.INGEST)
