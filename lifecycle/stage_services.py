"""Writes of lifecycle stages: the stages themselves, moving leads between them, and sales' answers.

* ``stage_save`` / ``stage_delete`` — a stage validated (its entry criteria in the engine's condition
  language, its SLA policy through the registered ``sla_policy`` timer) and saved with history and a
  version, attributed to the actor.
* ``lead_stages_evaluate`` — the engine side: moves leads whose criteria now hold (forward only), and
  applies the CRM's answer to a waiting MQL (its status field); called by the event hook after the
  scores, so criteria such as "score ≥ 60" read the live model's fresh score.
* ``lead_accept`` / ``lead_reject`` — the owner's answer to a waiting MQL, from the portal, the API or
  the CRM. A rejection carries a reason code and a note and recycles the lead (the stage's
  ``reject_to``).
* ``lead_stages_tick`` — starts the SLA of MQLs that got an owner since they arrived, and opens one
  exception item per lead overdue in its stage.

Every move is a ``StageTransition`` with its cause in words and a changes-feed entry
(``field_updated``, field ``lifecycle_stage``) so the CRM learns it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from revops import conditions
from revops.audit import audited, system_user
from revops.engine.registry import sla_timer
from revops.feed import change_entry_record
from revops.models import ChangeEntry, Lead

from .models import REJECTION_REASONS, LeadStage, Stage, StageTransition

STAGES_USER = "lead-lifecycle"
SLA_TIMER = "sla_policy"
CRM_REASON_FIELD = "rejection_reason"
OVERDUE_KIND = "mql_unanswered"
STAGE_OVERDUE_KIND = "stage_overdue"


class LifecycleStateError(ValidationError):
    """The lead is not in a state that allows the answer (e.g. not waiting for acceptance)."""


# --- stages ----------------------------------------------------------------------------------------


def stage_clean(stage: Stage) -> None:
    """Validate ``stage`` (fields, criteria, SLA policy, acceptance targets); errors name the field."""
    stage.full_clean(exclude=["created_at", "updated_at", "version"])
    errors: dict[str, Any] = {}
    if stage.entry_condition:
        try:
            stage.entry_condition = conditions.clean_condition(stage.entry_condition, object_type="lead")
        except ValidationError as exc:
            errors["entry_condition"] = [f"Entry criteria: {m}" for m in exc.messages]
    if stage.awaits_acceptance:
        if stage.kind != Stage.Kind.FUNNEL:
            errors["awaits_acceptance"] = "Only a funnel stage (such as MQL) waits for sales to accept it."
        if stage.accept_to_id is None or stage.reject_to_id is None:
            errors["accept_to"] = "A stage that waits for acceptance needs both: where accepted and rejected leads go."
        elif stage.pk is not None and stage.pk in (stage.accept_to_id, stage.reject_to_id):
            errors["accept_to"] = "Accepted and rejected leads must go to another stage."
    elif stage.crm_accepted_status or stage.crm_rejected_status:
        errors["crm_accepted_status"] = "CRM statuses only apply to a stage that waits for acceptance."
    if stage.crm_accepted_status and stage.crm_accepted_status == stage.crm_rejected_status:
        errors["crm_rejected_status"] = "The CRM statuses meaning accepted and rejected must differ."
    if stage.sla_policy:
        timer = sla_timer(SLA_TIMER)
        if timer is None:
            errors["sla_policy"] = "No installed app provides SLA policies (routing); leave the SLA empty."
        elif stage.sla_policy not in dict(timer.choices()):
            errors["sla_policy"] = f"No SLA policy is named {stage.sla_policy!r}; choose one of the SLA policies."
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def stage_save(*, stage: Stage, actor, reason: str = "") -> Stage:
    """Validate and save ``stage`` (history and a new version, by ``actor``)."""
    stage_clean(stage)
    with audited(actor=actor, reason=reason or f"lifecycle stage {stage.name} saved"):
        stage.save()
    return stage


@transaction.atomic
def stage_delete(*, stage: Stage, actor, reason: str = "") -> None:
    """Delete a stage no lead is in, has been in, or is sent to by another stage (refused in words)."""
    if LeadStage.objects.filter(stage=stage).exists() or StageTransition.objects.filter(to_stage=stage).exists():
        raise ValidationError(f"Leads are or were in stage {stage.name}; it cannot be deleted (its history stays).")
    if Stage.objects.filter(accept_to=stage).exclude(pk=stage.pk).exists() or (
        Stage.objects.filter(reject_to=stage).exclude(pk=stage.pk).exists()
    ):
        raise ValidationError(f"Another stage sends answered leads to {stage.name}; change that stage first.")
    with audited(actor=actor, reason=reason or f"lifecycle stage {stage.name} deleted"):
        stage.delete()


# --- compiled stages -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CompiledStage:
    stage: Stage
    predicate: Any  # None: entered only by a person, an answer or the CRM


_COMPILED: dict[str, Any] = {"key": None, "stages": []}


def compiled_stages() -> list[CompiledStage]:
    """Every stage with its criteria compiled once; reused while no stage changed (one query)."""
    rows = list(Stage.objects.order_by("position", "pk"))
    key = tuple((s.pk, s.updated_at) for s in rows)
    if _COMPILED["key"] != key:
        _COMPILED["stages"] = [
            CompiledStage(
                s, conditions.compile_condition(s.entry_condition, object_type="lead") if s.entry_condition else None
            )
            for s in rows
        ]
        _COMPILED["key"] = key
    return _COMPILED["stages"]


def _criteria_text(stage: CompiledStage, ctx) -> tuple[str, dict]:
    """The stage's criteria as checked for this lead, in words, and the structured explanation."""
    explanation = conditions.explain_node(stage.predicate.node, ctx)
    lines = [line.strip().lstrip("✓ ") for line in conditions.explain_text(explanation)]
    lines = [line for line in lines if line not in ("all of:", "any of:")]
    return "; ".join(lines), explanation


