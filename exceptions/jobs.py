"""RQ entry points of the exception queue: thin, they take ids and call services."""

from __future__ import annotations


def escalate_overdue() -> int:
    """Escalate overdue items one step along their queue's path (every 5 minutes)."""
    from .services import exception_escalate_overdue

    return exception_escalate_overdue()


def wake_snoozed() -> int:
    """Reopen snoozed items whose time has come (every minute)."""
    from .services import exception_wake_snoozed

    return exception_wake_snoozed()


def send_daily_digests() -> int:
    """Send each queue manager the daily digest (at most once per day per manager)."""
    from .notifications import exception_send_daily_digests

    return exception_send_daily_digests()


def send_item_notification(item_id: int, reason: str) -> str | None:
    """Email an item's owner about ``reason``; never twice for the same item and reason."""
    from .notifications import exception_item_notify

    return exception_item_notify(item_id=item_id, reason=reason)


def register_cron(cron) -> None:
    """Register the exception queue's periodic jobs with ``rq.cron`` (called from ``revops.cron``)."""
    cron.register(escalate_overdue, queue_name="default", interval=300, name="exceptions_escalate_overdue")
    cron.register(wake_snoozed, queue_name="default", interval=60, name="exceptions_wake_snoozed")
    # 07:00 in the scheduler's clock (UTC by default); the Notification rows make a re-run a no-op.
    cron.register(send_daily_digests, queue_name="low", cron="0 7 * * *", name="exceptions_daily_digests")
