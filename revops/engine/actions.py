"""The action executor: the closed set of things an automation may do, each idempotent and reversible.

The pipeline calls ``ActionExecutor.execute`` inside the run's transaction, with the run row
locked, so an action is applied at most once per (run, index) — ``AppliedAction`` is unique on
that pair and a re-delivered job finds the run finished and skips it. Writes to records are
compare-and-swap: the target row is locked and the action is skipped (with the reason) when the
record no longer looks like what the run evaluated, or already has the value.

Every action yields one ``AppliedAction`` with ``before``/``after`` values and a status:

- ``applied``: done; ``skipped``: nothing to do (already so, changed meanwhile, rate-limited);
- ``shadow``: the automation runs in shadow mode; ``after`` is what it would have done;
- ``approval``: high-risk automation, or a merge: an ``approval_required`` exception item holds
  the prepared action (``proposal``) and nothing else happened;
- ``reverted``: undone later by ``run_revert``.

Merging records (decision): leads only. The winner keeps every value it has and fills its blanks
from the loser; the loser's activities, tasks and SLA clocks move to the winner; the loser is kept
(the CRM owns deletions and will keep sending it) with status ``converted``. Merging is always
prepared for approval, whatever the automation's risk (DESIGN §1 principle 3), and applied by
``approval_execute`` once a human approves.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.mail import send_mail
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from exceptions.models import ExceptionItem
from exceptions.services import exception_item_open
from revops.audit import audited
from revops.feed import change_entry_record
from revops.models import AppliedAction, ChangeEntry, Lead, Rep, Task
from revops.selectors import record_model
from routing.models import SlaClock

from .types import Action

# Actions that never need a human's approval: they already hand the decision to a human.
HUMAN_FACING = ("open_exception", "request_approval")
# Actions that always need approval, whatever the automation's risk.
ALWAYS_APPROVED = ("merge_records",)
REVERTIBLE = ("update_field", "assign_owner")
TASK_PARENTS = {"lead": "lead", "account": "account", "opportunity": "opportunity"}


class ActionError(Exception):
    """An action cannot be executed with these parameters (a configuration error, not a transient one)."""


def jsonable(value: Any) -> Any:
    """A JSON-serialisable form of a field value (decimals as strings, dates ISO 8601, rows by pk)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def needs_approval(*, risk: str, action: Action) -> bool:
    """Whether ``action`` must become an approval request instead of being applied."""
    if action.type in ALWAYS_APPROVED:
        return True
    return risk == "high" and action.type not in HUMAN_FACING


def rep_label(rep: Rep | None, role: str = "owner") -> str:
    return f"{rep.name} ({role})" if rep is not None else f"nobody ({role} not set)"


@dataclass
class Result:
    status: str
    before: dict = field(default_factory=dict)
    after: dict = field(default_factory=dict)
    note: str = ""
    feed: list[dict] = field(default_factory=list)
    target: tuple[str, int | None] | None = None


