"""Helpers of the monitors tests."""

from itertools import count

from monitors.models import DealMovement

_EVENTS = count(1)


def movement(deal, field, old, new, when, days=None) -> DealMovement:
    """A recorded movement of ``deal`` (as the event hook would store it), with a fresh event id."""
    return DealMovement.objects.create(
        opportunity=deal,
        field=field,
        old_value=old,
        new_value=new,
        days_moved=days,
        moved_at=when,
        outbox_event_id=next(_EVENTS),
    )
