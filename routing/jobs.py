"""RQ entry points of the routing app: thin, they call services."""

from __future__ import annotations


def tick_sla_clocks() -> dict:
    """Send due SLA reminders and breach overdue clocks (every minute)."""
    from .sla_services import sla_clocks_tick

    return sla_clocks_tick()
