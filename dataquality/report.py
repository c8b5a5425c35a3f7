"""Reads behind the data-quality page: duplicate rate per object and source, merges by outcome,
normalisations applied and records rejected per field (docs/dataquality.md, "The data-quality page").

Everything here is counted by the database (no record is loaded to count it), so the page stays fast
with a million leads.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from django.db.models import Count, Q

from revops.display import FieldText
from revops.models import FieldDefinition, SyncBatch, SyncFailure
from revops.models.dictionary import Normaliser
from revops.selectors import RECORD_MODELS, record_model

from .models import DuplicateMember, DuplicateSet, Merge
from .objects import duplicate_objects

NO_SOURCE = "(no source)"
# Error keys that are not dictionary fields.
SPECIAL_ERRORS = {
    "(record)": "Whole record",
    "non_field_errors": "Whole record",
    "duplicate": "Duplicate of a stored record (a block rule)",
}


def _objects(object_type: str) -> str:
    """ "Opportunities" for ``opportunity``; an object the dictionary does not know keeps its key."""
    if object_type not in RECORD_MODELS:
        return object_type
    return str(record_model(object_type)._meta.verbose_name_plural).capitalize()


# The column that says where a record came from, for objects that have one.
SOURCE_COLUMNS = {"lead": "source"}


@dataclass
class RateRow:
    object_type: str
    label: str
    source: str
    arrived: int
    duplicates: int

    @property
    def rate(self) -> float | None:
        return self.duplicates / self.arrived if self.arrived else None


def _in_a_set(object_type: str):
    """Ids of the records of ``object_type`` in a duplicate set that was not dismissed."""
    return (
        DuplicateMember.objects.filter(object_type=object_type)
        .exclude(set__status=DuplicateSet.Status.DISMISSED)
        .values("object_id")
    )


def duplicate_rates(since: dt.datetime, until: dt.datetime) -> list[RateRow]:
    """Per object (and lead source): the records that arrived in ``[since, until)`` and how many of
    them are in a duplicate set (open or merged; dismissed sets are not duplicates)."""
    rows: list[RateRow] = []
    for entry in duplicate_objects():
        model = entry.model
        arrived = model.objects.filter(created_at__gte=since, created_at__lt=until)
        column = SOURCE_COLUMNS.get(entry.object_type)
        if column is None:
            counts = arrived.aggregate(
                arrived=Count("pk"), duplicates=Count("pk", filter=Q(pk__in=_in_a_set(entry.object_type)))
            )
            rows.append(
                RateRow(entry.object_type, _objects(entry.object_type), "", counts["arrived"], counts["duplicates"])
            )
            continue
        grouped = (
            arrived.values(column)
            .annotate(n=Count("pk"), dup=Count("pk", filter=Q(pk__in=_in_a_set(entry.object_type))))
            .order_by("-n", column)
        )
        by_source: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for row in grouped:
            source = (row[column] or "").strip() or NO_SOURCE
            by_source[source][0] += row["n"]
            by_source[source][1] += row["dup"]
        for source, (n, dup) in by_source.items():
            rows.append(RateRow(entry.object_type, _objects(entry.object_type), source, n, dup))
    return rows


def open_sets() -> dict[str, dict[str, int]]:
    """Per object: open duplicate sets now and the records in them."""
    out: dict[str, dict[str, int]] = {}
    for row in (
        DuplicateSet.objects.filter(status=DuplicateSet.Status.OPEN)
        .values("object_type")
        .annotate(sets=Count("pk", distinct=True), records=Count("members", distinct=True))
    ):
        out[row["object_type"]] = {"sets": row["sets"], "records": row["records"]}
    return out


def merge_counts(since: dt.datetime, until: dt.datetime) -> list[dict]:
    """Per object: merges proposed, approved by a person, merged automatically, rejected and undone in
    ``[since, until)`` — each counted on the day it happened (a merge proposed, merged and undone
    within the range counts in all three)."""

    def within(field: str) -> Q:
        return Q(**{f"{field}__gte": since, f"{field}__lt": until})

    decided = within("decided_at") & Q(status__in=[Merge.Status.MERGED, Merge.Status.UNDONE])
    counts = {
        row["object_type"]: row
        for row in Merge.objects.values("object_type").annotate(
            proposed=Count("pk", filter=within("created_at") & Q(automatic=False)),
            approved=Count("pk", filter=decided & Q(automatic=False)),
            automatic=Count("pk", filter=decided & Q(automatic=True)),
            rejected=Count("pk", filter=within("decided_at") & Q(status=Merge.Status.REJECTED)),
            undone=Count("pk", filter=within("undone_at")),
        )
    }
    rows = []
    for entry in duplicate_objects():
        row = counts.get(entry.object_type, {})
        rows.append(
            {
                "object_type": entry.object_type,
                "label": _objects(entry.object_type),
                **{key: row.get(key, 0) for key in ("proposed", "approved", "automatic", "rejected", "undone")},
            }
        )
    return rows


def normalisations(since: dt.datetime, until: dt.datetime) -> list[dict]:
    """Per dictionary field with a normaliser: the values it rewrote in the sync batches of
    ``[since, until)`` (``SyncBatch.normalised``), and the records stored now with a value it changed
    (the CRM's own value is kept under "values as sent")."""
    texts = FieldText()
    applied: dict[tuple[str, str], int] = defaultdict(int)
    batches = SyncBatch.objects.filter(received_at__gte=since, received_at__lt=until).exclude(normalised={})
    for object_type, counts in batches.values_list("object_type", "normalised").iterator(chunk_size=2000):
        for key, count in (counts or {}).items():
            applied[(object_type, key)] += int(count or 0)
    rows = []
    fields = FieldDefinition.objects.exclude(normalise__in=["", Normaliser.NONE]).order_by("object_type", "key")
    for definition in fields:
        if definition.object_type not in RECORD_MODELS:
            continue
        model = record_model(definition.object_type)
        stored = (
            model.objects.filter(raw_values__has_key=definition.key).count()
            if any(f.name == "raw_values" for f in model._meta.fields)
            else 0
        )
        rows.append(
            {
                "object_type": definition.object_type,
                "object": _objects(definition.object_type),
                "field": texts.label(definition.object_type, definition.key),
                "normaliser": Normaliser(definition.normalise).label,
                "applied": applied.get((definition.object_type, definition.key), 0),
                "records": stored,
            }
        )
    return rows


def rejections(since: dt.datetime, until: dt.datetime) -> list[dict]:
    """Per object and field: the records the CRM sent in ``[since, until)`` that were rejected for that
    field, how often they were sent, and how many are still unresolved; most rejected first."""
    texts = FieldText()
    totals: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: {"records": 0, "sent": 0, "open": 0})
    failures = SyncFailure.objects.filter(
        Q(created_at__gte=since, created_at__lt=until) | Q(last_seen_at__gte=since, last_seen_at__lt=until)
    ).values_list("object_type", "errors", "occurrences", "resolved_at")
    for object_type, errors, occurrences, resolved_at in failures.iterator(chunk_size=2000):
        for key in errors if isinstance(errors, dict) and errors else ["(record)"]:
            entry = totals[(object_type, key)]
            entry["records"] += 1
            entry["sent"] += occurrences or 1
            entry["open"] += resolved_at is None
    rows = [
        {
            "object_type": object_type,
            "object": _objects(object_type),
            "field": SPECIAL_ERRORS.get(key) or texts.label(object_type, key),
            **counts,
        }
        for (object_type, key), counts in totals.items()
    ]
    rows.sort(key=lambda row: (-row["records"], row["object_type"], row["field"]))
    return rows
