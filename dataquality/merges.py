"""Merges: a survivorship preview, proposals as approval items, the merge in one transaction, its exact undo.

``merge_propose`` turns a duplicate set into one proposal per record that would be merged away, each
an approval item in the queue (kind ``merge_proposal``) with the preview: per dictionary field, both
values, the one that wins and why. The approver may change any winner (``merge_winners_set``), then
approves (``merge_apply``: the survivor takes the winning values, the loser is kept as it was and
marked merged through the ``Merge`` row, the loser's related rows — ``revops.plugins.merge_relations``
— point to the survivor; history and a changes-feed entry tell the CRM what to merge) or rejects.
``merge_undo`` restores the survivor's values and points every moved row back, and tells the CRM; it
refuses, naming them, where a later change would be overwritten.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from exceptions.services import exception_item_open
from revops.audit import audited
from revops.bulk_writes import InArray, bulk_update_audited
from revops.display import FieldText
from revops.feed import change_entries_record
from revops.models import ChangeEntry, FieldDefinition
from revops.models.dictionary import SourceOfTruth
from revops.plugins import merge_relations
from revops.values import jsonable

from .models import DuplicateMember, DuplicateSet, Merge
from .objects import duplicate_object

ITEM_KIND = "merge_proposal"
ITEM_LABEL = "Merge proposal"
ITEM_EXPECTED = (
    "Check which value wins for each field (change any you disagree with), then approve or reject the merge."
)
# Dictionary fields a merge never copies: the record's identity and the CRM's clock.
NOT_MERGED = {"external_id", "source_updated_at"}
# References (owner, account…) and choices (status…) keep the survivor's value: a merge does not reassign or
# reset work because the duplicate was created later.
KEEP_SURVIVOR_TYPES = {"reference", "choice"}


@dataclass(frozen=True)
class MergeField:
    """A dictionary field of the object as a merge reads and writes it."""

    key: str
    label: str
    attname: str | None  # the column, or None for a custom field (in ``attributes``)
    source_of_truth: str
    reference_to: str
    field_type: str = "text"


def merge_fields(object_type: str) -> list[MergeField]:
    """The object's dictionary fields a merge decides, in the dictionary's order."""
    entry = duplicate_object(object_type)
    model = entry.model
    columns = {f.name: f.attname for f in model._meta.concrete_fields}
    rows = FieldDefinition.objects.filter(object_type=object_type, is_deprecated=False).order_by("pk")
    return [
        MergeField(
            row.key, row.label, columns.get(row.key), row.source_of_truth, row.reference_to or "", row.field_type
        )
        for row in rows
        if row.key not in NOT_MERGED
    ]


def _value(record, field: MergeField):
    if field.attname is not None:
        return getattr(record, field.attname)
    return (record.attributes or {}).get(field.key)


def _blank(value) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _changed_at(record) -> dt.datetime | None:
    """When the CRM last changed the record (None when it never said)."""
    return record.source_updated_at


_NEVER = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


# What makes a record "complete" is what the CRM told about the person or company: not who works it or where
# it stands (references, choices, yes/no), nor values the portal computes (its source of truth, a live score)
# — those change as the portal works the record, and the survivor must not depend on when it is proposed.
_COMPLETENESS_TYPES = {"text", "email", "url", "integer", "decimal", "date", "datetime", "multi_choice"}


def _filled(record, fields: list[MergeField]) -> int:
    return sum(
        not _blank(_value(record, f))
        for f in fields
        if f.field_type in _COMPLETENESS_TYPES and f.source_of_truth != SourceOfTruth.PORTAL and f.key != "score"
    )


def survivor_first(records: list, fields: list[MergeField]) -> list:
    """``records`` best survivor first: the most complete (most of the CRM's descriptive fields filled), then
    the most recently changed in the CRM (as it says in ``source_updated_at``), then the oldest in the portal."""
    return sorted(records, key=lambda r: (-_filled(r, fields), -(_changed_at(r) or _NEVER).timestamp(), r.pk))


def _text(texts: FieldText, object_type: str, field: MergeField, value) -> str:
    """A value as people read it: names for references, labels for choices; the empty value as a dash."""
    return "—" if _blank(value) else texts.value(object_type, field.key, value)


def preview(object_type: str, survivor, loser, fields: list[MergeField] | None = None) -> list[dict]:
    """Per field: both values, the winner (``survivor`` or ``loser``) and why, in words.

    Never a blank over a value; a field the portal is the source of truth for, a reference or a choice
    keeps the survivor's; two different values: the record the CRM changed last wins (the survivor's when
    the CRM did not say when it changed both)."""
    fields = merge_fields(object_type) if fields is None else fields
    texts = FieldText()
    mine_at, theirs_at = _changed_at(survivor), _changed_at(loser)
    newer = None if mine_at is None or theirs_at is None else ("loser" if theirs_at > mine_at else "survivor")
    rows = []
    for field in fields:
        mine, theirs = _value(survivor, field), _value(loser, field)
        if mine == theirs or (_blank(mine) and _blank(theirs)):
            winner, why = "survivor", "the same on both"
        elif _blank(mine):
            winner, why = "loser", "the survivor has none: never a blank over a value"
        elif _blank(theirs):
            winner, why = "survivor", "the merged record has none"
        elif isinstance(mine, str) and isinstance(theirs, str) and mine.strip().casefold() == theirs.strip().casefold():
            winner, why = "survivor", "the same but for capitals or spaces: the survivor's stays"
        elif field.source_of_truth == SourceOfTruth.PORTAL:
            winner, why = "survivor", "the portal is this field's source of truth: the survivor's stays"
        elif field.field_type in KEEP_SURVIVOR_TYPES:
            winner, why = "survivor", "who works the record and where it stands stay with the survivor"
        elif newer is None:
            winner, why = "survivor", "the CRM did not say when it changed both records: the survivor's stays"
        else:
            winner = newer
            why = "the record the CRM changed last ({})".format(
                "the merged record" if newer == "loser" else "the survivor"
            )
        rows.append(
            {
                "key": field.key,
                "label": field.label,
                "survivor": jsonable(mine),
                "loser": jsonable(theirs),
                "survivor_text": _text(texts, object_type, field, mine),
                "loser_text": _text(texts, object_type, field, theirs),
                "winner": winner,
                "why": why,
                "differs": not (mine == theirs or (_blank(mine) and _blank(theirs))),
            }
        )
    return rows


def _records(object_type: str, ids, *, lock: bool = False) -> dict:
    model = duplicate_object(object_type).model
    rows = model.objects.filter(pk__in=list(ids)).order_by("pk")
    if lock:
        rows = rows.select_for_update()
    return {r.pk: r for r in rows}


# --- proposals -------------------------------------------------------------------------------------


@transaction.atomic
def merge_propose(
    *, dup_set: DuplicateSet, actor=None, survivor_id: int | None = None, automatic: bool = False, note: str = ""
) -> list[Merge]:
    """Propose merging the open set's records into one: the best survivor (or ``survivor_id``) and one
    proposal per other record, each with its preview and an approval item (``automatic``: no item, the
    caller merges at once — ``auto_merge``). Returns the proposals (the ones already waiting are
    returned as they are)."""
    if dup_set.status != DuplicateSet.Status.OPEN:
        raise ValidationError("Only an open duplicate set can be merged.")
    object_type = dup_set.object_type
    ids = list(DuplicateMember.objects.filter(set=dup_set).values_list("object_id", flat=True))
    records = _records(object_type, ids)
    if len(records) < 2:
        raise ValidationError("The set needs two records that still exist to merge.")
    fields = merge_fields(object_type)
    if survivor_id is not None and survivor_id not in records:
        raise ValidationError("The survivor must be one of the set's records.")
    ordered = survivor_first(list(records.values()), fields)
    survivor = records[survivor_id] if survivor_id is not None else ordered[0]
    merges = []
    for loser in ordered:
        if loser.pk == survivor.pk:
            continue
        merge = Merge.objects.filter(
            object_type=object_type, survivor_id=survivor.pk, loser_id=loser.pk, status=Merge.Status.PROPOSED
        ).first()
        if merge is None:
            with audited(actor=actor, reason="merge proposed"):
                merge = Merge.objects.create(
                    object_type=object_type,
                    survivor_id=survivor.pk,
                    loser_id=loser.pk,
                    duplicate_set=dup_set,
                    fields=preview(object_type, survivor, loser, fields),
                    proposed_by=actor,
                    automatic=automatic,
                    note=note,
                )
            if not automatic:
                _item_open(merge, survivor, loser, actor=actor)
        merges.append(merge)
    return merges


def _item_open(merge: Merge, survivor, loser, *, actor=None) -> None:
    label = duplicate_object(merge.object_type).label
    changes = [row for row in merge.fields if row["winner"] == "loser"]
    exception_item_open(
        dedupe_key=f"merge:{merge.pk}",
        kind=ITEM_KIND,
        title=f"Merge {label} {loser} ({loser.external_id}) into {survivor.external_id}?"[:200],
        reason=(
            f"Duplicate set #{merge.duplicate_set_id}: {label} {loser} ({loser.external_id}) looks like "
            f"{survivor} ({survivor.external_id}). Merging keeps {survivor} and takes "
            f"{len(changes)} value{'s' if len(changes) != 1 else ''} from the other record."
        ),
        expected_action=ITEM_EXPECTED,
        object_type=merge.object_type,
        object_id=survivor.pk,
        external_id=survivor.external_id,
        proposal={"action": "merge_records", "merge_id": merge.pk},
        actor=actor,
    )


@transaction.atomic
def merge_winners_set(*, merge: Merge, winners: dict[str, str], actor) -> Merge:
    """Let the approver choose another winner for some fields (``{key: "survivor" | "loser"}``)."""
    merge = Merge.objects.select_for_update().get(pk=merge.pk)
    if merge.status != Merge.Status.PROPOSED:
        raise ValidationError("Only a proposal waiting for approval can be changed.")
    known = {row["key"] for row in merge.fields}
    unknown = sorted(set(winners) - known)
    if unknown:
        raise ValidationError(f"Not a field of this merge: {', '.join(unknown)}.")
    fields = []
    for row in merge.fields:
        choice = winners.get(row["key"], row["winner"])
        if choice not in ("survivor", "loser"):
            raise ValidationError(f"{row['label']}: choose the survivor's or the merged record's value.")
        if choice != row["winner"]:
            row = {**row, "winner": choice, "why": "chosen by the approver"}
        fields.append(row)
    merge.fields = fields
    with audited(actor=actor, reason="merge winners changed"):
        merge.save(update_fields=["fields", "updated_at"])
    return merge


# --- merge -----------------------------------------------------------------------------------------


def _locked_pair(merge: Merge):
    records = _records(merge.object_type, [merge.survivor_id, merge.loser_id], lock=True)
    survivor, loser = records.get(merge.survivor_id), records.get(merge.loser_id)
    if survivor is None or loser is None:
        raise ValidationError("One of the two records no longer exists: the merge cannot be applied.")
    return survivor, loser


def _write(record, field: MergeField, value) -> None:
    if field.attname is not None:
        setattr(record, field.attname, value)
    else:
        attributes = dict(record.attributes or {})
        if _blank(value):
            attributes.pop(field.key, None)
        else:
            attributes[field.key] = value
        record.attributes = attributes


def _python(field: MergeField, model, value):
    """A stored JSON value back as the column takes it (dates and decimals were written as text)."""
    if field.attname is None or value is None:
        return value
    return model._meta.get_field(field.attname).to_python(value)


@transaction.atomic
def merge_apply(*, merge: Merge, actor, note: str = "") -> Merge:
    """Merge the proposal's loser into its survivor in one transaction (see the module docstring)."""
    merge = Merge.objects.select_for_update().get(pk=merge.pk)
    if merge.status != Merge.Status.PROPOSED:
        raise ValidationError(f"This merge is {merge.get_status_display().lower()}: there is nothing to apply.")
    if Merge.objects.filter(
        object_type=merge.object_type, loser_id=merge.survivor_id, status=Merge.Status.MERGED
    ).exists():
        raise ValidationError("The survivor was itself merged into another record: propose the merge again.")
    survivor, loser = _locked_pair(merge)
    fields = {f.key: f for f in merge_fields(merge.object_type)}
    before, after = {}, {}
    for row in merge.fields:
        field = fields.get(row["key"])
        if field is None or row["winner"] != "loser":
            continue
        before[field.key] = jsonable(_value(survivor, field))
        _write(survivor, field, _value(loser, field))
        after[field.key] = jsonable(_value(survivor, field))
    now = timezone.now()
    label = duplicate_object(merge.object_type).label
    reason = f"merged {label} {loser.external_id} into {survivor.external_id}"
    with audited(actor=actor, reason=reason[:100]):
        if after:
            survivor.save()
        moved = _move(merge.object_type, source=loser.pk, target=survivor.pk, actor=actor, reason=reason)
        merge.status, merge.decided_by, merge.decided_at = Merge.Status.MERGED, actor, now
        merge.survivor_before, merge.survivor_after, merge.moved = before, after, moved
        merge.note = note or merge.note
        merge.save()
        if (
            merge.duplicate_set_id
            and not Merge.objects.filter(duplicate_set_id=merge.duplicate_set_id, status=Merge.Status.PROPOSED).exists()
        ):
            DuplicateSet.objects.filter(pk=merge.duplicate_set_id).update(status=DuplicateSet.Status.MERGED)
    change_entries_record(
        [
            {
                "kind": ChangeEntry.Kind.RECORDS_MERGED,
                "object_type": merge.object_type,
                "external_id": loser.external_id,
                "payload": {
                    "survivor": survivor.external_id,
                    "merged": loser.external_id,
                    "values": after,
                    "moved": {key: len(ids) for key, ids in moved.items()},
                },
                "reason": f"{label} merged by {_who(actor)}",
                "dedupe_key": f"merge:{merge.pk}:merged:{now.isoformat()}",
            }
        ]
    )
    return merge


