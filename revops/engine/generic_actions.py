"""The engine's generic actions: create task, update field, open exception item, request approval,
notify, merge records. Importing this module registers them (``revops.engine.setup`` does).

Each is ``apply(ex, params, *, live) -> Result`` with ``ex`` the run's ``ActionExecutor``; with
``live=False`` it previews and writes nothing. Merging records (decision): leads only. The winner
keeps every value it has and fills its blanks from the loser; the loser's activities and tasks
move to the winner; the loser is kept (the CRM owns deletions and will keep sending it) with
status ``converted``. It is always prepared for approval (DESIGN §1 principle 3).
"""

from __future__ import annotations

import datetime as dt
import hashlib

from django.conf import settings
from django.core.cache import cache
from django.core.mail import send_mail
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from exceptions.models import ExceptionItem, Notification
from exceptions.notifications import notification_deliver, notification_open
from exceptions.registry import item_kind_keys
from exceptions.services import exception_item_open, exception_items_create
from revops.audit import audited
from revops.models import AppliedAction, AutomationRun, ChangeEntry, Lead, Task
from revops.validation import InvalidValue, validator_for
from revops.values import jsonable

from .generic_reverts import revert_approval, revert_exception, revert_field, revert_merge, revert_notify, revert_task
from .registry import ActionError, Result, register_action
from .types import Action

TASK_PARENTS = {"lead": "lead", "account": "account", "opportunity": "opportunity"}


def _write(obj, key: str, value, *, core: bool) -> None:
    """Store ``value`` in the column ``key`` (core) or the custom attribute ``key`` (None removes it)."""
    if core:
        setattr(obj, key, value)
        obj.save(update_fields=[key, "updated_at"])
        return
    attributes = dict(obj.attributes or {})
    if value is None:
        attributes.pop(key, None)
    else:
        attributes[key] = jsonable(value)
    obj.attributes = attributes
    obj.save(update_fields=["attributes", "updated_at"])


@register_action("update_field", label="Update field", revert=revert_field, topic=lambda p: f"field:{p.get('key')}")
def update_field(ex, params: dict, *, live: bool) -> Result:
    object_type, obj = ex.target(params, live=live)
    key = params.get("key")
    spec = validator_for(object_type).specs.get(key)
    if spec is None:
        raise ActionError(f"the data dictionary defines no {object_type} field {key!r}")
    if spec.field_type == "reference":
        return _update_reference(ex, obj, object_type, key, spec, params.get("value"), live=live)
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
    _write(obj, key, value, core=spec.is_core)
    ex.note_record_touched(object_type, obj)
    result.feed.append(
        {
            "kind": ChangeEntry.Kind.FIELD_UPDATED,
            "object_type": object_type,
            "external_id": obj.external_id,
            "payload": {"field": key, "value": jsonable(value), "previous": jsonable(current)},
        }
    )
    return result


def _update_reference(ex, obj, object_type: str, key: str, spec, value, *, live: bool) -> Result:
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
    ex.note_record_touched(object_type, obj)
    result.feed.append(
        {
            "kind": ChangeEntry.Kind.FIELD_UPDATED,
            "object_type": object_type,
            "external_id": obj.external_id,
            "payload": {"field": key, "value": after, "previous": before},
        }
    )
    return result


