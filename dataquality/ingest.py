"""The duplicate rules on ingest: the sync's ingest check (``revops.plugins.register_ingest_check``).

For the records a batch is about to store, in the sync transaction: prepare them for the active
rules of their object, find the stored records that share a blocking key with them (one query for
the keys, one for those records) and the earlier records of the same batch, and score each pair.

* A **new** record that duplicates a stored one (or an earlier one of the batch) under a ``block``
  rule is refused, naming the record it looks like: "This lead looks like Ada Moreno (L-1003):
  email: same (ada@x.com)". A record the CRM already holds is never refused for being a duplicate:
  its update is stored, and its duplicates are reported.
* Under a ``report`` rule (and for updates under a ``block`` rule) the record is stored; once the
  batch is written its duplicate sets are opened or extended, in the same transaction — or, for a
  batch of more than ``DATAQUALITY_INLINE_MAX`` records none of which a rule could refuse, by a job
  on the low lane a moment after the sync committed (``dataquality.deferred``).

The stored records' blocking keys are written in the same transaction, so the next batch finds them;
an update's kept forms are dropped. (A record edited in the portal's admin rather than synced keeps
its keys and forms until the next full scan rewrites them.)
An update whose compared fields did not change is not checked again.
"""

from __future__ import annotations

from revops.plugins import IngestVerdict

from .checking import check_prepared, record_checked
from .deferred import deferred_callback, inline_max
from .models import DuplicateRule
from .objects import duplicate_object
from .rules import active_specs, needed_columns, prepare_rows


def _instance_row(instance, columns: list[str]) -> dict:
    values = instance.__dict__
    return {column: values.get(column) for column in columns}


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
    is_new = {r.external_id: r.is_new for r in checked}
    refusable = any(spec.action == DuplicateRule.Action.BLOCK for spec in specs) and any(is_new.values())
    if not refusable and len(checked) > inline_max():
        return IngestVerdict(rejected={}, stored=deferred_callback(object_type, checked))
    prepared = prepare_rows(entry, specs, [_instance_row(r.instance, columns) for r in checked])
    for record, source in zip(prepared, checked, strict=True):
        record.pk = source.instance.pk  # None for a new record
    result = check_prepared(entry, specs, prepared, is_new)

    def stored_callback(ids: dict[str, int], *, batch, actor) -> None:
        for record in prepared:
            record.pk = ids.get(record.external_id)
        updated = [p.pk for p in prepared if p.pk and not is_new[p.external_id]]
        record_checked(object_type, prepared, result, updated=updated)

    return IngestVerdict(rejected=result.rejected, stored=stored_callback)
