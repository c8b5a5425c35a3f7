"""What the hygiene and renewal scans share about findings: writing a chunk's findings against what is
stored, and which items people closed.

A finding is a policy (an automation) that a record breaks, with its sentence and values: at most one
unresolved row per record and policy automation (``HygieneFinding`` for deals, ``RenewalFinding`` for
accounts). ``findings_write`` creates what started firing, rewrites what changed (sentence, values or
mode) and resolves what stopped, with what fixed it in words — in three bulk statements.

Scarcity (docs/monitors.md "Scarcity"), the same for both scans: ``item_policies`` (what "Suppress…"
offers on an item: its live findings not suppressed), ``suppressed_text`` / ``suppressed_words`` (a
suppression in words, on the item and on the Why page), ``items_open`` (open or refresh items in bulk
with their due times) and ``items_open_waiting`` (new items under a per-owner rate limit: the most
important first, the rest held and counted).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from exceptions.bulk import ItemSpec, exception_items_open_many
from exceptions.codes import SUPPRESSED
from exceptions.models import ExceptionItem, Suppression
from exceptions.rate_limits import rate_limit_holds_record, rate_limit_split
from exceptions.services import OPEN, exception_item_resolve
from exceptions.suppressions import suppression_active_q
from revops.bulk_writes import bulk_update_rows_audited
from revops.models import Automation

from . import words

LIVE = Automation.Mode.LIVE


@dataclass
class FindingsWritten:
    """The outcome of ``findings_write``: the rows created, changed and resolved, and by record id the
    words of what fixed each resolved live finding."""

    created: list = field(default_factory=list)
    changed: list = field(default_factory=list)
    resolved: list = field(default_factory=list)
    fixed: dict[int, list[str]] = field(default_factory=lambda: defaultdict(list))

    def counts(self) -> dict[str, int]:
        return {
            "findings_created": len(self.created),
            "findings_changed": len(self.changed),
            "findings_resolved": len(self.resolved),
        }


def findings_write(
    *,
    model,
    subject: str,
    existing: dict,
    fired: dict,
    passing: dict,
    running: set[int],
    policies: dict,
    now: dt.datetime,
    noun: str,
) -> FindingsWritten:
    """Bring a chunk's findings up to date and write them.

    ``existing``, ``fired`` and ``passing`` are keyed ``(record id, automation id)``: the unresolved rows,
    and ``(automation, check)`` of the policies that fired or passed. ``running``: the ids of the policy
    automations that ran (a finding of another one is resolved as "no longer runs"). ``subject``: the
    model's foreign key to the record (``opportunity``, ``account``); ``policies``: the shipped policies by
    key (their ``fixed`` words); ``noun``: the record in words ("deal", "account").
    """
    out = FindingsWritten()
    for (record_pk, automation_pk), (automation, check) in fired.items():
        old = existing.get((record_pk, automation_pk))
        if old is None:
            out.created.append(
                model(
                    **{f"{subject}_id": record_pk},
                    automation=automation,
                    policy=automation.config["policy"],
                    mode=automation.mode,
                    text=check.text,
                    values=check.values,
                    first_seen_at=now,
                    last_changed_at=now,
                )
            )
        elif (old.text, old.values, old.mode) != (check.text, check.values, automation.mode):
            old.text, old.values, old.mode, old.last_changed_at = check.text, check.values, automation.mode, now
            out.changed.append(old)
    for key, old in existing.items():
        if key in fired:
            continue
        if key in passing:
            automation, check = passing[key]
            old.resolution = f"{policies[automation.config['policy']].fixed} ({check.text.rstrip('.')})"[:300]
        elif key[1] in running:
            old.resolution = f"the {noun} is no longer covered by the policy's conditions"
        else:
            old.resolution = "the policy no longer runs (paused, retired or removed)"
        old.resolved_at = now
        out.resolved.append(old)
        if old.mode == LIVE:
            out.fixed[key[0]].append(old.resolution)
    model.objects.bulk_create(out.created)
    model.objects.bulk_update(out.changed, ["text", "values", "mode", "last_changed_at"])
    model.objects.bulk_update(out.resolved, ["resolved_at", "resolution"])
    return out


def closed_by_people(keys: list[str], actor) -> dict[str, dt.datetime]:
    """The latest time a person (not the scan, ``actor``) closed each of these items, by dedupe key."""
    if not keys:
        return {}
    rows = (
        ExceptionItem.objects.filter(dedupe_key__in=keys, status__in=("resolved", "dismissed"))
        .exclude(resolved_by=actor)
        .values("dedupe_key")
        .annotate(at=Max("resolved_at"))
    )
    return {row["dedupe_key"]: row["at"] for row in rows if row["at"] is not None}


ITEM_TEXT = ("title", "reason", "expected_action")


@dataclass
class ItemCandidates:
    """A chunk's one-item-per-record picture: the open items by dedupe key (``open_items``, rows with their
    text), and ``todo``: ``(record, key, open row or None)`` for each record with live findings whose item
    may need writing — those a person closed with nothing new found since are left out."""

    keys: list[str]
    open_items: dict[str, dict]
    todo: list[tuple]


def item_candidates(records: list, live: dict, *, key_of, first_seen: dict, actor) -> ItemCandidates:
    """Which records of a chunk may need their item opened or refreshed (three queries at most)."""
    keys = [key_of(record.pk) for record in records]
    open_items = {
        row["dedupe_key"]: row
        for row in ExceptionItem.objects.filter(dedupe_key__in=keys, status__in=OPEN).values(
            "pk", "dedupe_key", *ITEM_TEXT
        )
    }
    wanted = [record for record in records if record.pk in live]
    closed = closed_by_people([key_of(r.pk) for r in wanted if key_of(r.pk) not in open_items], actor)
    todo = []
    for record in wanted:
        key = key_of(record.pk)
        if key not in open_items and key in closed and first_seen[record.pk] <= closed[key]:
            continue  # a person closed it and nothing new was found since
        todo.append((record, key, open_items.get(key)))
    return ItemCandidates(keys=keys, open_items=open_items, todo=todo)


def item_text_unchanged(old: dict | None, text: dict) -> bool:
    """Whether an open item already says ``text`` (then nothing is written)."""
    return old is not None and all(old[f] == text[f] for f in ITEM_TEXT)


def items_close_gone(
    candidates: ItemCandidates, live: dict, *, fixed: dict, left_out: dict, nothing_left: str, actor
) -> int:
    """Resolve the open items of records without live findings any more, saying what fixed them (``fixed``),
    or that what is left is suppressed (``left_out``); ``nothing_left`` when neither says. Returns how many."""
    gone = [
        candidates.open_items[key]["pk"]
        for key in candidates.keys
        if key in candidates.open_items and int(key.rsplit(":", 1)[1]) not in live
    ]
    resolved = 0
    for item in ExceptionItem.objects.filter(pk__in=gone).order_by("pk"):
        notes = fixed.get(item.object_id)
        suppressed = sorted(left_out.get(item.object_id, []))
        if suppressed and not notes:
            note, code = "Suppressed: " + "; ".join(suppressed) + ".", SUPPRESSED
        else:
            also = f" Suppressed: {'; '.join(suppressed)}." if suppressed else ""
            note, code = "Fixed in the CRM: " + "; ".join(notes or [nothing_left]) + "." + also, "fixed_in_crm"
        exception_item_resolve(item=item, reason_code=code, note=note[:1000], actor=actor)
        resolved += 1
    return resolved


# --- scarcity: suppressions and rate limits ----------------------------------------------------------------


def item_policies(item: ExceptionItem, *, model, subject: str) -> list[tuple[int, str]]:
    """The live policies ``item`` lists now (its record's live findings in ``model``, keyed by the foreign
    key ``subject``, not suppressed for the item's kind), by name: what "Suppress…" offers."""
    suppressed = Suppression.objects.filter(
        suppression_active_q(), object_type=item.object_type, object_id=item.object_id, kind=item.kind
    ).values_list("automation_id", flat=True)
    rows = (
        model.objects.filter(**{f"{subject}_id": item.object_id}, resolved_at__isnull=True, mode=LIVE)
        .exclude(automation_id__in=[pk for pk in suppressed if pk is not None])
        .select_related("automation")
    )
    return sorted(((row.automation_id, row.automation.name) for row in rows), key=lambda pair: pair[1])


def _who(row: Suppression) -> str:
    return (row.created_by.get_full_name() or row.created_by.get_username()) if row.created_by_id else "someone"


def suppressed_text(row: Suppression) -> str:
    """ "Close date in the past, until the deal changes, by Ann Lee (Known, being handled)" (on the item)."""
    return f"{row.topic_label}, {row.ends_text()}, by {_who(row)} ({row.get_reason_code_display()})"


def suppressed_words(row: Suppression, *, noun: str) -> str:
    """ "suppressed until the account changes by Ann Lee on 3 Dec (Known, being handled: …); it stays off the
    account's item" (on the Why page; ``noun``: the record in words)."""
    note = f": {row.note}" if row.note else ""
    text = f"suppressed {row.ends_text()} by {_who(row)} on {words.day(timezone.localdate(row.created_at))} "
    text += f"({row.get_reason_code_display()}{note}); it stays off the {noun}'s item"
    if getattr(row, "changed", False):
        text += f" (the {noun} has changed since: the next scan lifts it)"
    return text


def items_open(specs: list[ItemSpec], dues: dict, *, actor, reason: str, now: dt.datetime, due_reason: str) -> Counter:
    """Open or refresh ``specs`` in bulk; the new ones (their dedupe keys in ``dues``) get their due time.
    Returns the counts ``items_created`` and ``items_refreshed``."""
    if not specs:
        return Counter()
    counts = exception_items_open_many(specs, actor=actor, change_reason=reason, now=now)
    rows = {
        pk: {"due_at": dues[key]}
        for pk, key in ExceptionItem.objects.filter(dedupe_key__in=list(dues), status__in=OPEN).values_list(
            "pk", "dedupe_key"
        )
    }
    bulk_update_rows_audited(model=ExceptionItem, rows=rows, fields=["due_at"], actor=actor, reason=due_reason)
    return Counter(items_created=counts["created"], items_refreshed=counts["refreshed"])


def items_open_waiting(
    *,
    kind: str,
    waiting: list[tuple],
    actor,
    reason: str,
    now: dt.datetime,
    due_reason: str,
    chunk: int,
    record_holds: bool,
) -> Counter:
    """Under a rate limit on ``kind``: open the waiting new items (``(spec, due, importance)``, the smallest
    importance first) that fit each owner's room, ``chunk`` per transaction, and count the rest as held
    back (``record_holds``: the pass saw every record, so its counts replace the stored ones). Returns the
    counts ``items_created``, ``items_refreshed`` and ``items_held``."""
    admitted, held, limit = rate_limit_split(
        kind=kind,
        candidates=waiting,
        owner=lambda row: row[0].owner_id,
        importance=lambda row: row[2],
        now=now,
    )
    counts = Counter()
    for start in range(0, len(admitted), chunk):
        part = admitted[start : start + chunk]
        with transaction.atomic():
            counts.update(
                items_open(
                    [spec for spec, _, _ in part],
                    {spec.dedupe_key: due for spec, due, _ in part},
                    actor=actor,
                    reason=reason,
                    now=now,
                    due_reason=due_reason,
                )
            )
    counts["items_held"] += sum(held.values())
    if record_holds:
        rate_limit_holds_record(kind=kind, held=held, limit=limit, now=now)
    return counts
