"""Handoff readiness: create a deal's handoffs when it reaches the checklist's stage, re-evaluate them as
the CRM fills fields in, and gate the downstream work on readiness.

``handoffs_evaluate`` is the one entry point, called in the sync's transaction (the gap handler; for a
bulk batch on the low lane after the commit, ``handoffs.deferred``) and for hand edits (the engine's
event hook). It is idempotent: evaluating an unchanged deal again writes
nothing. While a handoff waits for context, one exception item per deal and checklist (not per
field) names what is missing and who should supply it, in the deal owner's team queue for its
manager; the evaluation that finds it complete resolves the item, creates the checklist's tasks for
the receiving owner once, and marks the handoff sent.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from exceptions.bulk import ItemSpec, exception_items_open_many
from exceptions.gap_items import ItemPlacement, joined
from exceptions.models import ExceptionItem
from exceptions.services import OPEN as OPEN_ITEM
from exceptions.services import exception_item_open, exception_item_resolve
from revops.audit import audited
from revops.bulk_writes import InArray, bulk_create_audited, bulk_update_audited
from revops.conditions import ConditionError
from revops.conditions.compile import Context
from revops.conditions.predicate import compile_condition
from revops.feed import change_entries_record, change_entry_record
from revops.models import Account, ChangeEntry, FieldDefinition, Opportunity, Rep, Task
from revops.plugins import assignee_source
from revops.record_selectors import account_key_contacts
from revops.services import record_save

from .models import Checklist, Handoff

ITEM_KIND = "handoff_incomplete"


def subject_type_of(checklist: Checklist) -> str:
    """The object type a checklist's conditions and fields are about: deals, or accounts for renewals."""
    return "account" if checklist.kind == Checklist.Kind.RENEWAL else "opportunity"


def _compiled(tree, object_type: str = "opportunity"):
    """A predicate for a condition tree; None for "always" (an empty tree)."""
    if not tree or tree == {"all": []}:
        return None
    return compile_condition(tree, object_type=object_type)


@dataclass
class _Rules:
    """One checklist, compiled once per evaluation."""

    checklist: Checklist
    applies_when: object
    # (field key, its condition or None, the column's attribute name or None for a custom attribute)
    fields: list[tuple[str, object, str | None]]

    @classmethod
    def build(cls, checklist: Checklist, kind: str = Checklist.Kind.DEAL) -> _Rules | None:
        """The compiled checklist if it is of ``kind`` (deal checklists by default), else None."""
        if checklist.kind != kind:
            return None
        object_type = subject_type_of(checklist)
        model = Account if object_type == "account" else Opportunity
        try:
            return cls(
                checklist,
                _compiled(checklist.conditions, object_type),
                [
                    (entry["field"], _compiled(entry.get("when"), object_type), _attname(model, entry["field"]))
                    for entry in checklist.required_fields
                ],
            )
        except (ConditionError, KeyError, TypeError):
            return None  # an invalid checklist is refused when saved; a stale one evaluates nothing

    def applies(self, deal: Opportunity, ctx: Context) -> bool:
        return deal.stage == self.checklist.trigger_stage and (self.applies_when is None or self.applies_when(ctx))


def _attname(model, key: str) -> str | None:
    """The attribute holding dictionary field ``key`` on ``model``'s records: a column's, or None for a
    custom attribute (kept in ``attributes``)."""
    try:
        return model._meta.get_field(key).attname
    except Exception:
        return None


def _value(record, key: str, attname: str | None = ""):
    """A dictionary field's value on a deal or account: a column, else the CRM's custom attributes.
    ``attname``: the column's attribute as ``_attname`` found it (None: a custom attribute)."""
    if attname == "":
        attname = _attname(type(record), key)
    if attname is None:
        return (record.attributes or {}).get(key)
    return getattr(record, attname, None)


def _empty(value) -> bool:
    return value is None or value == "" or value == [] or value == {}


