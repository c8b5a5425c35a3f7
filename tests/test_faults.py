"""Redis and PostgreSQL restart under a running CRM sync; the portal's real processes ride it out.

The web server, a busy hot worker (``revops.worker.HotWorker``), an idle forking worker on the
default and low queues (``revops.worker.Worker``) and the cron scheduler (``revops_cron``) run as
in the Procfile, against their own PostgreSQL and Redis (``tests.fault_support``), while a CRM
thread posts leads in small batches, each with its own ``Idempotency-Key``, and retries a batch
with the same key whenever the answer is not final. Redis is restarted (losing every key) while
the hot worker is mid-job, then PostgreSQL while requests and jobs are running. Afterwards:

- every lead is routed exactly once (one decision, one owner assignment in the changes feed,
  one task from the slow automation) and no event is left pending;
- every process is still the one started (none died, none had to be restarted);
- the API answered 503 with ``Retry-After`` (or a replay), never 500;
- a batch that failed during an outage succeeded with the same key within seconds;
- ``/healthz`` is ``ok``: both workers live by heartbeat, the scheduler ticking, no pending event.
"""

from __future__ import annotations

import json
import os
import threading
import time
import urllib.error
import urllib.request
from collections import Counter

import psycopg
import pytest
from django.db import connection
from redis import Redis
from rq import Queue as RQQueue

from exceptions.models import Queue
from revops.engine.services import automation_create
from revops.models import ChangeEntry, Lead, OutboxEvent, Task
from revops.tokens import api_token_create
from routing.models import Pool, PoolMember, RoutingDecision, RoutingRule
from tests.factories import RepFactory, UserFactory

from . import fault_support as fs
from .revops import test_engine_kinds  # noqa: F401  (registers the slow kind in this process)

BATCHES = 30
PER_BATCH = 3
WORKER = """
import django, sys
django.setup()
import tests.revops.test_engine_kinds  # the slow kind
from django.core.management import call_command
call_command("rqworker", *sys.argv[1:])
"""


def _world(sleep: float = 0.15) -> str:
    """Routing (US leads to a pool of two), a slow task automation on every lead (``sleep`` seconds
    each); return the CRM's token."""
    owner = UserFactory(username="revops.lead")
    Queue.objects.get_or_create(name="RevOps")
    common = dict(
        actor=owner,
        object_type="lead",
        trigger="created",
        rule_owner=owner,
        failure_owner=owner,
        exception_queue="RevOps",
        mode="live",
    )
    automation_create(
        name="Lead routing",
        purpose="Route every new lead.",
        kind="lead_routing",
        conditions={"all": []},
        config={"fallback": {"type": "none"}},
        **common,
    )
    automation_create(
        name="Slow follow-up",
        purpose="Keeps the hot worker busy.",
        kind="test_slow_task",
        config={"sleep": sleep},
        **common,
    )
    pool = Pool.objects.create(name="US inbound")
    for position, ext in enumerate(("R-ANA", "R-BEN")):
        PoolMember.objects.create(pool=pool, rep=RepFactory(external_id=ext), weight=1, position=position)
    RoutingRule.objects.create(
        name="US", conditions={"all": []}, target_type="pool", priority=10, status="live", target_pool=pool
    )
    return api_token_create(name="crm", scopes=["sync:write"])[1]


