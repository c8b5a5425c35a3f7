"""Helpers for the exception-queue service tests: queues, items opened through the service."""

from __future__ import annotations

from exceptions.models import ExceptionItem, Queue
from exceptions.services import exception_item_open
from tests.factories import UserFactory


def make_queue(name="RevOps", *, manager=None, target=None, **fields) -> Queue:
    manager = manager or UserFactory(username=f"{name.lower().replace(' ', '.')}.manager")
    target = target or UserFactory(username=f"{name.lower().replace(' ', '.')}.director")
    return Queue.objects.create(name=name, manager=manager, escalation_target=target, **fields)


def open_item(key="k1", *, kind="missing_data", severity="medium", **fields) -> ExceptionItem:
    values = {
        "dedupe_key": key,
        "kind": kind,
        "title": f"Lead {key} is missing its country",
        "reason": "lead.country is blank; routing needs it.",
        "expected_action": "Fill in the country in the CRM.",
        "severity": severity,
        **fields,
    }
    return exception_item_open(**values)[0]


def history_reasons(item) -> list[tuple[str | None, str]]:
    """(username, change reason) of every history row of ``item``, oldest first."""
    return [
        (h.history_user.username if h.history_user else None, h.history_change_reason or "")
        for h in item.history.order_by("history_date", "history_id")
    ]