def handoff_missing(rules: _Rules, deal: Opportunity, handoff: Handoff | None, ctx: Context, labels) -> list[dict]:
    """What keeps ``deal`` from ready under ``rules``: unfilled fields (whose condition holds), unticked attestations."""
    missing = []
    for key, when, attname in rules.fields:
        if when is not None and not when(ctx):
            continue
        if _empty(_value(deal, key, attname)):
            label = labels[key] if key in labels else key.replace("_", " ").capitalize()
            missing.append({"kind": "field", "key": key, "label": label})
    attested = (handoff.attested if handoff else None) or {}
    for entry in rules.checklist.attestations:
        if entry["key"] not in attested:
            missing.append(
                {"kind": "attestation", "key": entry["key"], "label": entry["label"], "role": entry.get("role", "")}
            )
    gap = _receiver_gap(rules.checklist, deal)
    if gap:
        missing.append({"kind": "receiver", "key": "receiver", "label": gap})
    return missing


def _receiver_gap(checklist: Checklist, subject) -> str:
    """Why nobody could receive the handoff of ``subject`` ("" when someone can), so a complete
    handoff waits for a receiver instead of going out to nobody. A pool is asked only when sending."""
    rule = checklist.owner_rule
    if rule == Checklist.OwnerRule.REP:
        rep = checklist.owner_rep
        return "" if rep is not None and rep.is_active else "an active receiving rep on the checklist"
    if rule == Checklist.OwnerRule.ACCOUNT_FIELD:
        account = _account_of(subject)
        if account is None:
            return "an account (its receiving rep is named there)"
        if _empty((account.attributes or {}).get(checklist.owner_field)):
            return f"the account's {checklist.owner_field.replace('_', ' ')} (who receives it)"
        return ""
    if rule == Checklist.OwnerRule.DEAL_OWNER and (subject.owner_id is None or not subject.owner.is_active):
        return f"an active owner of the {'deal' if subject._meta.model_name == 'opportunity' else 'account'}"
    return ""


def _account_of(subject):
    return subject if subject._meta.model_name == "account" else subject.account


def _receiver(checklist: Checklist, subject, *, now: dt.datetime) -> Rep | None:
    """Who receives the handoff of ``subject`` (a deal, or an account for renewals): a named rep, the
    rep in an account field (the CSM), the next member of a routing pool, or the record's owner."""
    if checklist.owner_rule == Checklist.OwnerRule.REP:
        return checklist.owner_rep
    if checklist.owner_rule == Checklist.OwnerRule.ACCOUNT_FIELD:
        account = _account_of(subject)
        external_id = (account.attributes or {}).get(checklist.owner_field) if account else None
        return Rep.objects.filter(external_id=external_id, is_active=True).first() if external_id else None
    if checklist.owner_rule == Checklist.OwnerRule.POOL:
        source = assignee_source("pool")
        if source is None or checklist.owner_pool_id is None:
            return None
        rep_id, _why = source.assign(checklist.owner_pool_id, now=now, reason=f"handoff {checklist.name!r}")
        return Rep.objects.filter(pk=rep_id).first() if rep_id else None
    return subject.owner


def _owner_name(subject) -> str:
    if subject.owner_id:
        return subject.owner.name
    return "the deal owner" if subject._meta.model_name == "opportunity" else "the account owner"


def _where(subject, checklist: Checklist) -> str:
    """Why the handoff exists, in words: "is closed won" or "renews on 2027-03-01"."""
    if subject._meta.model_name == "opportunity":
        return f"is {subject.get_stage_display().lower()}"
    renews = _value(subject, checklist.renewal_field)
    return f"renews on {renews}" if renews else "has a renewal coming"


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _signal_entry(handoff: Handoff, signal: str, *, key: str, **payload) -> dict:
    return {
        "kind": ChangeEntry.Kind.HANDOFF_SIGNAL,
        "object_type": handoff.subject_type,
        "external_id": handoff.subject.external_id,
        "payload": {"signal": signal, "handoff_id": handoff.pk, "checklist": handoff.checklist.name, **payload},
        "reason": f"handoff {handoff.checklist.name!r}",
        "dedupe_key": f"handoff:{handoff.pk}:{key}"[:200],
    }


def _signal(handoff: Handoff, signal: str, *, key: str, **payload) -> None:
    change_entry_record(**_signal_entry(handoff, signal, key=key, **payload))


