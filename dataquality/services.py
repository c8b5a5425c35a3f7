"""Writes of the data-quality app: duplicate rules (with their match fields) and duplicate sets.

``duplicate_rule_save`` validates a rule against the dictionary and the object registry and stores
it with its fields (history and a version attributed to the actor). ``duplicate_pairs_record``
turns matched pairs into sets: a pair opens a set, or extends the open set one of its records is
in, or joins two open sets; a pair already together in an open set changes nothing, and a pair a
person dismissed together is never proposed again (so re-running a scan is idempotent).
``duplicate_set_dismiss`` closes a set as "not duplicates" with a reason.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

import django_rq
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from revops.audit import audited, system_user
from revops.bulk_writes import bulk_create_audited, bulk_update_audited
from revops.sync_writers import PgWriter

from .auto_merge import OBJECT_TYPE as AUTO_MERGE_OBJECT
from .auto_merge import auto_merge_later
from .matchers import Method
from .models import DuplicateMember, DuplicateRule, DuplicateSet, MatchField
from .objects import duplicate_object, object_choices
from .rules import field_labels, forget_spec

logger = logging.getLogger(__name__)

RULES_USER = "duplicate-rules"
FIELD_KEYS = {"field", "method", "similarity", "weight", "blocking"}
SCAN_JOB = "dataquality.jobs.dataquality_scan"


# --- rules -----------------------------------------------------------------------------------------


def _field(rule: DuplicateRule, index: int, data: dict, labels: dict) -> MatchField:
    where = f"fields[{index}]"
    unknown = set(data) - FIELD_KEYS
    if unknown:
        accepted = ", ".join(sorted(FIELD_KEYS))
        raise ValidationError({where: f"Unknown keys {', '.join(sorted(unknown))}; accepted: {accepted}."})
    key = str(data.get("field") or "").strip()
    if key not in labels:
        known = ", ".join(sorted(labels)) or "none"
        raise ValidationError({where: f"{key!r} is not a field of the {rule.object_type} (accepted: {known})."})
    method = data.get("method") or Method.NORMALISED
    if method not in Method.values:
        raise ValidationError({where: f"Method {method!r} is not one of: {', '.join(Method.values)}."})
    row = MatchField(
        rule=rule,
        position=index,
        field=key,
        method=method,
        similarity=data.get("similarity") if data.get("similarity") is not None else 90,
        weight=data.get("weight") if data.get("weight") is not None else 50,
        blocking=data.get("blocking") if data.get("blocking") is not None else True,
    )
    match_field_clean(row, where=where)
    return row


def match_field_clean(row: MatchField, *, where: str = "__all__") -> None:
    """Checks a form and the service share: similarity between 50 and 100 %, at least one point."""
    problems = []
    if isinstance(row.similarity, bool) or not isinstance(row.similarity, int) or not 50 <= row.similarity <= 100:
        problems.append(f"The similarity is a whole percentage from 50 to 100; got {row.similarity!r}.")
    if isinstance(row.weight, bool) or not isinstance(row.weight, int) or not 1 <= row.weight <= 1000:
        problems.append(f"The points are a whole number from 1 to 1000; got {row.weight!r}.")
    if not isinstance(row.blocking, bool):
        problems.append(f"Blocking key is true or false; got {row.blocking!r}.")
    if problems:
        raise ValidationError({where: problems})


def duplicate_rule_clean(rule: DuplicateRule) -> None:
    if duplicate_object(rule.object_type) is None:
        accepted = ", ".join(key for key, _ in object_choices())
        raise ValidationError(
            {"object_type": f"{rule.object_type!r} cannot be checked for duplicates (accepted: {accepted})."}
        )
    rule.full_clean(exclude=["created_at", "updated_at", "version"])
    if rule.auto_merge and rule.object_type != "lead":
        raise ValidationError(
            {
                "auto_merge": "Only lead rules merge without approval: contacts and accounts carry relationships "
                "(deals, roles, named accounts) a person checks before a merge."
            }
        )
    if not rule.threshold:
        raise ValidationError({"threshold": "The points needed are at least 1."})


def rule_fields_clean(rule: DuplicateRule, rows: list[MatchField]) -> None:
    """A rule compares at least one field, each field and method once, and can find what it promises:
    the fields that are not blocking keys must not reach the threshold on their own (pairs that match
    only on them would never be compared)."""
    if not rows:
        raise ValidationError({"fields": "A rule compares at least one field."})
    seen = set()
    for row in rows:
        slot = (row.field, row.method)
        if slot in seen:
            raise ValidationError({"fields": f"{row.field} is compared twice the same way ({row.method})."})
        seen.add(slot)
    if not any(row.blocking for row in rows):
        raise ValidationError(
            {"fields": "At least one field must be a blocking key (a scan never compares all pairs)."}
        )
    free = [row for row in rows if not row.blocking]
    if sum(row.weight for row in free) >= rule.threshold:
        names = ", ".join(row.field for row in free)
        raise ValidationError(
            {
                "fields": f"The fields that are not blocking keys ({names}) add up to {sum(r.weight for r in free)} "
                f"points, at least the {rule.threshold} needed: pairs that match only on them would never be "
                "compared. Make one of them a blocking key or raise the points needed."
            }
        )
    total = sum(row.weight for row in rows)
    if total < rule.threshold:
        raise ValidationError(
            {
                "threshold": f"The fields add up to {total} points, less than the {rule.threshold} needed: nothing could match."
            }
        )


@transaction.atomic
def duplicate_rule_save(
    *, rule: DuplicateRule, fields: list[dict] | None = None, actor, reason: str = ""
) -> DuplicateRule:
    """Validate and save ``rule``; with ``fields`` (dicts: field, method, similarity, weight, blocking)
    replace its match fields in order. Raises ``ValidationError`` naming the field. After commit a
    full scan is queued so the blocking keys and sets follow the rule as it is now."""
    duplicate_rule_clean(rule)
    labels = field_labels(rule.object_type)
    if fields is not None:
        rows = [_field(rule, i, dict(data), labels) for i, data in enumerate(fields)]
    else:
        rows = list(rule.fields.all()) if rule.pk else []
    rule_fields_clean(rule, rows)
    with audited(actor=actor, reason=reason or f"duplicate rule {rule.name} saved"):
        rule.save()
        if fields is not None:
            rule.fields.all().delete()
            for row in rows:
                row.rule = rule
                row.full_clean()
                row.save()
    forget_spec(rule.pk)
    if rule.is_active:
        transaction.on_commit(lambda: dataquality_scan_enqueue(reason=f"rule {rule.name} saved"))
    return rule


@transaction.atomic
def duplicate_rule_delete(*, rule: DuplicateRule, actor, reason: str = "") -> None:
    """Delete a rule that never found a set; one that did is deactivated instead (its sets stay readable)."""
    with audited(actor=actor, reason=reason or f"duplicate rule {rule.name} deleted"):
        forget_spec(rule.pk)
        if rule.sets.exists():
            raise ValidationError(
                f"{rule.name} found duplicate sets, which name it; make it inactive instead of deleting it."
            )
        rule.delete()


def dataquality_scan_enqueue(*, reason: str = "") -> bool:
    """Queue a full scan on the low lane; False (logged) when Redis is down: the nightly scan catches up."""
    try:
        django_rq.get_queue("low", commit_mode="auto").enqueue(SCAN_JOB, reason or "requested")
    except Exception:
        logger.exception("could not enqueue the duplicate scan; the nightly scan will run it")
        return False
    return True


# --- sets ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pair:
    """Record ``a`` matched record ``b`` under rule ``rule_id`` with ``score`` points for ``evidence``."""

    a: int
    b: int
    rule_id: int
    score: int
    evidence: tuple[str, ...]


@dataclass
class SetCounts:
    opened: int = 0
    extended: int = 0
    joined: int = 0
    kept: int = 0
    dismissed_before: int = 0
    set_ids: set[int] = field(default_factory=set)

    def as_dict(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in ("opened", "extended", "joined", "kept", "dismissed_before")}


def member_rows_insert(members: list[DuplicateMember]) -> None:
    """Insert new members (COPY on PostgreSQL: a scan adds thousands)."""
    if not members:
        return
    if connection.vendor != "postgresql":
        DuplicateMember.objects.bulk_create(members)
        return
    now = timezone.now()
    rows = [
        {
            "set_id": m.set_id,
            "object_type": m.object_type,
            "object_id": m.object_id,
            "matched_id": m.matched_id,
            "score": m.score,
            "evidence": m.evidence,
            "added_at": now,
        }
        for m in members
    ]
    PgWriter().insert_rows(DuplicateMember, rows)


def lock_object_type(object_type: str) -> None:
    """Serialise set writes per object type (ingest and the scan): two never open two sets for one record."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"dataquality:{object_type}"])


