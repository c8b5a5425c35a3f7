"""How the engine's generic actions are reverted (``revops.engine.revert``): field update, task,
exception item, approval (requested or pending), notification and merge.

Each handler is ``revert(ctx, applied, record) -> Undo`` (see ``revops.engine.registry``): with
``ctx.live`` false it only checks and writes nothing; live, it undoes the action unless the record
changed since and ``ctx.force`` is false.
"""

from __future__ import annotations

from exceptions.models import ExceptionItem
from exceptions.reverts import exception_item_close_reverted
from revops.conditions.render import value_text
from revops.models import Activity, ChangeEntry, Lead, Task
from revops.values import datetime_text, jsonable

from .registry import RevertContext, Undo, UndoOutcome, not_revertible

REVERT, CONFLICT, NOTHING = UndoOutcome.REVERT, UndoOutcome.CONFLICT, UndoOutcome.NOTHING


def shown(value) -> str:
    """A stored value in words: "empty" for nothing, a stored time in the viewer's zone."""
    return "empty" if value in (None, "", [], {}) else value_text(value)


def _when(value) -> str:
    return datetime_text(value) if value else "earlier"


# --- field update ---------------------------------------------------------------------------------


def _field_now(obj, key: str):
    """The field's value as the action stored it: a column, a reference (its CRM id) or a custom attribute."""
    names = {f.name: f for f in obj._meta.concrete_fields}
    column = names.get(key)
    if column is None:
        return (obj.attributes or {}).get(key), "attribute"
    if column.is_relation:
        return getattr(getattr(obj, key), "external_id", None), "reference"
    return jsonable(getattr(obj, key)), "column"


def _label(obj, key: str, value) -> str:
    """A stored value in words: its choice's label for a column with choices."""
    try:
        choices = dict(obj._meta.get_field(key).choices or ())
    except Exception:  # a custom attribute
        choices = {}
    return shown(choices.get(value, value) if isinstance(value, str) else value)


def revert_field(ctx: RevertContext, applied, obj) -> Undo:
    """Put back the value a field update replaced, unless the record holds another value since."""
    key = (applied.after or {}).get("key") or (applied.before or {}).get("key")
    current, where = _field_now(obj, key)
    before, after = (applied.before or {}).get("value"), (applied.after or {}).get("value")
    name = str(key).replace("_", " ")
    if jsonable(current) == jsonable(before):
        return Undo(NOTHING, note=f"{name} already holds {_label(obj, key, before)} again.", current=current)
    if jsonable(current) != jsonable(after) and not ctx.force:
        return Undo(
            CONFLICT,
            note=f"{name} was changed since: the run set {_label(obj, key, after)}, "
            f"it now holds {_label(obj, key, current)}.",
            current=current,
        )
    undo = Undo(REVERT, note=f"{name} goes back to {_label(obj, key, before)}.", current=current)
    if not ctx.live:
        return undo
    if where == "reference":
        column = obj._meta.get_field(key)
        target = column.related_model.objects.filter(external_id=before).first() if before else None
        setattr(obj, key, target)
        obj.save(update_fields=[key, "updated_at"])
    elif where == "column":
        setattr(obj, key, obj._meta.get_field(key).to_python(before) if before is not None else before)
        obj.save(update_fields=[key, "updated_at"])
    else:
        attributes = dict(obj.attributes or {})
        if before is None:
            attributes.pop(key, None)
        else:
            attributes[key] = before
        obj.attributes = attributes
        obj.save(update_fields=["attributes", "updated_at"])
    undo.feed.append(
        _entry(applied, obj, ChangeEntry.Kind.FIELD_UPDATED, {"field": key, "value": before, "previous": current})
    )
    return undo


def _entry(applied, obj, kind: str, payload: dict) -> dict:
    return {
        "kind": kind,
        "object_type": applied.object_type,
        "external_id": getattr(obj, "external_id", "") or "",
        "payload": {**payload, "reverted": True},
    }


# --- task -----------------------------------------------------------------------------------------


def revert_task(ctx: RevertContext, applied, obj) -> Undo:
    """Cancel the task the run created (and tell the CRM); a task done since is left unless forced."""
    task = Task.objects.select_for_update().filter(pk=(applied.after or {}).get("task_id")).first()
    if task is None:
        return Undo(NOTHING, note="The task no longer exists.", current="deleted")
    status = task.get_status_display().lower()
    if task.status == Task.Status.CANCELLED:
        return Undo(NOTHING, note=f"The task “{task.title}” is already cancelled.", current=status)
    if task.status == Task.Status.DONE and not ctx.force:
        return Undo(CONFLICT, note=f"The task “{task.title}” was done since; it is left as it is.", current=status)
    undo = Undo(REVERT, note=f"The task “{task.title}” is cancelled and the CRM told.", current=status)
    if not ctx.live:
        return undo
    task.status = Task.Status.CANCELLED
    task.save(update_fields=["status", "updated_at"])
    undo.feed.append(_entry(applied, obj, ChangeEntry.Kind.TASK_CANCELLED, {"task_id": task.pk, "title": task.title}))
    return undo


# --- exception items and approvals ----------------------------------------------------------------


