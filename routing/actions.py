"""Routing's actions, registered with the engine: assign owner (with the pool counter that came
with it), start and stop an SLA clock — each with how it is reverted (``revops.engine.revert``). Importing this module registers them (``routing.apps``).

Each is ``apply(ex, params, *, live) -> Result`` with ``ex`` the run's ``ActionExecutor``; with
``live=False`` it previews and writes nothing.
"""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, transaction
from django.utils import timezone

from revops.engine.registry import ActionError, Result, RevertContext, Undo, UndoOutcome, register_action
from revops.models import AppliedAction, ChangeEntry, Rep

from .models import SlaClock
from .pools import pool_record_assignment, pool_unrecord_assignment
from .sla_services import sla_clock_start, sla_clocks_cancel, sla_clocks_follow_owner


def _rep_name(rep_id) -> str:
    if rep_id is None:
        return "nobody"
    rep = Rep.objects.filter(pk=rep_id).only("name", "external_id").first()
    return (rep.name or rep.external_id) if rep is not None else f"a deleted rep (#{rep_id})"


def revert_owner(ctx: RevertContext, applied: AppliedAction, obj) -> Undo:
    """Give the record back to the owner it had (and the pool its count back, the running SLA clock to
    that owner), unless someone else owns it since."""
    current, previous, new = obj.owner_id, applied.before.get("owner_id"), applied.after.get("owner_id")
    if current == previous:
        return Undo(
            UndoOutcome.NOTHING, note=f"{_rep_name(previous)} owns it again already.", current=_rep_name(current)
        )
    if current != new and not ctx.force:
        return Undo(
            UndoOutcome.CONFLICT,
            note=f"The owner changed since: the run gave it to {_rep_name(new)}, it is now {_rep_name(current)}'s.",
            current=_rep_name(current),
        )
    pool_id = (applied.params or {}).get("pool_id")
    note = f"Goes back to {_rep_name(previous)}" + (", and the pool gets its count back." if pool_id else ".")
    undo = Undo(UndoOutcome.REVERT, note=note, current=_rep_name(current))
    if not ctx.live:
        return undo
    obj.owner_id = previous
    obj.save(update_fields=["owner", "updated_at"])
    if pool_id and new is not None:
        pool_unrecord_assignment(pool_id=pool_id, rep_id=new)
    if applied.object_type == "lead":
        sla_clocks_follow_owner(lead_id=obj.pk, owner_id=previous, actor=ctx.actor)
    owners = dict(Rep.objects.filter(pk__in=[previous, current]).values_list("pk", "external_id"))
    undo.feed.append(
        {
            "kind": ChangeEntry.Kind.OWNER_ASSIGNED,
            "object_type": applied.object_type,
            "external_id": obj.external_id,
            "payload": {
                "owner": owners.get(previous),
                "previous_owner": owners.get(current),
                **((applied.params or {}).get("feed") or {}),
                "reverted": True,
            },
        }
    )
    return undo


def revert_clock_start(ctx: RevertContext, applied: AppliedAction, lead) -> Undo:
    """Cancel the clock the run started, if it still runs (a clock met or breached since is history)."""
    clock = SlaClock.objects.filter(pk=(applied.after or {}).get("clock_id")).first()
    if clock is None:
        return Undo(UndoOutcome.NOTHING, note="The SLA clock no longer exists.", current="deleted")
    replaced = (applied.before or {}).get("cancelled_clocks")
    extra = " The previous owner's clock, cancelled when the lead was re-routed, is not restarted." if replaced else ""
    if clock.status != SlaClock.Status.RUNNING:
        return Undo(
            UndoOutcome.NOTHING,
            note=f"The SLA clock already stopped ({clock.get_status_display().lower()}); it is kept as it is.{extra}",
            current=clock.get_status_display(),
        )
    undo = Undo(
        UndoOutcome.REVERT, note=f"The running SLA clock is cancelled.{extra}", current=clock.get_status_display()
    )
    if ctx.live:
        clock = SlaClock.objects.select_for_update().get(pk=clock.pk)
        clock.status, clock.stopped_at = SlaClock.Status.CANCELLED, timezone.now()
        clock._change_reason = f"SLA clock cancelled: {ctx.reason or 'run reverted'}"[:100]
        clock.save(update_fields=["status", "stopped_at"])
    return undo


def revert_clock_stop(ctx: RevertContext, applied: AppliedAction, lead) -> Undo:
    """Start the clock the run stopped again (same due time), unless another clock runs on the lead since."""
    clock = SlaClock.objects.filter(pk=(applied.before or {}).get("clock_id")).first()
    if clock is None:
        return Undo(UndoOutcome.NOTHING, note="The SLA clock no longer exists.", current="deleted")
    if clock.status == SlaClock.Status.RUNNING:
        return Undo(UndoOutcome.NOTHING, note="The SLA clock runs again already.", current=clock.get_status_display())
    other = SlaClock.objects.filter(lead_id=clock.lead_id, status=SlaClock.Status.RUNNING).exclude(pk=clock.pk)
    if clock.status != (applied.after or {}).get("status") or other.exists():
        why = (
            "another clock runs on the lead since"
            if other.exists()
            else f"it is {clock.get_status_display().lower()} since"
        )
        return Undo(
            UndoOutcome.CONFLICT, note=f"The SLA clock is not restarted: {why}.", current=clock.get_status_display()
        )
    undo = Undo(UndoOutcome.REVERT, note="The SLA clock runs again, due as before.", current=clock.get_status_display())
    if ctx.live:
        clock = SlaClock.objects.select_for_update().get(pk=clock.pk)
        clock.status, clock.stopped_at = SlaClock.Status.RUNNING, None
        clock._change_reason = f"SLA clock restarted: {ctx.reason or 'run reverted'}"[:100]
        clock.save(update_fields=["status", "stopped_at"])
    return undo


