"""Reads of the data-quality app: duplicate sets with their members named (not numbered)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from revops.admin.links import record_url, why_url

from .models import DuplicateMember, DuplicateSet
from .objects import duplicate_object


@dataclass
class MemberView:
    object_type: str
    object_id: int
    name: str
    external_id: str
    url: str | None
    why: str | None
    matched_name: str = ""
    score: int | None = None
    evidence: list[str] = field(default_factory=list)
    missing: bool = False


def _names(wanted: dict[str, set[int]]) -> dict[tuple[str, int], tuple[str, str]]:
    """(object type, id) → (name, external id), one query per object type."""
    out = {}
    for object_type, ids in wanted.items():
        entry = duplicate_object(object_type)
        if entry is None or not ids:
            continue
        columns = {"id", "external_id", *entry.display_columns}
        for row in entry.model.objects.filter(pk__in=list(ids)).values(*columns):
            out[(object_type, row["id"])] = (entry.name_of(row), row["external_id"])
    return out


def members_of(sets) -> dict[int, list[MemberView]]:
    """Each set's members, named, with the record each matched and the evidence (a deleted record says so)."""
    sets = list(sets)
    rows = list(DuplicateMember.objects.filter(set__in=sets).order_by("set_id", "pk"))
    wanted: dict[str, set[int]] = defaultdict(set)
    for row in rows:
        wanted[row.object_type].add(row.object_id)
    names = _names(wanted)
    out: dict[int, list[MemberView]] = {s.pk: [] for s in sets}
    for row in rows:
        name, ext = names.get((row.object_type, row.object_id), ("", ""))
        matched = names.get((row.object_type, row.matched_id), ("", ""))[0] if row.matched_id else ""
        out[row.set_id].append(
            MemberView(
                object_type=row.object_type,
                object_id=row.object_id,
                name=name or f"{row.object_type} #{row.object_id} (no longer in the portal)",
                external_id=ext,
                url=record_url(row.object_type, row.object_id) if name else None,
                why=why_url(row.object_type, row.object_id) if name else None,
                matched_name=matched,
                score=row.score,
                evidence=list(row.evidence or []),
                missing=not name,
            )
        )
    return out


def sets_of_record(object_type: str, object_id: int) -> list[dict]:
    """The duplicate sets a record is in (open first), each with its other members — for the Why page."""
    sets = list(
        DuplicateSet.objects.filter(members__object_type=object_type, members__object_id=object_id)
        .select_related("rule", "dismissed_by")
        .order_by("status", "-updated_at")
        .distinct()
    )
    if not sets:
        return []
    members = members_of(sets)
    out = []
    for dup_set in sets:
        own = next((m for m in members[dup_set.pk] if m.object_id == object_id), None)
        others = [m for m in members[dup_set.pk] if m.object_id != object_id]
        out.append({"set": dup_set, "own": own, "others": others})
    return out


def set_title(dup_set: DuplicateSet, members: list[MemberView]) -> str:
    """ "Ada Moreno, Ada Moreon and 1 more" — a set named by its records."""
    shown = [m for m in members if not m.missing] or list(members)
    names = [m.name for m in shown]
    if len(set(names)) < len(names):  # namesakes: their CRM ids tell them apart
        names = [f"{m.name} ({m.external_id})" if m.external_id else m.name for m in shown]
    if len(names) <= 2:
        return " and ".join(names)
    return f"{names[0]}, {names[1]} and {len(names) - 2} more"
