"""Two hosts on one PostgreSQL and one Redis: the work is shared, nothing happens twice.

Each "host" is a group of the Procfile's processes started on its own — a hot worker, a forking
worker on the default and low queues and a scheduler — as docs/deployment.md runs them on every
worker host; one web process serves the CRM. A CRM thread posts leads in small batches while both
groups run (the slow automation keeps the hot workers busy). Afterwards:

- every lead is routed exactly once (one decision, one owner assignment in the changes feed, one
  task) and no event is left pending;
- both hosts' hot workers did part of the work;
- exactly one scheduler holds the lease and enqueues; when it stops, the other host's scheduler
  takes over at its next tick;
- ``/healthz`` is ``ok`` with four live workers.
"""

from __future__ import annotations

import json
import urllib.request

import psycopg
import pytest
from django.db import connection
from redis import Redis

from revops.models import OutboxEvent
from revops.scheduler import LEASE_SECONDS, TICK_SECONDS, scheduler_leader

from . import fault_support as fs
from .revops import test_engine_kinds  # noqa: F401  (registers the slow kind in this process)
from .test_faults import BATCHES, PER_BATCH, WORKER, Crm, _wait, _world, assert_routed_once

HOSTS = ("a", "b")


def _jobs_done(redis: Redis) -> dict[int, int]:
    """Successful jobs per worker process id, from rq's worker hashes."""
    done = {}
    for key in redis.smembers("rq:workers"):
        worker = redis.hgetall(key)
        pid = int(worker.get(b"pid", 0) or 0)
        done[pid] = int(worker.get(b"successful_job_count", 0) or 0)
    return done


@pytest.mark.django_db(transaction=True)
def test_two_worker_groups_share_the_work_with_no_double_effects():
    secret = _world()
    with fs.portal(connection.settings_dict) as portal:
        portal.start_web()
        for host in HOSTS:
            portal.start_worker(f"hot-{host}", WORKER, fs.HOT_WORKER)
            portal.start_worker(f"worker-{host}", WORKER, fs.IDLE_WORKER)
            portal.start_scheduler(f"scheduler-{host}")
        procs, pg, web_port = portal.procs, portal.pg, portal.web_port
        redis = Redis.from_url(portal.rd.url)
        fs.wait_for_port(web_port, 30, process=procs.running["web"])
        _wait(lambda: redis.scard("rq:workers") >= 4, 30, "the four workers to register")
        _wait(lambda: scheduler_leader(redis) is not None, 30, "a scheduler to take the lease")

        crm = Crm(f"http://127.0.0.1:{web_port}", secret)
        crm.start()
        crm.join(timeout=120)
        assert crm.done.is_set(), "the CRM never finished its batches"
        assert not crm.server_errors, crm.server_errors

        expected = {f"L{b}-{i}" for b in range(BATCHES) for i in range(PER_BATCH)}
        with psycopg.connect(pg.url(), autocommit=True) as db:

            def scalar(sql: str):
                return db.execute(sql).fetchone()[0]

            outbox = OutboxEvent._meta.db_table
            _wait(
                lambda: scalar(f"SELECT count(*) FROM {outbox} WHERE status <> 'processed'") == 0,
                90,
                "every outbox event to be processed",
            )
            assert_routed_once(db, expected)

        done = _jobs_done(redis)
        for host in HOSTS:
            assert done.get(procs.running[f"hot-{host}"].pid, 0) > 0, f"host {host}'s hot worker did nothing: {done}"

        pids = {procs.running[f"scheduler-{host}"].pid: host for host in HOSTS}
        leader = scheduler_leader(redis)
        holder = pids.get(int(leader.split(":")[1]))
        assert holder is not None, (leader, pids)
        other = "b" if holder == "a" else "a"
        assert 0 < redis.ttl("revops:scheduler:leader") <= LEASE_SECONDS
        procs.running[f"scheduler-{holder}"].terminate()  # it hands the lease back as it stops
        procs.running[f"scheduler-{holder}"].wait(timeout=30)
        _wait(
            lambda: (scheduler_leader(redis) or "").split(":")[1:2] == [str(procs.running[f"scheduler-{other}"].pid)],
            TICK_SECONDS + 10,
            f"host {other}'s scheduler to take the lease",
        )

        for name, process in procs.running.items():
            if name != f"scheduler-{holder}":
                assert process.poll() is None, f"{name} died:\n{procs.log(name)[-3000:]}"

        def healthy():
            with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/healthz", timeout=10) as response:
                return json.loads(response.read())

        _wait(lambda: healthy()["status"] == "ok", 30, "/healthz to say ok")
        assert healthy()["checks"]["workers"]["detail"]["workers"] == 4