def _target(lead: Lead, state: LeadStage | None, stages: list[CompiledStage], now: dt.datetime):
    """Where the criteria send ``lead`` now: ``(compiled stage, ctx)`` or None to stay.

    Closed stages win over recycled ones, recycled over the funnel; in the funnel a lead moves only
    forward, to the furthest stage whose criteria hold. A lead without a stage starts in the first
    funnel stage when no criteria hold. A stage's ``hold_days`` keeps a lead in it that long."""
    current = state.stage if state is not None else None
    if current is not None and current.kind == Stage.Kind.CLOSED:
        return None
    if current is not None and current.hold_days and now < state.entered_at + dt.timedelta(days=current.hold_days):
        return None
    ctx = conditions.Context(lead, now=now)
    funnel = [c for c in stages if c.stage.kind == Stage.Kind.FUNNEL]
    for kind in (Stage.Kind.CLOSED, Stage.Kind.RECYCLED):
        for compiled in stages:
            if compiled.stage.kind != kind or compiled.predicate is None or compiled.stage == current:
                continue
            if current is not None and current.kind == Stage.Kind.RECYCLED and kind == Stage.Kind.RECYCLED:
                continue
            if compiled.predicate(ctx):
                return compiled, ctx
    floor = current.position if current is not None and current.kind == Stage.Kind.FUNNEL else -1
    for compiled in reversed(funnel):
        if compiled.stage.position <= floor or compiled.predicate is None:
            continue
        if compiled.predicate(ctx):
            return compiled, ctx
    if current is None and funnel:
        return funnel[0], ctx
    return None


# --- moving leads ----------------------------------------------------------------------------------


def _due(stage: Stage, lead: Lead, start: dt.datetime):
    """The stage's SLA for ``lead`` from ``start`` (a ``Deadline``), None without one (or, for a stage
    waiting for acceptance, while the lead has no owner: the clock starts when it gets one)."""
    if not stage.sla_policy or (stage.awaits_acceptance and lead.owner_id is None):
        return None
    timer = sla_timer(SLA_TIMER)
    return timer.deadline(stage.sla_policy, start=start, owner=lead.owner) if timer is not None else None


