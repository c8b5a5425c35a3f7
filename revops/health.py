"""``/healthz``: the database, Redis, live workers, the scheduler and the outbox, for probes and humans.

- ``workers``: workers counted **by heartbeat** (``revops.heartbeats``): a worker that registered
  but stopped beating — killed, or its machine gone — is listed under ``dead`` and does not count.
  Degraded when a queue has no live worker.
- ``scheduler``: seconds since the cron scheduler's last tick; degraded when it never ticked or
  has been silent longer than ``SCHEDULER_TICK_WINDOW``.
- ``outbox``: pending events and the age of the oldest; degraded beyond
  ``HEALTH_OUTBOX_MAX_AGE_SECONDS`` (work is not getting done).

Overall ``down`` (HTTP 503) when the database or Redis is unreachable, ``degraded`` (200) when any
check is degraded or unknown, else ``ok``. A secondary check (workers, scheduler, outbox) that
raises — a Redis blip between checks, a corrupt heartbeat — is ``unknown``, never ``down``: a
liveness probe must not restart a healthy web tier for it.
"""

import time

import django_rq
from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache

from .heartbeats import scheduler_last_tick, scheduler_tick_window, workers_states
from .models import OutboxEvent


def _check(fn, failure: str = "down"):
    """Run ``fn() -> detail`` or ``(detail, problem)``; a problem makes the check degraded, an error ``failure``."""
    started = time.perf_counter()
    problem = None
    try:
        detail = fn()
        if isinstance(detail, tuple):
            detail, problem = detail
        status = "degraded" if problem else "ok"
    except Exception as exc:  # a probe reports, it never raises
        detail, status = f"{type(exc).__name__}: {exc}", failure
    result = {"status": status, "detail": detail, "ms": round((time.perf_counter() - started) * 1000, 1)}
    if problem:
        result["problem"] = problem
    return result


def _database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return connection.vendor


def _redis():
    django_rq.get_connection("default").ping()
    return "ping ok"


def _workers():
    conn = django_rq.get_connection("default")
    states = workers_states(conn)
    live = [state for state in states if state.alive]
    by_queue = {name: 0 for name in settings.RQ_QUEUES}
    for state in live:
        for name in state.queues:
            if name in by_queue:
                by_queue[name] += 1
    detail = {
        "workers": len(live),
        "busy": sum(1 for state in live if state.state == "busy"),
        "workers_per_queue": by_queue,
        "dead": [f"{state.name}: {state.reason}" for state in states if not state.alive][:20],
        "queued_jobs": {name: django_rq.get_queue(name).count for name in settings.RQ_QUEUES},
    }
    idle_queues = [name for name, count in by_queue.items() if count == 0]
    return detail, (f"no live worker listens on: {', '.join(idle_queues)}" if idle_queues else None)


def _scheduler():
    age = scheduler_last_tick(django_rq.get_connection("default"))
    window = scheduler_tick_window()
    detail = {"last_tick_seconds_ago": None if age is None else round(age, 1), "window_seconds": window}
    if age is None:
        return detail, "the scheduler has not ticked (not running, or Redis lost its data and it has not ticked since)"
    if age > window:
        return detail, f"the scheduler has not ticked for {age:.0f} s"
    return detail, None


def _outbox():
    pending = OutboxEvent.objects.filter(status=OutboxEvent.Status.PENDING)
    oldest = pending.order_by("created_at").values_list("created_at", flat=True).first()
    age = None if oldest is None else max(0.0, (timezone.now() - oldest).total_seconds())
    limit = int(getattr(settings, "HEALTH_OUTBOX_MAX_AGE_SECONDS", 600))
    detail = {
        "pending_events": pending.count(),
        "oldest_pending_seconds": None if age is None else round(age, 1),
        "max_age_seconds": limit,
    }
    return detail, (f"the oldest pending event is {age:.0f} s old" if age is not None and age > limit else None)


@never_cache
def healthz(request):
    checks = {"database": _check(_database), "redis": _check(_redis)}
    redis_ok = checks["redis"]["status"] == "ok"
    checks["workers"] = _check(_workers, "unknown") if redis_ok else {"status": "unknown"}
    checks["scheduler"] = _check(_scheduler, "unknown") if redis_ok else {"status": "unknown"}
    checks["outbox"] = _check(_outbox, "unknown") if checks["database"]["status"] == "ok" else {"status": "unknown"}
    down = any(c["status"] == "down" for c in checks.values())
    degraded = any(c["status"] in ("degraded", "unknown") for c in checks.values())
    overall = "down" if down else "degraded" if degraded else "ok"
    return JsonResponse({"status": overall, "checks": checks}, status=503 if down else 200)