def _item_values(handoff: Handoff, placement: ItemPlacement, wheres: dict | None = None) -> dict:
    """The waiting handoff's item: one per deal (or renewal) and checklist, naming every gap and who fills it.

    ``wheres`` (optional, shared by a batch) keeps what does not depend on the deal itself — its stage
    in words, and the texts for a given checklist, stage, owner and list of gaps — so a batch builds
    each distinct text once."""
    deal, checklist = handoff.subject, handoff.checklist
    if wheres is None or handoff.opportunity_id is None:  # a renewal's words depend on its date
        where = _where(deal, checklist)
    else:
        where = wheres.get((deal.stage, checklist.pk))
        if where is None:
            where = wheres[deal.stage, checklist.pk] = _where(deal, checklist)
    owner = _owner_name(deal)
    missing = handoff.missing
    key = (checklist.pk, where, owner, tuple((m["kind"], m["label"], m.get("role")) for m in missing))
    texts = wheres.get(key) if wheres is not None else None
    if texts is None:
        texts = _item_texts(checklist, where, owner, missing)
        if wheres is not None:
            wheres[key] = texts
    title, reason, expected_action = texts
    queue, manager_id = placement.place(deal.owner.team_id if deal.owner_id else None)
    name = str(deal)
    return {
        "title": f"{name[:120]}{title}"[:200],
        "reason": f"{name} ({deal.external_id}) {reason}",
        "expected_action": expected_action,
        "queue": queue,
        "owner_id": manager_id,
    }


def _item_texts(checklist: Checklist, where: str, owner: str, missing: list[dict]) -> tuple[str, str, str]:
    """A waiting handoff's item texts without the deal's name: (the title after it, the reason after
    "<name> (<external id>) ", the expected action)."""
    fields = [m["label"] for m in missing if m["kind"] == "field"]
    parts = []
    if fields:
        parts.append(f"{owner} should get {joined(fields)} filled in the CRM")
    for tick in (m for m in missing if m["kind"] == "attestation"):
        parts.append(f"{tick.get('role') or 'someone'} should confirm “{tick['label']}” in the portal")
    for gap in (m for m in missing if m["kind"] == "receiver"):
        parts.append(f"RevOps or the CRM should provide {gap['label']}")
    count = len(missing)
    return (
        f": {checklist.name} handoff waiting for {count} item{'s' if count != 1 else ''}",
        f"{where} but its {checklist.name} handoff is not ready: missing {joined([m['label'] for m in missing])}. "
        "Downstream work waits until it is.",
        _sentence("; ".join(parts)) + ". The handoff goes out by itself once complete.",
    )


def _items_open(handoffs: list[Handoff], *, actor, now: dt.datetime, reason: str) -> None:
    """Open (or refresh) the item of each waiting handoff, in bulk."""
    placement, wheres = ItemPlacement(), {}
    specs = []
    for handoff in handoffs:
        values = _item_values(handoff, placement, wheres)
        deal = handoff.subject
        specs.append(
            ItemSpec(
                dedupe_key=f"handoff:{handoff.pk}",
                kind=ITEM_KIND,
                title=values["title"],
                reason=values["reason"],
                expected_action=values["expected_action"],
                queue=values["queue"],
                owner_id=values["owner_id"],
                object_type=handoff.subject_type,
                object_id=deal.pk,
                external_id=deal.external_id,
            )
        )
    exception_items_open_many(specs, actor=actor, change_reason=reason, now=now)


def _user(user_id):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.filter(pk=user_id).first()


def _items_resolve(dedupe_key: str, *, code: str, note: str, actor) -> None:
    """Resolve the open item with ``dedupe_key`` (a handoff's waiting, sent-back or late item), if any."""
    for item in ExceptionItem.objects.filter(dedupe_key=dedupe_key, status__in=OPEN_ITEM):
        exception_item_resolve(item=item, reason_code=code, note=note, actor=actor)


def _item_close(handoff: Handoff, *, code: str, note: str, actor) -> None:
    _items_resolve(f"handoff:{handoff.pk}", code=code, note=note, actor=actor)


