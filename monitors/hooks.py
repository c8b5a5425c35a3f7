"""The monitors' engine event hook (``revops.engine.hooks``): every batch of changes, before the
automations run, records the deals' forecast movements. Idempotent (see the service)."""

from __future__ import annotations

from .services import deal_movements_record


def monitors_note_movements(events, *, now=None) -> int:
    """Record the close-date, amount, stage and forecast-category changes of opportunities."""
    return deal_movements_record(events=events)
