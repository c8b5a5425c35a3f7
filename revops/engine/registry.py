"""The action registry: what an automation may do, each action registered by the layer that owns it.

The engine registers the generic actions (create task, update field, open exception item,
request approval, notify, merge records) in ``revops.engine.generic_actions``; a workflow app
registers the actions only it needs (routing: assign owner with its pool counters, start and
stop SLA clock) from its ``AppConfig.ready()``. The executor (``revops.engine.actions``) looks
actions up here by their key, the same key stored on every ``AppliedAction``.

An action is ``apply(executor, params, *, live) -> Result``: with ``live=False`` it only
previews (shadow mode, approval proposals) and must write nothing.

Every action says how it is reverted (``revops.engine.revert``): ``revert(ctx, applied, record) ->
Undo``. With ``ctx.live`` false it only checks (the plan people read first) and must write nothing;
live, it undoes the action, unless the record changed since (``Undo`` with outcome ``conflict`` and
the reason in a sentence) and ``ctx.force`` is false. An action that cannot be undone (an email sent)
registers ``not_revertible("why")``. An older handler ``revert(applied, record)`` returning
``(kind, payload)`` or a ``Conflict`` still works (its plan is checked in a rolled-back savepoint).

Approvals are scarce: one open approval per (record, topic) across all automations. An action's
``topic`` says what a proposal of it is about (``field:<key>`` for anything that changes one field,
so two automations proposing to change a deal's forecast category share one approval); its
``approver`` says whose decision it is. A workflow app may also *guard* a field
(``register_field_guard``): no automation changes it without a person's approval, whatever its risk.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


class ActionError(Exception):
    """An action cannot be executed with these parameters (a configuration error, not a transient one)."""


@dataclass
class Result:
    """What one action did (or would do): status, before/after values, a note, feed entries, its target."""

    status: str
    before: dict = field(default_factory=dict)
    after: dict = field(default_factory=dict)
    note: str = ""
    feed: list[dict] = field(default_factory=list)
    target: tuple[str, int | None] | None = None


@dataclass(frozen=True)
class Conflict:
    """A revert that was not done because the record changed since: ``current`` is what it holds now."""

    current: Any


class UndoOutcome:
    """What reverting one applied action does: revert it, leave it (conflict), nothing to undo, or cannot."""

    REVERT = "revert"
    CONFLICT = "conflict"
    NOTHING = "nothing"
    NOT_REVERTIBLE = "not_revertible"


@dataclass
class Undo:
    """What reverting one applied action did (live) or would do (plan).

    ``note`` says why in one sentence (a conflict: what the record holds now and since when; nothing:
    why there is nothing to undo); ``current`` is the value now, shown next to before and after;
    ``feed`` are changes-feed entries (``kind``, ``object_type``, ``external_id``, ``payload``).
    """

    outcome: str
    note: str = ""
    current: Any = None
    feed: list[dict] = field(default_factory=list)


@dataclass(frozen=True)
class RevertContext:
    """Passed to revert handlers: ``live`` (False: check only, write nothing), ``force`` (revert over a
    conflict), who reverts and why (history is already attributed by the caller's ``audited`` block)."""

    live: bool
    force: bool = False
    actor: Any = None
    reason: str = ""


def not_revertible(why: str) -> Callable[..., Undo]:
    """The revert handler of an action that cannot be undone (``why``: e.g. "an email cannot be unsent")."""

    def revert(ctx: RevertContext, applied, obj) -> Undo:
        return Undo(UndoOutcome.NOT_REVERTIBLE, note=why)

    revert.not_revertible = True  # type: ignore[attr-defined]
    return revert


@dataclass(frozen=True)
class ActionType:
    """One registered action. ``human_facing`` actions already hand the decision to a person (never
    sent for approval); ``always_approved`` ones are prepared for approval whatever the risk."""

    key: str
    label: str
    apply: Callable[..., Result]
    revert: Callable[..., Any] | None = None
    human_facing: bool = False
    always_approved: bool = False
    approval_reason: str = ""  # why an always-approved action needs a human, in words
    # What a proposal is about, from its params (default: the action's key); equal topics on one record
    # share one open approval.
    topic: Callable[[dict], str] | None = None
    approver: str = ""  # "" the rule owner in the automation's queue; "owner_manager" see APPROVERS
    # The batch form a batch driver may call for many live (executor, params) at once; it returns one
    # ``Result`` (applied) or None (apply that one with ``apply``) each (``actions.execute_many``).
    apply_many: Callable[[list[tuple]], list] | None = None

    def topic_of(self, params: dict) -> str:
        return str(self.topic(params) if self.topic is not None else self.key)


# Who decides an approval: the automation's rule owner in its exception queue (the default), or the
# manager of the record owner's team in that team's queue (the nearest one up the team tree).
APPROVERS = ("", "rule_owner", "owner_manager")


@dataclass(frozen=True)
class FieldGuard:
    """A field no automation changes without a person's approval: why, and who approves."""

    reason: str
    approver: str = "owner_manager"


ACTIONS: dict[str, ActionType] = {}


def register_action(
    key: str,
    *,
    label: str,
    revert: Callable | None = None,
    human_facing: bool = False,
    always_approved: bool = False,
    approval_reason: str = "",
    topic: Callable[[dict], str] | None = None,
    approver: str = "",
    apply_many: Callable[[list[tuple]], list] | None = None,
) -> Callable[[Callable[..., Result]], Callable[..., Result]]:
    """Decorator registering ``apply`` as action ``key`` (re-registering the same key replaces it)."""
    if approver not in APPROVERS:
        raise ValueError(f"approver must be one of {APPROVERS}, not {approver!r}")

    def decorator(apply: Callable[..., Result]) -> Callable[..., Result]:
        ACTIONS[key] = ActionType(
            key=key,
            label=label,
            apply=apply,
            revert=revert,
            human_facing=human_facing,
            always_approved=always_approved,
            approval_reason=approval_reason,
            topic=topic,
            approver=approver,
            apply_many=apply_many,
        )
        return apply

    return decorator


def get_action(key: str) -> ActionType:
    try:
        return ACTIONS[key]
    except KeyError:
        raise ActionError(f"unknown action {key!r}; actions are {', '.join(sorted(ACTIONS)) or 'none'}") from None


def action_label(key: str) -> str:
    """The action's label for people ("Assign owner"), or the key made readable when nobody registered it."""
    action = ACTIONS.get(key)
    return action.label if action is not None else str(key).replace("_", " ").capitalize()


GUARDED_FIELDS: dict[tuple[str, str], FieldGuard] = {}


def register_field_guard(object_type: str, key: str, *, reason: str, approver: str = "owner_manager") -> None:
    """No automation changes ``object_type.key`` without a person's approval (``reason`` says why, in words)."""
    if approver not in APPROVERS:
        raise ValueError(f"approver must be one of {APPROVERS}, not {approver!r}")
    GUARDED_FIELDS[(object_type, key)] = FieldGuard(reason=reason, approver=approver)


def field_guard(object_type: str, key) -> FieldGuard | None:
    """The guard of a field, if a workflow app registered one."""
    return GUARDED_FIELDS.get((object_type, key))


@dataclass(frozen=True)
class Deadline:
    """A commitment a workflow app already holds on a record for a rep (e.g. a response SLA's first touch)."""

    due_at: dt.datetime
    text: str  # what it is, in words: "the first touch under 'Hot inbound: 5 minutes'"


DEADLINE_SOURCES: dict[str, Callable[..., Deadline | None]] = {}


def register_deadline_source(name: str, source: Callable[..., Deadline | None]) -> None:
    """``source(record, rep)`` returns the deadline ``rep`` already has on ``record``, or None.

    A task an automation creates for that rep on that record is due at that deadline, so a person has
    one deadline per record, not two (routing: the response SLA of a hot lead).
    """
    DEADLINE_SOURCES[name] = source


def record_deadline(record, rep) -> Deadline | None:
    """The earliest deadline the registered sources report for ``rep`` on ``record`` (None without one)."""
    if rep is None or record is None:
        return None
    found = [deadline for source in DEADLINE_SOURCES.values() if (deadline := source(record, rep)) is not None]
    return min(found, key=lambda deadline: deadline.due_at) if found else None


@dataclass(frozen=True)
class SlaTimer:
    """A way to time a commitment that a workflow app owns the rules for (routing: its SLA policies with
    their business calendars). ``choices()`` lists ``(ref, label)`` to pick from (routing: policy
    names); ``deadline(ref, *, start, owner)`` returns when ``owner`` (a rep or None) must be done if
    they start at ``start`` under choice ``ref`` (None when ``ref`` no longer exists)."""

    name: str
    label: str
    choices: Callable[[], list[tuple[str, str]]]
    deadline: Callable[..., Deadline | None]


SLA_TIMERS: dict[str, SlaTimer] = {}


def register_sla_timer(
    name: str, *, label: str, choices: Callable[[], list[tuple[str, str]]], deadline: Callable[..., Deadline | None]
) -> SlaTimer:
    """Offer an app's SLA rules to other workflow apps (lifecycle: a stage's SLA) without an import."""
    timer = SLA_TIMERS[name] = SlaTimer(name, label, choices, deadline)
    return timer


def sla_timer(name: str) -> SlaTimer | None:
    """The registered timer ``name`` (None if no installed app provides it)."""
    return SLA_TIMERS.get(name)


@dataclass(frozen=True)
class RunFilter:
    """A way to narrow an automation kind's runs, registered by the app that owns the kind (e.g. routing:
    the routing rule that matched). ``choices()`` lists ``(value, label)``; ``apply(runs, value)`` narrows
    an ``AutomationRun`` queryset; ``describe(value)`` says the value in words."""

    kind: str
    key: str
    label: str
    choices: Callable[[], list[tuple[str, str]]]
    apply: Callable[[Any, str], Any]
    describe: Callable[[str], str]


RUN_FILTERS: dict[tuple[str, str], RunFilter] = {}


def register_run_filter(
    kind: str,
    key: str,
    *,
    label: str,
    choices: Callable[[], list[tuple[str, str]]],
    apply: Callable[[Any, str], Any],
    describe: Callable[[str], str],
) -> RunFilter:
    """Let people narrow ``kind``'s runs by ``key`` (used to revert the runs of one routing rule)."""
    run_filter = RUN_FILTERS[(kind, key)] = RunFilter(kind, key, label, choices, apply, describe)
    return run_filter


def run_filters(kind: str) -> list[RunFilter]:
    """The run filters registered for an automation kind."""
    return [f for (k, _), f in sorted(RUN_FILTERS.items()) if k == kind]