class ActionExecutor:
    """Executes one run's actions. Call inside the run's transaction (and ``audited`` block)."""

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
        handler = getattr(self, f"_{action.type}")
        params = dict(action.params)
        if self.mode == "shadow":
            result = handler(params, live=False)
            result.status = "shadow"
        elif needs_approval(risk=self.version.risk, action=action):
            result = self._approval(index, action, params)
        else:
            result = handler(params, live=True)
        target_type, target_id = result.target or (self.object_type, self.record.pk)
        applied = AppliedAction.objects.create(
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
        for entry in result.feed:
            entry.setdefault("dedupe_key", f"run:{self.run.pk}:{index}")
            self.feed.append(entry)
        return applied

    def write_feed(self) -> None:
        """Record the changes-feed entries of applied actions; call last in the transaction."""
        for entry in self.feed:
            change_entry_record(reason=self.reason, **entry)

    # --- helpers --------------------------------------------------------------------------

    def _target(self, params: dict, *, live: bool):
        object_type = params.get("object_type") or self.object_type
        object_id = params.get("object_id") or self.record.pk
        model = record_model(object_type)
        if live:
            locked = self._locked.get((object_type, object_id))
            if locked is None:  # each row is locked (and read) once per run
                locked = self._locked[(object_type, object_id)] = model.objects.select_for_update().get(pk=object_id)
            return object_type, locked
        if object_type == self.object_type and object_id == self.record.pk:
            return object_type, self.record
        return object_type, model.objects.get(pk=object_id)

    def _rep(self, rep_id) -> Rep | None:
        if rep_id is None:
            return None
        if rep_id not in self._reps:
            self._reps[rep_id] = Rep.objects.select_related("user", "manager").filter(pk=rep_id).first()
        return self._reps[rep_id]

    def _user(self, who: str):
        if who == "queue_manager":
            return None  # the queue's manager takes it
        if who in ("failure_owner", "rule_owner", "system_owner"):
            return getattr(self.automation, who)
        owner = getattr(self.record, "owner", None)
        if who == "record_owner" and owner is not None:
            return owner.user
        return self.automation.failure_owner

    def _note_record_touched(self, object_type: str, obj) -> None:
        if object_type == self.object_type and obj.pk == self.record.pk:
            self.touched_record = True

    # --- the closed set -------------------------------------------------------------------

    def _assign_owner(self, params: dict, *, live: bool) -> Result:
        object_type, obj = self._target(params, live=live)
        if not hasattr(obj, "owner_id"):
            raise ActionError(f"{object_type} records have no owner")
        new = params.get("owner_id")
        current = obj.owner_id
        new_rep = self._rep(new)
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
        expected = params.get("expected_owner_id", self.seen.get("owner_id", current))
        if current == new:
            result.status, result.note = "skipped", "already owned by this rep"
            return result
        if current != expected:
            result.status = "skipped"
            result.note = f"owner changed since the run evaluated the record (was {expected}, now {current})"
            return result
        obj.owner = new_rep
        obj.save(update_fields=["owner", "updated_at"])
        self._note_record_touched(object_type, obj)
        if params.get("pool_id") and new is not None:
            from routing.pools import pool_record_assignment

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

    def _update_field(self, params: dict, *, live: bool) -> Result:
        from revops.validation import InvalidValue, validator_for

        object_type, obj = self._target(params, live=live)
        key = params.get("key")
        spec = validator_for(object_type).specs.get(key)
        if spec is None:
            raise ActionError(f"the data dictionary defines no {object_type} field {key!r}")
        if spec.field_type == "reference":
            return self._update_reference(obj, object_type, key, spec, params.get("value"), live=live)
        raw = params.get("value")
        try:
            value = None if raw is None else spec.coerce(raw)
        except InvalidValue as exc:
            raise ActionError(f"{object_type}.{key}: {exc}") from None
        if spec.is_core:
            current = getattr(obj, key)
            if value is None:
                column = obj._meta.get_field(key)
                value = "" if isinstance(column, models.CharField | models.TextField) else None
        else:
            current = (obj.attributes or {}).get(key)
        result = Result(
            status="applied",
            before={"key": key, "value": jsonable(current)},
            after={"key": key, "value": jsonable(value)},
            target=(object_type, obj.pk),
        )
        if not live:
            return result
        if jsonable(current) == jsonable(value):
            result.status, result.note = "skipped", "already has this value"
            return result
        if spec.is_core:
            setattr(obj, key, value)
            obj.save(update_fields=[key, "updated_at"])
        else:
            attributes = dict(obj.attributes or {})
            if value is None:
                attributes.pop(key, None)
            else:
                attributes[key] = jsonable(value)
            obj.attributes = attributes
            obj.save(update_fields=["attributes", "updated_at"])
        self._note_record_touched(object_type, obj)
        result.feed.append(
            {
                "kind": ChangeEntry.Kind.FIELD_UPDATED,
                "object_type": object_type,
                "external_id": obj.external_id,
                "payload": {"field": key, "value": jsonable(value), "previous": jsonable(current)},
            }
        )
        return result

    def _update_reference(self, obj, object_type: str, key: str, spec, value, *, live: bool) -> Result:
        """Set a reference other than the owner (e.g. ``lead.matched_account``); the value is an external id."""
        if key == "owner":
            raise ActionError(f"{object_type}.owner is changed with assign_owner, not a field update")
        column = obj._meta.get_field(key)
        target = None
        if value not in (None, ""):
            target = column.related_model.objects.filter(external_id=value).first()
            if target is None:
                raise ActionError(f"{object_type}.{key}: no {spec.reference_to} with external id {value!r}")
        current = getattr(obj, key)
        before, after = getattr(current, "external_id", None), getattr(target, "external_id", None)
        result = Result(
            status="applied",
            before={"key": key, "value": before},
            after={"key": key, "value": after},
            target=(object_type, obj.pk),
        )
        if not live:
            return result
        if before == after:
            result.status, result.note = "skipped", "already has this value"
            return result
        setattr(obj, key, target)
        obj.save(update_fields=[key, "updated_at"])
        self._note_record_touched(object_type, obj)
        result.feed.append(
            {
                "kind": ChangeEntry.Kind.FIELD_UPDATED,
                "object_type": object_type,
                "external_id": obj.external_id,
                "payload": {"field": key, "value": after, "previous": before},
            }
        )
        return result

    def _create_task(self, params: dict, *, live: bool) -> Result:
        object_type, obj = self._target(params, live=False)
        owner = self._rep(params.get("owner_id"))
        due_at = params.get("due_at")
        task = Task(
            title=str(params.get("title") or "Follow up")[:255],
            description=str(params.get("description") or ""),
            owner=owner,
            due_at=dt.datetime.fromisoformat(due_at) if due_at else None,
            created_by_automation=self.automation.name[:120],
        )
        if object_type in TASK_PARENTS:
            setattr(task, TASK_PARENTS[object_type], obj)
        result = Result(
            status="applied",
            after={
                "title": task.title,
                "owner_id": getattr(owner, "pk", None),
                "owner": getattr(owner, "external_id", None),
                "due_at": due_at,
            },
            target=(object_type, obj.pk),
        )
        if not live:
            return result
        task.full_clean()
        task.save()
        result.after["task_id"] = task.pk
        result.feed.append(
            {
                "kind": ChangeEntry.Kind.TASK_CREATED,
                "object_type": object_type,
                "external_id": getattr(obj, "external_id", "") or "",
                "payload": {
                    "task_id": task.pk,
                    "title": task.title,
                    "description": task.description,
                    "owner": result.after["owner"],
                    "due_at": due_at,
                },
            }
        )
        return result

    def _open_exception(self, params: dict, *, live: bool) -> Result:
        object_type, obj = self._target(params, live=False)
        kind = params.get("kind") or ExceptionItem.Kind.HYGIENE
        if kind not in ExceptionItem.Kind.values:
            raise ActionError(f"unknown exception kind {kind!r}")
        key = params.get("dedupe_key") or f"{kind}:automation:{self.automation.pk}:{object_type}:{obj.pk}"
        owner = self._user(params.get("owner") or "failure_owner")
        due_in = params.get("due_in_hours")
        result = Result(
            status="applied",
            after={"kind": kind, "dedupe_key": key, "owner_id": getattr(owner, "pk", None)},
            target=(object_type, obj.pk),
        )
        if not live:
            return result
        item, created = exception_item_open(
            dedupe_key=key,
            kind=kind,
            title=params.get("title") or f"{self.automation.name}: {obj}",
            reason=params.get("reason") or self.run.summary or self.automation.purpose,
            expected_action=params.get("expected_action") or "Review the record and fix what the reason names.",
            owner=owner,
            severity=params.get("severity") or ExceptionItem.Severity.MEDIUM,
            queue_name=params.get("queue") or self.automation.exception_queue,
            automation=self.automation,
            run=self.run,
            object_type=object_type,
            object_id=obj.pk,
            external_id=getattr(obj, "external_id", "") or "",
            due_at=timezone.now() + dt.timedelta(hours=float(due_in)) if due_in else None,
        )
        result.after.update(item_id=item.pk, created=created, occurrences=item.occurrences)
        if not created:
            result.note = f"refreshed the open item (seen {item.occurrences} times)"
        return result

    def _request_approval(self, params: dict, *, live: bool) -> Result:
        inner = params.get("action") or {}
        return self._approval_item(
            Action(inner.get("type", "notify"), inner.get("params", {})), params, live=live, index=None
        )

    def _approval(self, index: int, action: Action, params: dict) -> Result:
        return self._approval_item(action, params, live=True, index=index)

    def _approval_item(self, action: Action, params: dict, *, live: bool, index: int | None) -> Result:
        object_type, obj = self._target(action.params, live=False)
        preview = getattr(self, f"_{action.type}")(dict(action.params), live=False)
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
        }
        key = f"approval:automation:{self.automation.pk}:{object_type}:{obj.pk}:{action.type}"
        result = Result(status="approval", before=preview.before, after={"proposal": proposal}, target=preview.target)
        if not live:
            return result
        why = "merging records is high-impact" if action.type in ALWAYS_APPROVED else "the automation is high-risk"
        item, created = exception_item_open(
            dedupe_key=key,
            kind=ExceptionItem.Kind.APPROVAL,
            title=f"Approve: {action.type.replace('_', ' ')} on {obj}"[:200],
            reason=(params.get("reason") or self.run.summary or self.automation.purpose)
            + f" — prepared by {self.reason}; it needs approval because {why}.",
            expected_action="Approve to apply the prepared action, or reject it.",
            owner=self.automation.rule_owner,
            severity=ExceptionItem.Severity.HIGH,
            queue_name=self.automation.exception_queue,
            automation=self.automation,
            run=self.run,
            object_type=object_type,
            object_id=obj.pk,
            external_id=getattr(obj, "external_id", "") or "",
            proposal=proposal,
        )
        result.after.update(item_id=item.pk)
        if index is None:
            result.status = "applied"  # an explicit request_approval action was applied
        return result

    def _notify(self, params: dict, *, live: bool) -> Result:
        to = params.get("to") or "owner"
        email, name = self._recipient(to)
        subject = str(params.get("subject") or f"{self.automation.name}: {self.record}")[:200]
        body = str(params.get("body") or self.run.summary or "")
        dedupe = params.get("dedupe") or f"{self.automation.pk}:{self.object_type}:{self.record.pk}:{subject}"
        result = Result(status="applied", after={"to": email, "name": name, "subject": subject, "dedupe": dedupe})
        if not live:
            return result
        if not email:
            result.status, result.note = "skipped", f"no email address for {to}"
            return result
        if AppliedAction.objects.filter(action="notify", status="applied", after__dedupe=dedupe).exists():
            result.status, result.note = "skipped", "this notification was already sent"
            return result
        limit = int(getattr(settings, "ENGINE_NOTIFY_PER_HOUR", 20))
        bucket = f"engine:notify:{hashlib.sha256(email.lower().encode()).hexdigest()[:24]}:{int(timezone.now().timestamp() // 3600)}"
        cache.add(bucket, 0, timeout=3700)
        try:
            sent = cache.incr(bucket)
        except ValueError:
            sent = 1
        if sent > limit:
            result.status, result.note = "skipped", f"rate limit: {limit} notifications per hour to {email}"
            return result
        sender = settings.DEFAULT_FROM_EMAIL
        transaction.on_commit(lambda: send_mail(subject, body, sender, [email], fail_silently=True))
        return result

    def _recipient(self, to: str) -> tuple[str, str]:
        owner = getattr(self.record, "owner", None)
        if to == "owner" and owner is not None:
            return owner.email, owner.name
        if to == "owner_manager" and owner is not None and owner.manager is not None:
            return owner.manager.email, owner.manager.name
        if to in ("failure_owner", "rule_owner", "system_owner"):
            user = getattr(self.automation, to)
            if user is not None:
                return user.email, user.get_full_name() or user.username
        return "", ""

    def _start_sla_clock(self, params: dict, *, live: bool) -> Result:
        object_type, lead = self._target(params, live=False)
        if object_type != "lead":
            raise ActionError("SLA clocks run on leads")
        if params.get("plan"):
            return self._start_planned_clock(lead, params, live=live)
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
                    policy=str(params.get("policy") or self.automation.name)[:120],
                    target_minutes=minutes,
                    started_at=now,
                    due_at=due,
                    run=self.run,
                )
        except IntegrityError:
            result.status, result.note = "skipped", "a clock is already running"
            return result
        result.after["clock_id"] = clock.pk
        return result

    def _start_planned_clock(self, lead, params: dict, *, live: bool) -> Result:
        """Start a clock from an SLA policy's plan (routing computes due and reminder times, business hours)."""
        from routing.sla_services import sla_clock_start, sla_clocks_cancel

        plan = params["plan"]
        result = Result(
            status="applied",
            after={k: plan.get(k) for k in ("policy", "policy_id", "target_minutes", "due_at", "remind_at")},
            target=("lead", lead.pk),
        )
        if not live:
            return result
        owner = self._rep(params.get("owner_id", lead.owner_id))
        if params.get("replace_running"):  # re-routed: the previous owner's clock ends here
            result.before = {"cancelled_clocks": sla_clocks_cancel(lead_ids=[lead.pk], reason="lead re-routed")}
        clock = sla_clock_start(lead=lead, owner=owner, plan=plan, run=self.run)
        if clock is None:
            result.status, result.note = "skipped", "a clock is already running"
            return result
        result.after["clock_id"] = clock.pk
        return result

    def _stop_sla_clock(self, params: dict, *, live: bool) -> Result:
        object_type, lead = self._target(params, live=False)
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

    def _merge_records(self, params: dict, *, live: bool) -> Result:
        if (params.get("object_type") or self.object_type) != "lead":
            raise ActionError("only leads can be merged")
        winner_id = params.get("winner_id") or self.record.pk
        loser_id = params.get("loser_id")
        if not loser_id or loser_id == winner_id:
            raise ActionError("a merge needs a loser different from the winner")
        qs = Lead.objects.select_for_update() if live else Lead.objects
        leads = {lead.pk: lead for lead in qs.filter(pk__in=[winner_id, loser_id]).order_by("pk")}
        winner, loser = leads.get(winner_id), leads.get(loser_id)
        if winner is None or loser is None:
            raise ActionError("a lead to merge no longer exists")
        fills = {}
        for column in ("email", "first_name", "last_name", "company", "domain", "title", "country", "state", "source"):
            if not getattr(winner, column) and getattr(loser, column):
                fills[column] = getattr(loser, column)
        if winner.score is None and loser.score is not None:
            fills["score"] = loser.score
        if winner.owner_id is None and loser.owner_id is not None:
            fills["owner_id"] = loser.owner_id
        if winner.matched_account_id is None and loser.matched_account_id is not None:
            fills["matched_account_id"] = loser.matched_account_id
        attributes = {
            k: v for k, v in (loser.attributes or {}).items() if (winner.attributes or {}).get(k) in (None, "", [])
        }
        result = Result(
            status="applied",
            before={
                "winner": winner.pk,
                "loser": loser.pk,
                "winner_values": {k: jsonable(getattr(winner, k)) for k in fills},
                "loser_status": loser.status,
            },
            after={"filled": jsonable(fills), "attributes": attributes, "loser_status": Lead.Status.CONVERTED},
            target=("lead", winner.pk),
        )
        if not live:
            return result
        for column, value in fills.items():
            setattr(winner, column, value)
        if attributes:
            winner.attributes = {**(winner.attributes or {}), **attributes}
        winner.save()
        moved = {
            "activities": list(loser.activities.values_list("pk", flat=True)),
            "tasks": list(loser.tasks.values_list("pk", flat=True)),
        }
        for activity in loser.activities.all():
            activity.lead = winner
            activity.save(update_fields=["lead", "updated_at"])
        for task in loser.tasks.all():
            task.lead = winner
            task.save(update_fields=["lead", "updated_at"])
        loser.status = Lead.Status.CONVERTED
        loser.save(update_fields=["status", "updated_at"])
        result.after["moved"] = moved
        result.feed.append(
            {
                "kind": ChangeEntry.Kind.FIELD_UPDATED,
                "object_type": "lead",
                "external_id": loser.external_id,
                "payload": {"field": "status", "value": Lead.Status.CONVERTED, "merged_into": winner.external_id},
            }
        )
        return result


