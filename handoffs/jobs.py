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


def handoffs_evaluate_pending(pending_id: int) -> dict:
    """Evaluate the handoffs of a sync batch's deals recorded for the bulk lane (once)."""
    from .deferred import handoffs_evaluate_pending as evaluate

    return evaluate(pending_id=pending_id)


def handoffs_pending_sweep() -> list[int]:
    """Enqueue again the recorded evaluations whose job was lost (every minute)."""
    from .deferred import handoffs_pending_sweep as sweep

    return sweep()
