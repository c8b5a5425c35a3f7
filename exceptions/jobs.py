"""RQ entry points of the exception queue: thin, they take ids and call services.

The periodic ones are declared in ``exceptions.apps`` (``revops.plugins.register_schedule``).
"""

from __future__ import annotations

from .notifications import exception_item_notify, exception_release_held, exception_send_daily_digests
from .services import exception_escalate_overdue, exception_wake_snoozed


def escalate_overdue() -> int:
    """Escalate overdue items one step along their queue's path (every 5 minutes)."""
    return exception_escalate_overdue()


def wake_snoozed() -> int:
    """Reopen snoozed items whose time has come (every minute)."""
    return exception_wake_snoozed()


def send_daily_digests() -> int:
    """Send each queue manager whose local digest hour has come the day's digest (once per local day)."""
    return exception_send_daily_digests()


def release_held() -> dict[str, int]:
    """Send the notices held for quiet hours that have ended (every minute)."""
    return exception_release_held()


def send_item_notification(item_id: int, reason: str) -> str | None:
    """Tell an item's owner about ``reason`` on their channels; never twice for the same item and reason."""
    return exception_item_notify(item_id=item_id, reason=reason)