def _close_item(ctx: RevertContext, item_id, *, what: str, created: bool = True) -> Undo:
    item = ExceptionItem.objects.filter(pk=item_id).select_related("resolved_by").first()
    if item is None:
        return Undo(NOTHING, note=f"The {what} no longer exists.", current="deleted")
    label = f"{what} #{item.pk}"
    if item.status not in ExceptionItem.OPEN_STATUSES:
        by = f" by {item.resolved_by.get_full_name() or item.resolved_by.get_username()}" if item.resolved_by else ""
        return Undo(
            NOTHING,
            note=f"The {label} was already {item.get_status_display().lower()}{by} on {_when(item.resolved_at)}.",
            current=item.get_status_display(),
        )
    if not created:
        return Undo(
            NOTHING,
            note=f"The {label} was already open before this run (the run only refreshed it); it stays open.",
            current=item.get_status_display(),
        )
    undo = Undo(REVERT, note=f"The {label} is closed as reverted.", current=item.get_status_display())
    if ctx.live:
        exception_item_close_reverted(item=item, actor=ctx.actor, note=ctx.reason or "the run was reverted")
    return undo


def revert_exception(ctx: RevertContext, applied, obj) -> Undo:
    """Close the item the run opened as reverted; an item it only joined or refreshed stays open."""
    after = applied.after or {}
    return _close_item(ctx, after.get("item_id"), what="exception item", created=after.get("created", True))


def revert_approval(ctx: RevertContext, applied, obj) -> Undo:
    """Close the approval the run asked for (requested, or still pending), unless it stands for other runs too."""
    after = applied.after or {}
    item_id = after.get("item_id") or (after.get("proposal") or {}).get("item_id")
    item = ExceptionItem.objects.filter(pk=item_id).first()
    if item is not None and item.status in ExceptionItem.OPEN_STATUSES:
        others = [pair for pair in (item.proposal or {}).get("joined") or [] if pair and pair[0] != applied.run_id]
        if others and not ctx.force:
            return Undo(
                CONFLICT,
                note=f"The approval #{item.pk} also stands for {len(others)} other run(s); it stays open.",
                current=item.get_status_display(),
            )
    undo = _close_item(ctx, item_id, what="approval")
    if undo.outcome == NOTHING and item is not None and item.decision:
        undo.note += " A person's decision is not undone by reverting the run that asked for it."
    return undo


# --- notification ---------------------------------------------------------------------------------

revert_notify = not_revertible("An email that was sent cannot be unsent; the revert records it as not revertible.")


# --- merge ----------------------------------------------------------------------------------------


def revert_merge(ctx: RevertContext, applied, winner) -> Undo:
    """Undo a merge: the winner's filled blanks emptied again, the moved activities and tasks back on the
    loser, the loser's status restored. Needs what the merge stored (values, moved ids); says why not otherwise."""
    before, after = applied.before or {}, applied.after or {}
    if "moved" not in after or "winner_values" not in before:
        return Undo(
            UndoOutcome.NOT_REVERTIBLE,
            note="This merge was recorded without the moved activities and tasks, so it cannot be undone here.",
        )
    loser = Lead.objects.select_for_update().filter(pk=before.get("loser")).first()
    if loser is None:
        return Undo(UndoOutcome.NOT_REVERTIBLE, note="The merged-away lead no longer exists.")
    changed = [
        column
        for column, value in (after.get("filled") or {}).items()
        if jsonable(getattr(winner, column)) != jsonable(value)
    ]
    changed += [k for k, v in (after.get("attributes") or {}).items() if (winner.attributes or {}).get(k) != v]
    if loser.status != after.get("loser_status"):
        changed.append(f"{loser}'s status")
    if loser.status == before.get("loser_status") and not changed:
        return Undo(NOTHING, note="The merge was already undone.", current=loser.status)
    current = f"{loser} is {loser.get_status_display().lower()}"
    if changed and not ctx.force:
        return Undo(CONFLICT, note=f"Changed since the merge: {', '.join(map(str, changed))}.", current=current)
    undo = Undo(REVERT, note=f"{loser} is split off {winner} again.", current=current)
    if not ctx.live:
        return undo
    for column, value in (before.get("winner_values") or {}).items():
        if column not in changed:
            setattr(winner, column, value)
    attributes = dict(winner.attributes or {})
    for key in after.get("attributes") or {}:
        if key not in changed:
            attributes.pop(key, None)
    winner.attributes = attributes
    winner.save()
    moved = after.get("moved") or {}
    for activity in Activity.objects.filter(pk__in=moved.get("activities") or [], lead=winner):
        activity.lead = loser
        activity.save(update_fields=["lead", "updated_at"])
    for task in Task.objects.filter(pk__in=moved.get("tasks") or [], lead=winner):
        task.lead = loser
        task.save(update_fields=["lead", "updated_at"])
    loser.status = before.get("loser_status") or loser.status
    loser.save(update_fields=["status", "updated_at"])
    undo.feed.append(
        {
            "kind": ChangeEntry.Kind.FIELD_UPDATED,
            "object_type": "lead",
            "external_id": loser.external_id,
            "payload": {
                "field": "status",
                "value": loser.status,
                "unmerged_from": winner.external_id,
                "reverted": True,
            },
        }
    )
    return undo
