"""Reverting a run: a plan people read first, then the revert itself, through each action's handler.

``run_revert_plan(run)`` lists, per action the run applied (newest first, the order it is undone in),
its record, the value before and after the run, the value now, and what reverting does — revert it,
skip it because the record changed since (a conflict, said in a sentence), nothing to undo, or cannot
be undone (an email). ``run_revert(run=, actor=, reason=, force=)`` does exactly that (``force``:
revert conflicting actions too), in one transaction with the run locked, and records a ``RunRevert``
(who, why, and the same lines). A second revert changes nothing and its lines say so ("already
reverted"). Handlers are registered with each action (``revops.engine.registry``) by the app that
owns it; a pending approval the run asked for is closed as reverted whatever the action.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction

from revops.audit import audited
from revops.display import FieldText
from revops.feed import change_entries_record
from revops.models import AppliedAction, Automation, AutomationRun, Rep, RunRevert
from revops.selectors import record_model
from revops.values import datetime_text

from .generic_reverts import revert_approval, shown
from .registry import ACTIONS, Conflict, RevertContext, Undo, UndoOutcome, action_label

ALREADY = "already_reverted"
UNDOABLE = (AppliedAction.Status.APPLIED, AppliedAction.Status.APPROVAL)
SHOWN = (*UNDOABLE, AppliedAction.Status.REVERTED)

# What each outcome means, before (plan) and after (the revert's report).
OUTCOME_LABELS = {
    UndoOutcome.REVERT: ("Will be reverted", "Reverted"),
    UndoOutcome.CONFLICT: ("Skipped: changed since", "Skipped: changed since"),
    UndoOutcome.NOTHING: ("Nothing to undo", "Nothing to undo"),
    UndoOutcome.NOT_REVERTIBLE: ("Cannot be reverted", "Not revertible"),
    ALREADY: ("Already reverted", "Already reverted"),
}
OUTCOME_TONES = {
    UndoOutcome.REVERT: "ok",
    UndoOutcome.CONFLICT: "warn",
    UndoOutcome.NOTHING: "neutral",
    UndoOutcome.NOT_REVERTIBLE: "danger",
    ALREADY: "neutral",
}


class _Rollback(Exception):
    pass


@dataclass
class RunRevertPlan:
    """What reverting a run does: one line per action (see ``run_revert_plan``)."""

    run: AutomationRun
    lines: list[dict]

    @property
    def counts(self) -> dict[str, int]:
        return outcome_counts(self.lines)

    @property
    def summary(self) -> str:
        return plan_summary(self.run, self.lines)


def outcome_counts(lines: list[dict]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for line in lines:
        counts[line["outcome"]] = counts.get(line["outcome"], 0) + 1
    return counts


def plan_summary(run: AutomationRun, lines: list[dict], *, done: bool = False) -> str:
    """The plan (or the revert's result) in one sentence."""
    if run.mode != Automation.Mode.LIVE:
        return (
            f"This run was in {run.get_mode_display().lower()} mode: it changed nothing, so there is nothing to revert."
        )
    if not lines:
        return "This run applied no action, so there is nothing to revert."
    counts = outcome_counts(lines)
    reverted = counts.get(UndoOutcome.REVERT, 0)
    if not reverted:
        if counts.get(ALREADY) == len(lines):
            return "Nothing changed: every action of this run was already reverted."
        return "Nothing to revert: " + _parts(counts, done) + "."
    head = f"{reverted} of {len(lines)} action{'s' if len(lines) != 1 else ''} " + (
        "reverted" if done else "will be reverted"
    )
    rest = {k: v for k, v in counts.items() if k != UndoOutcome.REVERT}
    return head + (f"; {_parts(rest, done)}." if rest else ".")


def _parts(counts: dict[str, int], done: bool) -> str:
    return ", ".join(f"{n} {OUTCOME_LABELS[k][1 if done else 0].lower()}" for k, n in counts.items())


# --- one action ----------------------------------------------------------------------------------


def _handler(applied: AppliedAction):
    if applied.status == AppliedAction.Status.APPROVAL:
        return revert_approval  # a pending approval: closed, whatever it proposed
    spec = ACTIONS.get(applied.action)
    return spec.revert if spec is not None else None


def _legacy(handler) -> bool:
    """An older handler ``revert(applied, record)`` returning ``(kind, payload)`` or a ``Conflict``."""
    try:
        return len(inspect.signature(handler).parameters) == 2
    except (TypeError, ValueError):
        return False


def _legacy_undo(handler, ctx: RevertContext, applied, obj) -> Undo:
    def call() -> Undo:
        outcome = handler(applied, obj)
        if isinstance(outcome, Conflict):
            return Undo(UndoOutcome.CONFLICT, note="The record changed since the run.", current=outcome.current)
        kind, payload = outcome
        entry = {"kind": kind, "object_type": applied.object_type, "external_id": obj.external_id, "payload": payload}
        return Undo(UndoOutcome.REVERT, note="Its app reverts it.", feed=[entry])

    if ctx.live:
        return call()
    result: list[Undo] = []
    try:  # the plan: run the handler and roll it back, so it says what the revert will do
        with transaction.atomic():
            result.append(call())
            raise _Rollback
    except _Rollback:
        pass
    return result[0]


def _undo(ctx: RevertContext, applied: AppliedAction):
    """``(record or None, Undo)`` for one action; the record is locked when live."""
    handler = _handler(applied)
    if handler is None:
        why = "Nothing registers how to revert this kind of action, so it cannot be reverted here."
        return None, Undo(UndoOutcome.NOT_REVERTIBLE, note=why)
    obj = None
    if applied.object_type and applied.object_id is not None:
        try:
            model = record_model(applied.object_type)
        except (KeyError, LookupError, ValueError):
            model = None
        if model is not None:
            qs = model.objects.select_for_update() if ctx.live else model.objects
            obj = qs.filter(pk=applied.object_id).first()
            if obj is None:
                return None, Undo(UndoOutcome.NOTHING, note="The record no longer exists.", current="deleted")
    if _legacy(handler):
        return obj, _legacy_undo(handler, ctx, applied, obj)
    return obj, handler(ctx, applied, obj)


def _values_text(values, text: FieldText, object_type: str) -> str:
    """A before/after dict in words: the value of a field update (its choice's label, a reference's name),
    an owner's name, else the visible keys."""
    if not isinstance(values, dict) or not values:
        return "—"
    if "key" in values and "value" in values:
        value = values["value"]
        return f"{str(values['key']).replace('_', ' ')}: {_field_text(text, object_type, values['key'], value)}"
    if "owner_id" in values:
        owner = values["owner_id"]
        return "owner: " + ((text.record(Rep, owner) or f"rep #{owner}") if owner is not None else "nobody")
    if "proposal" in values:
        proposal = values["proposal"] or {}
        return f"approval asked: {action_label(proposal.get('action') or '').lower()}"
    parts = [
        f"{str(k).replace('_', ' ')}: {shown(v)}"
        for k, v in values.items()
        if not str(k).endswith("_id")
        and k not in ("dedupe", "dedupe_key", "moved", "plan", "note")
        and not isinstance(v, dict | list)
    ]
    return "; ".join(parts[:4]) or "—"


def _field_text(text: FieldText, object_type: str, key, value) -> str:
    return shown(value) if value in (None, "", [], {}) else text.value(object_type, str(key), value)


def _record_text(applied: AppliedAction, obj) -> str:
    return str(obj) if obj is not None else f"{applied.object_type} #{applied.object_id}"


def _line(applied: AppliedAction, obj, undo: Undo, text: FieldText) -> dict:
    return {
        "index": applied.index,
        "action": applied.action,
        "label": action_label(applied.action),
        "status": applied.status,
        "object_type": applied.object_type,
        "object_id": applied.object_id,
        "record": _record_text(applied, obj),
        "before": _values_text(applied.before, text, applied.object_type),
        "after": _values_text(
            {k: v for k, v in (applied.after or {}).items() if k != "note"}, text, applied.object_type
        ),
        "now": _now_text(applied, undo, text),
        "outcome": undo.outcome,
        "note": undo.note,
    }


def _now_text(applied: AppliedAction, undo: Undo, text: FieldText) -> str:
    if undo.current is None:
        return "—"
    key = (applied.after or {}).get("key")
    if key and isinstance(undo.current, str):
        return _field_text(text, applied.object_type, key, undo.current)
    return shown(undo.current)


def _already_line(applied: AppliedAction, text: FieldText) -> dict:
    previous = (
        RunRevert.objects.filter(run_id=applied.run_id, reverted__gt=0).select_related("actor").order_by("-pk").first()
    )
    note = "This action was already reverted"
    if previous is not None:
        who = (previous.actor.get_full_name() or previous.actor.get_username()) if previous.actor else "the system"
        note += f" on {datetime_text(previous.created_at)} by {who}: {previous.reason}"
    undo = Undo(ALREADY, note=note + ".")
    return _line(applied, None, undo, text) | {"record": f"{applied.object_type} #{applied.object_id}"}


def _actions(run: AutomationRun, *, lock: bool):
    qs = AppliedAction.objects.filter(run=run, status__in=SHOWN).order_by("-index")
    return list(qs.select_for_update() if lock else qs)


# --- plan and revert -----------------------------------------------------------------------------


def run_revert_plan(run: AutomationRun, *, force: bool = False) -> RunRevertPlan:
    """What ``run_revert(run=run, force=force)`` would do, action by action; writes nothing."""
    if run.mode != Automation.Mode.LIVE:
        return RunRevertPlan(run=run, lines=[])
    actions = _actions(run, lock=False)
    words = FieldText()
    ctx = RevertContext(live=False, force=force)
    lines = []
    for applied in actions:
        if applied.status == AppliedAction.Status.REVERTED:
            lines.append(_already_line(applied, words))
            continue
        obj, undo = _undo(ctx, applied)
        lines.append(_line(applied, obj, undo, words))
    return RunRevertPlan(run=run, lines=lines)


def reason_required(reason) -> str:
    reason = " ".join(str(reason or "").split())
    if not reason:
        raise ValidationError({"reason": "Say why these runs are reverted (the reason is kept in the audit trail)."})
    return reason


def revert_one(*, run: AutomationRun, actor, reason: str, force: bool, batch=None) -> tuple[RunRevert, list[dict]]:
    """Revert ``run`` inside the caller's transaction; the ``RunRevert`` and its changes-feed entries (not yet
    written: the caller writes them last, in one feed write per transaction)."""
    run = AutomationRun.objects.select_for_update().get(pk=run.pk)
    if run.mode != Automation.Mode.LIVE:
        raise ValidationError(plan_summary(run, []))
    revert = RunRevert.objects.create(run=run, batch=batch, actor=actor, reason=reason, force=force)
    text = f"revert of run {run.pk}: {reason}"
    ctx = RevertContext(live=True, force=force, actor=actor, reason=text)
    actions = _actions(run, lock=True)
    words = FieldText()
    lines, feed = [], []
    with audited(actor=actor, reason=text):
        for applied in actions:
            if applied.status == AppliedAction.Status.REVERTED:
                lines.append(_already_line(applied, words))
                continue
            obj, undo = _undo(ctx, applied)
            lines.append(_line(applied, obj, undo, words))
            if undo.outcome != UndoOutcome.REVERT:
                continue
            applied.status = AppliedAction.Status.REVERTED
            applied.save(update_fields=["status"])
            for n, entry in enumerate(undo.feed):
                payload = {**entry["payload"], **({"revert_batch": batch.pk} if batch is not None else {})}
                feed.append(
                    {
                        **entry,
                        "payload": payload,
                        "reason": text,
                        "dedupe_key": f"revert:run:{run.pk}:{applied.index}" + (f":{n}" if n else ""),
                    }
                )
    revert.lines = lines
    revert.reverted = sum(1 for line in lines if line["outcome"] == UndoOutcome.REVERT)
    revert.save(update_fields=["lines", "reverted"])
    return revert, feed


@transaction.atomic
def run_revert(*, run: AutomationRun, actor, reason: str, force: bool = False) -> RunRevert:
    """Undo a run's applied actions (newest first) through each action's revert handler; the ``RunRevert``.

    ``reason`` is required (kept on the revert and in every history row it writes). An action whose record
    changed since is skipped with the reason, unless ``force``. Reverted actions are marked ``reverted``
    and the CRM is told through the changes feed. Idempotent: a second call reverts nothing and says so.
    """
    reason = reason_required(reason)
    revert, feed = revert_one(run=run, actor=actor, reason=reason, force=force)
    change_entries_record(feed)
    return revert


def revertible_actions() -> tuple[str, ...]:
    """The keys of the actions that can be reverted (every action but those registered ``not_revertible``)."""
    return tuple(
        sorted(
            key
            for key, spec in ACTIONS.items()
            if spec.revert is not None and not getattr(spec.revert, "not_revertible", False)
        )
    )
