"""Checking prepared records against the stored ones: the shared core of the ingest check (in the
sync's transaction) and of the deferred check of large batches (on the low lane).

``check_prepared`` compares records with the stored records sharing a blocking key that a rule could
pair with them (a query or two for the keys, one for those records' kept forms) and with the earlier
records of the same list, refusing a new record a ``block`` rule matches; ``record_checked`` keeps the
records' keys and records the pairs as duplicate sets.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from .bounds import NONE, Bounds
from .keys import candidates, candidates_and_crowded, keys_write, prepared_forget, prepared_read
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
    blocking key and with the earlier ones of the list; a new record a ``block`` rule matches is refused.

    Stored records that no rule could find duplicates of a record are left out before their forms are
    read (``bounds``): the keys of the non-fuzzy fields are looked up first, the others only for the
    records whose rules could still be met without them."""
    object_type = entry.object_type
    columns = needed_columns(entry, specs)
    bounds = Bounds(specs)
    exact_of = [bounds.exact_keys(p) for p in prepared]
    by_key, crowded = candidates_and_crowded(object_type, {k for keys in exact_of for k in keys.values()})
    closed_of = [{slot for slot, key in keys.items() if key not in crowded} for keys in exact_of]
    rest_of = [
        p.keys.difference(keys.values()) if bounds.reachable(p, closed) else set()
        for p, keys, closed in zip(prepared, exact_of, closed_of, strict=True)
    ]
    by_key.update(candidates(object_type, set().union(*rest_of)))
    own_ids = {p.pk for p in prepared if p.pk}
    compared: list[list[int]] = []
    for record, keys, closed, rest in zip(prepared, exact_of, closed_of, rest_of, strict=True):
        shared: dict[int, set] = defaultdict(set)
        for slot, key in keys.items():
            for i in by_key.get(key, ()):
                shared[i].add(slot)
        found_ids = set(shared).union(*(by_key.get(key, ()) for key in rest))
        found_ids.discard(record.pk)
        compared.append(sorted(i for i in found_ids if bounds.reachable(record, closed, shared.get(i, NONE))))
    # The stored records' forms as the last scan kept them; prepared afresh where missing (synced since).
    stored_ids = {i for ids in compared for i in ids} - own_ids
    stored = prepared_read(entry, specs, object_type, stored_ids, columns) if stored_ids else {}
    rejected: dict[str, dict[str, list[str]]] = {}
    found: list[tuple[Prepared, Prepared, tuple]] = []
    blockers = [spec for spec in specs if spec.action == DuplicateRule.Action.BLOCK]
    earlier: dict[str, list[int]] = defaultdict(list)  # key -> positions of this batch's records so far
    for n, (record, keys, ids) in enumerate(zip(prepared, exact_of, compared, strict=True)):
        others = [stored[i] for i in ids if i in stored]
        batch_others = [prepared[m] for m in _earlier(bounds, record, keys, exact_of, earlier)]
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
            earlier[key].append(n)
    return Checked(rejected, found, stored)


def _earlier(bounds: Bounds, record: Prepared, keys: dict, exact_of: list[dict], earlier: dict) -> list[int]:
    """Positions of the batch's earlier records sharing a key with ``record`` that a rule could pair
    with it (the bounds as for stored records; within a batch no key is too common)."""
    closed = set(keys)
    lookup = record.keys if bounds.reachable(record, closed) else keys.values()
    positions = {m for key in lookup for m in earlier.get(key, ())}
    return [
        m
        for m in sorted(positions)
        if bounds.reachable(record, closed, {slot for slot, key in keys.items() if exact_of[m].get(slot) == key})
    ]


def record_checked(object_type: str, prepared: list[Prepared], checked: Checked, *, updated: list[int]) -> None:
    """Keep the stored records' keys (replacing those of ``updated``, whose kept forms are dropped) and
    record their pairs. Forms are kept by the scan only: the few stored records a later check compares
    are prepared from their rows when they have none, cheaper than writing every record's forms."""
    keys_write(object_type, {p.pk: p.keys for p in prepared if p.pk}, replace=updated)
    prepared_forget(object_type, updated)
    mine = {p.external_id for p in prepared if p.pk}
    chosen = [
        Pair(a.pk, b.pk, *match)
        for a, b, match in checked.found
        if a.external_id in mine and (b.external_id in mine or b.pk in checked.stored)
    ]
    duplicate_pairs_record(object_type=object_type, pairs=chosen, found_by=DuplicateSet.FoundBy.INGEST)