def _subject_item_open(handoff: Handoff, *, team_id, placement: ItemPlacement, actor=None, **item) -> bool:
    """Open (or refresh) one item about ``handoff``'s deal or account in ``team_id``'s queue, for its
    manager; ``item`` gives the dedupe key, kind and texts. Returns whether it was new."""
    subject = handoff.subject
    queue, manager_id = placement.place(team_id)
    _, created = exception_item_open(
        **item,
        queue=queue,
        owner=None if manager_id is None else _user(manager_id),
        object_type=handoff.subject_type,
        object_id=subject.pk,
        external_id=subject.external_id,
        actor=actor,
    )
    return created


def _send(handoff: Handoff, *, actor, now: dt.datetime, feed: list[dict]) -> None:
    """Ready: resolve the item, create the checklist's tasks for the receiving owner (once), mark it sent.

    The feed entries (the tasks, the signal) are appended to ``feed`` for the caller to record last."""
    deal, checklist = handoff.subject, handoff.checklist
    receiver = _receiver(checklist, deal, now=now)
    handoff.status, handoff.ready_at, handoff.sent_at, handoff.receiver = (
        Handoff.Status.SENT,
        handoff.ready_at or now,
        now,
        receiver,
    )
    marker = f"Handoff: {checklist.name}"
    if handoff.renewal_date:  # each renewal has its own tasks
        marker += f" ({handoff.renewal_date})"
    marker = marker[:120]
    link = {handoff.subject_type: deal}
    for index, spec in enumerate(checklist.tasks):
        title = str(spec["title"])[:255]
        if Task.objects.filter(**link, created_by_automation=marker, title=title).exists():
            continue  # created by an earlier pass (a handoff sent again after a rejection)
        due_at = now + dt.timedelta(days=int(spec.get("due_in_days") or 0)) if spec.get("due_in_days") else None
        task = record_save(
            instance=Task(
                title=title,
                description=str(spec.get("description") or f"{checklist.name} handoff of {deal}."),
                owner=receiver,
                due_at=due_at,
                **link,
                created_by_automation=marker,
            ),
            actor=actor,
            reason=f"handoff {checklist.name!r} ready",
        )
        feed.append(
            {
                "kind": ChangeEntry.Kind.TASK_CREATED,
                "object_type": handoff.subject_type,
                "external_id": deal.external_id,
                "payload": {
                    "task_id": task.pk,
                    "title": task.title,
                    "owner": getattr(receiver, "external_id", None),
                    "due_at": due_at.isoformat() if due_at else None,
                },
                "reason": f"handoff {checklist.name!r}",
                "dedupe_key": f"handoff:{handoff.pk}:task:{index}",
            }
        )
    _item_close(handoff, code="fixed_in_crm", note="The handoff is complete and was sent.", actor=actor)
    feed.append(
        _signal_entry(handoff, "sent", key=f"sent:{now.isoformat()}", receiver=getattr(receiver, "external_id", None))
    )


def _attach_owners_and_accounts(deals: list[Opportunity]) -> None:
    """Owners and accounts once each, shared by their deals (a batch has few owners): what a join would
    attach, without building an owner per deal."""
    for field, related in (
        (Opportunity._meta.get_field("owner"), Rep),
        (Opportunity._meta.get_field("account"), Account),
    ):
        missing = [deal for deal in deals if not field.is_cached(deal)]
        loaded = related.objects.in_bulk({getattr(deal, field.attname) for deal in missing} - {None})
        for deal in missing:
            field.set_cached_value(deal, loaded.get(getattr(deal, field.attname)))


def _active_rules() -> list[_Rules]:
    return [r for r in (_Rules.build(c) for c in Checklist.objects.filter(is_active=True)) if r is not None]


