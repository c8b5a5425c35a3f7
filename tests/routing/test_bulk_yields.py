"""A bulk chunk gives way to the hot lane: it commits what it has routed as soon as a hot worker runs a
job (that job may be waiting for the pools the chunk holds), and the rest of its leads are routed in
the next chunks, each exactly once (real Redis, the real bulk driver, a real hot worker)."""

import datetime as dt
import signal
import time
from unittest import mock

import django_rq
import pytest
from django.test import override_settings
from rq import Queue as RQQueue

from revops.engine import batch
from revops.engine.pipeline import engine_process_events
from revops.models import ApiToken, OutboxEvent
from revops.outbox import HOT_RUNNING_KEY, QUEUE, hot_lane_running
from revops.sync import sync_batch_apply
from revops.tokens import api_token_create
from revops.worker import HotWorker
from routing import bulk
from routing.models import RoutingDecision, RoutingRule
from tests.factories import RepFactory
from tests.routing.bulk_support import fresh_caches, pool_of, routing_automation

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 24, 15, 0, tzinfo=dt.UTC)
LEADS = 12


@pytest.fixture
def hot_queue():
    # rq's own Queue: django-rq's defers an enqueue to the commit, and a test's transaction never commits.
    queue = RQQueue(QUEUE, connection=django_rq.get_connection(QUEUE))
    queue.empty()
    queue.connection.delete(HOT_RUNNING_KEY)
    yield queue
    queue.empty()
    queue.connection.delete(HOT_RUNNING_KEY)


def _leads_pending() -> list[int]:
    reps = [RepFactory(name=f"Rep {i}", time_zone="UTC") for i in range(3)]
    pool = pool_of("Inbound", reps)
    RoutingRule.objects.create(
        name="Everyone", priority=10, target_type="pool", target_pool=pool, conditions={"all": []}
    )
    routing_automation({"fallback": {"type": "none"}})
    token = ApiToken.objects.filter(name="crm").first() or api_token_create(name="crm", scopes=["sync:write"])[0]
    records = [
        {"external_id": f"Y-{n:02d}", "source_updated_at": "2026-11-24T14:00:00Z", "country": "US"}
        for n in range(LEADS)
    ]
    sync_batch_apply(object_name="leads", records=records, actor=token.user, token=token)
    return list(
        OutboxEvent.objects.filter(status="pending", object_type="lead").order_by("pk").values_list("pk", flat=True)
    )


def _route_in_a_bulk_job(ids):
    fresh_caches()
    with (
        override_settings(ENGINE_BATCH_SIZE=LEADS, ENGINE_BATCH_MS=100_000),
        mock.patch.object(batch, "_in_bulk_job", return_value=True),  # as in a job on the bulk lane
        mock.patch.object(batch, "HOT_CHECK_SECONDS", 0),  # ask the hot lane before every lead
        mock.patch.object(bulk, "run_batch", wraps=bulk.run_batch) as driver,
    ):
        engine_process_events(event_ids=ids, now=NOW)
    return driver


def _routed_once():
    per_lead = {}
    for lead_id in RoutingDecision.objects.values_list("lead_id", flat=True):
        per_lead[lead_id] = per_lead.get(lead_id, 0) + 1
    return len(per_lead), set(per_lead.values())


def _running(redis, *, lapses_in: float, worker: str = "hot-1") -> None:
    """A hot worker's mark, as it sets it when it starts a job and on each heartbeat."""
    redis.zadd(HOT_RUNNING_KEY, {worker: time.time() + lapses_in})


def test_a_quiet_hot_lane_leaves_the_chunk_whole(hot_queue):
    assert not hot_lane_running()
    driver = _route_in_a_bulk_job(_leads_pending())
    assert driver.call_count == 1
    assert _routed_once() == (LEADS, {1})


def test_a_job_running_on_the_hot_lane_cuts_every_chunk_after_its_first_lead(hot_queue):
    ids = _leads_pending()
    _running(hot_queue.connection, lapses_in=60)
    assert hot_lane_running()
    driver = _route_in_a_bulk_job(ids)
    assert driver.call_count == LEADS  # one lead per transaction: the pools were given up after each
    assert _routed_once() == (LEADS, {1})
    assert OutboxEvent.objects.filter(pk__in=ids, status="pending").count() == 0


def test_jobs_only_queued_on_the_hot_lane_do_not_cut_chunks(hot_queue):
    # They wait for a hot worker, not for the chunk's locks (bulk work waits for them before a chunk,
    # for at most ENGINE_BULK_YIELD_MS): were every hot worker down, bulk work must still go on.
    ids = _leads_pending()
    hot_queue.enqueue("time.sleep", 0)
    assert not hot_lane_running()
    with override_settings(ENGINE_BULK_YIELD_MS=0):
        driver = _route_in_a_bulk_job(ids)
    assert driver.call_count == 1
    assert _routed_once() == (LEADS, {1})


def test_a_killed_hot_workers_mark_lapses(hot_queue):
    _running(hot_queue.connection, lapses_in=60)
    assert hot_lane_running()
    _running(hot_queue.connection, lapses_in=-1)  # no heartbeat has renewed it for HOT_RUNNING_LAPSE
    assert not hot_lane_running()


def test_a_hot_worker_marks_itself_while_it_runs_a_job(hot_queue):
    job = hot_queue.enqueue("revops.outbox.hot_lane_running")  # what a bulk chunk would see meanwhile
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        HotWorker([hot_queue], connection=hot_queue.connection).work(burst=True)
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
    assert job.latest_result().return_value is True
    assert not hot_lane_running()  # and clears the mark when the job ends


def test_outside_a_bulk_job_the_chunk_runs_to_its_budget(hot_queue):
    _running(hot_queue.connection, lapses_in=60)
    assert not batch.ChunkBudget().yields  # no current job (a test, a direct call); a hot job never yields to itself
    with override_settings(ENGINE_BATCH_MS=0):
        budget = batch.ChunkBudget()
        assert budget.spent() and budget.reason == "time"
