"""RQ entry points of the handoffs app: thin, they call services."""

from __future__ import annotations


def handoffs_acceptance_tick() -> dict:
    """Raise sent handoffs past their acceptance SLA to the receiving side (every 15 minutes)."""
    from .services import handoffs_acceptance_tick as tick

    return tick()


def handoffs_renewals_tick() -> dict:
    """Start the renewal handoffs whose window opened today (daily)."""
    from .renewals import renewals_tick

    return renewals_tick()
