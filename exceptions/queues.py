"""Exception queues as configuration: the services that write them and the lookups others validate against.

A queue is referenced **by name** — by an automation's exception path, a routing rule or fallback
that sends leads to manual review, a configuration file — so a name must exist to be used:
``queue_require`` is what those writers call, and it answers with the queues there are. Who uses
a queue is known through ``exceptions.registry.register_queue_users`` (the engine counts its
automations, routing its rules), so a queue in use is neither deleted nor renamed from under them.

Writes go through ``queue_save`` / ``queue_delete``: validated, atomic, audited.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from revops.audit import audited

from .models import Queue
from .registry import queue_users
from .roles import INTEGRATION_USER_PREFIX

DEFAULT_QUEUE_NAME = "Unrouted"


def queue_default() -> Queue:
    """The default queue (``is_default``), created as "Unrouted" the first time it is needed."""
    queue = Queue.objects.filter(is_default=True).first()
    if queue is not None:
        return queue
    try:
        with transaction.atomic():
            existing = Queue.objects.filter(name=DEFAULT_QUEUE_NAME).first()
            if existing is not None:
                existing.is_default = True
                existing.save(update_fields=["is_default", "updated_at"])
                return existing
            return Queue.objects.create(
                name=DEFAULT_QUEUE_NAME,
                is_default=True,
                description="Items whose automation names no existing queue land here until routed.",
            )
    except IntegrityError:  # another opener created it first
        return Queue.objects.get(is_default=True)


def queue_resolve(*, queue: Queue | None = None, queue_name: str = "", automation=None) -> Queue:
    """The queue an item goes to: ``queue``, else the one named ``queue_name`` (or the automation's
    exception path), else the default queue."""
    if queue is not None:
        return queue
    name = (queue_name or getattr(automation, "exception_queue", "") or "").strip()
    if name:
        found = Queue.objects.filter(name=name).select_related("manager").first()
        if found is not None:
            return found
    return queue_default()


def queue_names() -> list[str]:
    return list(Queue.objects.order_by("name").values_list("name", flat=True))


def queue_require(name: str, *, field: str = "queue") -> str:
    """``name`` stripped, if a queue has that name; else a ``ValidationError`` on ``field`` naming the queues."""
    name = (name or "").strip()
    if Queue.objects.filter(name=name).exists():
        return name
    known = queue_names()
    listed = ", ".join(repr(n) for n in known) if known else "none yet"
    raise ValidationError(
        {
            field: f"There is no exception queue named {name!r} (queues: {listed}). Create it under Exception queue → Queues."
        }
    )


def queue_users_of(queue: Queue) -> list[str]:
    """What refers to ``queue`` by name, in words ("automation 'Hot lead follow-up'", "routing rule …")."""
    return queue_users(queue.name)


def queue_clean(queue: Queue, *, stored_name: str | None = None) -> None:
    """Validate ``queue`` as ``queue_save`` would (the admin form calls it too); raises ``ValidationError``.

    Renaming a queue that automations or rules still name is refused with the list of them, so no
    item silently lands in the default queue because its path was renamed away.
    """
    queue.name = (queue.name or "").strip()
    queue.full_clean(validate_constraints=False)
    if queue.pk is not None and stored_name is None:
        stored_name = Queue.objects.filter(pk=queue.pk).values_list("name", flat=True).first()
    if stored_name is not None and stored_name != queue.name:
        users = queue_users(stored_name)
        if users:
            raise ValidationError(
                {"name": f"{stored_name!r} is still named by {'; '.join(users)}: point them elsewhere first."}
            )
    for field in ("manager", "escalation_target"):
        person = getattr(queue, field)
        if person is not None and (not person.is_active or person.get_username().startswith(INTEGRATION_USER_PREFIX)):
            raise ValidationError(
                {
                    field: f"{person.get_username()} cannot work items (not an active portal login); choose a person who can."
                }
            )
    if queue.manager_id and queue.escalation_target_id == queue.manager_id:
        raise ValidationError(
            {"escalation_target": "The escalation target must be someone other than the queue's manager."}
        )


@transaction.atomic
def queue_save(*, queue: Queue, actor, reason: str = "") -> Queue:
    """Validate (``queue_clean``) and save ``queue``; making it the default takes the flag from the
    previous default queue."""
    stored_name = None
    if queue.pk is not None:  # lock the row and read its stored name once
        stored_name = Queue.objects.select_for_update().filter(pk=queue.pk).values_list("name", flat=True).first()
    queue_clean(queue, stored_name=stored_name)
    with audited(actor=actor, reason=reason or f"queue {queue.name} saved"):
        if queue.is_default:
            for other in Queue.objects.filter(is_default=True).exclude(pk=queue.pk):
                other.is_default = False
                other.save(update_fields=["is_default", "updated_at"])
        queue.save()
    return queue


def queue_delete_blockers(queue: Queue) -> list[str]:
    """Why ``queue`` cannot be deleted, in words; empty when it can."""
    problems = [f"{count} exception item(s)" for count in [queue.items.count()] if count]
    problems += queue_users(queue.name)
    if queue.is_default:
        problems.append("it is the default queue (make another queue the default first)")
    return problems


@transaction.atomic
def queue_delete(*, queue: Queue, actor, reason: str = "") -> None:
    """Delete a queue nothing refers to and no item is in; otherwise say what still uses it."""
    problems = queue_delete_blockers(queue)
    if problems:
        raise ValidationError(f"Queue {queue.name!r} is still used by {'; '.join(problems)}.")
    with audited(actor=actor, reason=reason or f"queue {queue.name} deleted"):
        queue.delete()
