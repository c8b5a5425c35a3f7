"""Durations as people say them ("2 days overdue", "due in 3 hours"), for the triage list and the API."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from .models import ExceptionItem, when_text


def human_duration(delta: dt.timedelta) -> str:
    """A duration in its largest sensible unit, rounded down: "1 minute", "5 hours", "1 day 6 hours", "3 days"."""
    seconds = abs(delta.total_seconds())

    def count(value: int, unit: str) -> str:
        return f"{value} {unit}{'' if value == 1 else 's'}"

    if seconds >= 2 * 86400:
        return count(int(seconds // 86400), "day")
    if seconds >= 86400:
        hours = int((seconds - 86400) // 3600)
        return "1 day" + (f" {count(hours, 'hour')}" if hours else "")
    if seconds >= 3600:
        return count(int(seconds // 3600), "hour")
    return count(max(1, int(seconds // 60)), "minute")


def due_phrase(item: ExceptionItem, *, now: dt.datetime | None = None) -> str:
    """When an item is due, relative to ``now``: "2 days overdue", "due in 3 hours", "snoozed for 1 day",
    "closed", or "no due time"."""
    now = now or timezone.now()
    if item.status not in ExceptionItem.OPEN_STATUSES:
        return "closed"
    if item.status == ExceptionItem.Status.SNOOZED and item.snoozed_until is not None:
        return f"snoozed for {human_duration(item.snoozed_until - now)}"
    if item.due_at is None:
        return "no due time"
    if item.due_at < now:
        return f"{human_duration(now - item.due_at)} overdue"
    return f"due in {human_duration(item.due_at - now)}"


def is_overdue(item: ExceptionItem, *, now: dt.datetime | None = None) -> bool:
    """Open (snoozed included) and past its due time."""
    now = now or timezone.now()
    return item.status in ExceptionItem.OPEN_STATUSES and item.due_at is not None and item.due_at < now


__all__ = ["due_phrase", "human_duration", "is_overdue", "when_text"]