def handoffs_covered(deals, *, now: dt.datetime | None = None) -> set[int]:
    """The ids of ``deals`` some active deal checklist applies to (at its stage, its conditions met):
    what ``handoffs_evaluate`` would count as covered, without evaluating anything."""
    rules = _active_rules()
    if not rules:
        return set()
    now = now or timezone.now()
    deals = list(deals)
    if any(rule.applies_when is not None for rule in rules):
        _attach_owners_and_accounts(deals)  # what the conditions may read, once per batch
    covered = set()
    for deal in deals:
        ctx = None
        for rule in rules:
            if deal.stage != rule.checklist.trigger_stage:
                continue
            if rule.applies_when is not None:
                ctx = ctx or Context(deal, now=now)
                if not rule.applies_when(ctx):
                    continue
            covered.add(deal.pk)
            break
    return covered


@transaction.atomic
def handoffs_evaluate(
    *,
    opportunity_ids,
    actor=None,
    cause: str = "",
    now: dt.datetime | None = None,
    refresh: bool = False,
    deals: list[Opportunity] | None = None,
) -> dict:
    """Create, re-evaluate or cancel the handoffs of the given deals; returns counts per transition.

    Writes in bulk (new handoffs, changed ones, the waiting ones' items, the feed's signals), so a
    sync batch of Won deals costs a handful of statements more than any other batch; a deal whose
    handoffs did not change writes nothing, unless ``refresh`` (the CRM sent it again: its waiting
    items are refreshed, occurrences and last seen). Returns
    ``{"covered": set of deal ids some checklist applies to, "created": n, "sent": n,
    "cancelled": n, "waiting": n}``. ``deals``: the deals as just stored (the sync's instances, which
    the sync holds locked), spared loading them again; otherwise they are loaded and locked.
    """
    now = now or timezone.now()
    counts = {"covered": set(), "created": 0, "sent": 0, "cancelled": 0, "waiting": 0}
    ids = list(opportunity_ids)
    if not ids:
        return counts
    rules = _active_rules()
    existing = {
        (h.opportunity_id, h.checklist_id): h
        for h in Handoff.objects.select_for_update(of=("self",)).filter(InArray("opportunity_id", ids)).order_by("pk")
    }
    if not rules and not existing:
        return counts
    labels = dict(FieldDefinition.objects.filter(object_type="opportunity").values_list("key", "label"))
    if deals is None:
        # Held (in id order, as the sync locks them) until the evaluation commits: a sync or another
        # evaluation of the same deal waits, so two never create or send the same handoff side by side.
        deals = list(
            Opportunity.objects.select_for_update(no_key=True, of=("self",)).filter(InArray("pk", ids)).order_by("pk")
        )
    else:
        deals = list(deals)
    _attach_owners_and_accounts(deals)
    reason = (cause or "handoff evaluation")[:100]
    new, changed, waiting, ready, signals = [], [], [], [], []
    touched: set[int] = set()  # id() of the handoffs created, restarted or changed in this evaluation
    with audited(actor=actor, reason=reason):
        for deal in deals:
            ctx = Context(deal, now=now)
            for rule in rules:
                checklist = rule.checklist
                handoff = existing.get((deal.pk, checklist.pk))
                if handoff is not None:  # the loaded deal (owner joined) and checklist: no query per handoff
                    handoff.opportunity, handoff.checklist = deal, checklist
                if not rule.applies(deal, ctx):
                    if handoff is not None and handoff.status in Handoff.OPEN_STATUSES:
                        handoff.status, handoff.cancelled_at = Handoff.Status.CANCELLED, now
                        handoff.save()
                        _item_close(handoff, code="not_an_issue", note="The deal left the stage.", actor=actor)
                        signals.append(_signal_entry(handoff, "cancelled", key=f"cancelled:{now.isoformat()}"))
                        counts["cancelled"] += 1
                    continue
                counts["covered"].add(deal.pk)
                missing = handoff_missing(rule, deal, handoff, ctx, labels)
                if handoff is None:
                    handoff = Handoff(checklist=checklist, opportunity=deal, missing=missing, created_at=now)
                    new.append(handoff)
                    touched.add(id(handoff))
                    counts["created"] += 1
                elif handoff.status == Handoff.Status.CANCELLED:  # the deal is back at the stage
                    handoff.status, handoff.cancelled_at, handoff.missing = Handoff.Status.WAITING, None, missing
                    handoff.save()
                    touched.add(id(handoff))
                    signals.append(_signal_entry(handoff, "started", key=f"restarted:{now.isoformat()}"))
                elif handoff.missing != missing:
                    handoff.missing, handoff.updated_at = missing, now
                    changed.append(handoff)
                    touched.add(id(handoff))
                if handoff.status != Handoff.Status.WAITING:
                    continue
                (waiting if missing else ready).append(handoff)
        if new:
            bulk_create_audited(model=Handoff, objs=new, actor=actor, reason=reason)
            signals += [_signal_entry(handoff, "started", key="started") for handoff in new]
        bulk_update_audited(model=Handoff, objs=changed, fields=["missing", "updated_at"], actor=actor, reason=reason)
        _items_open(
            waiting if refresh else [h for h in waiting if id(h) in touched], actor=actor, now=now, reason=reason
        )
        counts["waiting"] = len(waiting)
        for handoff in ready:
            _send(handoff, actor=actor, now=now, feed=signals)
            handoff.save()
            counts["sent"] += 1
        change_entries_record(signals)  # the feed last: its lock is held until the transaction ends
    return counts