@transaction.atomic
def duplicate_pairs_record(*, object_type: str, pairs: Iterable[Pair], found_by: str, actor=None) -> SetCounts:
    """Open, extend or join the duplicate sets of ``object_type`` for ``pairs`` (see the module docstring).

    A record is in at most one open set of its object, whichever rules matched it: a new set names
    the rule of its best pair.

    The records and their open sets are grouped (union-find): a group with no open set becomes a new
    set; a group with one gains its new records; a group with several keeps the oldest set, the others'
    members move into it and they are deleted. Each new member keeps its best pair as its evidence."""
    counts = SetCounts()
    pairs = [p for p in pairs if p.a != p.b]
    if not pairs:
        return counts
    lock_object_type(object_type)
    ids = {p.a for p in pairs} | {p.b for p in pairs}
    open_of: dict[int, int] = {}
    dismissed: dict[int, set[int]] = {}
    rows = DuplicateMember.objects.filter(
        object_type=object_type,
        object_id__in=list(ids),
        set__status__in=(DuplicateSet.Status.OPEN, DuplicateSet.Status.DISMISSED),
    ).values_list("object_id", "set_id", "set__status")
    for object_id, set_id, status in rows:
        if status == DuplicateSet.Status.OPEN:
            open_of[object_id] = set_id
        else:
            dismissed.setdefault(object_id, set()).add(set_id)
    parent: dict = {}

    def find(node):
        parent.setdefault(node, node)
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    def union(x, y):
        rx, ry = find(x), find(y)
        if rx != ry:
            parent[ry] = rx

    best: dict[int, Pair] = {}
    for pair in pairs:
        if dismissed.get(pair.a, set()) & dismissed.get(pair.b, set()):
            counts.dismissed_before += 1
            continue
        union(pair.a, pair.b)
        for object_id in (pair.a, pair.b):
            if object_id not in best or (pair.score, -pair.a, -pair.b) > (
                best[object_id].score,
                -best[object_id].a,
                -best[object_id].b,
            ):
                best[object_id] = pair
    for object_id, set_id in open_of.items():
        if object_id in best:
            union(object_id, ("set", set_id))
    groups: dict = {}
    for object_id in best:
        groups.setdefault(find(object_id), []).append(object_id)
    if not groups:
        return counts
    actor = actor or system_user(RULES_USER, first_name="Duplicate rules")
    now = timezone.now()
    reason = "duplicates found on ingest" if found_by == DuplicateSet.FoundBy.INGEST else "duplicates found by the scan"
    stored = DuplicateSet.objects.in_bulk(set(open_of.values()))
    new_sets, new_members, changed, gone = [], [], {}, []
    for records in groups.values():
        records.sort()
        existing = sorted({open_of[r] for r in records if r in open_of})
        score = max(best[r].score for r in records)
        newcomers = [r for r in records if r not in open_of]
        if not existing:
            top = max((best[r] for r in records), key=lambda p: (p.score, -p.a, -p.b))
            target = DuplicateSet(rule_id=top.rule_id, object_type=object_type, score=score, found_by=found_by)
            new_sets.append((target, records))
            counts.opened += 1
            continue
        target = stored[existing[0]]
        if len(existing) > 1:
            DuplicateMember.objects.filter(set_id__in=existing[1:]).update(set=target)
            target.score = max([target.score, *(stored[pk].score for pk in existing[1:])])
            gone.extend(existing[1:])
            counts.joined += 1
        elif newcomers:
            counts.extended += 1
        else:
            counts.kept += 1
        if newcomers or len(existing) > 1 or score > target.score:
            target.score = max(target.score, score)
            changed[target.pk] = target
        new_members.extend((target, r) for r in newcomers)
    created = bulk_create_audited(
        model=DuplicateSet, objs=[s for s, _ in new_sets], actor=actor, reason=reason, date=now
    )
    for target, records in new_sets:
        new_members.extend((target, r) for r in records)
    members = []
    for target, object_id in new_members:
        pair = best[object_id]
        other = pair.b if pair.a == object_id else pair.a
        members.append(
            DuplicateMember(
                set_id=target.pk,
                object_type=object_type,
                object_id=object_id,
                matched_id=other,
                score=pair.score,
                evidence=list(pair.evidence),
            )
        )
    member_rows_insert(members)
    if gone:
        with audited(actor=actor, reason=f"{reason}: joined to another set"):
            for dup_set in DuplicateSet.objects.filter(pk__in=gone):
                dup_set.delete()
    for target in changed.values():
        target.updated_at = now
    bulk_update_audited(
        model=DuplicateSet,
        objs=list(changed.values()),
        fields=["score", "updated_at"],
        actor=actor,
        reason=reason,
        date=now,
    )
    counts.set_ids = {s.pk for s in created} | set(changed)
    if object_type == AUTO_MERGE_OBJECT:
        auto_merge_later(counts.set_ids)
    return counts


@transaction.atomic
def duplicate_set_dismiss(*, dup_set: DuplicateSet, reason: str, actor) -> DuplicateSet:
    """Close an open set as "not duplicates": its records are never proposed together again by this rule."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why these records are not duplicates (it is kept with the set)."})
    locked = DuplicateSet.objects.select_for_update().get(pk=dup_set.pk)
    if locked.status != DuplicateSet.Status.OPEN:
        raise ValidationError(
            f"This set is already {locked.get_status_display().lower()}; only an open set can be dismissed."
        )
    locked.status = DuplicateSet.Status.DISMISSED
    locked.dismissed_reason = reason
    locked.dismissed_by = actor
    locked.dismissed_at = timezone.now()
    locked.full_clean()
    with audited(actor=actor, reason=f"duplicate set dismissed: {reason}"):
        locked.save()
    return locked
