"""Writes to the exception queue: open (de-duplicated), claim, assign, resolve, dismiss, snooze,
escalate, approve/reject/override — singly and in bulk — and the scheduled escalation and wake-up.

Every service is keyword-only, runs in one transaction, locks the item row it changes and writes
its history row inside ``audited(actor=…, reason=…)``, so the audit trail names who did what and
why. State rules:

- open statuses are ``open``, ``in_progress`` (claimed), ``snoozed`` and ``escalated``; ``resolved``
  and ``dismissed`` are closed and final (a repeat occurrence then opens a new item);
- *claiming* takes an unclaimed ``open``/``escalated`` item (``claimed_at`` is null) and makes the
  claimer its owner; *next item* hands out the most urgent claimable item of the given queues (open, or
  escalated to the caller) — overdue first, then by severity, then by due time (``triage_order``;
  ``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL, compare-and-swap elsewhere);
- *escalation* moves an item one step along its queue's path — level 1 the queue's manager, level 2
  its escalation target — unclaims it for the new owner and extends its due time; a person escalating
  gives a reason and never escalates to themselves (the step naming them is skipped);
- a snoozed item wakes up (job) at ``snoozed_until`` and goes back to ``open`` (``in_progress`` if
  it was claimed); snoozed items do not escalate while asleep.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Case, F, IntegerField, Q, QuerySet, Value, When
from django.utils import timezone

from revops.audit import audited
from revops.bulk_writes import bulk_create_audited

from . import codes
from .errors import ClaimConflict, ItemStateError
from .models import ExceptionItem, Queue
from .notifications import notify_after_commit
from .queues import queue_default, queue_resolve
from .registry import item_kind

logger = logging.getLogger(__name__)

Status = ExceptionItem.Status
OPEN = tuple(ExceptionItem.OPEN_STATUSES)
CLAIMABLE = (Status.OPEN, Status.ESCALATED)
ESCALATABLE = (Status.OPEN, Status.IN_PROGRESS, Status.ESCALATED)
MAX_ESCALATION_LEVEL = 2
SYNC_QUEUE_NAME = "CRM sync"
SYNC_REJECTED = "sync_rejected"  # the item kind for records the sync refused (registered in exceptions.apps)

# Why an item was resolved (``exceptions.codes``; ``noise`` counts against the rule in its noise rate).
RESOLUTION_CODES = codes.RESOLUTION_CODES

_ITEM_FIELDS_EXCLUDED_FROM_CLEAN = ["owner", "queue", "automation", "run", "resolved_by"]


def due_time(queue: Queue, severity: str, *, now: dt.datetime) -> dt.datetime:
    return now + dt.timedelta(hours=queue.due_hours(severity))


# --- opening (de-duplicated) ------------------------------------------------------------------


def exception_item_open(
    *,
    dedupe_key: str,
    kind: str,
    title: str,
    reason: str,
    expected_action: str = "",
    owner=None,
    severity: str | None = None,
    queue: Queue | None = None,
    queue_name: str = "",
    automation=None,
    run=None,
    object_type: str = "",
    object_id: int | None = None,
    external_id: str = "",
    due_at: dt.datetime | None = None,
    proposal: dict | None = None,
    actor=None,
) -> tuple[ExceptionItem, bool]:
    """Open an exception item, or refresh the open one with the same ``dedupe_key``; ``(item, created)``.

    A refresh bumps ``occurrences`` and ``last_seen_at`` and takes the new reason (and run and
    proposal); a closed item with the key does not count, so a new one opens. The queue is
    ``queue``, else the one named ``queue_name`` or ``automation.exception_queue``, else the default
    queue; ``due_at`` defaults to the queue's hours for the severity and ``owner`` to its manager.
    The partial unique constraint on open items settles a race between two openers (the loser
    refreshes the winner's item). History names ``actor`` if given, else the surrounding
    ``audited`` block (the engine's automation identity). Critical new items notify the owner
    immediately, after commit. ``severity`` and ``expected_action`` default to what the kind's app
    registered (``exceptions.registry.register_item_kind``).
    """
    spec, severity, expected_action = _item_defaults(kind, severity, expected_action)
    dedupe_key = dedupe_key[:200]
    for _attempt in range(3):
        with transaction.atomic():
            now = timezone.now()
            item = (
                ExceptionItem.objects.select_for_update()
                .filter(dedupe_key=dedupe_key, status__in=OPEN)
                .order_by()
                .first()
            )
            if item is not None:
                item.occurrences += 1
                item.last_seen_at = now
                item.reason = reason
                fields = ["occurrences", "last_seen_at", "reason"]
                if run is not None:
                    item.run = run
                    fields.append("run")
                if proposal is not None:
                    item.proposal = proposal
                    fields.append("proposal")
                with _maybe_audited(actor, f"seen again ({item.occurrences}×): {item.title}"):
                    item.save(update_fields=fields)
                return item, False
            item = _item_new(
                target=queue_resolve(queue=queue, queue_name=queue_name, automation=automation),
                now=now,
                dedupe_key=dedupe_key,
                kind=kind,
                title=title,
                reason=reason,
                expected_action=expected_action,
                owner=owner,
                severity=severity,
                queue=queue,
                queue_name=queue_name,
                automation=automation,
                run=run,
                object_type=object_type,
                object_id=object_id,
                external_id=external_id,
                due_at=due_at,
                proposal=proposal,
            )
            try:
                with transaction.atomic(), _maybe_audited(actor, f"opened: {kind}"):
                    item.save()
            except IntegrityError:
                continue  # another opener won the race: refresh their item
            _item_opened(item, spec)
            return item, True
    raise RuntimeError(f"could not open or refresh exception item {dedupe_key!r}")


def _item_defaults(kind: str, severity: str | None, expected_action: str):
    """(the kind's registered spec, severity, expected action) with the kind's defaults filled in."""
    spec = item_kind(kind)
    severity = severity or (spec.severity if spec else ExceptionItem.Severity.MEDIUM)
    expected_action = expected_action or (spec.expected_action if spec else "") or "Review the item and act on it."
    return spec, severity, expected_action


def _item_new(*, target: Queue, now: dt.datetime, queue, queue_name, automation, owner, due_at, proposal, **fields):
    """A new, validated (not saved) item in ``target`` queue, as ``exception_item_open`` opens it."""
    item = ExceptionItem(
        dedupe_key=fields["dedupe_key"],
        kind=fields["kind"],
        title=fields["title"][:200],
        reason=fields["reason"],
        expected_action=fields["expected_action"],
        owner=owner if owner is not None else target.manager,
        severity=fields["severity"],
        queue=target,
        queue_name=(target.name if queue is not None else queue_name or getattr(automation, "exception_queue", ""))[
            :120
        ]
        or target.name,
        automation=automation,
        run=fields["run"],
        object_type=fields["object_type"],
        object_id=fields["object_id"],
        external_id=(fields["external_id"] or "")[:64],
        due_at=due_at or due_time(target, fields["severity"], now=now),
        proposal=proposal or {},
    )
    item.full_clean(exclude=_ITEM_FIELDS_EXCLUDED_FROM_CLEAN, validate_unique=False, validate_constraints=False)
    return item


def _item_opened(item: ExceptionItem, spec) -> None:
    """The notices a new item sends after commit: critical ones at once, and kinds that ask for it."""
    if item.severity == ExceptionItem.Severity.CRITICAL:
        notify_after_commit(item=item, reason="critical")
    elif spec is not None and spec.notify_on_open:
        notify_after_commit(item=item, reason="opened")


def exception_items_create(
    *, openings: list[dict], reasons: list[str] | None = None, actor=None
) -> list[ExceptionItem]:
    """Open several new items at once: each ``openings`` entry takes ``exception_item_open``'s keywords
    (except ``actor``). Queues are resolved once per name; the items and their history rows (one
    ``reasons`` entry each, else the surrounding ``audited`` block's) go in one statement each.

    For a caller that knows no item with these keys is open (a batch driver that looked first). If one
    was opened meanwhile, the unique constraint on open items raises ``IntegrityError`` and nothing
    is written: the caller opens them one by one with ``exception_item_open`` instead.
    """
    if not openings:
        return []
    now = timezone.now()
    queues: dict[tuple, Queue] = {}
    items, specs = [], []
    for opening in openings:
        fields = {key: opening.get(key) for key in _OPENING_KEYS}
        spec, fields["severity"], fields["expected_action"] = _item_defaults(
            fields["kind"], fields["severity"], fields["expected_action"] or ""
        )
        fields["dedupe_key"] = fields["dedupe_key"][:200]
        fields["queue_name"] = fields["queue_name"] or ""
        automation = fields["automation"]
        where = (getattr(fields["queue"], "pk", None), fields["queue_name"], getattr(automation, "exception_queue", ""))
        if where not in queues:
            queues[where] = queue_resolve(queue=fields["queue"], queue_name=fields["queue_name"], automation=automation)
        items.append(_item_new(target=queues[where], now=now, **fields))
        specs.append(spec)
    with transaction.atomic():
        bulk_create_audited(model=ExceptionItem, objs=items, actor=actor, reasons=reasons)
    for item, spec in zip(items, specs, strict=True):
        _item_opened(item, spec)
    return items


_OPENING_KEYS = (
    "dedupe_key",
    "kind",
    "title",
    "reason",
    "expected_action",
    "owner",
    "severity",
    "queue",
    "queue_name",
    "automation",
    "run",
    "object_type",
    "object_id",
    "external_id",
    "due_at",
    "proposal",
)


class _NullContext:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _maybe_audited(actor, reason: str):
    """``audited`` when an actor is given; otherwise keep the surrounding audit context (the engine's)."""
    return audited(actor=actor, reason=reason) if actor is not None else _NullContext()


# --- single-item actions ----------------------------------------------------------------------


def item_locked(item: ExceptionItem) -> ExceptionItem:
    return ExceptionItem.objects.select_for_update(of=("self",)).select_related("queue").get(pk=item.pk)


def item_require_open(item: ExceptionItem, action: str) -> None:
    if item.status not in OPEN:
        raise ItemStateError(f"Cannot {action} item #{item.pk}: it is already {item.get_status_display().lower()}.")


def item_synced(target: ExceptionItem, source: ExceptionItem) -> ExceptionItem:
    """Copy the saved state back onto the caller's instance, so it sees what was written."""
    if target is source:
        return target
    target.__dict__.update({k: v for k, v in source.__dict__.items() if not k.startswith("_")})
    target._state.fields_cache = dict(source._state.fields_cache)
    return target


def item_save(item: ExceptionItem, fields: list[str], *, actor, reason: str) -> None:
    item.full_clean(exclude=_ITEM_FIELDS_EXCLUDED_FROM_CLEAN, validate_unique=False, validate_constraints=False)
    with audited(actor=actor, reason=reason):
        item.save(update_fields=fields)


def item_close(
    locked: ExceptionItem, *, status: str, code: str, note: str, actor, reason: str, also: tuple[str, ...] = ()
) -> None:
    """Close a locked item (resolved or dismissed) with its resolution, who and when (and the ``also`` fields)."""
    locked.status = status
    locked.resolution_code = code
    locked.resolution_note = note
    locked.resolved_by = actor
    locked.resolved_at = timezone.now()
    locked.snoozed_until = None
    item_save(
        locked,
        ["status", "resolution_code", "resolution_note", "resolved_by", "resolved_at", "snoozed_until", *also],
        actor=actor,
        reason=reason,
    )


def text_required(value: str, field: str, message: str) -> str:
    value = (value or "").strip()
    if not value:
        raise ValidationError({field: message})
    return value


@transaction.atomic
def exception_item_claim(*, item: ExceptionItem, actor) -> ExceptionItem:
    """Claim an unclaimed open (or escalated) item: ``actor`` becomes its owner, status ``in_progress``.

    The row is locked and re-checked, so of two people claiming at once exactly one wins; the
    other gets ``ClaimConflict`` (as does claiming a claimed, snoozed or closed item).
    """
    locked = item_locked(item)
    if locked.status not in CLAIMABLE or locked.claimed_at is not None:
        who = f" by {locked.owner}" if locked.claimed_at is not None and locked.owner_id else ""
        raise ClaimConflict(
            f"Item #{locked.pk} is not free to claim: it is {locked.get_status_display().lower()}"
            f"{' and claimed' + who if locked.claimed_at else ''}."
        )
    locked.owner = actor
    locked.claimed_at = timezone.now()
    locked.status = Status.IN_PROGRESS
    item_save(locked, ["owner", "claimed_at", "status"], actor=actor, reason="claimed")
    return item_synced(item, locked)


@transaction.atomic
def exception_item_assign(*, item: ExceptionItem, owner, actor, note: str = "") -> ExceptionItem:
    """Hand an open item to ``owner`` (a user): it counts as claimed by them, so "next item" skips it.

    A snoozed item stays snoozed; otherwise the status becomes ``in_progress``.
    """
    if owner is None:
        raise ValidationError({"owner": "Choose who the item goes to."})
    locked = item_locked(item)
    item_require_open(locked, "assign")
    locked.owner = owner
    locked.claimed_at = timezone.now()
    if locked.status != Status.SNOOZED:
        locked.status = Status.IN_PROGRESS
    reason = f"assigned to {owner.get_username()}" + (f": {note.strip()}" if note.strip() else "")
    item_save(locked, ["owner", "claimed_at", "status"], actor=actor, reason=reason)
    return item_synced(item, locked)


@transaction.atomic
def exception_item_resolve(*, item: ExceptionItem, reason_code: str, note: str = "", actor) -> ExceptionItem:
    """Close an open item as dealt with, with a reason code from ``RESOLUTION_CODES`` and a note
    (required for ``other``). A producer may also close an item with ``codes.SUPPRESSED`` (every rule on
    it suppressed for the record)."""
    if reason_code not in RESOLUTION_CODES and reason_code != codes.SUPPRESSED:
        raise ValidationError(
            {"reason_code": f"Unknown reason code {reason_code!r}; use one of {', '.join(RESOLUTION_CODES)}."}
        )
    note = (note or "").strip()
    if reason_code == "other" and not note:
        raise ValidationError({"note": "Say what was done when the reason is 'other'."})
    locked = item_locked(item)
    item_require_open(locked, "resolve")
    item_close(
        locked,
        status=Status.RESOLVED,
        code=reason_code,
        note=note,
        actor=actor,
        reason=f"resolved ({reason_code})" + (f": {note}" if note else ""),
    )
    return item_synced(item, locked)


@transaction.atomic
def exception_item_dismiss(*, item: ExceptionItem, reason: str, actor, noise: bool = False) -> ExceptionItem:
    """Close an open item as not needing action; ``reason`` is required and kept as the note.

    ``noise``: the rule that raised it is wrong here; the item is closed with the code ``noise``, which
    counts against the rule in its noise rate (``exceptions.suppressions``, ``monitors.selectors``)."""
    reason = text_required(reason, "reason", "Say why this item is dismissed.")
    locked = item_locked(item)
    item_require_open(locked, "dismiss")
    code = codes.NOISE if noise else "dismissed"
    item_close(
        locked,
        status=Status.DISMISSED,
        code=code,
        note=reason,
        actor=actor,
        reason=f"dismissed{' as noise' if noise else ''}: {reason}",
    )
    return item_synced(item, locked)


@transaction.atomic
def exception_item_snooze(*, item: ExceptionItem, until: dt.datetime, actor, note: str = "") -> ExceptionItem:
    """Put an open item aside until ``until`` (in the future); the wake-up job reopens it then."""
    if until is None or until <= timezone.now():
        raise ValidationError({"until": "Snooze until a time in the future."})
    locked = item_locked(item)
    item_require_open(locked, "snooze")
    locked.status = Status.SNOOZED
    locked.snoozed_until = until
    reason = f"snoozed until {until.isoformat(timespec='minutes')}" + (f": {note.strip()}" if note.strip() else "")
    item_save(locked, ["status", "snoozed_until"], actor=actor, reason=reason)
    return item_synced(item, locked)


def escalation_step(locked: ExceptionItem, *, actor=None) -> tuple[int, Any]:
    """The level an escalation of ``locked`` reaches and who holds it then: ``(level, user or None)``.

    Level 1 is the queue's manager, level 2 its escalation target (each standing in for the other when
    unset). A person escalating (``actor``) never hands the item to themselves nor back to its current
    owner: such a step is skipped and the item goes one level further; when nobody else is named
    above, ``ItemStateError``. The scheduled escalation (no actor) takes the next step as it is, so an
    overdue item the manager already owns becomes "escalated" with them (and "Next item" serves it
    to them first) before it reaches the escalation target.
    """
    queue = locked.queue or queue_default()

    def holder(level: int):
        return (queue.manager or queue.escalation_target) if level == 1 else (queue.escalation_target or queue.manager)

    first = locked.escalation_level + 1
    if actor is None:
        return first, holder(first)
    avoid = {pk for pk in (actor.pk, locked.owner_id) if pk is not None}
    for level in range(first, MAX_ESCALATION_LEVEL + 1):
        owner = holder(level)
        if owner is None or owner.pk not in avoid:
            return level, owner
    raise ItemStateError(
        f"Cannot escalate item #{locked.pk}: nobody above you is named on the escalation path of queue "
        f"“{queue.name}”. Assign it to someone instead."
    )


def person_name(user) -> str:
    """A person as people read them: full name, else the username."""
    return (user.get_full_name() or user.get_username()) if user is not None else ""


ESCALATION_STEPS = {1: "queue manager", 2: "escalation target"}


def _escalate_locked(locked: ExceptionItem, *, actor, reason: str, now: dt.datetime) -> ExceptionItem:
    queue = locked.queue or queue_default()
    level, new_owner = escalation_step(locked, actor=actor)
    if new_owner is not None:
        locked.owner = new_owner
    locked.escalation_level = level
    locked.escalated_at = now
    locked.status = Status.ESCALATED
    locked.claimed_at = None  # the new owner has not picked it up yet
    locked.next_escalation_at = now + dt.timedelta(hours=queue.due_hours(locked.severity))
    who = (
        f"{person_name(new_owner)} ({ESCALATION_STEPS[level]})"
        if new_owner is not None
        else "nobody (the queue names no one)"
    )
    item_save(
        locked,
        ["owner", "escalation_level", "escalated_at", "status", "claimed_at", "next_escalation_at"],
        actor=actor,
        reason=f"escalated to {who}" + (f": {reason}" if reason else ""),
    )
    if locked.owner_id is not None:
        notify_after_commit(item=locked, reason=f"escalated_{level}")
    return locked


@transaction.atomic
def exception_item_escalate(*, item: ExceptionItem, actor, reason: str) -> ExceptionItem:
    """Move an open item one step up its queue's path (manager, then escalation target) and notify.

    ``reason`` is required (it is what the new holder reads first). The step that would name ``actor``
    is skipped (see ``escalation_step``). Refused for snoozed or closed items and for items already at
    the top of the path.
    """
    reason = text_required(reason, "reason", "Say why you escalate this item.")
    locked = item_locked(item)
    if locked.status not in ESCALATABLE:
        raise ItemStateError(f"Cannot escalate item #{locked.pk}: it is {locked.get_status_display().lower()}.")
    if locked.escalation_level >= MAX_ESCALATION_LEVEL:
        raise ItemStateError(f"Item #{locked.pk} is already at the top of its escalation path.")
    _escalate_locked(locked, actor=actor, reason=reason, now=timezone.now())
    return item_synced(item, locked)


# --- next item ----------------------------------------------------------------------------------


def _queue_ids(queues) -> list[int] | None:
    if queues is None:
        return None
    if isinstance(queues, QuerySet):
        return list(queues.values_list("pk", flat=True))
    return [getattr(q, "pk", q) for q in queues]


SEVERITY_RANK = {"critical": 0, "high": 1, "medium": 2, "low": 3}


def triage_order(*, now: dt.datetime) -> list:
    """The order items are served in: overdue first (escalated items included), then by severity
    (critical first), then by due time (none last), then the oldest id. ``now`` decides what is overdue."""
    overdue = Case(When(due_at__lt=now, status__in=OPEN, then=Value(0)), default=Value(1), output_field=IntegerField())
    severity = Case(
        *(When(severity=key, then=Value(rank)) for key, rank in SEVERITY_RANK.items()),
        default=Value(len(SEVERITY_RANK)),
        output_field=IntegerField(),
    )
    return [overdue.asc(), severity.asc(), F("due_at").asc(nulls_last=True), F("id").asc()]


def triage_tiers(*, now: dt.datetime) -> list[tuple[Q, tuple[str, ...]]]:
    """``triage_order`` for open items only, as consecutive tiers: (a condition, its order). Walked in turn
    they give the open items in exactly that order, each tier a range of the ``exception_open_triage``
    index (a severity and a due-time range): an unfiltered open list reads about as many index entries
    as a page shows. A severity outside the four (only SQL could store one) ranks last, as in
    ``triage_order``; it is read as the key ranges around the known ones, which are empty."""
    known = sorted(SEVERITY_RANK)
    other = Q(severity__lt=known[0]) | Q(severity__gt=known[-1])
    for low, high in zip(known, known[1:], strict=False):
        other |= Q(severity__gt=low, severity__lt=high)
    severities = [Q(severity=key) for key in SEVERITY_RANK] + [other]
    by_due = ("due_at", "id")
    overdue = [(severity & Q(due_at__lt=now), by_due) for severity in severities]
    later = []
    for severity in severities:
        later.append((severity & Q(due_at__gte=now), by_due))
        later.append((severity & Q(due_at__isnull=True), ("id",)))
    return overdue + later


def claimable_items(queues: Iterable[Queue | int] | QuerySet | None, *, actor=None) -> QuerySet[ExceptionItem]:
    """What "next item" may hand ``actor`` from ``queues`` (``None``: every queue): unclaimed open items,
    and unclaimed escalated items escalated to ``actor`` (or to nobody). An item escalated to someone
    else waits for them — never back to the person who escalated it. Snoozed items wait until they
    wake; claimed items are someone's already."""
    ids = _queue_ids(queues)
    mine = Q(owner__isnull=True) if actor is None else Q(owner__isnull=True) | Q(owner_id=actor.pk)
    base = ExceptionItem.objects.filter(
        Q(status=Status.OPEN) | (Q(status=Status.ESCALATED) & mine), claimed_at__isnull=True
    )
    return base if ids is None else base.filter(queue_id__in=ids)


CLAIM_REASON = "claimed (next item)"
# "Next item" on PostgreSQL claims in one statement per tier (``_claim_sql``): overdue first, then
# the rest, each severity by severity (critical first) in due order — ``triage_order``, along the
# ``exception_claimable`` index, reading a few rows instead of sorting every claimable item. Its
# WHERE clause is ``claimable_items`` written out: keep them together
# (tests/exceptions/test_triage_order.py checks the order against every claimable item).
_CLAIMABLE_SQL = (
    "item.claimed_at IS NULL AND (item.status = 'open' OR (item.status = 'escalated'"
    " AND (item.owner_id IS NULL OR item.owner_id = %(actor)s)))"
    " AND (%(every_queue)s OR item.queue_id = ANY(%(queues)s))"
)
_TIER_SQL = {
    "overdue": "item.severity = %(severity)s AND item.due_at < %(now)s",
    "later": "item.severity = %(severity)s AND (item.due_at >= %(now)s OR item.due_at IS NULL)",
}


@functools.lru_cache(maxsize=4)
def _claim_sql(where: str) -> str:
    """Pick the first item matching ``where`` in due order that no one else is claiming, make the
    actor its owner, in progress, and write its history row as django-simple-history would
    (changed by the actor, reason "claimed (next item)"); return the claimed row."""
    table = ExceptionItem._meta.db_table
    history = ExceptionItem.history.model
    copied = ", ".join(f'"{f.column}"' for f in history._meta.concrete_fields if not f.name.startswith("history_"))
    returned = ", ".join(f'"{f.column}"' for f in ExceptionItem._meta.concrete_fields)
    return f"""
        WITH picked AS (
            SELECT item.id FROM "{table}" AS item
            WHERE {_CLAIMABLE_SQL} AND {where}
            ORDER BY item.due_at ASC NULLS LAST, item.id ASC
            LIMIT 1 FOR UPDATE OF item SKIP LOCKED
        ),
        claimed AS (
            UPDATE "{table}" AS item SET owner_id = %(actor)s, claimed_at = %(now)s, status = %(status)s
            FROM picked WHERE item.id = picked.id RETURNING item.*
        ),
        logged AS (
            INSERT INTO "{history._meta.db_table}"
                ({copied}, history_date, history_change_reason, history_type, history_user_id)
            SELECT {copied}, %(now)s, %(reason)s, '~', %(actor)s FROM claimed
        )
        SELECT {returned} FROM claimed
    """


def _claim_one_sql(*, actor, queue_ids: list[int] | None, now: dt.datetime) -> ExceptionItem | None:
    """Claim the most urgent claimable item on PostgreSQL, tier by tier, or return None."""
    params = {
        "actor": actor.pk,
        "every_queue": queue_ids is None,
        "queues": list(queue_ids or []),
        "now": now,
        "status": Status.IN_PROGRESS,
        "reason": CLAIM_REASON,
    }
    fields = ExceptionItem._meta.concrete_fields
    with connection.cursor() as cursor:
        for tier in ("overdue", "later"):
            sql = _claim_sql(_TIER_SQL[tier])
            for severity in SEVERITY_RANK:
                cursor.execute(sql, {**params, "severity": severity})
                row = cursor.fetchone()
                if row is not None:
                    values = [
                        f.from_db_value(value, None, connection) if hasattr(f, "from_db_value") else value
                        for f, value in zip(fields, row, strict=True)
                    ]
                    return ExceptionItem.from_db(connection.alias, [f.attname for f in fields], values)
    return None


def exception_next_item(*, actor, queues: Iterable[Queue | int] | QuerySet | None) -> ExceptionItem | None:
    """Claim and return the most urgent claimable item of ``queues`` for ``actor``, or None.

    ``queues`` is what the actor may work (``None``: every queue). Claimable: ``open``, or ``escalated`` to
    the actor, and not claimed (``claimable_items``); served in ``triage_order`` — overdue first, then severity,
    then due time. On PostgreSQL the candidate row is taken with ``SELECT … FOR UPDATE SKIP LOCKED``,
    so concurrent callers each get a different item without waiting; elsewhere a compare-and-swap
    update that must change exactly one row decides, retried on a lost race. Either way no item is
    ever handed to two people.
    """
    ids = _queue_ids(queues)
    if ids is not None and not ids:
        return None
    if connection.vendor == "postgresql":
        # Each tier's claim is one statement (pick, update, history row), atomic on its own: no
        # transaction around it, which would cost two more round trips per claim.
        item = _claim_one_sql(actor=actor, queue_ids=ids, now=timezone.now())
        if item is not None:
            return item
        # Only an item whose severity is outside the ranks (never written by the portal) is left.
        with transaction.atomic():
            rest = claimable_items(ids, actor=actor).exclude(severity__in=list(SEVERITY_RANK))
            item = (
                rest.order_by(*triage_order(now=timezone.now()))
                .select_for_update(skip_locked=True, of=("self",))
                .first()
            )
            if item is None:
                return None
            item.owner, item.claimed_at, item.status = actor, timezone.now(), Status.IN_PROGRESS
            with audited(actor=actor, reason=CLAIM_REASON):
                item.save(update_fields=["owner", "claimed_at", "status"])
            return item
    base = claimable_items(ids, actor=actor)
    for _attempt in range(50):
        with transaction.atomic():
            now = timezone.now()
            candidate = base.order_by(*triage_order(now=now)).values_list("pk", flat=True).first()
            if candidate is None:
                return None
            won = base.filter(pk=candidate).update(owner=actor, claimed_at=now, status=Status.IN_PROGRESS)
            if won != 1:
                continue  # someone else took it between our read and our update
            item = ExceptionItem.objects.get(pk=candidate)
            with audited(actor=actor, reason=CLAIM_REASON):
                item.save(update_fields=["claimed_at"])  # the history row
            return item
    return None


# --- bulk ----------------------------------------------------------------------------------------


def _bulk(items_qs, action, **kwargs) -> dict[str, Any]:
    """Apply ``action`` to each item separately (same checks, own savepoint); count the outcomes."""
    result: dict[str, Any] = {"done": 0, "skipped": 0, "errors": {}}
    pks = (
        list(items_qs.order_by().values_list("pk", flat=True))
        if isinstance(items_qs, QuerySet)
        else [getattr(i, "pk", i) for i in items_qs]
    )
    for pk in pks:
        try:
            action(item=ExceptionItem(pk=pk), **kwargs)
        except ExceptionItem.DoesNotExist:
            result["skipped"] += 1
            result["errors"][pk] = "no longer exists"
        except ValidationError as exc:
            result["skipped"] += 1
            result["errors"][pk] = " ".join(exc.messages)
        else:
            result["done"] += 1
    return result


def exception_items_bulk_claim(*, items_qs, actor) -> dict[str, Any]:
    """Claim each item (see ``exception_item_claim``); returns ``{"done", "skipped", "errors": {pk: msg}}``."""
    return _bulk(items_qs, exception_item_claim, actor=actor)


def exception_items_bulk_assign(*, items_qs, owner, actor, note: str = "") -> dict[str, Any]:
    """Assign each item to ``owner`` (see ``exception_item_assign``); returns the counts."""
    if owner is None:
        raise ValidationError({"owner": "Choose who the items go to."})
    return _bulk(items_qs, exception_item_assign, owner=owner, actor=actor, note=note)


def exception_items_bulk_resolve(*, items_qs, reason_code: str, note: str = "", actor) -> dict[str, Any]:
    """Resolve each item with the same reason code and note; returns the counts."""
    if reason_code not in RESOLUTION_CODES:
        raise ValidationError({"reason_code": f"Unknown reason code {reason_code!r}."})
    return _bulk(items_qs, exception_item_resolve, reason_code=reason_code, note=note, actor=actor)


def exception_items_bulk_dismiss(*, items_qs, reason: str, actor, noise: bool = False) -> dict[str, Any]:
    """Dismiss each item with the same (required) reason (and noise flag); returns the counts."""
    reason = text_required(reason, "reason", "Say why these items are dismissed.")
    return _bulk(items_qs, exception_item_dismiss, reason=reason, actor=actor, noise=noise)


def exception_items_bulk_snooze(*, items_qs, until: dt.datetime, actor, note: str = "") -> dict[str, Any]:
    """Snooze each item until ``until``; returns the counts."""
    if until is None or until <= timezone.now():
        raise ValidationError({"until": "Snooze until a time in the future."})
    return _bulk(items_qs, exception_item_snooze, until=until, actor=actor, note=note)


def exception_items_bulk_escalate(*, items_qs, actor, reason: str) -> dict[str, Any]:
    """Escalate each item one step with the same (required) reason; returns the counts."""
    reason = text_required(reason, "reason", "Say why you escalate these items.")
    return _bulk(items_qs, exception_item_escalate, actor=actor, reason=reason)


# --- scheduled ------------------------------------------------------------------------------------


def exception_escalate_overdue(*, now: dt.datetime | None = None, limit: int = 1000) -> int:
    """Escalate every open/in-progress/escalated item past its due time one step (job, every 5 min).

    The due time never moves: the new holder gets the queue's hours for the severity before the
    next step (``next_escalation_at``), and the item keeps showing as overdue meanwhile.

    Each item is locked with SKIP LOCKED (PostgreSQL) so a concurrent run or a human acting on it
    is never blocked nor doubled; each step records level, time, new owner and due time in the
    item's history and notifies the new owner. Returns how many items were escalated.
    """
    now = now or timezone.now()
    overdue = Q(status__in=ESCALATABLE, due_at__lt=now, escalation_level__lt=MAX_ESCALATION_LEVEL) & (
        Q(next_escalation_at__isnull=True) | Q(next_escalation_at__lte=now)
    )
    count = 0
    for pk in ExceptionItem.objects.filter(overdue).order_by("due_at", "id").values_list("pk", flat=True)[:limit]:
        with transaction.atomic():
            qs = ExceptionItem.objects.filter(overdue, pk=pk).select_related("queue")
            locked = qs.select_for_update(skip_locked=True, of=("self",)).first()
            if locked is None:
                continue
            _escalate_locked(
                locked, actor=None, reason=f"overdue since {locked.due_at.isoformat(timespec='minutes')}", now=now
            )
            count += 1
    return count


def exception_wake_snoozed(*, now: dt.datetime | None = None, limit: int = 5000) -> int:
    """Reopen snoozed items whose ``snoozed_until`` has passed (job, every minute) and tell the owner.

    An item that was claimed goes back to ``in_progress`` with its owner, otherwise to ``open``.
    """
    now = now or timezone.now()
    due = Q(status=Status.SNOOZED, snoozed_until__lte=now)
    count = 0
    for pk in ExceptionItem.objects.filter(due).order_by("snoozed_until", "id").values_list("pk", flat=True)[:limit]:
        with transaction.atomic():
            locked = ExceptionItem.objects.filter(due, pk=pk).select_for_update(skip_locked=True).first()
            if locked is None:
                continue
            locked.status = Status.IN_PROGRESS if locked.claimed_at else Status.OPEN
            locked.snoozed_until = None
            with audited(actor=None, reason="snooze ended"):
                locked.save(update_fields=["status", "snoozed_until"])
            if locked.owner_id is not None:
                notify_after_commit(item=locked, reason=f"woke_{now:%Y%m%d%H%M}")
            count += 1
    return count
