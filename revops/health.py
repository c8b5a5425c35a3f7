"""``/healthz``: the status of the database, Redis and the RQ workers, for probes and humans."""

import time

import django_rq
from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from rq import Worker


def _check(fn):
    started = time.perf_counter()
    try:
        detail = fn()
        status = "ok"
    except Exception as exc:  # a probe reports, it never raises
        detail, status = f"{type(exc).__name__}: {exc}", "down"
    return {"status": status, "detail": detail, "ms": round((time.perf_counter() - started) * 1000, 1)}


def _database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return connection.vendor


def _redis():
    django_rq.get_connection("default").ping()
    return "ping ok"


def _workers():
    conn = django_rq.get_connection("default")
    workers = Worker.all(connection=conn)
    by_queue = {name: 0 for name in settings.RQ_QUEUES}
    for worker in workers:
        for name in worker.queue_names():
            if name in by_queue:
                by_queue[name] += 1
    queued = {name: django_rq.get_queue(name).count for name in settings.RQ_QUEUES}
    return {"workers": len(workers), "workers_per_queue": by_queue, "queued_jobs": queued}


@never_cache
def healthz(request):
    checks = {"database": _check(_database), "redis": _check(_redis)}
    checks["workers"] = _check(_workers) if checks["redis"]["status"] == "ok" else {"status": "unknown"}
    if checks["workers"]["status"] == "ok":
        idle_queues = [q for q, n in checks["workers"]["detail"]["workers_per_queue"].items() if n == 0]
        if idle_queues:
            checks["workers"]["status"] = "degraded"
            checks["workers"]["problem"] = f"no worker listens on: {', '.join(idle_queues)}"
    down = any(c["status"] == "down" for c in checks.values())
    degraded = any(c["status"] in ("degraded", "unknown") for c in checks.values())
    overall = "down" if down else "degraded" if degraded else "ok"
    return JsonResponse({"status": overall, "checks": checks}, status=503 if down else 200)
