"""Writes of response-SLA clocks: start, the minute tick (reminders and breaches), first touch,
cancel and follow-the-owner.

Every write leaves a history row naming who did it: the caller's ``actor`` when given, else the
surrounding ``audited`` block (the engine's automation identity), else the ``system:sla-clocks``
login. State rules:

- at most one clock runs per lead (partial unique constraint), so a repeated start is a no-op;
- a running clock whose reminder time has come e-mails its owner once (``reminded_at``);
- a running clock past its due time becomes ``breached`` once and opens one ``sla_breach``
  exception item for the owner's manager; policies with ``reroute_on_breach`` route the lead again;
- the owner's first touch (an activity by the owner, or by nobody in particular) stops a running
  clock as ``met`` when the touch happened by the due time; on a breached clock it only records
  ``first_touch_at``. Only the first touch counts, and touches from before the clock started or
  by another rep do not count.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Iterable
from contextlib import contextmanager
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from revops import audit
from revops.audit import audited, system_user

from . import services as routing_services
from .models import SlaClock, SlaPolicy

logger = logging.getLogger(__name__)

Status = SlaClock.Status
SLA_USERNAME = "system:sla-clocks"
TICK_REASON = "SLA clock tick"
_CLOCK_FK_FIELDS = ["lead", "owner", "policy_ref", "decision", "run"]


def sla_actor():
    """The login that stands for the SLA clocks in history (it cannot sign in)."""
    return system_user(SLA_USERNAME, first_name="SLA clocks")


@contextmanager
def _audit(actor, reason: str):
    """Audit as ``actor``; without one keep the surrounding context, else act as the SLA login."""
    if actor is None and audit.current() is not None:
        yield
        return
    with audited(actor=actor if actor is not None else sla_actor(), reason=reason):
        yield


def _as_datetime(value) -> dt.datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value
    parsed = dt.datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _when(value: dt.datetime, rep=None) -> str:
    """``2026-11-24 14:05 UTC`` plus the rep's local time when the rep has another time zone."""
    text = f"{value.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC"
    zone = getattr(rep, "time_zone", "") or "UTC"
    if zone != "UTC":
        try:
            text += f" ({value.astimezone(ZoneInfo(zone)):%H:%M} {zone})"
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return text


