"""Kill switches: pause one automation or all of them at once, hold the events that arrive meanwhile, resume.

A pause is not a mode: the automation keeps its mode (live or shadow) and comes back to it on
resume, without the go-live checks. While paused, the pipeline stores a ``HeldEvent`` for each
event that would have triggered it instead of running it (``hold_events``, one insert per batch);
on resume RevOps decides, for every held event at once, to process or to skip it, and each row
records the decision, who took it and when. Processing runs the held events through the normal
path (``run_rule``, keyed by the event as usual) in an RQ job enqueued on commit.

A kind that must act even while paused declares ``runs_while_paused = True`` and receives the
pause in ``context.options["paused"]`` (the router sends new leads to its fallback owner with an
item, so no lead waits unassigned); its events are not held.

The pipeline reads the pause-all switch once per batch (one query); an automation's own switch
comes with its row, which the batch loads anyway.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import django_rq
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from rq import Retry

from revops.audit import audited
from revops.models import Automation, AutomationSwitch, HeldEvent, OutboxEvent
from revops.values import datetime_text

logger = logging.getLogger(__name__)

SWITCH_PK = 1
HELD_HOT_LIMIT = 100  # up to this many held events are processed on the hot lane; more go to the low (bulk) lane
HELD_CHUNK = 200
HELD_JOB = "revops.engine.jobs.process_held_events"
DECISIONS = (HeldEvent.Decision.PROCESS, HeldEvent.Decision.SKIP)


def person(user) -> str:
    """A person as people read them: full name, else the username."""
    return (user.get_full_name() or user.get_username()) if user is not None else "someone"


@dataclass(frozen=True)
class Pause:
    """Why an automation does not run now: its own switch (``scope="automation"``) or the pause-all one."""

    scope: str
    by: str
    at: dt.datetime | None
    reason: str

    def sentence(self, name: str = "") -> str:
        """ "Automation 'Lead routing' is paused by Ana since 2026-12-06 10:02 (reason: bad pool caps)"."""
        when = f" since {datetime_text(self.at)}" if self.at else ""
        what = "All automations are" if self.scope == HeldEvent.Scope.ALL else f"Automation {name!r} is"
        return f"{what} paused by {self.by}{when} (reason: {self.reason or 'none given'})"

    def as_dict(self) -> dict:
        return {
            "scope": self.scope,
            "by": self.by,
            "at": self.at.isoformat() if self.at else None,
            "reason": self.reason,
        }


def pause_of_switch(switch: AutomationSwitch | None) -> Pause | None:
    if switch is None or switch.paused_at is None:
        return None
    return Pause(HeldEvent.Scope.ALL, person(switch.paused_by), switch.paused_at, switch.pause_reason)


def pause_all_state() -> Pause | None:
    """The pause-all switch as a ``Pause``, or None when automations run (one query)."""
    switch = AutomationSwitch.objects.select_related("paused_by").filter(pk=SWITCH_PK).first()
    return pause_of_switch(switch)


def automation_pause_state(automation: Automation, switch: Pause | None) -> Pause | None:
    """Why ``automation`` is paused — its own switch first, else the pause-all ``switch`` — or None."""
    if automation.paused_at is not None:
        return Pause(
            HeldEvent.Scope.AUTOMATION, person(automation.paused_by), automation.paused_at, automation.pause_reason
        )
    return switch


# --- the pipeline's side ----------------------------------------------------------------------------


def hold_events(holds: list[tuple[Automation, OutboxEvent, Pause]]) -> int:
    """Store one ``HeldEvent`` per (automation, event, pause); a second call for the same pair adds nothing."""
    if not holds:
        return 0
    rows = [
        HeldEvent(
            automation=automation,
            event=event,
            object_type=event.object_type,
            object_id=event.object_id,
            external_id=event.external_id,
            arrived_at=event.created_at or timezone.now(),
            held_because=pause.scope,
        )
        for automation, event, pause in holds
    ]
    HeldEvent.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


# --- services ----------------------------------------------------------------------------------------


def _reason_required(reason: str, what: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": f"Say why you {what}: a reason is required and kept in the history."})
    return reason


PAUSE_FIELDS = ["paused_at", "paused_by", "pause_reason", "updated_at"]


def pause_set(obj, *, paused: bool, actor, reason: str, history: str) -> bool:
    """Set or clear the kill switch of ``obj`` (an automation, a routing rule: any row with ``paused_at``,
    ``paused_by``, ``pause_reason``) under its row lock, in its history with ``history`` as the reason;
    ``obj`` follows. False when it already was in that state (nothing is written). Call inside a transaction."""
    locked = type(obj).objects.select_for_update().get(pk=obj.pk)
    if (locked.paused_at is not None) == paused:
        return False
    values = (timezone.now(), actor, reason) if paused else (None, None, "")
    locked.paused_at, locked.paused_by, locked.pause_reason = values
    with audited(actor=actor, reason=history):
        locked.save(update_fields=PAUSE_FIELDS)  # updated_at moves: workers' cached rule sets reload
    obj.paused_at, obj.paused_by, obj.pause_reason = values
    return True


def _decision_required(held: str) -> str:
    if held not in DECISIONS:
        raise ValidationError(
            {"held": "Choose what happens to the events held while paused: 'process' (run them now) or 'skip'."}
        )
    return held


@transaction.atomic
def automation_pause(*, automation: Automation, actor, reason: str) -> bool:
    """Pause ``automation`` for the next event; events that trigger it are held. False if it was already paused."""
    reason = _reason_required(reason, "pause it")
    return pause_set(automation, paused=True, actor=actor, reason=reason, history=f"paused: {reason}")


@dataclass
class ResumeResult:
    """What a resume did: whether a switch changed, and the held events decided (and how)."""

    changed: bool
    decided: int = 0
    decision: str = ""
    still_paused: Pause | None = None

    def message(self, subject: str) -> str:
        if not self.changed and not self.decided:
            return f"{subject} was not paused; nothing changed."
        if not self.changed:
            return f"{subject} was not paused; {self._held_text('left held')}."
        text = f"{subject} resumed."
        if self.still_paused is not None:
            return f"{text} {self.still_paused.sentence()}, so its held events wait for that resume."
        if self.decided:
            text += f" {self._held_text('held')[0].upper()}{self._held_text('held')[1:]}."
        return text

    def _held_text(self, adjective: str) -> str:
        """ "2 held events will be processed now", "1 event left held was skipped"."""
        one = self.decided == 1
        noun = f"{adjective} event" if adjective == "held" else f"event {adjective}"
        noun = noun.replace("event", "event" if one else "events", 1)
        if self.decision == HeldEvent.Decision.PROCESS:
            return f"{self.decided} {noun} will be processed now"
        return f"{self.decided} {noun} {'was' if one else 'were'} skipped"


@transaction.atomic
def automation_resume(*, automation: Automation, actor, reason: str, held: str) -> ResumeResult:
    """Resume ``automation``; its held events are processed or skipped (``held``), each decision recorded.

    While all automations are paused, the held events stay held until the pause-all switch is resumed.
    """
    reason = _reason_required(reason, "resume it")
    held = _decision_required(held)
    history = f"resumed ({held} held events): {reason}"
    if not pause_set(automation, paused=False, actor=actor, reason=reason, history=history):
        # Not paused: only events a batch held just before an earlier resume can still wait; decide them too.
        if pause_all_state() is not None:
            return ResumeResult(changed=False)
        decided = held_events_decide(automation_ids=[automation.pk], actor=actor, decision=held, reason=reason)
        return ResumeResult(changed=False, decided=decided, decision=held)
    still = pause_all_state()
    if still is not None:
        return ResumeResult(changed=True, still_paused=still)
    decided = held_events_decide(automation_ids=[automation.pk], actor=actor, decision=held, reason=reason)
    return ResumeResult(changed=True, decided=decided, decision=held)


def _switch_locked() -> AutomationSwitch:
    AutomationSwitch.objects.get_or_create(pk=SWITCH_PK)
    return AutomationSwitch.objects.select_for_update().get(pk=SWITCH_PK)


@transaction.atomic
def automations_pause_all(*, actor, reason: str) -> bool:
    """Pause every automation for the next event (held like a single pause). False if all were already paused."""
    reason = _reason_required(reason, "pause all automations")
    switch = _switch_locked()
    if switch.paused_at is not None:
        return False
    switch.paused_at, switch.paused_by, switch.pause_reason = timezone.now(), actor, reason
    with audited(actor=actor, reason=f"all automations paused: {reason}"):
        switch.save()
    return True


@transaction.atomic
def automations_resume_all(*, actor, reason: str, held: str) -> ResumeResult:
    """Resume the pause-all switch; the held events of automations not paused on their own are processed or skipped."""
    reason = _reason_required(reason, "resume all automations")
    held = _decision_required(held)
    switch = _switch_locked()
    if switch.paused_at is None:
        return ResumeResult(changed=False)
    switch.paused_at, switch.paused_by, switch.pause_reason = None, None, ""
    with audited(actor=actor, reason=f"all automations resumed ({held} held events): {reason}"):
        switch.save()
    running = Automation.objects.filter(paused_at__isnull=True, held_events__decision=HeldEvent.Decision.PENDING)
    ids = sorted(set(running.values_list("pk", flat=True)))
    decided = held_events_decide(automation_ids=ids, actor=actor, decision=held, reason=reason)
    return ResumeResult(changed=True, decided=decided, decision=held)


def held_events_decide(*, automation_ids, actor, decision: str, reason: str) -> int:
    """Record ``decision`` on every pending held event of ``automation_ids``; processing is enqueued on commit."""
    now = timezone.now()
    total = 0
    for automation_id in automation_ids:
        count = HeldEvent.objects.filter(automation_id=automation_id, decision=HeldEvent.Decision.PENDING).update(
            decision=decision, decided_by=actor, decided_at=now, decision_reason=reason
        )
        total += count
        if count and decision == HeldEvent.Decision.PROCESS:
            held_events_enqueue(automation_id=automation_id, count=count)
    return total


def held_events_enqueue(*, automation_id: int, count: int) -> None:
    """After commit, put the processing of ``automation_id``'s held events on the hot lane, or the low one when many."""
    lane = "hot" if count <= HELD_HOT_LIMIT else "low"

    def enqueue():
        try:
            django_rq.get_queue(lane, commit_mode="auto").enqueue(
                HELD_JOB, automation_id, retry=Retry(max=3, interval=[5, 30, 120])
            )
        except Exception:
            logger.exception("could not enqueue the held events of automation %s", automation_id)

    transaction.on_commit(enqueue)


HELD_SWEEP_MINUTES = 10


def held_events_sweep(*, now=None, minutes: int = HELD_SWEEP_MINUTES) -> list[int]:
    """Enqueue again the processing of held events decided "process" more than ``minutes`` ago and still
    not processed (the worker that had them died); return the automations concerned. Processing twice
    is harmless: runs are unique per (version, event) and a row is marked done once."""
    cutoff = (now or timezone.now()) - dt.timedelta(minutes=minutes)
    stale = (
        HeldEvent.objects.filter(decision=HeldEvent.Decision.PROCESS, processed_at__isnull=True, decided_at__lt=cutoff)
        .order_by()
        .values_list("automation_id", flat=True)
    )
    counts: dict[int, int] = {}
    for automation_id in stale:
        counts[automation_id] = counts.get(automation_id, 0) + 1
    for automation_id, count in sorted(counts.items()):
        held_events_enqueue(automation_id=automation_id, count=count)
    return sorted(counts)
