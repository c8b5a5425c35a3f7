"""RQ entry points of the webhooks app: thin, they call services."""

from __future__ import annotations

import time

# One dispatch job sends batches for at most this long, then queues itself again, so a long backlog
# never holds the lane.
BUDGET_SECONDS = 2.0


def webhooks_dispatch(subscription_id: int) -> dict:
    """Send ``subscription_id``'s due deliveries in order, until none is due or the budget is spent."""
    from .services import deliver_next, dispatch_enqueue

    started, counts = time.monotonic(), {"sent": 0, "failed": 0}
    while True:
        outcome = deliver_next(subscription_id)
        if outcome not in counts:
            break
        counts[outcome] += 1
        if outcome == "failed":
            break  # the retry waits for its backoff: the minute sweep sends it when due
        if time.monotonic() - started > BUDGET_SECONDS:
            dispatch_enqueue(subscription_id)
            break
    return counts


def webhooks_sweep() -> dict:
    """Every minute: queue a dispatch of every active subscription with a due retry or new feed entries
    (a lost enqueue, a retry whose backoff ended)."""
    from django.utils import timezone

    from .selectors import subscriptions_with_work
    from .services import dispatch_enqueue

    ids = subscriptions_with_work(timezone.now())
    for pk in ids:
        dispatch_enqueue(pk)
    return {"queued": len(ids)}
