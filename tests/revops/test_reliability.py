"""A worker killed with SIGKILL mid-batch loses nothing and applies nothing twice."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from exceptions.models import Queue
from revops.engine.services import automation_create
from revops.models import AppliedAction, AutomationRun, ChangeEntry, Lead, OutboxEvent, Task
from revops.outbox import outbox_sweep
from revops.sync import sync_batch_apply
from revops.tokens import api_token_create
from tests.factories import UserFactory

from . import test_engine_kinds  # noqa: F401  (registers the slow kind in this process)

ROOT = Path(__file__).resolve().parents[2]
WORKER = """
import os, django
django.setup()
import django_rq
from rq import SimpleWorker
import tests.revops.test_engine_kinds  # the slow kind
SimpleWorker([django_rq.get_queue("hot")], connection=django_rq.get_connection("hot")).work(burst=True)
"""
LEADS = 8


def database_url() -> str:
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.mark.django_db(transaction=True)
def test_sigkill_mid_batch_then_sweep_applies_every_effect_exactly_once(redis_conn, run_worker):
    owner = UserFactory(username="rule.owner")
    Queue.objects.get_or_create(name="RevOps")  # the exception path must name a queue
    automation_create(
        actor=owner,
        name="Slow follow-up",
        purpose="One task per lead, slowly.",
        kind="test_slow_task",
        object_type="lead",
        trigger="created",
        config={"sleep": 0.4},
        rule_owner=owner,
        failure_owner=owner,
        exception_queue="RevOps",
        mode="live",
    )
    token = api_token_create(name="crm", scopes=["sync:write"])[0]
    records = [{"external_id": f"L{i}", "source_updated_at": "2026-03-01T10:00:00Z"} for i in range(LEADS)]
    sync_batch_apply(object_name="leads", records=records, actor=token.user, token=token)  # commits: enqueued

    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "DJANGO_SETTINGS_MODULE": "revops.settings",
        "PYTHONPATH": str(ROOT),
    }
    worker = subprocess.Popen(
        [sys.executable, "-c", WORKER], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 20
        while AutomationRun.objects.filter(outcome="fired").count() < 2:
            assert worker.poll() is None, "the worker exited before it could be killed"
            assert time.monotonic() < deadline, "the worker never got going"
            time.sleep(0.05)
        time.sleep(0.2)  # inside the next run's transaction (it sleeps 0.4 s per lead)
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()

    done_before = Task.objects.count()
    assert 2 <= done_before < LEADS
    assert OutboxEvent.objects.filter(status="pending").exists()

    # Postgres rolls the killed worker's open transaction back; the sweeper finds what is left.
    deadline = time.monotonic() + 10
    while not outbox_sweep(grace=0, stuck_after_minutes=0):
        assert time.monotonic() < deadline, "the sweeper never re-enqueued the batch"
        time.sleep(0.2)
    run_worker("hot")

    leads = list(Lead.objects.all())
    assert len(leads) == LEADS
    for lead in leads:
        assert Task.objects.filter(lead=lead).count() == 1, lead.external_id
    assert set(OutboxEvent.objects.values_list("status", flat=True)) == {"processed"}
    assert AutomationRun.objects.count() == LEADS
    assert set(AutomationRun.objects.values_list("outcome", flat=True)) == {"fired"}
    assert AppliedAction.objects.count() == LEADS and set(AppliedAction.objects.values_list("index", flat=True)) == {0}
    assert ChangeEntry.objects.filter(kind="task_created").count() == LEADS
