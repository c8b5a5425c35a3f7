"""The action executor: applies registered actions, each idempotent and reversible.

The pipeline calls ``ActionExecutor.execute`` inside the run's transaction, with the run row
locked, so an action is applied at most once per (run, index) — ``AppliedAction`` is unique on
that pair and a re-delivered job finds the run finished and skips it. Writes to records are
compare-and-swap: the target row is locked and the action is skipped (with the reason) when the
record no longer looks like what the run evaluated, or already has the value.

The actions themselves are registered in ``revops.engine.registry`` by the layer that owns them
(the generic ones in ``revops.engine.generic_actions``, routing's in ``routing.actions``). Every
action yields one ``AppliedAction`` with ``before``/``after`` values and a status:

- ``applied``: done; ``skipped``: nothing to do (already so, changed meanwhile, rate-limited);
- ``shadow``: the automation runs in shadow mode; ``after`` is what it would have done;
- ``approval``: high-risk automation, or an always-approved action (a merge): an
  ``approval_required`` exception item holds the prepared action (``proposal``) and nothing else
  happened; ``approval_execute`` applies it once a human approves (the queue calls it through the
  approval handler the engine registers);
- ``reverted``: undone later by ``revops.engine.revert.run_revert``.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction

from exceptions.gap_items import ItemPlacement
from exceptions.models import ExceptionItem
from exceptions.services import exception_item_open
from revops.audit import audited
from revops.feed import change_entries_record, change_entry_record
from revops.models import AppliedAction, AutomationRun, Rep
from revops.selectors import record_model
from revops.values import jsonable

from .registry import ACTIONS, Result, field_guard, get_action
from .types import Action

OPEN_STATUSES = tuple(ExceptionItem.OPEN_STATUSES)


def needs_approval(*, risk: str, action: Action, object_type: str = "") -> bool:
    """Whether ``action`` must become an approval request instead of being applied: always for an
    always-approved action or a change of a guarded field (``register_field_guard``), whatever the
    risk; at high risk for every action that does not already hand the decision to a person."""
    spec = get_action(action.type)
    if spec.always_approved or _guard(action, object_type) is not None:
        return True
    return risk == "high" and not spec.human_facing


class ActionExecutor:
    """Executes one run's actions. Call inside the run's transaction (and ``audited`` block).

    Actions receive the executor as their context: the run, its automation and version, the
    record, and helpers to lock targets and look up reps and users once per run.
    """

    def __init__(self, *, run, automation, version, record, object_type: str, mode: str, seen: dict | None = None):
        self.run = run
        self.automation = automation
        self.version = version
        self.record = record
        self.object_type = object_type
        self.mode = mode
        self.seen = seen or {}
        self.feed: list[dict] = []
        self.touched_record = False
        self._reps: dict[int, Rep | None] = {}
        self._locked: dict[tuple[str, int], Any] = {}

    @property
    def reason(self) -> str:
        return f"automation {self.automation.name} v{self.version.number}, run {self.run.pk}"

    # --- entry point ----------------------------------------------------------------------

    def execute(self, index: int, action: Action) -> AppliedAction:
        """Apply, preview (shadow) or send for approval one action; store and return its ``AppliedAction``."""
        spec = get_action(action.type)
        params = dict(action.params)
        if self.mode == "shadow":
            result = spec.apply(self, params, live=False)
            result.status = "shadow"
        elif needs_approval(risk=self.version.risk, action=action, object_type=self.object_type):
            result = self.approval_item(action, params, live=True, index=index)
        else:
            result = spec.apply(self, params, live=True)
        applied = self.applied_row(index, action, params, result)
        applied.save(force_insert=True)
        return applied

    def applied_row(self, index: int, action: Action, params: dict, result: Result) -> AppliedAction:
        """The (unsaved) ``AppliedAction`` of one action's result; its feed entries join the run's."""
        target_type, target_id = result.target or (self.object_type, self.record.pk)
        for entry in result.feed:
            entry.setdefault("dedupe_key", f"run:{self.run.pk}:{index}")
            self.feed.append(entry)
        return AppliedAction(
            run=self.run,
            index=index,
            action=action.type,
            object_type=target_type,
            object_id=target_id,
            params=jsonable(params),
            before=result.before,
            after={**result.after, **({"note": result.note} if result.note else {})},
            status=result.status,
        )

    @staticmethod
    def execute_many(entries: list[tuple[ActionExecutor, int, Action]]) -> list[AppliedAction]:
        """``execute`` for many (executor, index, action), in a batch driver's transaction: the live
        actions whose type has a batch form (``apply_many``) go through it together and their rows in one
        statement; the rest, and any the batch form hands back, one by one afterwards (each in the audit
        block of its run). Returns the rows in the order given."""
        rows: list[AppliedAction | None] = [None] * len(entries)
        batches: dict[str, list[int]] = {}
        for position, (executor, _index, action) in enumerate(entries):
            spec = get_action(action.type)
            if spec.apply_many is None or executor.mode == "shadow":
                continue
            if needs_approval(risk=executor.version.risk, action=action, object_type=executor.object_type):
                continue
            batches.setdefault(action.type, []).append(position)
        for key, positions in batches.items():
            pairs = [(entries[p][0], dict(entries[p][2].params)) for p in positions]
            for position, (_executor, params), result in zip(
                positions, pairs, get_action(key).apply_many(pairs), strict=True
            ):
                if result is not None:
                    executor, index, action = entries[position]
                    rows[position] = executor.applied_row(index, action, params, result)
        AppliedAction.objects.bulk_create([row for row in rows if row is not None])
        for position, (executor, index, action) in enumerate(entries):
            if rows[position] is None:
                with audited(actor=executor.automation.identity, reason=executor.reason):
                    rows[position] = executor.execute(index, action)
        return rows

    def write_feed(self) -> None:
        """Record the changes-feed entries of applied actions (one statement); call last in the transaction."""
        change_entries_record([{**entry, "reason": self.reason} for entry in self.feed])

    # --- helpers for actions ----------------------------------------------------------------

    def target(self, params: dict, *, live: bool):
        """``(object_type, row)`` the action works on: the run's record unless ``params`` name another.

        Live, the row is locked (``SELECT … FOR UPDATE``) and read once per run.
        """
        object_type = params.get("object_type") or self.object_type
        object_id = params.get("object_id") or self.record.pk
        model = record_model(object_type)
        if live:
            locked = self._locked.get((object_type, object_id))
            if locked is None:
                locked = self._locked[(object_type, object_id)] = model.objects.select_for_update().get(pk=object_id)
            return object_type, locked
        if object_type == self.object_type and object_id == self.record.pk:
            return object_type, self.record
        return object_type, model.objects.get(pk=object_id)

    def rep(self, rep_id) -> Rep | None:
        if rep_id is None:
            return None
        if rep_id not in self._reps:
            self._reps[rep_id] = Rep.objects.select_related("user", "manager").filter(pk=rep_id).first()
        return self._reps[rep_id]

    def user(self, who: str):
        """The login behind a role name: ``failure_owner``/``rule_owner``/``system_owner``, ``record_owner``,
        or ``queue_manager`` (None: the queue's manager takes it)."""
        if who == "queue_manager":
            return None
        if who in ("failure_owner", "rule_owner", "system_owner"):
            return getattr(self.automation, who)
        owner = getattr(self.record, "owner", None)
        if who == "record_owner" and owner is not None:
            return owner.user
        return self.automation.failure_owner

    def note_record_touched(self, object_type: str, obj) -> None:
        if object_type == self.object_type and obj.pk == self.record.pk:
            self.touched_record = True

    def approval_item(self, action: Action, params: dict, *, live: bool, index: int | None) -> Result:
        """Prepare ``action`` for a human's approval: an ``approval_required`` item holding the proposal.

        One open approval per (record, topic) across automations (``approval_key``): a second
        automation proposing the same change joins the open item instead of opening another. The
        item holds the latest proposal (the one approving applies) and lists every automation's
        proposal in ``proposal["proposals"]`` and in its reason; the joining run's action says so.
        """
        object_type, obj = self.target(action.params, live=False)
        spec = get_action(action.type)
        preview = spec.apply(self, dict(action.params), live=False)
        topic = spec.topic_of(dict(action.params))
        proposal = {
            "action": action.type,
            "params": jsonable(dict(action.params)),
            "before": preview.before,
            "after": preview.after,
            "run": self.run.pk,
            "index": index,
            "automation": self.automation.pk,
            "automation_name": self.automation.name,
            "version": self.version.number,
            "topic": topic,
        }
        result = Result(status="approval", before=preview.before, after={"proposal": proposal}, target=preview.target)
        if not live:
            return result
        guard = _guard(action, self.object_type)
        if spec.always_approved:
            why = spec.approval_reason or "it is high-impact"
        elif guard is not None:
            why = guard.reason
        else:
            why = "the automation is high-risk"
        key = approval_key(object_type, obj.pk, topic)
        current = _open_approval(object_type, obj.pk, key, topic, self.automation.pk)
        if current is not None:
            key = current.dedupe_key  # an item keyed the old way (per automation) is joined, not doubled
        earlier = (current.proposal or {}) if current is not None else {}
        mine = {
            "automation": self.automation.pk,
            "automation_name": self.automation.name,
            "run": self.run.pk,
            "index": index,
            "action": action.type,
            "after": preview.after,
        }
        others = [p for p in _proposals(earlier) if p.get("automation") != self.automation.pk]
        proposal["proposals"] = [*others, mine]
        proposal["joined"] = _joined(earlier, self.run.pk, index)
        queue, owner = self._approval_place(spec.approver or (guard.approver if guard is not None else ""), obj)
        reason = (params.get("reason") or self.run.summary or self.automation.purpose) + (
            f" — prepared by {self.reason}; it needs approval because {why}."
        )
        item, created = exception_item_open(
            dedupe_key=key,
            kind="approval_required",
            title=f"Approve: {spec.label.lower()} on {obj}"[:200],
            reason=reason + _proposals_text(proposal["proposals"], obj),
            expected_action="Approve to apply the prepared action, or reject it.",
            owner=owner,
            severity=ExceptionItem.Severity.HIGH,
            queue=queue,
            queue_name=self.automation.exception_queue,
            automation=self.automation,
            run=self.run,
            object_type=object_type,
            object_id=obj.pk,
            external_id=getattr(obj, "external_id", "") or "",
            proposal=proposal,
        )
        result.after.update(item_id=item.pk)
        if not created:
            names = [p["automation_name"] for p in others]
            result.note = (
                f"joined the open approval #{item.pk}, also proposed by {_names(names)}"
                if names
                else f"refreshed its open approval #{item.pk} (seen {item.occurrences} times)"
            )
        if index is None:
            result.status = "applied"  # an explicit request_approval action was applied
        return result

    def _approval_place(self, approver: str, obj):
        """``(queue, owner)`` of an approval: the rule owner in the automation's queue, or for
        ``owner_manager`` the manager of the record owner's team in that team's queue (the nearest up
        the tree), else the owner's manager, else the rule owner, in the automation's queue."""
        if approver != "owner_manager":
            return None, self.automation.rule_owner
        rep = getattr(obj, "owner", None)
        queue = user = None
        if rep is not None and rep.team_id is not None:
            team_queue, manager_user_id = ItemPlacement().place(rep.team_id)
            queue = team_queue if team_queue.team_id is not None else None
            if manager_user_id is not None:
                user = get_user_model().objects.filter(pk=manager_user_id).first()
        if user is None and rep is not None and rep.manager_id is not None:
            user = getattr(self.rep(rep.manager_id), "user", None)
        return queue, user or self.automation.rule_owner


def approval_key(object_type: str, object_id, topic: str) -> str:
    """The dedupe key of the one open approval about ``topic`` on a record, whichever automation asks."""
    return f"approval:{object_type}:{object_id}:{topic}"


def _guard(action: Action, object_type: str):
    """The guard of the field a field update would change, if that field is guarded."""
    if action.type != "update_field":
        return None
    return field_guard(action.params.get("object_type") or object_type, action.params.get("key"))


def _open_approval(object_type: str, object_id, key: str, topic: str, automation_id) -> ExceptionItem | None:
    """The open approval about ``topic`` on the record, locked (the run's transaction holds it): the one
    keyed ``key``, else one opened before topics under the old per-automation key whose proposal is
    about the same topic (this automation's first)."""
    items = list(
        ExceptionItem.objects.select_for_update()
        .filter(kind="approval_required", object_type=object_type, object_id=object_id, status__in=OPEN_STATUSES)
        .order_by("pk")
    )
    for item in items:
        if item.dedupe_key == key:
            return item
    legacy = [item for item in items if item.dedupe_key.startswith("approval:automation:")]
    legacy = [item for item in legacy if _topic_of(item.proposal or {}) == topic]
    legacy.sort(key=lambda item: item.automation_id != automation_id)
    return legacy[0] if legacy else None


def _topic_of(proposal: dict) -> str | None:
    spec = ACTIONS.get(proposal.get("action") or "")
    return spec.topic_of(dict(proposal.get("params") or {})) if spec is not None else None


def _proposals(proposal: dict) -> list[dict]:
    """Every automation's current proposal on an approval (items opened before the list: their one proposal)."""
    if not proposal:
        return []
    if "proposals" in proposal:
        return list(proposal["proposals"])
    return [{k: proposal.get(k) for k in ("automation", "automation_name", "run", "index", "action", "after")}]


MAX_JOINED = 100


def _joined(proposal: dict, run_id: int, index) -> list:
    """The (run, index) of every proposal an approval stands for, so deciding it settles all of them."""
    joined = [
        list(pair)
        for pair in proposal.get("joined") or ([[proposal["run"], proposal.get("index")]] if proposal else [])
    ]
    if [run_id, index] not in joined:
        joined.append([run_id, index])
    return joined[-MAX_JOINED:]


def _names(names: list[str]) -> str:
    quoted = [f"“{name}”" for name in names]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


def _change_text(after: dict, obj) -> str:
    """A proposal's change in words: "forecast category → Best case" for a field, else the action's values."""
    if "key" in after and "value" in after:
        key, value = after["key"], after["value"]
        try:
            choices = dict(obj._meta.get_field(key).choices or ())
        except Exception:  # a custom attribute, not a column
            choices = {}
        shown = "empty" if value in (None, "") else choices.get(value, value)
        return f"{str(key).replace('_', ' ')} → {shown}"
    return ", ".join(f"{k}: {v}" for k, v in after.items() if not str(k).endswith("_id")) or "as prepared"


def _proposals_text(proposals: list[dict], obj) -> str:
    """What several automations propose on one approval, and which proposal approving applies."""
    if len(proposals) < 2:
        return ""
    lines = "; ".join(f"“{p['automation_name']}”: {_change_text(p.get('after') or {}, obj)}" for p in proposals)
    changes = {_change_text(p.get("after") or {}, obj) for p in proposals}
    verdict = (
        "They propose the same change."
        if len(changes) == 1
        else f"They disagree: approving applies the latest proposal, from “{proposals[-1]['automation_name']}”; "
        "override it to apply another value."
    )
    return f"\n\nProposed by {len(proposals)} automations — {lines}. {verdict}"


def approval_settle_joined(*, item: ExceptionItem, note: str) -> int:
    """Mark the other proposals an approval stood for (still waiting) skipped with ``note``; how many."""
    proposal = item.proposal or {}
    decided = (proposal.get("run"), proposal.get("index"))
    pairs = [tuple(pair) for pair in proposal.get("joined") or [] if tuple(pair) != decided]
    settled = 0
    for run_id, index in pairs:
        applied = (
            AppliedAction.objects.select_for_update()
            .filter(run_id=run_id, index=index, status=AppliedAction.Status.APPROVAL)
            .first()
        )
        if applied is None:
            continue
        applied.status = AppliedAction.Status.SKIPPED
        applied.after = {**(applied.after or {}), "note": note}
        applied.save(update_fields=["status", "after"])
        settled += 1
    return settled


# --- approvals -----------------------------------------------------------------


@transaction.atomic
def approval_execute(*, item: ExceptionItem, actor) -> AppliedAction:
    """Apply the action an approved ``approval_required`` item prepared; its ``AppliedAction`` becomes applied.

    History names ``actor`` (the approver) with the automation run as the reason. Approving the
    same item twice applies nothing the second time.
    """
    item = ExceptionItem.objects.select_for_update().get(pk=item.pk)
    proposal = item.proposal or {}
    run = AutomationRun.objects.select_related("automation", "version").get(pk=proposal["run"])
    applied = AppliedAction.objects.select_for_update().filter(run=run, index=proposal.get("index")).first()
    if applied is not None and applied.status != AppliedAction.Status.APPROVAL:
        return applied
    record = record_model(run.object_type).objects.get(pk=run.object_id)
    executor = ActionExecutor(
        run=run, automation=run.automation, version=run.version, record=record, object_type=run.object_type, mode="live"
    )
    spec = get_action(proposal["action"])
    params = dict(proposal.get("params") or {})
    params.setdefault("expected_owner_id", (proposal.get("before") or {}).get("owner_id"))
    with audited(actor=actor, reason=f"approved: {executor.reason}"):
        result = spec.apply(executor, params, live=True)
        if applied is not None:
            applied.before, applied.status = result.before, result.status
            applied.after = {**result.after, **({"note": result.note} if result.note else {})}
            applied.save(update_fields=["before", "after", "status"])
        for entry in result.feed:
            change_entry_record(reason=f"approved: {executor.reason}", dedupe_key=f"approved:{item.pk}", **entry)
        approval_settle_joined(
            item=item,
            note=f"decided with approval #{item.pk}: the proposal of “{run.automation.name}” (run {run.pk}) "
            f"was {result.status}",
        )
    return applied
