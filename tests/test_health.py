"""``/healthz`` against the real database and Redis."""

import datetime as dt
import socket
import subprocess
import time

import django_rq
import pytest
from django.conf import settings
from django.utils import timezone
from rq import SimpleWorker

from revops.heartbeats import SCHEDULER_TICK_KEY, scheduler_tick_record
from revops.models import OutboxEvent

pytestmark = pytest.mark.django_db


def get_health(client):
    # secure=True: production settings may redirect plain HTTP to HTTPS.
    response = client.get("/healthz", secure=True)
    return response, response.json()


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def registered_workers(redis_conn):
    """Register RQ workers (without running them) covering every configured queue."""
    queues = [django_rq.get_queue(name) for name in settings.RQ_QUEUES]
    worker = SimpleWorker(queues, connection=redis_conn)
    worker.register_birth()
    yield worker
    worker.register_death()


def test_no_workers_is_degraded_and_names_the_queues(client, redis_conn):
    response, body = get_health(client)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert "no-cache" in response["Cache-Control"]
    assert body["status"] == "degraded"
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["redis"]["status"] == "ok"
    workers = body["checks"]["workers"]
    assert workers["status"] == "degraded"
    assert workers["detail"]["workers"] == 0
    for queue in settings.RQ_QUEUES:
        assert queue in workers["problem"]


def test_workers_on_every_queue_is_ok(client, registered_workers, django_capture_on_commit_callbacks):
    scheduler_tick_record(registered_workers.connection)
    with django_capture_on_commit_callbacks(execute=True):  # django-rq enqueues on commit
        django_rq.get_queue("default").enqueue("revops.jobs.heartbeat")

    response, body = get_health(client)

    assert response.status_code == 200
    assert body["status"] == "ok"
    detail = body["checks"]["workers"]["detail"]
    assert detail["workers"] == 1
    assert detail["workers_per_queue"] == {name: 1 for name in settings.RQ_QUEUES}
    assert detail["queued_jobs"]["default"] == 1


def test_redis_unreachable_is_down(client, settings):
    # django-rq builds its connections from settings.RQ_QUEUES on every call (no cache), so
    # overriding the setting is enough.
    url = f"redis://127.0.0.1:{closed_port()}/0"
    settings.RQ_QUEUES = {name: {**config, "URL": url} for name, config in settings.RQ_QUEUES.items()}

    response, body = get_health(client)

    assert response.status_code == 503
    assert body["status"] == "down"
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["redis"]["status"] == "down"
    assert "ConnectionError" in body["checks"]["redis"]["detail"]
    assert body["checks"]["workers"]["status"] == "unknown"


def test_dead_registered_workers_do_not_count(client, redis_conn, registered_workers):
    """A worker that stopped beating (killed, its machine gone) is listed as dead, not counted live."""
    scheduler_tick_record(redis_conn)
    stale = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    redis_conn.hset(registered_workers.key, "last_heartbeat", stale)

    response, body = get_health(client)

    workers = body["checks"]["workers"]
    assert body["status"] == "degraded" and workers["status"] == "degraded"
    assert workers["detail"]["workers"] == 0
    assert registered_workers.name in workers["detail"]["dead"][0] and "no heartbeat" in workers["detail"]["dead"][0]


def test_a_worker_whose_process_is_gone_is_dead(client, redis_conn, registered_workers):
    scheduler_tick_record(redis_conn)
    gone = subprocess.Popen(["true"])
    gone.wait()
    redis_conn.hset(registered_workers.key, "pid", gone.pid)

    _response, body = get_health(client)

    assert body["checks"]["workers"]["detail"]["workers"] == 0
    assert "process is gone" in body["checks"]["workers"]["detail"]["dead"][0]


def test_scheduler_never_ticked_or_silent_is_degraded(client, redis_conn, registered_workers):
    _response, body = get_health(client)
    scheduler = body["checks"]["scheduler"]
    assert body["status"] == "degraded" and scheduler["status"] == "degraded"
    assert scheduler["detail"]["last_tick_seconds_ago"] is None and "not ticked" in scheduler["problem"]

    redis_conn.set(SCHEDULER_TICK_KEY, repr(time.time() - 600))
    _response, body = get_health(client)
    scheduler = body["checks"]["scheduler"]
    assert scheduler["status"] == "degraded" and scheduler["detail"]["last_tick_seconds_ago"] >= 600

    scheduler_tick_record(redis_conn)
    _response, body = get_health(client)
    assert body["checks"]["scheduler"]["status"] == "ok" and body["status"] == "ok"


def test_oldest_pending_outbox_event_age_is_reported(client, redis_conn, registered_workers, settings):
    scheduler_tick_record(redis_conn)
    settings.HEALTH_OUTBOX_MAX_AGE_SECONDS = 300
    _response, body = get_health(client)
    assert body["checks"]["outbox"]["detail"]["pending_events"] == 0
    assert body["checks"]["outbox"]["detail"]["oldest_pending_seconds"] is None

    event = OutboxEvent.objects.create(object_type="lead", object_id=1, kind="created")
    OutboxEvent.objects.filter(pk=event.pk).update(created_at=timezone.now() - dt.timedelta(minutes=10))
    _response, body = get_health(client)
    outbox = body["checks"]["outbox"]
    assert outbox["status"] == "degraded" and body["status"] == "degraded"
    assert outbox["detail"]["pending_events"] == 1 and outbox["detail"]["oldest_pending_seconds"] >= 600
    assert "oldest pending event" in outbox["problem"]


def test_a_secondary_check_that_raises_is_unknown_not_down(client, redis_conn, registered_workers):
    scheduler_tick_record(redis_conn)
    redis_conn.hset(registered_workers.key, "last_heartbeat", "not a date")  # a corrupt worker hash
    redis_conn.set(SCHEDULER_TICK_KEY, "garbage")

    response, body = get_health(client)

    assert response.status_code == 200 and body["status"] == "degraded"  # no liveness restart for it
    assert body["checks"]["database"]["status"] == body["checks"]["redis"]["status"] == "ok"
    assert body["checks"]["workers"]["status"] == "unknown" and body["checks"]["scheduler"]["status"] == "unknown"