def checklist_validate(checklist: Checklist) -> None:
    """Check a checklist as a whole: its fields, conditions in the engine's language (made canonical in
    place) and field keys known to the dictionary. Raises ``ValidationError`` keyed by field."""
    from revops.conditions import clean_condition

    checklist.full_clean()
    errors = {}
    object_type = subject_type_of(checklist)
    try:
        if checklist.conditions:
            checklist.conditions = clean_condition(checklist.conditions, object_type=object_type)
    except ConditionError as exc:
        errors["conditions"] = str(exc)
    try:
        for entry in checklist.required_fields:
            if entry.get("when"):
                entry["when"] = clean_condition(entry["when"], object_type=object_type)
    except ConditionError as exc:
        errors["required_fields"] = f"A field's condition: {exc}"
    known = set(FieldDefinition.objects.filter(object_type=object_type).values_list("key", flat=True))
    unknown = sorted({entry["field"] for entry in checklist.required_fields} - known)
    plural = "accounts" if object_type == "account" else "opportunities"
    if unknown:
        errors["required_fields"] = f"Not in the data dictionary for {plural}: {', '.join(unknown)}."
    if checklist.kind == Checklist.Kind.RENEWAL and checklist.renewal_field not in known:
        errors["renewal_field"] = f"{checklist.renewal_field!r} is not in the data dictionary for accounts."
    if errors:
        raise ValidationError(errors)


def checklist_save(*, checklist: Checklist, actor, reason: str = "") -> Checklist:
    """Validate (``checklist_validate``) and save a checklist, with history naming ``actor``."""
    checklist_validate(checklist)
    with audited(actor=actor, reason=(reason or f"checklist {checklist.name!r} saved")[:100]):
        checklist.save()
    return checklist


# --- the receiving team's answer ---------------------------------------------------------------

REJECTION_REASONS = {
    "context_vague": "Use case or success criteria too vague",
    "missing_contact": "No billing contact or executive sponsor",
    "promises_unclear": "Risks or promises not clear",
    "wrong_team": "Not for this team",
    "other": "Other (see note)",
}
REJECTION_REASON_CHOICES = list(REJECTION_REASONS.items())  # also the API schema's HandoffRejectionReasonEnum
RETURN_KIND = "handoff_returned"


def _locked(handoff: Handoff) -> Handoff:
    return (
        Handoff.objects.select_for_update(of=("self",))
        .select_related("opportunity", "account", "checklist")
        .get(pk=handoff.pk)
    )


class HandoffStateError(ValidationError):
    """The handoff's state does not allow the step (the API answers 409)."""


def _require(handoff: Handoff, *statuses, verb: str) -> None:
    if handoff.status not in statuses:
        raise HandoffStateError(f"This handoff is {handoff.get_status_display().lower()}; it cannot be {verb}.")