def lead_move(
    *,
    lead: Lead,
    state: LeadStage | None,
    to_stage: Stage,
    cause: str,
    text: str,
    now: dt.datetime,
    source: str = StageTransition.Source.ENGINE,
    actor=None,
    detail: dict | None = None,
    reason_code: str = "",
    note: str = "",
    event_id: int | None = None,
) -> StageTransition:
    """Move ``lead`` (its current ``state``, locked, or None) to ``to_stage``: the transition with its
    cause, the lead's stage and SLA, a changes-feed entry, and the closing of an overdue item."""
    owner = lead.owner
    previous = state.stage if state is not None else None
    transition = StageTransition(
        lead=lead,
        from_stage=previous,
        to_stage=to_stage,
        at=now,
        cause=cause,
        source=source,
        text=text,
        detail=detail or {},
        actor=actor,
        rep=owner,
        team_id=owner.team_id if owner is not None else None,
        reason_code=reason_code,
        note=note,
        event_id=event_id,
    )
    transition.full_clean()
    transition.save()
    deadline = _due(to_stage, lead, now)
    if state is None:
        state = LeadStage(lead=lead)
    state.stage, state.entered_at, state.overdue_at = to_stage, now, None
    state.due_at = deadline.due_at if deadline else None
    state.sla_text = deadline.text[:255] if deadline else ""
    state.save()
    payload = {"field": "lifecycle_stage", "value": to_stage.key, "previous": previous.key if previous else None}
    if reason_code:
        payload.update({"rejection_reason": reason_code, "rejection_note": note})
    change_entry_record(
        kind=ChangeEntry.Kind.FIELD_UPDATED,
        object_type="lead",
        external_id=lead.external_id,
        payload=payload,
        reason=text[:255],
        dedupe_key=f"lifecycle:stage:{transition.pk}",
    )
    if previous is not None:
        _overdue_items_close(lead, previous, to_stage, actor=actor)
    return transition


def _overdue_items_close(lead: Lead, previous: Stage, to_stage: Stage, *, actor) -> None:
    from exceptions.models import ExceptionItem
    from exceptions.services import exception_item_resolve

    items = ExceptionItem.objects.filter(
        dedupe_key__startswith=f"lifecycle:overdue:{lead.pk}:", status__in=ExceptionItem.OPEN_STATUSES
    )
    for item in items:
        exception_item_resolve(
            item=item,
            reason_code="other",
            note=f"The lead left {previous.name} for {to_stage.name}.",
            actor=actor or system_user(STAGES_USER, first_name="Lead lifecycle"),
        )


@transaction.atomic
def lead_stages_evaluate(*, lead_ids, now: dt.datetime | None = None, event_ids: dict | None = None) -> int:
    """Move the leads ``lead_ids`` whose criteria now hold, and apply the CRM's answers to waiting MQLs
    (their status field); ``event_ids`` maps a lead to the CRM change that triggered it. Idempotent:
    a lead already where its criteria send it stays. Returns how many leads moved."""
    stages = compiled_stages()
    lead_ids = sorted(set(lead_ids))
    if not stages or not lead_ids:
        return 0
    now = now or timezone.now()
    event_ids = event_ids or {}
    leads = list(
        Lead.objects.select_related("matched_account", "owner")
        .filter(pk__in=lead_ids)
        .order_by("pk")
        .select_for_update(of=("self",))
    )
    states = {s.lead_id: s for s in LeadStage.objects.select_related("stage").filter(lead_id__in=lead_ids)}
    moved = 0
    for lead in leads:
        state = states.get(lead.pk)
        event_id = event_ids.get(lead.pk)
        if state is not None and state.stage.awaits_acceptance and _crm_answer(lead, state, now, event_id):
            moved += 1
            continue
        found = _target(lead, state, stages, now)
        if found is None:
            continue
        compiled, ctx = found
        if compiled.predicate is None:
            text, detail = f"New lead: it starts in {compiled.stage.name}", {}
        else:
            checked, detail = _criteria_text(compiled, ctx)
            text = f"Entry criteria of {compiled.stage.name} held: {checked}"
        if event_id is not None:
            text += " (after a CRM change)"
        lead_move(
            lead=lead,
            state=state,
            to_stage=compiled.stage,
            cause=StageTransition.Cause.CRITERIA,
            text=text,
            detail=detail,
            now=now,
            event_id=event_id,
        )
        moved += 1
    return moved


