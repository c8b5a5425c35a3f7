"""``/healthz`` against the real database and Redis."""

import socket

import django_rq
import pytest
from django.conf import settings
from rq import SimpleWorker

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
