"""Event hooks: apps that must see every CRM change, whatever the automations, register here.

Routing uses them to count manual reassignments (a later sync reports another owner) and to
stop SLA clocks on the first activity. A hook receives the batch's pending events before the
automations run; it must be idempotent, because a re-delivered job calls it again.
"""

from __future__ import annotations

from collections.abc import Callable

EVENT_HOOKS: list[Callable] = []


class EventBatch(list):
    """The events handed to the hooks, with room for lookups several hooks share (``batch_activity_leads``)."""

    def __init__(self, events):
        super().__init__(events)
        self.shared: dict = {}


def register_event_hook(hook: Callable) -> Callable:
    """Add ``hook(events, now=...)`` to the hooks (once); usable as a decorator."""
    if hook not in EVENT_HOOKS:
        EVENT_HOOKS.append(hook)
    return hook


def run_event_hooks(events, *, now=None) -> None:
    """Call every hook with ``events``; an exception propagates so the job is retried."""
    batch = EventBatch(events)
    for hook in EVENT_HOOKS:
        hook(batch, now=now)


def batch_activity_leads(events) -> dict[int, int]:
    """{activity id: lead id} for the created or updated activity events of ``events`` whose activity
    belongs to a lead: one query per batch, shared by the hooks that need it (computed again for a
    plain list, as a test may pass)."""
    shared = getattr(events, "shared", None)
    if shared is not None and "activity_leads" in shared:
        return shared["activity_leads"]
    ids = [e.object_id for e in events if e.object_type == "activity" and e.kind in ("created", "updated")]
    found: dict[int, int] = {}
    if ids:
        from revops.models import Activity

        found = dict(Activity.objects.filter(pk__in=ids, lead_id__isnull=False).values_list("pk", "lead_id"))
    if shared is not None:
        shared["activity_leads"] = found
    return found