@register_action(
    "create_task",
    label="Create task",
    revert=revert_task,
    topic=lambda p: f"create_task:{p.get('title') or 'Follow up'}",
)
def create_task(ex, params: dict, *, live: bool) -> Result:
    object_type, obj = ex.target(params, live=False)
    owner = ex.rep(params.get("owner_id"))
    due_at = params.get("due_at")
    task = Task(
        title=str(params.get("title") or "Follow up")[:255],
        description=str(params.get("description") or ""),
        owner=owner,
        due_at=dt.datetime.fromisoformat(due_at) if due_at else None,
        created_by_automation=ex.automation.name[:120],
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
    if object_type in TASK_PARENTS:
        # Once per open condition, not once per update: while this automation's task on the record is
        # still open, a later run that fires again creates no second one.
        open_task = (
            Task.objects.filter(
                **{TASK_PARENTS[object_type]: obj},
                created_by_automation=task.created_by_automation,
                status=Task.Status.OPEN,
            )
            .only("pk", "title")
            .first()
        )
        if open_task is not None:
            result.status = "skipped"
            result.note = f"its task {open_task.title!r} (#{open_task.pk}) on this record is still open"
            result.after["task_id"] = open_task.pk
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


def _exception_plan(ex, params: dict):
    """What ``open_exception`` works out before it looks at open items: ``(object_type, obj, kind,
    topic, key, owner, result)``."""
    object_type, obj = ex.target(params, live=False)
    kind = params.get("kind") or "hygiene_alert"
    if kind not in item_kind_keys():
        raise ActionError(f"unknown exception kind {kind!r}")
    topic = str(params.get("topic") or kind)
    key = params.get("dedupe_key") or exception_topic_key(kind, topic, object_type, obj.pk)
    owner = ex.user(params.get("owner") or "failure_owner")
    result = Result(
        status="applied",
        after={"kind": kind, "dedupe_key": key, "owner_id": getattr(owner, "pk", None)},
        target=(object_type, obj.pk),
    )
    return object_type, obj, kind, topic, key, owner, result


def _exception_opening(ex, params: dict, *, object_type, obj, kind, key, owner, raisers) -> dict:
    """``exception_item_open``'s keywords for the action's item."""
    reason = params.get("reason") or ex.run.summary or ex.automation.purpose
    due_in = params.get("due_in_hours")
    return {
        "dedupe_key": key,
        "kind": kind,
        "title": params.get("title") or f"{ex.automation.name}: {obj}",
        "reason": reason
        + (f"\n\nRaised by {len(raisers)} automations: {', '.join(raisers)}." if len(raisers) > 1 else ""),
        "expected_action": params.get("expected_action") or "",
        "owner": owner,
        "severity": params.get("severity"),
        "queue_name": params.get("queue") or ex.automation.exception_queue,
        "automation": ex.automation,
        "run": ex.run,
        "object_type": object_type,
        "object_id": obj.pk,
        "external_id": getattr(obj, "external_id", "") or "",
        "due_at": timezone.now() + dt.timedelta(hours=float(due_in)) if due_in else None,
    }


def open_exception_many(pairs: list[tuple]) -> list[Result | None]:
    """``open_exception`` for many (executor, params) at once, each live: an item whose key is not open
    (and, for a topic key, whose record has no open item of the kind) is opened with the others in one
    statement per automation; the rest (an item to refresh or join, a key or a topic on a record met
    earlier in the batch, an error) get None, and the caller applies them one by one, in order, with
    ``open_exception``, which has the rules for those."""
    results: list[Result | None] = [None] * len(pairs)
    plans: dict[int, tuple] = {}
    for position, (ex, params) in enumerate(pairs):
        try:
            plans[position] = _exception_plan(ex, params)
        except Exception:  # noqa: BLE001 — the one-by-one path raises it where it is recorded
            continue
    if not plans:
        return results
    still_open = ExceptionItem.objects.filter(status__in=ExceptionItem.OPEN_STATUSES)
    open_keys = set(
        still_open.filter(dedupe_key__in={plan[4][:200] for plan in plans.values()}).values_list(
            "dedupe_key", flat=True
        )
    )
    topical = {position: plan for position, plan in plans.items() if not pairs[position][1].get("dedupe_key")}
    open_topics = (
        set(
            still_open.filter(
                object_type__in={plan[0] for plan in topical.values()},
                object_id__in={plan[1].pk for plan in topical.values()},
            ).values_list("kind", "object_type", "object_id")
        )
        if topical
        else set()
    )
    groups: dict[int, list[int]] = {}  # automation → positions
    # Every key and (kind, record) met so far, whether opened here or left to the one-by-one path: an
    # item that may meet an earlier one goes one by one too, after it, as it would have.
    keys: set[str] = set()
    records: set[tuple] = set()
    for position, (object_type, obj, kind, _topic, key, _owner, _result) in plans.items():
        key, record = key[:200], (kind, object_type, obj.pk)
        alone = key in open_keys or key in keys
        if position in topical:
            alone = alone or record in open_topics or record in records
        keys.add(key)
        records.add(record)
        if not alone:
            groups.setdefault(pairs[position][0].automation.pk, []).append(position)
    for positions in groups.values():
        openings = []
        for position in positions:
            ex, params = pairs[position]
            object_type, obj, kind, _topic, key, owner, _result = plans[position]
            openings.append(
                _exception_opening(
                    ex,
                    params,
                    object_type=object_type,
                    obj=obj,
                    kind=kind,
                    key=key,
                    owner=owner,
                    raisers=[ex.automation.name],
                )
            )
        first = pairs[positions[0]][0]
        try:
            with audited(actor=first.automation.identity, reason=first.reason):  # a queue it may create
                items = exception_items_create(
                    openings=openings,
                    reasons=[pairs[position][0].reason for position in positions],
                    actor=first.automation.identity,
                )
        except IntegrityError:  # one was opened meanwhile: the one-by-one path refreshes it
            continue
        for position, item in zip(positions, items, strict=True):
            result = plans[position][6]
            result.after.update(item_id=item.pk, created=True, occurrences=item.occurrences)
            results[position] = result
    return results


@register_action(
    "open_exception",
    label="Open exception",
    revert=revert_exception,
    human_facing=True,
    apply_many=open_exception_many,
)
def open_exception(ex, params: dict, *, live: bool) -> Result:
    """One open item per (record, topic) across automations: the key is ``<kind>:<topic>:<object>:<id>``
    (``topic`` defaults to the kind), so two automations raising the same kind of problem on one record
    share an item, whose reason names every automation that raised it. An explicit ``dedupe_key`` wins;
    an item still open under the old per-automation key is refreshed, not doubled."""
    object_type, obj, kind, topic, key, owner, result = _exception_plan(ex, params)
    if not live:
        return result
    raisers = [ex.automation.name]
    if not params.get("dedupe_key"):
        current = _open_topic_item(kind, topic, object_type, obj.pk, key, ex.automation.pk)
        if current is not None:
            key = result.after["dedupe_key"] = current.dedupe_key
            raisers = item_raisers(current, also=ex.automation.name)
    item, created = exception_item_open(
        **_exception_opening(
            ex, params, object_type=object_type, obj=obj, kind=kind, key=key, owner=owner, raisers=raisers
        )
    )
    result.after.update(item_id=item.pk, created=created, occurrences=item.occurrences)
    if not created:
        others = [name for name in raisers if name != ex.automation.name]
        result.note = (
            f"joined the open item #{item.pk}, also raised by {', '.join(others)} (seen {item.occurrences} times)"
            if others
            else f"refreshed the open item (seen {item.occurrences} times)"
        )
    return result


def exception_topic_key(kind: str, topic: str, object_type: str, object_id) -> str:
    """The dedupe key of the one open item of ``kind`` about ``topic`` on a record, whichever automation raises it."""
    return f"{kind}:{topic}:{object_type}:{object_id}"


def _open_topic_item(kind: str, topic: str, object_type: str, object_id, key: str, automation_id):
    """The open item of ``kind`` about ``topic`` on the record, locked: the one keyed ``key``, else (for
    the default topic) one opened before topics under the old per-automation key, this automation's first."""
    items = list(
        ExceptionItem.objects.select_for_update()
        .filter(kind=kind, object_type=object_type, object_id=object_id, status__in=ExceptionItem.OPEN_STATUSES)
        .order_by("pk")
    )
    for item in items:
        if item.dedupe_key == key:
            return item
    if topic != kind:
        return None
    legacy = [
        item for item in items if item.dedupe_key == f"{kind}:automation:{item.automation_id}:{object_type}:{object_id}"
    ]
    legacy.sort(key=lambda item: item.automation_id != automation_id)
    return legacy[0] if legacy else None


def item_raisers(item: ExceptionItem, *, also: str = "") -> list[str]:
    """The names of the automations whose runs opened or refreshed ``item`` (from its history), first
    the one that opened it, then ``also`` if not among them."""
    run_ids = set(item.history.exclude(run_id=None).values_list("run_id", flat=True))
    if item.run_id:
        run_ids.add(item.run_id)
    rows = AutomationRun.objects.filter(pk__in=run_ids).values_list("automation_id", "automation__name").distinct()
    names = dict(rows)
    ordered = [names.pop(item.automation_id)] if item.automation_id in names else []
    ordered += sorted(names.values())
    if also and also not in ordered:
        ordered.append(also)
    return ordered


@register_action("request_approval", label="Request approval", revert=revert_approval, human_facing=True)
def request_approval(ex, params: dict, *, live: bool) -> Result:
    inner = params.get("action") or {}
    action = Action(inner.get("type", "notify"), inner.get("params", {}))
    return ex.approval_item(action, params, live=live, index=None)


@register_action(
    "notify",
    label="Notify",
    revert=revert_notify,
    topic=lambda p: f"notify:{p.get('to') or 'owner'}:{p.get('subject') or ''}",
)
def notify(ex, params: dict, *, live: bool) -> Result:
    to = params.get("to") or "owner"
    email, name = _recipient(ex, to)
    subject = str(params.get("subject") or f"{ex.automation.name}: {ex.record}")[:200]
    body = str(params.get("body") or ex.run.summary or "")
    dedupe = params.get("dedupe") or f"{ex.automation.pk}:{ex.object_type}:{ex.record.pk}:{subject}"
    result = Result(status="applied", after={"to": email, "name": name, "subject": subject, "dedupe": dedupe})
    if not live:
        return result
    person = _recipient_login(ex, to)
    person = person if person is not None and person.is_active else None
    if not email and person is None:
        result.status, result.note = "skipped", f"no email address for {to}"
        return result
    if AppliedAction.objects.filter(action="notify", status="applied", after__dedupe=dedupe).exists():
        result.status, result.note = "skipped", "this notification was already sent"
        return result
    limit = int(getattr(settings, "ENGINE_NOTIFY_PER_HOUR", 20))
    who = (email or person.get_username()).lower()
    bucket = f"engine:notify:{hashlib.sha256(who.encode()).hexdigest()[:24]}:{int(timezone.now().timestamp() // 3600)}"
    cache.add(bucket, 0, timeout=3700)
    try:
        sent = cache.incr(bucket)
    except ValueError:
        sent = 1
    if sent > limit:
        result.status, result.note = "skipped", f"rate limit: {limit} notifications per hour to {email or who}"
        return result
    if person is not None:
        # A person with a login gets it where they chose ("A notice from an automation"), within their limits.
        note = notification_open(
            recipient=person,
            key=f"notify:{hashlib.sha256(str(dedupe).encode()).hexdigest()[:40]}",
            reason="automation_notice",
            event="automation_notice",
            subject=subject,
            hold=False,
        )
        if note is not None and note.status == Notification.Status.SENT:
            transaction.on_commit(lambda: notification_deliver(note, text=body))
            return result
        if note is None or note.status != Notification.Status.NO_ADDRESS:
            if note is not None:
                result.note = f"not sent now: {note.get_status_display().lower()}"
            return result
        # Their login has no address and no channel: the CRM's address, as for a rep without a login.
        if not email:
            result.note = "not sent: no address or channel"
            return result
    sender = settings.DEFAULT_FROM_EMAIL
    transaction.on_commit(lambda: send_mail(subject, body, sender, [email], fail_silently=True))
    return result


def _recipient_login(ex, to: str):
    """The login behind ``to``, when there is one (a rep's, a manager's, the automation's owners)."""
    owner = getattr(ex.record, "owner", None)
    if to == "owner" and owner is not None:
        return owner.user
    if to == "owner_manager" and owner is not None and owner.manager is not None:
        return owner.manager.user
    if to in ("failure_owner", "rule_owner", "system_owner"):
        return getattr(ex.automation, to)
    return None


def _recipient(ex, to: str) -> tuple[str, str]:
    owner = getattr(ex.record, "owner", None)
    if to == "owner" and owner is not None:
        return owner.email, owner.name
    if to == "owner_manager" and owner is not None and owner.manager is not None:
        return owner.manager.email, owner.manager.name
    if to in ("failure_owner", "rule_owner", "system_owner"):
        user = getattr(ex.automation, to)
        if user is not None:
            return user.email, user.get_full_name() or user.username
    return "", ""


@register_action(
    "merge_records",
    label="Merge records",
    always_approved=True,
    approval_reason="merging records is high-impact",
    revert=revert_merge,
    topic=lambda p: f"merge_records:{p.get('loser_id')}",
)
def merge_records(ex, params: dict, *, live: bool) -> Result:
    if (params.get("object_type") or ex.object_type) != "lead":
        raise ActionError("only leads can be merged")
    winner_id = params.get("winner_id") or ex.record.pk
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
