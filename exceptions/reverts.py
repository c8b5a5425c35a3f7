"""Closing an item because the automation run that opened it was reverted (``revops.engine.revert``).

The item is dismissed with the system code ``reverted`` (``exceptions.codes``): it is closed and final
like any dismissal, does not count as noise against the rule, and its note names the revert's reason.
"""

from __future__ import annotations

from django.db import transaction

from . import codes
from .models import ExceptionItem
from .services import OPEN, item_close, item_locked


@transaction.atomic
def exception_item_close_reverted(*, item: ExceptionItem, actor, note: str) -> bool:
    """Close an open item as reverted, with ``note`` (why); False when it was already closed."""
    locked = item_locked(item)
    if locked.status not in OPEN:
        return False
    item_close(
        locked,
        status=ExceptionItem.Status.DISMISSED,
        code=codes.REVERTED,
        note=note,
        actor=actor,
        reason=f"closed as reverted: {note}",
    )
    return True