def _minutes(delta: dt.timedelta) -> int:
    return max(int(delta.total_seconds() // 60), 0)


# --- start ----------------------------------------------------------------------------------------


def sla_clock_start(*, lead, owner, plan: dict, decision=None, run=None) -> SlaClock | None:
    """Start a running clock on ``lead`` for ``owner`` from ``plan`` (``routing.sla.sla_plan``'s result).

    Writes one ``SlaClock`` (and its history row, attributed by the surrounding ``audited`` block).
    Idempotent per lead: when a clock is already running nothing is written and None is returned —
    also when a concurrent start wins the race (the partial unique constraint raises inside a
    savepoint, which is caught). ``policy_ref`` is left empty if the policy was deleted meanwhile.
    """
    if SlaClock.objects.filter(lead_id=lead.pk, status=Status.RUNNING).exists():
        return None
    policy_id = plan.get("policy_id")
    if policy_id is not None and not SlaPolicy.objects.filter(pk=policy_id).exists():
        policy_id = None
    clock = SlaClock(
        lead=lead,
        owner=owner,
        policy=str(plan.get("policy") or "")[:120],
        policy_ref_id=policy_id,
        decision=decision,
        target_minutes=int(plan["target_minutes"]),
        business_hours=bool(plan.get("business_hours")),
        started_at=_as_datetime(plan["started_at"]),
        due_at=_as_datetime(plan["due_at"]),
        remind_at=_as_datetime(plan.get("remind_at")),
        run=run,
        status=Status.RUNNING,
    )
    clock.full_clean(exclude=_CLOCK_FK_FIELDS, validate_unique=False, validate_constraints=False)
    try:
        with transaction.atomic():
            clock.save()
    except IntegrityError:  # another start won the race for this lead's one running clock
        return None
    return clock


# --- the tick: reminders and breaches -------------------------------------------------------------


def sla_clocks_tick(*, now: dt.datetime | None = None, limit: int = 1000) -> dict[str, int]:
    """Send due reminders and breach overdue clocks (job, every minute); ``{"reminded", "breached", "rerouted"}``.

    Reminders: each running clock with ``remind_at <= now`` not yet reminded (and not yet due) gets
    ``reminded_at = now`` by a conditional update (``… WHERE reminded_at IS NULL``), so two ticks
    never remind twice; its owner is e-mailed after commit. Breaches: each running clock with
    ``due_at <= now`` becomes ``breached`` (conditional update on ``status = running``) and opens
    one high-severity ``sla_breach`` exception item (de-duplicated per clock) for the owner's
    manager, then, if its policy says so, the lead is routed again away from the owner
    (``routing.services.lead_reroute``, once per clock; ``rerouted`` counts the decisions it made,
    and a failed reroute is logged: the item already asks for a reassignment). Each clock has its own
    transaction, so one failure is logged and does not block the others; at most ``limit`` clocks
    of each kind are handled per tick (the rest wait a minute). History names the SLA login.
    """
    now = now or timezone.now()
    counts = {"reminded": 0, "breached": 0, "rerouted": 0}
    actor = sla_actor()
    with audited(actor=actor, reason=TICK_REASON):
        reminders = (
            SlaClock.objects.filter(status=Status.RUNNING, reminded_at__isnull=True, remind_at__lte=now, due_at__gt=now)
            .order_by("remind_at", "pk")
            .values_list("pk", flat=True)[:limit]
        )
        for pk in list(reminders):
            try:
                counts["reminded"] += _remind(pk, now=now, actor=actor)
            except Exception:  # noqa: BLE001 - one bad clock must not stop the others
                logger.exception("SLA reminder for clock %s failed", pk)
        overdue = (
            SlaClock.objects.filter(status=Status.RUNNING, due_at__lte=now)
            .order_by("due_at", "pk")
            .values_list("pk", flat=True)[:limit]
        )
        for pk in list(overdue):
            try:
                clock = _breach(pk, now=now, actor=actor)
            except Exception:  # noqa: BLE001 - rolled back; the next tick tries again
                logger.exception("SLA breach of clock %s failed", pk)
                continue
            if clock is None:
                continue
            counts["breached"] += 1
            if clock.policy_ref is not None and clock.policy_ref.reroute_on_breach:
                try:
                    decision = _reroute(clock, now=now)
                except Exception:  # noqa: BLE001 - the breach item already asks for a reassignment
                    logger.exception("rerouting lead %s after SLA breach of clock %s failed", clock.lead_id, pk)
                else:
                    counts["rerouted"] += int(decision is not None)
    return counts


def _write_history(clock: SlaClock, *, actor, reason: str) -> None:
    """A history row for a change made by a conditional ``UPDATE`` (which sends no signals)."""
    SlaClock.history.bulk_history_create([clock], update=True, default_user=actor, default_change_reason=reason)


def _remind(pk: int, *, now: dt.datetime, actor) -> int:
    with transaction.atomic():
        claimed = SlaClock.objects.filter(pk=pk, status=Status.RUNNING, reminded_at__isnull=True).update(
            reminded_at=now
        )
        if claimed != 1:  # another tick got there first, or the clock stopped
            return 0
        clock = SlaClock.objects.select_related("lead", "owner", "owner__user").get(pk=pk)
        _write_history(clock, actor=actor, reason="SLA reminder sent")
        _email_owner_after_commit(clock, now=now)
    return 1


def _email_owner_after_commit(clock: SlaClock, *, now: dt.datetime) -> None:
    owner = clock.owner
    if owner is None or not (owner.email or owner.user_id):
        logger.info("SLA reminder for clock %s: the owner has no e-mail address", clock.pk)
        return
    left = _minutes(clock.due_at - now)
    subject = f"Reminder: first touch on {clock.lead} due by {_when(clock.due_at)}"[:200]
    body = (
        f"Hi {owner.name},\n\n"
        f"The lead {clock.lead} (CRM id {clock.lead.external_id}) is yours and has not been touched yet. "
        f"Under the SLA policy {clock.policy!r} its first touch is due by {_when(clock.due_at, owner)}, "
        f"{left} minute{'' if left == 1 else 's'} from now.\n\n"
        "Call or e-mail the lead and log it in the CRM; that stops the clock.\n"
    )
    if owner.user_id is not None and owner.user.is_active:
        from exceptions.models import Notification
        from exceptions.notifications import notification_deliver, notification_open

        # A rep with a login gets it where they chose ("SLA reminder for my lead" on My notifications),
        # within their hourly limit; not held for quiet hours: it is about minutes.
        note = notification_open(
            recipient=owner.user,
            key=f"sla_reminder:clock:{clock.pk}",
            reason="sla_reminder",
            event="sla_reminder",
            subject=subject,
            hold=False,
            now=now,
        )
        if note is not None and note.status == Notification.Status.SENT:
            transaction.on_commit(lambda: notification_deliver(note, text=body))
        if note is None or note.status != Notification.Status.NO_ADDRESS or not owner.email:
            return
        # Their login has no address and no channel: the CRM's address, as for a rep without a login.
    sender, to = settings.DEFAULT_FROM_EMAIL, [owner.email]
    transaction.on_commit(lambda: send_mail(subject, body, sender, to, fail_silently=True))


def _manager_user(owner):
    """Who is told about a breach: the owner's manager's login, else the owner's team manager's, else None."""
    if owner is None:
        return None
    manager = owner.manager
    if manager is not None and manager.user_id is not None:
        return manager.user
    team_manager = owner.team.manager if owner.team_id else None
    if team_manager is not None and team_manager.pk != owner.pk and team_manager.user_id is not None:
        return team_manager.user
    return None


def _team_queue(owner):
    """The exception queue of the owner's team, or of its nearest parent team that has one (else None)."""
    from exceptions.models import Queue

    team, seen = (owner.team if owner is not None else None), set()
    while team is not None and team.pk not in seen:
        seen.add(team.pk)
        queue = Queue.objects.filter(team_id=team.pk).order_by("pk").first()
        if queue is not None:
            return queue
        team = team.parent
    return None


def _breach(pk: int, *, now: dt.datetime, actor) -> SlaClock | None:
    from exceptions.services import exception_item_open
    from exceptions.timing import human_duration

    with transaction.atomic():
        claimed = SlaClock.objects.filter(pk=pk, status=Status.RUNNING, due_at__lte=now).update(
            status=Status.BREACHED, breached_at=now
        )
        if claimed != 1:  # touched, cancelled or breached by another tick meanwhile
            return None
        clock = SlaClock.objects.select_related(
            "lead", "owner__user", "owner__manager__user", "owner__team__manager__user", "policy_ref"
        ).get(pk=pk)
        _write_history(clock, actor=actor, reason="SLA breached")
        lead, owner = clock.lead, clock.owner
        who = owner.name if owner is not None else "nobody (the lead has no owner)"
        hours = "business hours" if clock.business_hours else "24/7"
        overdue = human_duration(now - clock.due_at)
        reason = (
            f"The SLA policy {clock.policy!r} gives lead {lead} {clock.target_minutes} minutes ({hours}) "
            f"to a first touch. It was assigned to {who} at {_when(clock.started_at)} and the first touch "
            f"was due by {_when(clock.due_at, owner)}; no first touch has been logged, {overdue} overdue."
        )
        if owner is not None:
            action = f"Make sure {owner.name} calls the lead now, or reassign it in the CRM."
        else:
            action = "Assign the lead to a rep in the CRM and make sure they call it now."
        if clock.policy_ref is not None and clock.policy_ref.reroute_on_breach:
            action += " The portal is routing it again to another rep."
        exception_item_open(
            dedupe_key=f"sla_breach:lead:{lead.pk}:clock:{clock.pk}",
            kind="sla_breach",
            title=f"SLA breached: {lead} ({clock.policy})",
            reason=reason,
            expected_action=action,
            severity="high",
            owner=_manager_user(owner),
            queue=_team_queue(owner),
            queue_name=getattr(settings, "ROUTING_SLA_QUEUE", "") or "",
            object_type="lead",
            object_id=lead.pk,
            external_id=lead.external_id,
            due_at=now + dt.timedelta(hours=1),
        )
    return clock


def _reroute(clock: SlaClock, *, now: dt.datetime):
    """Route the lead again away from the owner who missed the SLA; the new ``RoutingDecision`` or None."""
    missed = f"{clock.owner.name} has not touched the lead" if clock.owner else "the lead had no owner"
    return routing_services.lead_reroute(
        lead_id=clock.lead_id,
        exclude_rep_ids=[clock.owner_id] if clock.owner_id is not None else [],
        reason=f"SLA breached: the first touch under {clock.policy!r} was due by {_when(clock.due_at)} and {missed}",
        now=now,
        trigger_key=f"sla_breach:clock:{clock.pk}",  # one reroute per breached clock
    )


# --- first touch, cancel, follow the owner ----------------------------------------------------------


def sla_clocks_touch(*, activity_ids: Iterable[int], now: dt.datetime | None = None, actor=None) -> int:
    """Record the first touch of each lead the activities ``activity_ids`` touched; returns clocks changed.

    For each lead, the earliest activity (by ``occurred_at``) done by a clock's owner or by no
    rep, and not before the clock started, is its first touch: a running clock stops as ``met``
    (``first_touch_at``, ``stopped_at = now``) when the touch happened by the due time, or as
    ``breached`` when it came late and the tick had not noticed yet (no exception item then: the
    lead has been touched); a breached clock without a touch only gets ``first_touch_at``.
    Activities by another rep change nothing. A clock's first touch is never overwritten, so
    repeating the call is a no-op.
    """
    from revops.models import Activity

    now = now or timezone.now()
    touches: dict[int, list] = defaultdict(list)
    for activity in (
        Activity.objects.filter(pk__in=list(activity_ids), lead__isnull=False)
        .only("id", "lead_id", "rep_id", "occurred_at")
        .order_by("occurred_at", "pk")
    ):
        touches[activity.lead_id].append(activity)
    if not touches:
        return 0
    changed = 0
    with transaction.atomic(), _audit(actor, "SLA first touch"):
        clocks = (
            SlaClock.objects.select_for_update()
            .filter(lead_id__in=list(touches), first_touch_at__isnull=True)
            .filter(Q(status=Status.RUNNING) | Q(status=Status.BREACHED))
            .order_by("lead_id", "started_at", "pk")
        )
        for clock in clocks:
            touch = next(
                (
                    a
                    for a in touches[clock.lead_id]
                    if (a.rep_id is None or a.rep_id == clock.owner_id) and a.occurred_at >= clock.started_at
                ),
                None,
            )
            if touch is None:
                continue
            clock.first_touch_at = touch.occurred_at
            fields = ["first_touch_at"]
            if clock.status == Status.RUNNING:
                clock.stopped_at = now
                fields.append("stopped_at")
                if touch.occurred_at <= clock.due_at:
                    clock.status = Status.MET
                else:
                    clock.status, clock.breached_at = Status.BREACHED, now
                    fields.append("breached_at")
                fields.append("status")
            clock._change_reason = "SLA first touch"
            clock.save(update_fields=fields)
            changed += 1
    return changed


def sla_clocks_cancel(*, lead_ids: Iterable[int], reason: str, now: dt.datetime | None = None, actor=None) -> int:
    """Cancel the running clocks of ``lead_ids`` (converted or unqualified leads); returns how many.

    Writes ``status = cancelled`` and ``stopped_at`` with a history row giving ``reason``.
    Idempotent: clocks no longer running are left alone.
    """
    now = now or timezone.now()
    cancelled = 0
    with transaction.atomic(), _audit(actor, f"SLA clock cancelled: {reason}"):
        for clock in SlaClock.objects.select_for_update().filter(lead_id__in=list(lead_ids), status=Status.RUNNING):
            clock.status, clock.stopped_at = Status.CANCELLED, now
            clock._change_reason = f"SLA clock cancelled: {reason}"[:100]
            clock.save(update_fields=["status", "stopped_at"])
            cancelled += 1
    return cancelled


def sla_clocks_follow_owner(*, lead_id: int, owner_id: int | None, actor=None) -> SlaClock | None:
    """Move the lead's running clock to its new owner after a manual reassignment; the clock, or None.

    The target and due time do not change. A reminder already sent went to the previous owner,
    so ``reminded_at`` is cleared and the new owner is reminded by the next tick if the reminder
    time has passed. Nothing is written when no clock runs or the owner is unchanged.
    """
    with transaction.atomic(), _audit(actor, "SLA clock follows the lead's new owner"):
        clock = SlaClock.objects.select_for_update().filter(lead_id=lead_id, status=Status.RUNNING).first()
        if clock is None or clock.owner_id == owner_id:
            return None
        clock.owner_id = owner_id
        fields = ["owner"]
        if clock.reminded_at is not None:
            clock.reminded_at = None
            fields.append("reminded_at")
        clock._change_reason = "SLA clock follows the lead's new owner"
        clock.save(update_fields=fields)
    return clock
