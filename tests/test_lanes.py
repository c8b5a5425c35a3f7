"""Lanes with real RQ workers: a new lead is routed while a backfill's hundred bulk jobs wait.

The Procfile's two workers run against their own PostgreSQL and Redis: the hot worker (queue
``hot``) and the forking worker (``default low``). A CRM backfills 600 leads in one batch — more
than ``OUTBOX_HOT_MAX_EVENTS``, so bulk work: 100 jobs of 6 events on the bulk lane, each event
taking ~0.05 s in a slow automation. Once the bulk lane is busy, a single new lead is posted: it
is routed within seconds, while most of the backfill is still waiting.
"""

from __future__ import annotations

import json
import time
import urllib.request

import psycopg
import pytest
from django.db import connection
from redis import Redis
from rq import Queue as RQQueue

from revops.models import Lead, OutboxEvent
from routing.models import RoutingDecision

from . import fault_support as fs
from .revops import test_engine_kinds  # noqa: F401  (registers the slow kind in this process)
from .test_faults import WORKER, _wait, _world

BACKFILL = 600
PER_JOB = 6


def _post(base: str, secret: str, records: list[dict]) -> dict:
    request = urllib.request.Request(
        f"{base}/api/v1/sync/leads/",
        data=json.dumps({"records": records}).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {secret}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


@pytest.mark.django_db(transaction=True)
def test_a_new_lead_is_routed_ahead_of_a_hundred_bulk_jobs():
    secret = _world(sleep=0.05)
    with fs.portal(connection.settings_dict, {"OUTBOX_BULK_EVENTS_PER_JOB": str(PER_JOB)}) as portal:
        portal.start_web()
        portal.start_worker("hot", WORKER, fs.HOT_WORKER)
        portal.start_worker("worker", WORKER, fs.IDLE_WORKER)
        procs, pg, base = portal.procs, portal.pg, portal.base
        redis = Redis.from_url(portal.rd.url)
        fs.wait_for_port(portal.web_port, 30, process=procs.running["web"])
        _wait(lambda: redis.scard("rq:workers") >= 2, 30, "both workers to register")

        backfill = [
            {"external_id": f"B-{i}", "source_updated_at": "2026-03-01T10:00:00Z", "country": "US"}
            for i in range(BACKFILL)
        ]
        assert _post(base, secret, backfill)["counts"]["created"] == BACKFILL
        low = RQQueue("low", connection=redis)
        assert len(low.job_ids) + low.started_job_registry.count >= BACKFILL // PER_JOB - 2  # parts, not one job
        _wait(lambda: low.finished_job_registry.count >= 1, 60, "the bulk lane to get going")

        with psycopg.connect(pg.url(), autocommit=True) as db:

            def scalar(sql: str):
                return db.execute(sql).fetchone()[0]

            posted = time.monotonic()
            _post(
                base, secret, [{"external_id": "NEW-1", "source_updated_at": "2026-03-01T10:00:00Z", "country": "US"}]
            )
            decided = (
                f"SELECT count(*) FROM {RoutingDecision._meta.db_table} d "
                f"JOIN {Lead._meta.db_table} l ON l.id = d.lead_id WHERE l.external_id = 'NEW-1'"
            )
            _wait(lambda: scalar(decided) == 1, 20, "the new lead to be routed")
            waited = time.monotonic() - posted
            waiting = scalar(f"SELECT count(*) FROM {OutboxEvent._meta.db_table} WHERE status = 'pending'")
        assert waiting > BACKFILL // 2, f"the backfill was nearly done ({waiting} events left): nothing was overtaken"
        assert waited < 10, f"the new lead waited {waited:.1f} s"
        for name, process in procs.running.items():
            assert process.poll() is None, f"{name} died:\n{procs.log(name)[-3000:]}"