class Crm(threading.Thread):
    """Posts the batches in order; a batch is retried with the same key until it gets a 200."""

    def __init__(self, base: str, secret: str):
        super().__init__(daemon=True)
        self.base, self.secret = base, secret
        self.statuses: Counter = Counter()
        self.server_errors: list[str] = []
        self.missing_retry_after: list[int] = []
        self.recovery: dict[str, float] = {}  # key -> seconds from its first failure to its success
        self.done = threading.Event()

    def post(self, key: str, body: bytes) -> tuple[int, dict, str]:
        request = urllib.request.Request(
            f"{self.base}/api/v1/sync/leads/",
            data=body,
            method="POST",
            headers={
                "Authorization": f"Bearer {self.secret}",
                "Content-Type": "application/json",
                "Idempotency-Key": key,
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=20) as response:
                return response.status, dict(response.headers), response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read().decode(errors="replace")
        except OSError as exc:  # connection refused/reset: the server went away mid-request
            return 0, {}, str(exc)

    def run(self):
        try:
            for batch in range(BATCHES):
                key = f"batch-{batch}"
                records = [
                    {"external_id": f"L{batch}-{i}", "source_updated_at": "2026-03-01T10:00:00Z", "country": "US"}
                    for i in range(PER_BATCH)
                ]
                body = json.dumps({"records": records}).encode()
                first_failure = None
                deadline = time.monotonic() + 45
                while True:
                    status, headers, text = self.post(key, body)
                    self.statuses[status] += 1
                    if status == 200:
                        if first_failure is not None:
                            self.recovery[key] = time.monotonic() - first_failure
                        break
                    if status >= 500 and status != 503:
                        self.server_errors.append(f"{key}: {status} {text[:300]}")
                    if status == 503 and "Retry-After" not in headers:
                        self.missing_retry_after.append(batch)
                    first_failure = first_failure or time.monotonic()
                    assert time.monotonic() < deadline, f"{key} never succeeded: {status} {text[:300]}"
                    time.sleep(0.3)
                time.sleep(0.4)
        finally:
            self.done.set()


def assert_routed_once(db, expected: set[str]) -> None:
    """Every lead of ``expected`` has exactly one routing decision, one owner assignment in the
    changes feed and one task from the slow automation (``db``: a psycopg connection)."""
    decisions = Counter(
        ext
        for (ext,) in db.execute(
            f"SELECT l.external_id FROM {RoutingDecision._meta.db_table} d "
            f"JOIN {Lead._meta.db_table} l ON l.id = d.lead_id"
        )
    )
    assert decisions == Counter(expected), "a lead was routed more or less than once"
    feed = Counter(
        ext
        for (ext,) in db.execute(f"SELECT external_id FROM {ChangeEntry._meta.db_table} WHERE kind = 'owner_assigned'")
    )
    assert feed == Counter(expected), "an owner assignment was fed to the CRM more or less than once"
    assert db.execute(f"SELECT count(*) FROM {Task._meta.db_table}").fetchone()[0] == len(expected)


def _wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


@pytest.mark.django_db(transaction=True)
def test_redis_and_postgres_restarts_under_a_running_sync():
    t0 = time.monotonic()
    marks = {}

    def mark(what):
        marks[what] = round(time.monotonic() - t0, 1)

    secret = _world()
    env = {"OUTBOX_GRACE_SECONDS": "2", "OUTBOX_SWEEP_SECONDS": "2", "IDEMPOTENCY_CLAIM_SECONDS": "30"}
    keep = bool(os.environ.get("FAULTS_KEEP_LOGS"))
    with fs.portal(connection.settings_dict, env, keep_logs=keep) as portal:
        pg, rd, procs, web_port = portal.pg, portal.rd, portal.procs, portal.web_port
        mark("servers")
        portal.start_web()
        portal.start_worker("hot", WORKER, fs.HOT_WORKER)
        portal.start_worker("worker", WORKER, fs.IDLE_WORKER)
        portal.start_scheduler()
        redis = Redis.from_url(rd.url)
        fs.wait_for_port(web_port, 30, process=procs.running["web"])
        _wait(lambda: redis.scard("rq:workers") >= 2, 30, "both workers to register")

        mark("processes")
        crm = Crm(f"http://127.0.0.1:{web_port}", secret)
        crm.start()
        started = RQQueue("hot", connection=redis).started_job_registry

        # Redis goes away while the hot worker is in the middle of a job (~1 s for 3 leads).
        _wait(lambda: started.count > 0, 30, "the hot worker to start a job")
        mark("redis-stop")
        rd.stop()
        time.sleep(2.0)  # the job finishes meanwhile: rq must record it once Redis is back
        rd.start()

        # PostgreSQL restarts (every session terminated) while requests and jobs are running.
        _wait(lambda: started.count > 0, 30, "the hot worker to start a job after the Redis restart")
        time.sleep(0.3)
        mark("pg-restart")
        pg.restart(down_for=1.5)
        mark("pg-restarted")

        crm.join(timeout=90)
        mark("crm-done")
        assert crm.done.is_set(), "the CRM never finished its batches"
        assert not crm.server_errors, crm.server_errors
        assert not crm.missing_retry_after
        # Every batch that failed went through later. The bound only catches a retry that never ends (a
        # Retry-After growing without limit); how fast it recovers depends on the machine.
        assert crm.recovery and max(crm.recovery.values()) < 60, crm.recovery

        expected = {f"L{b}-{i}" for b in range(BATCHES) for i in range(PER_BATCH)}
        with psycopg.connect(pg.url(), autocommit=True) as db:

            def scalar(sql: str):
                return db.execute(sql).fetchone()[0]

            outbox = OutboxEvent._meta.db_table
            _wait(
                lambda: scalar(f"SELECT count(*) FROM {outbox} WHERE status = 'pending'") == 0,
                60,
                "every outbox event to be processed",
            )
            mark("drained")
            leads = dict(db.execute(f"SELECT external_id, owner_id FROM {Lead._meta.db_table}").fetchall())
            assert set(leads) == expected and all(leads.values()), "a lead is missing or has no owner"
            assert_routed_once(db, expected)
            assert scalar(f"SELECT count(*) FROM {outbox} WHERE status <> 'processed'") == 0

        for name, process in procs.running.items():
            assert process.poll() is None, f"{name} died:\n{procs.log(name)[-3000:]}"
        assert "Redis unavailable" in procs.log("hot"), "the Redis outage never reached the busy worker"
        assert "OperationalError" in procs.log("hot"), "the PostgreSQL restart never reached the busy worker"

        def healthy():
            with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/healthz", timeout=10) as response:
                return json.loads(response.read())

        _wait(lambda: healthy()["status"] == "ok", 30, "/healthz to say ok")
        mark("healthy")
        health = healthy()["checks"]
        assert health["workers"]["detail"]["workers"] == 2
        assert health["scheduler"]["detail"]["last_tick_seconds_ago"] < 30
        print(f"\nfaults: {dict(crm.statuses)} responses; recovery {crm.recovery}; timeline {marks}")
