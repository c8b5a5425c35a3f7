"""Routing's actions, registered with the engine: assign owner (with the pool counter that came
with it), start and stop an SLA clock. Importing this module registers them (``routing.apps``).

Each is ``apply(ex, params, *, live) -> Result`` with ``ex`` the run's ``ActionExecutor``; with
``live=False`` it previews and writes nothing.
"""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, transaction
from django.utils import timezone

from revops.engine.registry import ActionError, Conflict, Result, register_action
from revops.models import AppliedAction, ChangeEntry, Rep

from .models import SlaClock
from .pools import pool_record_assignment
from .sla_services import sla_clock_start, sla_clocks_cancel


def _revert_owner(applied: AppliedAction, obj):
    """Give the record back to the owner it had, unless someone else owns it since."""
    current, target = obj.owner_id, applied.before.get("owner_id")
    if current != applied.after.get("owner_id"):
        return Conflict(current)
    obj.owner_id = target
    obj.save(update_fields=["owner", "updated_at"])
    owner = Rep.objects.filter(pk=target).values_list("external_id", flat=True).first()
    return ChangeEntry.Kind.OWNER_ASSIGNED, {"owner": owner, "reverted": True}


@register_action("assign_owner", label="Assign owner", revert=_revert_owner)
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


@register_action("start_sla_clock", label="Start SLA clock")
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


@register_action("stop_sla_clock", label="Stop SLA clock")
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