@transaction.atomic
def handoff_accept(*, handoff: Handoff, actor, now: dt.datetime | None = None) -> Handoff:
    """The receiving team takes the deal on: sent → accepted."""
    now = now or timezone.now()
    locked = _locked(handoff)
    _require(locked, Handoff.Status.SENT, verb="accepted")
    locked.status, locked.accepted_at = Handoff.Status.ACCEPTED, now
    with audited(actor=actor, reason="handoff accepted"):
        locked.save()
    _late_item_close(locked, actor=actor, note="The handoff was accepted.")
    _signal(locked, "accepted", key="accepted", by=getattr(actor, "username", ""))
    return locked


@transaction.atomic
def handoff_reject(*, handoff: Handoff, reason_code: str, note: str = "", actor, now=None) -> Handoff:
    """The receiving team sends the deal back: sent → rejected, with a reason the deal owner's manager
    sees as an item (one per handoff) until the handoff is sent again."""
    if reason_code not in REJECTION_REASONS:
        raise ValidationError({"reason_code": f"Choose one of: {', '.join(REJECTION_REASONS.values())}."})
    note = (note or "").strip()
    if reason_code == "other" and not note:
        raise ValidationError({"note": "Say what is wrong when the reason is 'other'."})
    now = now or timezone.now()
    locked = _locked(handoff)
    _require(locked, Handoff.Status.SENT, verb="rejected")
    locked.status, locked.rejected_at = Handoff.Status.REJECTED, now
    locked.rejection_code, locked.rejection_note = reason_code, note
    with audited(actor=actor, reason=f"handoff rejected: {REJECTION_REASONS[reason_code]}"[:100]):
        locked.save()
    _late_item_close(locked, actor=actor, note="The handoff was sent back.")
    deal = locked.subject
    why = REJECTION_REASONS[reason_code] + (f" — “{note}”" if note else "")
    _subject_item_open(
        locked,
        team_id=deal.owner.team_id if deal.owner_id else None,
        placement=ItemPlacement(),
        actor=actor,
        dedupe_key=f"handoff-returned:{locked.pk}",
        kind=RETURN_KIND,
        title=f"{deal}: {locked.checklist.name} handoff sent back",
        reason=f"{getattr(actor, 'get_full_name', lambda: '')() or actor} rejected the handoff of {deal}: {why}.",
        expected_action=(
            f"{_sentence(_owner_name(deal))} should fix what the receiving team named "
            "(in the CRM or with them), then send the handoff again."
        ),
    )
    _signal(locked, "rejected", key=f"rejected:{now.isoformat()}", reason=reason_code, note=note)
    return locked


@transaction.atomic
def handoff_resend(*, handoff: Handoff, actor, now=None) -> Handoff:
    """The deal side fixed what was named: rejected → sent again (its tasks are not created twice)."""
    now = now or timezone.now()
    locked = _locked(handoff)
    _require(locked, Handoff.Status.REJECTED, verb="sent again")
    locked.status, locked.sent_at = Handoff.Status.SENT, now
    with audited(actor=actor, reason="handoff sent again"):
        locked.save()
    _items_resolve(
        f"handoff-returned:{locked.pk}", code="fixed_in_crm", note="The handoff was sent again.", actor=actor
    )
    _signal(locked, "sent", key=f"resent:{now.isoformat()}", receiver=getattr(locked.receiver, "external_id", None))
    return locked