def _who(actor) -> str:
    if actor is None:
        return "the system"
    return actor.get_full_name() or actor.get_username()


def _relation_key(relation) -> str:
    return f"{relation.model._meta.label}.{relation.field}"


def _move(object_type: str, *, source: int, target: int, actor, reason: str, only: dict | None = None) -> dict:
    """Point the rows of every merge relation from ``source`` to ``target`` (with history); returns the
    moved ids per relation. ``only``: just these ids per relation (an undo moves back what it moved)."""
    moved = {}
    for relation in merge_relations(object_type):
        key = _relation_key(relation)
        attname = relation.model._meta.get_field(relation.field).attname
        rows = relation.model.objects.filter(**{attname: source})
        if only is not None:
            ids = only.get(key) or []
            if not ids:
                continue
            rows = rows.filter(InArray("pk", ids))
        rows = list(rows.order_by("pk").select_for_update())
        if not rows:
            continue
        for row in rows:
            setattr(row, attname, target)
        bulk_update_audited(model=relation.model, objs=rows, fields=[relation.field], actor=actor, reason=reason[:100])
        moved[key] = [row.pk for row in rows]
    return moved


# --- undo ------------------------------------------------------------------------------------------


def undo_conflicts(merge: Merge, *, survivor=None) -> list[str]:
    """Why the merge cannot be undone without overwriting a later change (sentences; empty: it can).
    ``survivor``: the survivor as already loaded (locked by ``merge_undo``), spared a second read."""
    if merge.status != Merge.Status.MERGED:
        return [f"This merge is {merge.get_status_display().lower()}: there is nothing to undo."]
    if survivor is None:
        records = _records(merge.object_type, [merge.survivor_id, merge.loser_id])
        survivor = records.get(merge.survivor_id)
        if survivor is None or merge.loser_id not in records:
            return ["One of the two records no longer exists."]
    fields = {f.key: f for f in merge_fields(merge.object_type)}
    texts = FieldText()
    problems = []
    for key, written in merge.survivor_after.items():
        field = fields.get(key)
        if field is None:
            continue
        now = jsonable(_value(survivor, field))
        if now != written:
            problems.append(
                f"{field.label} changed since the merge (now {_text(texts, merge.object_type, field, now)}); "
                "undoing would overwrite it."
            )
    for relation in merge_relations(merge.object_type):
        ids = merge.moved.get(_relation_key(relation)) or []
        if not ids:
            continue
        attname = relation.model._meta.get_field(relation.field).attname
        away = relation.model.objects.filter(InArray("pk", ids)).exclude(**{attname: merge.survivor_id}).count()
        if away:
            problems.append(
                f"{relation.label.capitalize()} moved by the merge that point elsewhere since: {away}; "
                "undoing would move them back."
            )
    if Merge.objects.filter(
        object_type=merge.object_type, loser_id=merge.survivor_id, status=Merge.Status.MERGED
    ).exists():
        problems.append("The survivor was merged into another record since: undo that merge first.")
    return problems