# --- approvals and rollback -----------------------------------------------------------------


@transaction.atomic
def approval_execute(*, item: ExceptionItem, actor) -> AppliedAction:
    """Apply the action an approved ``approval_required`` item prepared; its ``AppliedAction`` becomes applied.

    History names ``actor`` (the approver) with the automation run as the reason. Approving the
    same item twice applies nothing the second time.
    """
    from revops.models import AutomationRun

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
    handler = getattr(executor, f"_{proposal['action']}")
    params = dict(proposal.get("params") or {})
    params.setdefault("expected_owner_id", (proposal.get("before") or {}).get("owner_id"))
    with audited(actor=actor, reason=f"approved: {executor.reason}"):
        result = handler(params, live=True)
        if applied is not None:
            applied.before, applied.after, applied.status = result.before, result.after, result.status
            applied.save(update_fields=["before", "after", "status"])
        for entry in result.feed:
            change_entry_record(reason=f"approved: {executor.reason}", dedupe_key=f"approved:{item.pk}", **entry)
    return applied


@transaction.atomic
def run_revert(*, run, actor, reason: str | None = None) -> list[dict]:
    """Undo a run's applied owner and field changes (newest first), restoring each ``before`` value.

    Compare-and-swap: an action is only reverted when the record still holds the value the run
    set; otherwise it is left alone and reported as a conflict. Reverted actions are marked
    ``reverted`` and the CRM is told through the changes feed. Returns one line per action.
    """
    reason = reason or f"revert of automation run {run.pk}"
    report = []
    actions = (
        AppliedAction.objects.select_for_update()
        .filter(run=run, status=AppliedAction.Status.APPLIED, action__in=REVERTIBLE)
        .order_by("-index")
    )
    feed = []
    with audited(actor=actor, reason=reason):
        for applied in actions:
            obj = record_model(applied.object_type).objects.select_for_update().get(pk=applied.object_id)
            if applied.action == "assign_owner":
                current, target = obj.owner_id, applied.before.get("owner_id")
                if current != applied.after.get("owner_id"):
                    report.append({"index": applied.index, "status": "conflict", "current": current})
                    continue
                obj.owner_id = target
                obj.save(update_fields=["owner", "updated_at"])
                owner = Rep.objects.filter(pk=target).values_list("external_id", flat=True).first()
                feed.append((applied, ChangeEntry.Kind.OWNER_ASSIGNED, obj, {"owner": owner, "reverted": True}))
            else:
                key = applied.before["key"]
                core = key in {f.name for f in obj._meta.concrete_fields}
                current = getattr(obj, key) if core else (obj.attributes or {}).get(key)
                if jsonable(current) != applied.after.get("value"):
                    report.append({"index": applied.index, "status": "conflict", "current": jsonable(current)})
                    continue
                value = applied.before.get("value")
                if core:
                    column = obj._meta.get_field(key)
                    setattr(obj, key, column.to_python(value) if value is not None else value)
                    obj.save(update_fields=[key, "updated_at"])
                else:
                    attributes = dict(obj.attributes or {})
                    if value is None:
                        attributes.pop(key, None)
                    else:
                        attributes[key] = value
                    obj.attributes = attributes
                    obj.save(update_fields=["attributes", "updated_at"])
                feed.append(
                    (applied, ChangeEntry.Kind.FIELD_UPDATED, obj, {"field": key, "value": value, "reverted": True})
                )
            applied.status = AppliedAction.Status.REVERTED
            applied.save(update_fields=["status"])
            report.append({"index": applied.index, "status": "reverted"})
        for applied, kind, obj, payload in feed:
            change_entry_record(
                kind=kind,
                object_type=applied.object_type,
                external_id=obj.external_id,
                payload=payload,
                reason=reason,
                dedupe_key=f"revert:run:{run.pk}:{applied.index}",
            )
    return report