def context_package(handoff: Handoff) -> dict:
    """What the receiving team gets with the handoff: the record's facts, its key contacts, the
    checklist's values and a timeline of its latest activities.

    Key contacts are the account's active contacts holding a role on it (executive sponsor, decision
    maker, champion, billing contact — the core's ``account_key_contacts``), then the deal and account
    owners."""
    from revops.models import Activity

    subject, checklist = handoff.subject, handoff.checklist
    object_type = handoff.subject_type
    account = _account_of(subject)
    definitions = {
        (d.object_type, d.key): d for d in FieldDefinition.objects.filter(object_type__in=("opportunity", "account"))
    }

    def label(kind: str, key: str) -> str:
        definition = definitions.get((kind, key))
        return definition.label if definition else key.replace("_", " ").capitalize()

    def shown(value):
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        return value if value not in (None, "") else "—"

    keys = [entry["field"] for entry in checklist.required_fields]
    shown_as_fact = {checklist.renewal_field} if object_type == "account" else set()
    keys += [key for key in (subject.attributes or {}) if key not in keys and key not in shown_as_fact]
    values = [{"label": label(object_type, key), "value": shown(_value(subject, key))} for key in keys]
    contacts = []
    if account is not None:
        for contact in account_key_contacts(account_id=account.pk):
            reach = " · ".join(part for part in (contact.title, contact.email, contact.phone) if part)
            contacts.append(
                {"label": ", ".join(contact.role_labels()), "value": f"{contact} ({reach})" if reach else str(contact)}
            )
    if object_type == "opportunity" and subject.owner_id:
        contacts.append({"label": "Deal owner", "value": subject.owner.name})
    if account is not None and account.owner_id:
        contacts.append({"label": "Account owner", "value": account.owner.name})
    if object_type == "opportunity":
        facts = [
            {"label": "Account", "value": str(account) if account else "—"},
            {"label": "Amount", "value": f"{subject.amount:,.2f}" if subject.amount is not None else "—"},
            {"label": "Close date", "value": subject.close_date or "—"},
            {"label": "Deal owner", "value": subject.owner.name if subject.owner_id else "—"},
        ]
        activities = Activity.objects.filter(opportunity=subject)
    else:
        facts = [
            {"label": "Account", "value": str(subject)},
            {"label": "Renewal date", "value": handoff.renewal_date or "—"},
            {"label": "Account owner", "value": subject.owner.name if subject.owner_id else "—"},
        ]
        activities = Activity.objects.filter(account=subject)
    activities = activities.select_related("rep").order_by("-occurred_at")[:8]
    return {
        "facts": facts,
        "contacts": contacts,
        "values": values,
        "attested": [
            {"label": entry["label"], "by": (handoff.attested.get(entry["key"]) or {}).get("by", "")}
            for entry in checklist.attestations
        ],
        "timeline": [
            {
                "when": a.occurred_at,
                "kind": a.get_kind_display(),
                "subject": a.subject or "—",
                "by": a.rep.name if a.rep_id else "—",
            }
            for a in activities
        ],
    }


# --- the acceptance SLA ------------------------------------------------------------------------

LATE_KIND = "handoff_not_accepted"


def handoffs_acceptance_tick(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Raise each sent handoff not answered within its checklist's ``accept_within_hours`` to the
    receiving side: one item (in the receiver's team queue, for its manager), opened once and closed
    by the answer. Returns ``{"late": n, "opened": m}``."""
    now = now or timezone.now()
    late = [
        h
        for h in Handoff.objects.filter(status=Handoff.Status.SENT, sent_at__isnull=False)
        .select_related("opportunity", "opportunity__owner", "account", "checklist", "receiver")
        .order_by("sent_at")
        if h.sent_at + dt.timedelta(hours=h.checklist.accept_within_hours) <= now
    ]
    if not late:
        return {"late": 0, "opened": 0}
    placement = ItemPlacement()
    opened = 0
    for handoff in late:
        deal, receiver = handoff.subject, handoff.receiver
        hours = handoff.checklist.accept_within_hours
        opened += _subject_item_open(
            handoff,
            team_id=receiver.team_id if receiver else handoff.checklist.receiving_team_id,
            placement=placement,
            dedupe_key=f"handoff-late:{handoff.pk}",
            kind=LATE_KIND,
            title=f"{str(deal)[:120]}: {handoff.checklist.name} handoff not accepted within {hours} h"[:200],
            reason=(
                f"The {handoff.checklist.name} handoff of {deal} was sent to "
                f"{receiver.name if receiver else 'the receiving team'} on {handoff.sent_at:%Y-%m-%d %H:%M} UTC "
                f"and has not been accepted or sent back within {hours} hours."
            ),
            expected_action=(
                f"{receiver.name if receiver else 'The receiving team'} should accept the handoff or send it back "
                "with a reason; the item closes with the answer."
            ),
        )
    return {"late": len(late), "opened": opened}


def _late_item_close(handoff: Handoff, *, actor, note: str) -> None:
    _items_resolve(f"handoff-late:{handoff.pk}", code="fixed_in_crm", note=note, actor=actor)