def _crm_answer(lead: Lead, state: LeadStage, now: dt.datetime, event_id) -> bool:
    """The CRM accepted or rejected a waiting MQL by syncing a status; True when it was applied."""
    stage = state.stage
    if stage.crm_accepted_status and lead.status == stage.crm_accepted_status:
        _answer(lead, state, accept=True, actor=None, source=StageTransition.Source.CRM, now=now, event_id=event_id)
        return True
    if stage.crm_rejected_status and lead.status == stage.crm_rejected_status:
        code = str((lead.attributes or {}).get(CRM_REASON_FIELD) or "")
        note = f"Rejected in the CRM (status {lead.get_status_display()})"
        if code not in REJECTION_REASONS:
            note += f"; its reason {code!r} is not a reason code" if code else "; no reason code was synced"
            code = "other"
        _answer(
            lead,
            state,
            accept=False,
            reason_code=code,
            note=note,
            actor=None,
            source=StageTransition.Source.CRM,
            now=now,
            event_id=event_id,
        )
        return True
    return False


def _answer(
    lead: Lead,
    state: LeadStage,
    *,
    accept: bool,
    actor,
    source: str,
    now: dt.datetime,
    reason_code: str = "",
    note: str = "",
    event_id: int | None = None,
) -> StageTransition:
    stage = state.stage
    who = _person(actor) if actor is not None else "the CRM"
    where = {"portal": "in the portal", "api": "through the API", "crm": "by syncing the lead's status"}.get(source, "")
    owner = lead.owner.name if lead.owner_id else "nobody"
    if accept:
        text = f"Accepted by {who} {where} (owner {owner})".replace("  ", " ")
        target, cause = stage.accept_to, StageTransition.Cause.ACCEPTED
    else:
        text = f"Rejected by {who} {where}: {REJECTION_REASONS[reason_code]} — “{note}”".replace("  ", " ")
        target, cause = stage.reject_to, StageTransition.Cause.REJECTED
    return lead_move(
        lead=lead,
        state=state,
        to_stage=target,
        cause=cause,
        text=text,
        now=now,
        source=source,
        actor=actor,
        reason_code=reason_code,
        note=note,
        event_id=event_id,
    )


def _person(user) -> str:
    return (user.get_full_name() or user.get_username()) if user is not None else "the portal"


def _waiting_state(lead: Lead) -> LeadStage:
    state = LeadStage.objects.select_for_update(of=("self",)).select_related("stage").filter(lead=lead).first()
    if state is None or not state.stage.awaits_acceptance:
        where = f"it is in {state.stage.name}" if state is not None else "it has no lifecycle stage yet"
        raise LifecycleStateError(f"Lead {lead} is not waiting for sales to accept it: {where}.")
    return state


@transaction.atomic
def lead_accept(*, lead: Lead, actor, source: str = StageTransition.Source.PORTAL, now=None) -> StageTransition:
    """The owner (or their manager, or RevOps) accepts a waiting MQL: it moves to the stage's
    ``accept_to`` (Sales accepted). Raises ``LifecycleStateError`` when the lead is not waiting."""
    lead = Lead.objects.select_related("owner").get(pk=lead.pk)
    state = _waiting_state(lead)
    return _answer(lead, state, accept=True, actor=actor, source=source, now=now or timezone.now())


