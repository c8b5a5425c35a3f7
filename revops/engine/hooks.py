"""Event hooks: apps that must see every CRM change, whatever the automations, register here.

Routing uses them to count manual reassignments (a later sync reports another owner) and to
stop SLA clocks on the first activity. A hook receives the batch's pending events before the
automations run; it must be idempotent, because a re-delivered job calls it again.
"""

from __future__ import annotations

from collections.abc import Callable

EVENT_HOOKS: list[Callable] = []


def register_event_hook(hook: Callable) -> Callable:
    """Add ``hook(events, now=...)`` to the hooks (once); usable as a decorator."""
    if hook not in EVENT_HOOKS:
        EVENT_HOOKS.append(hook)
    return hook


def run_event_hooks(events, *, now=None) -> None:
    """Call every hook with ``events``; an exception propagates so the job is retried."""
    for hook in EVENT_HOOKS:
        hook(events, now=now)
