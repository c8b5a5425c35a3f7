"""Suppression: a person silences one rule for one record, until a date or until the record changes.

Writes (services) and reads (selectors) of ``exceptions.models.Suppression``:

- ``exception_item_suppress`` — the item action "Suppress…": the person picks which of the item's
  rules (``exceptions.registry.register_suppression_topics``; by default the item's automation), until
  a date or until the record changes, and a reason code. Then the producer brings the item up to date
  at once (the registered ``after``), or the queue closes it (code ``suppressed``) when nothing is left.
- ``suppression_lift`` — a person lifts a suppression early.
- ``suppressions_in_force`` — for a producer: the active suppressions of a batch of records, after
  lapsing those whose date passed or whose record changed (a real change of a stored value: the
  record's fingerprint differs; a rescan or a sync that sends the same values changes nothing).
- ``suppression_reason_counts`` — reason codes counted per topic (``noise`` feeds the noise rate).
- ``visible_suppressions`` — what a user may see: everything for RevOps admins, else the suppressions
  made on items they may see.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping

from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from revops.audit import audited
from revops.selectors import record_model

from . import codes, selectors
from .errors import ItemStateError
from .models import ExceptionItem, Suppression, record_word, when_text
from .registry import suppression_topics
from .services import OPEN, exception_item_resolve, item_locked, item_synced

Reason = Suppression.Reason
MAX_DAYS = 366
# Columns that change without the record's data changing: a sync that sends the same values bumps them.
BOOKKEEPING = frozenset({"id", "created_at", "updated_at", "source_updated_at"})
KIND_TOPIC = "kind"


def record_fingerprint(instance) -> str:
    """A hash of a record's stored values (core columns and custom attributes), bookkeeping left out."""
    values = {
        field.attname: getattr(instance, field.attname)
        for field in instance._meta.concrete_fields
        if field.name not in BOOKKEEPING
    }
    text = json.dumps(values, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _record(object_type: str, object_id):
    try:
        return record_model(object_type).objects.get(pk=object_id)
    except (KeyError, LookupError, ObjectDoesNotExist, ValueError, TypeError):
        return None


# --- topics of an item -----------------------------------------------------------------------------


def item_topics(item: ExceptionItem) -> list[tuple[str, str]]:
    """``(value, label)`` of the rules a person may suppress on ``item``'s record: ``"<automation id>"``,
    or ``"kind"`` for the item's kind when it names no automation."""
    spec = suppression_topics(item.kind)
    if spec is not None:
        return [(str(pk), label) for pk, label in spec.topics(item)]
    if item.automation_id is not None:
        return [(str(item.automation_id), item.automation.name)]
    return [(KIND_TOPIC, item.get_kind_display())]


def _end_words(until: dt.datetime | None, until_change: bool, object_type: str) -> str:
    if until_change:
        return f"until the {record_word(object_type)} changes"
    return f"until {when_text(until)}"


# --- services ----------------------------------------------------------------------------------------


def _validate(*, until, until_change, reason_code, note, now) -> str:
    errors = {}
    if until is not None and until_change:
        errors["until"] = "Choose a date or “until the record changes”, not both."
    elif until is None and not until_change:
        errors["until"] = "Say until when: a date, or until the record changes."
    elif until is not None and until <= now:
        errors["until"] = "Suppress until a time in the future."
    elif until is not None and until > now + dt.timedelta(days=MAX_DAYS):
        errors["until"] = f"Suppress for at most {MAX_DAYS} days; after that, change the rule instead."
    if reason_code not in Reason.values:
        errors["reason_code"] = f"Choose a reason: {', '.join(Reason.labels)}."
    note = (note or "").strip()
    if reason_code == Reason.OTHER and not note:
        errors["note"] = "Say why when the reason is “other”."
    if errors:
        raise ValidationError(errors)
    return note


def _replace(*, object_type: str, object_id: int, automation_id, kind: str, actor, now) -> None:
    """Lift what is not yet lifted for the same record and topic: one suppression per topic at a time."""
    old = Suppression.objects.select_for_update().filter(
        object_type=object_type, object_id=object_id, automation_id=automation_id, kind=kind, lifted_at__isnull=True
    )
    for row in old:
        row.lifted_at, row.lifted_by, row.lift_reason = now, actor, "replaced by a new suppression"
        row.save(update_fields=["lifted_at", "lifted_by", "lift_reason"])


@transaction.atomic
def suppression_create(
    *,
    object_type: str,
    object_id: int,
    automation=None,
    kind: str = "",
    until: dt.datetime | None = None,
    until_change: bool = False,
    reason_code: str,
    note: str = "",
    item: ExceptionItem | None = None,
    actor,
    now: dt.datetime | None = None,
) -> Suppression:
    """Suppress one topic (``automation`` and/or item ``kind``) for one record, until ``until`` or until
    the record changes; replaces the topic's earlier suppression of the record. Audited as ``actor``."""
    now = now or timezone.now()
    note = _validate(until=until, until_change=until_change, reason_code=reason_code, note=note, now=now)
    if automation is None and not kind:
        raise ValidationError({"topics": "Say which rule to suppress."})
    record = _record(object_type, object_id)
    if record is None:
        raise ValidationError({"topics": f"The {record_word(object_type)} #{object_id} no longer exists."})
    words = _end_words(until, until_change, object_type)
    with audited(actor=actor, reason=f"suppressed {words} ({Reason(reason_code).label})"):
        _replace(
            object_type=object_type,
            object_id=object_id,
            automation_id=getattr(automation, "pk", None),
            kind=kind,
            actor=actor,
            now=now,
        )
        row = Suppression(
            object_type=object_type,
            object_id=object_id,
            external_id=(getattr(record, "external_id", "") or "")[:64],
            record_label=str(record)[:200],
            automation=automation,
            kind=kind,
            until=until,
            until_change=until_change,
            fingerprint=record_fingerprint(record) if until_change else "",
            reason_code=reason_code,
            note=note,
            item=item,
            created_by=actor,
            created_at=now,
        )
        row.full_clean(exclude=["automation", "item", "created_by", "lifted_by"])
        row.save()
    return row


@transaction.atomic
def exception_item_suppress(
    *,
    item: ExceptionItem,
    actor,
    topics: Iterable[str] | None = None,
    until: dt.datetime | None = None,
    until_change: bool = False,
    reason_code: str,
    note: str = "",
) -> ExceptionItem:
    """Suppress rules of an open item for its record (all the item lists when ``topics`` is empty), then
    bring the item up to date: the producer's ``after`` hook, else close it (``suppressed``) when every
    rule of it is suppressed. Returns the item as it is afterwards."""
    from revops.models import Automation

    locked = item_locked(item)
    if locked.status not in OPEN:
        raise ItemStateError(f"Cannot suppress for item #{locked.pk}: it is {locked.get_status_display().lower()}.")
    if not locked.object_type or locked.object_id is None:
        raise ItemStateError(f"Item #{locked.pk} is about no record, so there is nothing to suppress.")
    offered = dict(item_topics(locked))
    chosen = [str(t) for t in (topics or [])] or list(offered)
    unknown = [t for t in chosen if t not in offered]
    if unknown:
        raise ValidationError(
            {
                "topics": f"Not on this item: {', '.join(unknown)}. It lists: "
                + (", ".join(f"{v} ({label})" for v, label in offered.items()) or "nothing")
            }
        )
    if not chosen:
        raise ItemStateError(f"Item #{locked.pk} lists no rule that can be suppressed.")
    now = timezone.now()
    automations = Automation.objects.in_bulk([int(t) for t in chosen if t != KIND_TOPIC])
    made = []
    for topic in chosen:
        made.append(
            suppression_create(
                object_type=locked.object_type,
                object_id=locked.object_id,
                automation=automations.get(int(topic)) if topic != KIND_TOPIC else None,
                kind=locked.kind,
                until=until,
                until_change=until_change,
                reason_code=reason_code,
                note=note,
                item=locked,
                actor=actor,
                now=now,
            )
        )
    spec = suppression_topics(locked.kind)
    if spec is not None and spec.after is not None:
        spec.after(locked, actor)
    elif len(chosen) == len(offered):
        first = made[0]
        exception_item_resolve(
            item=locked,
            reason_code=codes.SUPPRESSED,
            note=f"Suppressed by {_who(actor)} {first.ends_text()} ({first.get_reason_code_display()})."[:1000],
            actor=actor,
        )
    return item_synced(item, ExceptionItem.objects.get(pk=locked.pk))


def _who(user) -> str:
    if user is None:
        return "the system"
    return user.get_full_name() or user.get_username()


@transaction.atomic
def suppression_lift(*, suppression: Suppression, actor, note: str = "") -> Suppression:
    """Lift a suppression early: from now on the rule reaches the record's item again (on the next pass)."""
    row = Suppression.objects.select_for_update().get(pk=suppression.pk)
    now = timezone.now()
    if not row.is_active(now):
        raise ItemStateError("This suppression is no longer in force.")
    note = (note or "").strip()
    row.lifted_at, row.lifted_by = now, actor
    row.lift_reason = (f"lifted early by {_who(actor)}" + (f": {note}" if note else ""))[:300]
    with audited(actor=actor, reason="suppression lifted early"):
        row.save(update_fields=["lifted_at", "lifted_by", "lift_reason"])
    suppression.lifted_at, suppression.lifted_by, suppression.lift_reason = row.lifted_at, actor, row.lift_reason
    return row


def suppressions_in_force(
    *, object_type: str, records: Mapping[int, object], now: dt.datetime, kind: str = ""
) -> dict[int, list[Suppression]]:
    """The suppressions in force for ``records`` (by id), by record id. Call inside the producer's transaction.

    Those whose date passed, or (``until_change``) whose record's values differ from when they were
    made, are lapsed on the way (``lifted_at`` set, no person, with the reason), so they stop holding
    the rule back and the audit says why."""
    if not records:
        return {}
    rows = Suppression.objects.filter(object_type=object_type, object_id__in=list(records), lifted_at__isnull=True)
    if kind:
        rows = rows.filter(kind=kind)
    active: dict[int, list[Suppression]] = defaultdict(list)
    lapsed: list[tuple[Suppression, str]] = []
    fingerprints: dict[int, str] = {}
    for row in rows.select_related("automation", "created_by"):
        if row.until is not None and row.until <= now:
            lapsed.append((row, "the date passed"))
            continue
        if row.until_change:
            if row.object_id not in fingerprints:
                fingerprints[row.object_id] = record_fingerprint(records[row.object_id])
            if fingerprints[row.object_id] != row.fingerprint:
                lapsed.append((row, f"the {record_word(object_type)} changed"))
                continue
        active[row.object_id].append(row)
    for row, why in lapsed:
        row.lifted_at, row.lifted_by, row.lift_reason = now, None, why
        with audited(actor=None, reason=f"suppression ended: {why}"):
            row.save(update_fields=["lifted_at", "lifted_by", "lift_reason"])
    return dict(active)


# --- selectors ---------------------------------------------------------------------------------------


def suppression_active_q(now: dt.datetime | None = None) -> Q:
    now = now or timezone.now()
    return Q(lifted_at__isnull=True) & (Q(until__isnull=True) | Q(until__gt=now))


def record_suppressions(*, object_type: str, object_id: int, now: dt.datetime | None = None) -> list[Suppression]:
    """The suppressions in force on one record (for its Why page), newest first.

    A suppression until the record changes whose record changed since counts until the producer's next
    pass lapses it; the Why page says so (``changed``)."""
    rows = list(
        Suppression.objects.filter(suppression_active_q(now), object_type=object_type, object_id=object_id)
        .select_related("automation", "created_by")
        .order_by("-created_at")
    )
    if any(row.until_change for row in rows):
        record = _record(object_type, object_id)
        current = record_fingerprint(record) if record is not None else ""
        for row in rows:
            row.changed = row.until_change and row.fingerprint != current
    return rows


def suppression_reason_counts(*, since: dt.datetime | None = None, kind: str = "") -> dict[int | str, Counter]:
    """How many suppressions were made per topic (automation id, else the kind) and reason code, since ``since``."""
    rows = Suppression.objects.all()
    if since is not None:
        rows = rows.filter(created_at__gte=since)
    if kind:
        rows = rows.filter(kind=kind)
    counts: dict[int | str, Counter] = defaultdict(Counter)
    for automation_id, row_kind, code in rows.values_list("automation_id", "kind", "reason_code"):
        counts[automation_id if automation_id is not None else row_kind][code] += 1
    return dict(counts)


def visible_suppressions(*, user) -> QuerySet[Suppression]:
    """Everything for RevOps admins; others see the suppressions made on items they may see."""
    rows = Suppression.objects.select_related("automation", "created_by", "lifted_by", "item")
    q = selectors.item_visibility_q(user=user)
    if q is None:
        return rows
    return rows.filter(item__in=ExceptionItem.objects.filter(q).values("pk"))