@register_action("assign_owner", label="Assign owner", revert=revert_owner)
def assign_owner(ex, params: dict, *, live: bool) -> Result:
    object_type, obj = ex.target(params, live=live)
    if not hasattr(obj, "owner_id"):
        raise ActionError(f"{object_type} records have no owner")
    new = params.get("owner_id")
    current = obj.owner_id
    new_rep = ex.rep(new)
    result = Result(
        status="applied",
        before={"owner_id": current, "owner": getattr(obj.owner, "external_id", None)},
        after={"owner_id": new, "owner": getattr(new_rep, "external_id", None)},
        target=(object_type, obj.pk),
    )
    if new is not None and new_rep is None:
        raise ActionError(f"rep {new} does not exist")
    if not live:
        return result
    expected = params.get("expected_owner_id", ex.seen.get("owner_id", current))
    if current == new:
        result.status, result.note = "skipped", "already owned by this rep"
        return result
    if current != expected:
        result.status = "skipped"
        result.note = f"owner changed since the run evaluated the record (was {expected}, now {current})"
        return result
    obj.owner = new_rep
    obj.save(update_fields=["owner", "updated_at"])
    ex.note_record_touched(object_type, obj)
    if params.get("pool_id") and new is not None:
        weights = {int(k): v for k, v in (params.get("pool_weights") or {}).items()} or None
        pool_record_assignment(pool_id=params["pool_id"], rep_id=new, now=timezone.now(), weights=weights)
    result.feed.append(
        {
            "kind": ChangeEntry.Kind.OWNER_ASSIGNED,
            "object_type": object_type,
            "external_id": obj.external_id,
            "payload": {
                "owner": result.after["owner"],
                "previous_owner": result.before["owner"],
                **(params.get("feed") or {}),
            },
        }
    )
    return result


@register_action("start_sla_clock", label="Start SLA clock", revert=revert_clock_start)
def start_sla_clock(ex, params: dict, *, live: bool) -> Result:
    object_type, lead = ex.target(params, live=False)
    if object_type != "lead":
        raise ActionError("SLA clocks run on leads")
    if params.get("plan"):
        return _start_planned_clock(ex, lead, params, live=live)
    minutes = int(params.get("target_minutes") or 60)
    owner_id = params.get("owner_id", lead.owner_id)
    now = timezone.now()
    due = now + dt.timedelta(minutes=minutes)
    result = Result(
        status="applied",
        after={"policy": params.get("policy", ""), "target_minutes": minutes, "due_at": due.isoformat()},
        target=("lead", lead.pk),
    )
    if not live:
        return result
    running = SlaClock.objects.filter(lead=lead, status=SlaClock.Status.RUNNING).first()
    if running is not None:
        result.status, result.note = "skipped", f"a clock is already running (due {running.due_at.isoformat()})"
        return result
    try:
        with transaction.atomic():
            clock = SlaClock.objects.create(
                lead=lead,
                owner_id=owner_id,
                policy=str(params.get("policy") or ex.automation.name)[:120],
                target_minutes=minutes,
                started_at=now,
                due_at=due,
                run=ex.run,
            )
    except IntegrityError:
        result.status, result.note = "skipped", "a clock is already running"
        return result
    result.after["clock_id"] = clock.pk
    return result


def _start_planned_clock(ex, lead, params: dict, *, live: bool) -> Result:
    """Start a clock from an SLA policy's plan (due and reminder times computed with business hours)."""
    plan = params["plan"]
    result = Result(
        status="applied",
        after={k: plan.get(k) for k in ("policy", "policy_id", "target_minutes", "due_at", "remind_at")},
        target=("lead", lead.pk),
    )
    if not live:
        return result
    owner = ex.rep(params.get("owner_id", lead.owner_id))
    if params.get("replace_running"):  # re-routed: the previous owner's clock ends here
        result.before = {"cancelled_clocks": sla_clocks_cancel(lead_ids=[lead.pk], reason="lead re-routed")}
    clock = sla_clock_start(lead=lead, owner=owner, plan=plan, run=ex.run)
    if clock is None:
        result.status, result.note = "skipped", "a clock is already running"
        return result
    result.after["clock_id"] = clock.pk
    return result


@register_action("stop_sla_clock", label="Stop SLA clock", revert=revert_clock_stop)
def stop_sla_clock(ex, params: dict, *, live: bool) -> Result:
    object_type, lead = ex.target(params, live=False)
    status = params.get("status") or SlaClock.Status.MET
    if status not in (SlaClock.Status.MET, SlaClock.Status.CANCELLED, SlaClock.Status.BREACHED):
        raise ActionError(f"an SLA clock stops as met, breached or cancelled, not {status!r}")
    qs = SlaClock.objects.filter(lead_id=lead.pk, status=SlaClock.Status.RUNNING)
    clock = (qs.select_for_update() if live else qs).first()
    result = Result(status="applied", after={"status": status}, target=("lead", lead.pk))
    if clock is None:
        result.status, result.note = "skipped", "no clock is running"
        return result
    result.before = {"clock_id": clock.pk, "status": clock.status}
    if not live:
        return result
    clock.status = status
    clock.stopped_at = timezone.now()
    clock.save(update_fields=["status", "stopped_at"])
    return result