@transaction.atomic
def lead_reject(
    *, lead: Lead, reason_code: str, note: str, actor, source: str = StageTransition.Source.PORTAL, now=None
) -> StageTransition:
    """The owner rejects a waiting MQL with a reason code (``REJECTION_REASONS``) and a note: it goes
    back to marketing (the report lists it for the owner's team) and is recycled (``reject_to``)."""
    problems = {}
    if reason_code not in REJECTION_REASONS:
        problems["reason_code"] = f"Choose a reason: {', '.join(f'{k} ({v})' for k, v in REJECTION_REASONS.items())}."
    note = (note or "").strip()
    if not note:
        problems["note"] = "Write a note for marketing: what did you find?"
    elif len(note) > 2000:
        problems["note"] = "The note is at most 2000 characters."
    if problems:
        raise ValidationError(problems)
    lead = Lead.objects.select_related("owner").get(pk=lead.pk)
    state = _waiting_state(lead)
    return _answer(
        lead,
        state,
        accept=False,
        reason_code=reason_code,
        note=note,
        actor=actor,
        source=source,
        now=now or timezone.now(),
    )


# --- the tick: SLAs started late, overdue items ---------------------------------------------------


def lead_stages_tick(*, now: dt.datetime | None = None, limit: int = 1000) -> dict:
    """Start the SLA of waiting MQLs that got an owner, then open one item per lead overdue in its stage
    (claimed with a compare-and-swap on ``overdue_at``, so two ticks open it once). Returns counts."""
    now = now or timezone.now()
    counts = {"started": 0, "overdue": 0}
    waiting = (
        LeadStage.objects.filter(stage__awaits_acceptance=True, due_at=None, lead__owner__isnull=False)
        .exclude(stage__sla_policy="")
        .select_related("stage", "lead__owner")
        .order_by("pk")[:limit]
    )
    for state in waiting:
        deadline = _due(state.stage, state.lead, now)
        if deadline is not None:
            updated = LeadStage.objects.filter(pk=state.pk, stage_id=state.stage_id, due_at=None).update(
                due_at=deadline.due_at, sla_text=deadline.text[:255]
            )
            counts["started"] += updated
    overdue = LeadStage.objects.filter(due_at__lte=now, overdue_at=None).order_by("due_at").values_list("pk", flat=True)
    for pk in list(overdue[:limit]):
        counts["overdue"] += _overdue_open(pk, now=now)
    return counts


def _overdue_open(pk: int, *, now: dt.datetime) -> int:
    from exceptions.services import exception_item_open
    from exceptions.timing import human_duration

    with transaction.atomic():
        if LeadStage.objects.filter(pk=pk, overdue_at=None, due_at__lte=now).update(overdue_at=now) != 1:
            return 0
        state = LeadStage.objects.select_related("stage", "lead__owner__user", "lead__owner__team").get(pk=pk)
        lead, stage, owner = state.lead, state.stage, state.lead.owner
        who = owner.name if owner is not None else "nobody (the lead has no owner)"
        late = human_duration(now - state.due_at)
        if stage.awaits_acceptance:
            kind, title = OVERDUE_KIND, f"MQL not answered in time: {lead}"
            reason = (
                f"{lead} became {stage.name} on {state.entered_at:%Y-%m-%d %H:%M} UTC and waits for {who} to accept "
                f"or reject it. The answer was due by {state.due_at:%Y-%m-%d %H:%M} UTC ({state.sla_text}); "
                f"it is {late} late."
            )
            action = "Accept or reject the MQL (Lead lifecycle → MQLs waiting for an answer), or reassign it."
        else:
            kind, title = STAGE_OVERDUE_KIND, f"Lead too long in {stage.name}: {lead}"
            reason = (
                f"{lead} entered {stage.name} on {state.entered_at:%Y-%m-%d %H:%M} UTC; under {state.sla_text} "
                f"it should have moved on by {state.due_at:%Y-%m-%d %H:%M} UTC. It is {late} late; its owner is {who}."
            )
            action = f"Follow the lead up and move it on in the CRM, or explain why it waits in {stage.name}."
        with audited(actor=system_user(STAGES_USER, first_name="Lead lifecycle"), reason="lifecycle stage SLA"):
            exception_item_open(
                dedupe_key=f"lifecycle:overdue:{lead.pk}:{state.entered_at.isoformat()}",
                kind=kind,
                title=title[:200],
                reason=reason,
                expected_action=action,
                owner=owner.user if owner is not None and owner.user_id else None,
                object_type="lead",
                object_id=lead.pk,
                external_id=lead.external_id,
            )
    return 1
