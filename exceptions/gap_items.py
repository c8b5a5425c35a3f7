"""Required information the CRM has not sent yet, raised to a person: one ``missing_fields`` item per record.

Registered as the core's sync gap handler (``revops.plugins.register_sync_gap_handler``) in
``exceptions.apps``. A dictionary field in "prompt" mode (the closed-won handoff fields by default)
does not make the sync refuse a record: the record is stored, and this module opens one item per
record — not per field — naming every missing field and who should supply it, in the queue of the
record owner's team (the nearest team up the tree that has a queue) for the team's manager. A
re-send refreshes the item; the sync that brings the last field resolves it.
"""

from __future__ import annotations

from django.apps import apps

from revops.bulk_writes import InArray
from revops.models import FieldDefinition, Team

from .bulk import ItemSpec, exception_items_open_many
from .models import ExceptionItem, Queue
from .queues import queue_resolve
from .services import OPEN, exception_item_resolve

MISSING_FIELDS = "missing_fields"
EXPECTED_ACTION = "Get the missing fields filled in the CRM; the item closes by itself when a sync brings them."


def _key(object_type: str, pk: int) -> str:
    return f"{MISSING_FIELDS}:{object_type}:{pk}"


def joined(labels: list[str]) -> str:
    """ "A", "A and B", "A, B and C"."""
    return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " and " + labels[-1]


class ItemPlacement:
    """Where an item about a record goes: the nearest queue up its owner's team tree, for that team's
    manager (else the default queue and its manager). Build once per batch: it reads the team tree and
    the team queues once."""

    def __init__(self):
        self.teams = {row[0]: row[1:] for row in Team.objects.values_list("id", "parent_id", "manager__user_id")}
        self.queues = {}
        for queue in Queue.objects.filter(team__isnull=False).select_related("manager").order_by("pk"):
            self.queues.setdefault(queue.team_id, queue)
        self._default = None

    def default(self) -> Queue:
        if self._default is None:
            self._default = queue_resolve()
        return self._default

    def place(self, team_id):
        """(queue, owner) for a record whose owner is on ``team_id`` (None: the default queue)."""
        manager_user, seen = None, set()
        while team_id is not None and team_id not in seen:
            seen.add(team_id)
            parent_id, team_manager_user = self.teams.get(team_id, (None, None))
            manager_user = manager_user or team_manager_user
            queue = self.queues.get(team_id)
            if queue is not None:
                return queue, manager_user or queue.manager_id
            team_id = parent_id
        queue = self.default()
        return queue, manager_user or queue.manager_id


def exception_items_sync_gaps(
    *, object_type: str, gaps: dict, complete: list, batch, actor=None, records=None
) -> dict[str, int]:
    """Open or refresh one ``missing_fields`` item per record in ``gaps`` ({record id: {field: [messages]}});
    resolve the open item of each record in ``complete``. Runs in the sync's transaction, in bulk.
    (``records``, the stored instances by id, is not needed here.)

    Returns ``{"created": n, "refreshed": m, "resolved": k}``.
    """
    counts = {"created": 0, "refreshed": 0, "resolved": 0}
    if complete:
        closing = ExceptionItem.objects.filter(
            InArray("dedupe_key", [_key(object_type, pk) for pk in complete]), status__in=OPEN
        ).order_by("pk")
        for item in closing:
            exception_item_resolve(
                item=item,
                reason_code="fixed_in_crm",
                note=f"Sync batch #{batch.pk} brought the missing fields.",
                actor=actor,
            )
            counts["resolved"] += 1
    if not gaps:
        return counts
    model = apps.get_model("revops", object_type)
    records = model._default_manager.filter(pk__in=list(gaps)).select_related("owner").in_bulk()
    labels = dict(FieldDefinition.objects.filter(object_type=object_type).values_list("key", "label"))
    placement = ItemPlacement()
    specs = []
    for pk, missing in gaps.items():
        record = records.get(pk)
        if record is None:
            continue
        owner_rep = getattr(record, "owner", None)
        names = [labels.get(key, key.replace("_", " ")) for key in missing]
        when = ""
        for field_messages in missing.values():
            for message in field_messages:  # "is required when stage is closed_won but missing"
                if message.startswith("is required") and message.endswith(" but missing"):
                    when = message[len("is required") : -len(" but missing")]
        supplier = owner_rep.name if owner_rep else "The record owner"
        queue, owner_id = placement.place(getattr(owner_rep, "team_id", None))
        specs.append(
            ItemSpec(
                dedupe_key=_key(object_type, pk),
                kind=MISSING_FIELDS,
                title=f"{str(record)[:120]}: {len(names)} required field{'s' if len(names) != 1 else ''} missing",
                reason=(
                    f"The CRM sent {model._meta.verbose_name} {record.external_id} “{record}”"
                    + (f" (owner: {owner_rep.name})" if owner_rep else " (no owner)")
                    + f" without {joined(names)}. The portal stored it; "
                    + ("this field is" if len(names) == 1 else "these fields are")
                    + f" required{when}. {supplier} should supply "
                    + ("it" if len(names) == 1 else "them")
                    + " in the CRM."
                ),
                expected_action=(
                    f"Ask {owner_rep.name if owner_rep else 'the record owner'} to fill in {joined(names)} in the "
                    "CRM; this item closes by itself when a sync brings them."
                ),
                queue=queue,
                owner_id=owner_id,
                object_type=object_type,
                object_id=pk,
                external_id=record.external_id,
            )
        )
    counts.update(
        exception_items_open_many(
            specs, actor=actor, change_reason=f"sync batch #{batch.pk}: required fields missing"[:100]
        )
    )
    return counts