@transaction.atomic
def merge_undo(*, merge: Merge, actor, reason: str = "") -> Merge:
    """Restore both records and every moved row exactly, and tell the CRM; refused (ValidationError
    naming each conflict) where a later change would be overwritten."""
    merge = Merge.objects.select_for_update().get(pk=merge.pk)
    survivor, loser = _locked_pair(merge) if merge.status == Merge.Status.MERGED else (None, None)
    problems = undo_conflicts(merge, survivor=survivor)
    if problems:
        raise ValidationError(problems)
    model = type(survivor)
    fields = {f.key: f for f in merge_fields(merge.object_type)}
    for key, value in merge.survivor_before.items():
        field = fields.get(key)
        if field is not None:
            _write(survivor, field, _python(field, model, value))
    now = timezone.now()
    label = duplicate_object(merge.object_type).label
    why = f"undid the merge of {label} {loser.external_id} into {survivor.external_id}"
    with audited(actor=actor, reason=why[:100]):
        if merge.survivor_before:
            survivor.save()
        _move(merge.object_type, source=survivor.pk, target=loser.pk, actor=actor, reason=why, only=merge.moved)
        merge.status, merge.undone_by, merge.undone_at = Merge.Status.UNDONE, actor, now
        if reason:
            merge.note = f"{merge.note}\nUndone: {reason}".strip()
        merge.save()
        if merge.duplicate_set_id:
            DuplicateSet.objects.filter(pk=merge.duplicate_set_id, status=DuplicateSet.Status.MERGED).update(
                status=DuplicateSet.Status.OPEN
            )
    change_entries_record(
        [
            {
                "kind": ChangeEntry.Kind.MERGE_UNDONE,
                "object_type": merge.object_type,
                "external_id": loser.external_id,
                "payload": {
                    "survivor": survivor.external_id,
                    "restored": loser.external_id,
                    "values": merge.survivor_before,
                    "moved_back": {key: len(ids) for key, ids in merge.moved.items()},
                },
                "reason": f"{label} merge undone by {_who(actor)}",
                "dedupe_key": f"merge:{merge.pk}:undone:{now.isoformat()}",
            }
        ]
    )
    return merge


@transaction.atomic
def merge_reject(*, merge: Merge, actor, reason: str) -> Merge:
    """Record that a person said no to the proposal (the set stays open for another decision)."""
    merge = Merge.objects.select_for_update().get(pk=merge.pk)
    if merge.status != Merge.Status.PROPOSED:
        raise ValidationError("Only a proposal waiting for approval can be rejected.")
    merge.status, merge.decided_by, merge.decided_at = Merge.Status.REJECTED, actor, timezone.now()
    merge.note = reason
    with audited(actor=actor, reason="merge rejected"):
        merge.save()
    return merge
