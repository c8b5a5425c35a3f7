"""The bulk routing driver (``routing.bulk``) against the one-lead driver (the engine's one-run path).

Both route the same generated leads from the same start; their decisions, explanations, owners,
pool counters, SLA clocks, items, runs and feed entries must be identical.
"""

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from unittest import mock

import pytest
from django.db import connection, transaction
from django.test import override_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exceptions.models import ExceptionItem, Queue
from revops.engine import pipeline
from revops.engine.pipeline import engine_process_events
from revops.models import ApiToken, AutomationRun, ChangeEntry, Lead, OutboxEvent
from revops.sync import sync_batch_apply
from revops.tokens import api_token_create
from routing import bulk
from routing.models import Pool, PoolCounter, PoolMember, RoutingDecision, RoutingRule, SlaClock, SlaPolicy
from tests.factories import AccountFactory, RepFactory, UserFactory
from tests.routing.bulk_support import fresh_caches, pool_of, routing_automation

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 24, 15, 0, tzinfo=dt.UTC)  # a Tuesday
COUNTRIES = ["US", "DE", "GB", "BR"]

rep_spec = st.fixed_dictionaries(
    {"active": st.sampled_from([True, True, True, False]), "away": st.sampled_from([False, False, False, True])}
)
pool_spec = st.fixed_dictionaries(
    {
        "strategy": st.sampled_from(["round_robin", "weighted", "least_loaded"]),
        "members": st.lists(st.tuples(st.integers(0, 4), st.integers(1, 3)), min_size=1, max_size=4),
        "per_day": st.sampled_from([None, None, 1, 2, 3]),
        "open": st.sampled_from([None, None, 1, 2, 4]),
    }
)
rule_spec = st.fixed_dictionaries(
    {
        "target": st.sampled_from(["pool", "pool", "rep", "account_owner", "opportunity_owner", "queue"]),
        "countries": st.lists(st.sampled_from(COUNTRIES), min_size=1, max_size=3, unique=True),
        "pool": st.integers(0, 1),
        "rep": st.integers(0, 4),
        "anyway": st.booleans(),
        "shadow": st.sampled_from([False, False, False, True]),
    }
)
lead_spec = st.fixed_dictionaries(
    {
        "country": st.sampled_from(COUNTRIES),
        "account": st.sampled_from([None, None, 0, 1]),
        "score": st.integers(0, 100),
        "owned": st.sampled_from([None, None, None, None, 0, 2]),
        "status": st.sampled_from(["new", "new", "new", "working", "nurture"]),
    }
)
scenarios = st.fixed_dictionaries(
    {
        "reps": st.lists(rep_spec, min_size=5, max_size=5),
        "pools": st.lists(pool_spec, min_size=2, max_size=2),
        "rules": st.lists(rule_spec, min_size=1, max_size=4),
        "fallback": st.sampled_from(["none", "pool", "queue"]),
        "leads": st.lists(lead_spec, min_size=2, max_size=14),
        "chunk": st.sampled_from([2, 3, 5, 100]),
        "budget_ms": st.sampled_from([0, 100_000]),  # 0: every chunk commits after its first lead
        "earlier": st.lists(st.tuples(st.integers(0, 1), st.integers(0, 4)), max_size=4),
    }
)


def build(scenario):
    """Reps, accounts, pools, rules, the router and the scenario's leads synced (their events pending)."""
    owner = UserFactory()
    Queue.objects.get_or_create(name="RevOps")
    Queue.objects.get_or_create(name="Inbound review")
    reps = [
        RepFactory(
            name=f"Rep {i}",
            is_active=spec["active"],
            out_of_office_until=NOW + dt.timedelta(days=2) if spec["away"] else None,
            time_zone="UTC",
        )
        for i, spec in enumerate(scenario["reps"])
    ]
    accounts = [
        AccountFactory(name=f"Bulkco {i}", domain=f"bulkco{i}.test", owner=reps[i + 1], customer_status="customer")
        for i in range(2)
    ]
    from tests.factories import OpportunityFactory

    OpportunityFactory(account=accounts[1], owner=reps[3], stage="proposal", amount=1000)
    pools = []
    for n, spec in enumerate(scenario["pools"]):
        pool = Pool.objects.create(
            name=f"Pool {n}", strategy=spec["strategy"], max_per_day=spec["per_day"], max_open_leads=spec["open"]
        )
        seen = set()
        for position, (rep, weight) in enumerate(spec["members"]):
            if rep not in seen:
                seen.add(rep)
                PoolMember.objects.create(pool=pool, rep=reps[rep], weight=weight, position=position)
        pools.append(pool)
    for pool_n, rep_n in scenario["earlier"]:  # counters from earlier leads: some members are newcomers
        PoolCounter.objects.update_or_create(pool=pools[pool_n], rep=reps[rep_n], defaults={"assigned": 3})
    for priority, spec in enumerate(scenario["rules"]):
        fields = {}
        if spec["target"] == "pool":
            fields["target_pool"] = pools[spec["pool"]]
        elif spec["target"] == "rep":
            fields["target_rep"] = reps[spec["rep"]]
        elif spec["target"] == "queue":
            fields["target_queue"] = "Inbound review"
        RoutingRule.objects.create(
            name=f"Rule {priority}",
            priority=priority * 10,
            status="shadow" if spec["shadow"] else "live",
            target_type=spec["target"],
            when_unavailable="assign_anyway" if spec["anyway"] else "next_rule",
            conditions={"all": [{"field": "lead.country", "op": "in", "value": spec["countries"]}]},
            **fields,
        )
    SlaPolicy.objects.create(
        name="Hot",
        priority=10,
        target_minutes=5,
        conditions={"all": [{"field": "lead.score", "op": "gte", "value": 70}]},
    )
    SlaPolicy.objects.create(name="Default", priority=100, target_minutes=1440)
    fallback = {
        "none": {"type": "none"},
        "pool": {"type": "pool", "pool": "Pool 1"},
        "queue": {"type": "queue", "queue": "Inbound review"},
    }[scenario["fallback"]]
    routing_automation({"fallback": fallback, "review_unmatched": True}, owner=owner)
    token = ApiToken.objects.filter(name="crm").first() or api_token_create(name="crm", scopes=["sync:write"])[0]
    records = []
    for n, spec in enumerate(scenario["leads"]):
        domain = f"bulkco{spec['account']}.test" if spec["account"] is not None else f"prospect{n}.test"
        records.append(
            {
                "external_id": f"BL-{n:03d}",
                "source_updated_at": "2026-11-24T14:00:00Z",
                "email": f"buyer{n}@{domain}",
                "company": f"Bulkco {spec['account']}" if spec["account"] is not None else f"Prospect {n}",
                "country": spec["country"],
                "score": spec["score"],
                "status": spec["status"],
                **({"owner": reps[spec["owned"]].external_id} if spec["owned"] is not None else {}),
            }
        )
    sync_batch_apply(object_name="leads", records=records, actor=token.user, token=token)


def snapshot() -> dict:
    """Everything the two drivers must agree on, by external ids and names (never by row ids)."""
    from routing.models import SlaClock

    def ext(rep):
        return rep.external_id if rep is not None else None

    decisions = {}
    for d in RoutingDecision.objects.select_related("lead", "owner", "pool", "matched_account"):
        explanation = dict(d.explanation)
        explanation.pop("latency_ms", None)
        decisions[d.lead.external_id] = (
            d.outcome,
            d.rule_name,
            d.target_type,
            getattr(d.pool, "name", None),
            ext(d.owner),
            d.match_status,
            getattr(d.matched_account, "external_id", None),
            d.summary,
            explanation,
            d.decided_at,
        )
    leads = {
        lead.external_id: (ext(lead.owner), getattr(lead.matched_account, "external_id", None))
        for lead in Lead.objects.select_related("owner", "matched_account")
    }
    counters = sorted(
        (c.pool.name, c.rep.external_id, c.assigned) for c in PoolCounter.objects.select_related("pool", "rep")
    )
    rotation = sorted((p.name, ext(p.last_rep)) for p in Pool.objects.select_related("last_rep"))
    # Who waited longest breaks least-loaded ties: the order of the last assignments must match too.
    recency = (
        sorted(
            (
                c.pool.name,
                [
                    x.rep.external_id
                    for x in PoolCounter.objects.filter(pool=c.pool).order_by("last_assigned_at", "rep_id")
                ],
            )
            for c in PoolCounter.objects.select_related("pool").distinct("pool")
        )
        if connection.vendor == "postgresql"
        else []
    )
    clocks = sorted(
        (
            c.lead.external_id,
            ext(c.owner),
            c.policy,
            c.due_at,
            c.status,
            c.decision.lead.external_id if c.decision else None,
        )
        for c in SlaClock.objects.select_related("lead", "owner", "decision__lead")
    )
    items = sorted(
        (
            i.kind,
            i.dedupe_key.split(":")[0],
            i.external_id,
            i.title,
            i.status,
            i.severity,
            getattr(i.owner, "username", None),
        )
        for i in ExceptionItem.objects.select_related("owner")
    )
    runs = sorted(
        (
            r.external_id,
            r.outcome,
            r.summary,
            r.expected_next,
            [(a["type"], a["status"], a.get("note")) for a in r.actions_applied],
            r.applied.count(),
        )
        for r in AutomationRun.objects.filter(automation__name="Lead routing")
    )
    feed = sorted(
        (e.kind, e.external_id, sorted(e.payload.items())) for e in ChangeEntry.objects.filter(object_type="lead")
    )
    return {
        "decisions": decisions,
        "leads": leads,
        "counters": counters,
        "rotation": rotation,
        "recency": recency,
        "clocks": clocks,
        "items": items,
        "runs": runs,
        "feed": feed,
    }


def _difference(got, expected):
    """Where two snapshots part (for the assertion's message)."""
    if isinstance(got, dict) and isinstance(expected, dict):
        keys = sorted(set(got) | set(expected), key=str)
        return {k: _difference(got.get(k), expected.get(k)) for k in keys if got.get(k) != expected.get(k)}
    if isinstance(got, list | tuple) and isinstance(expected, list | tuple) and len(got) == len(expected):
        return {i: _difference(a, b) for i, (a, b) in enumerate(zip(got, expected, strict=True)) if a != b}
    return (got, expected)


@settings(
    max_examples=int(os.environ.get("BULK_EXAMPLES", "25")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(scenario=scenarios)
def test_bulk_and_one_lead_drivers_route_identically(scenario):
    start = transaction.savepoint()
    try:
        fresh_caches()
        build(scenario)
        ids = list(
            OutboxEvent.objects.filter(status="pending", object_type="lead").order_by("pk").values_list("pk", flat=True)
        )
        assert len(ids) == len(scenario["leads"])

        one = transaction.savepoint()
        fresh_caches()
        for pk in ids:  # one event per call: the one-run path, a transaction per lead
            engine_process_events(event_ids=[pk], now=NOW)
        expected = snapshot()
        transaction.savepoint_rollback(one)

        fresh_caches()
        with (
            override_settings(ENGINE_BATCH_SIZE=scenario["chunk"], ENGINE_BATCH_MS=scenario["budget_ms"]),
            mock.patch.object(bulk, "run_batch", wraps=bulk.run_batch) as driver,
            mock.patch.object(pipeline.logger, "exception") as chunk_failed,
        ):
            engine_process_events(event_ids=ids, now=NOW)
        chunks = -(-len(ids) // max(scenario["chunk"], 2))
        assert driver.call_count == (len(ids) if scenario["budget_ms"] == 0 else chunks)  # the bulk driver routed
        assert chunk_failed.call_count == 0  # and no chunk fell back to the one-run path
        got = snapshot()
        assert OutboxEvent.objects.filter(pk__in=ids, status="pending").count() == 0
        for key in expected:
            assert got[key] == expected[key], (key, _difference(got[key], expected[key]))
    finally:
        transaction.savepoint_rollback(start)


ROOT = Path(__file__).resolve().parents[2]
WORKER = """
import django
django.setup()
import django_rq
from rq import SimpleWorker
SimpleWorker([django_rq.get_queue("default"), django_rq.get_queue("low")], connection=django_rq.get_connection("low")).work(burst=True)
"""


def _database_url() -> str:
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_chunk_leaves_every_lead_with_exactly_one_decision(redis_conn, run_worker):
    from django.conf import settings as django_settings

    from revops.outbox import outbox_sweep

    if connection.vendor != "postgresql":
        pytest.skip("a second process shares the test database on PostgreSQL only")
    pool = pool_of("Everyone", [RepFactory(time_zone="UTC") for _ in range(3)], strategy="round_robin")
    RoutingRule.objects.create(name="All", priority=10, status="live", target_type="pool", target_pool=pool)
    routing_automation({"fallback": {"type": "none"}})
    leads = 400  # more than OUTBOX_HOT_MAX_EVENTS: bulk work, on the low lane in jobs of 200
    token = api_token_create(name="crm", scopes=["sync:write"])[0]
    records = [
        {"external_id": f"K{i:04d}", "source_updated_at": "2026-11-24T10:00:00Z", "email": f"k{i}@gmail.com"}
        for i in range(leads)
    ]
    sync_batch_apply(object_name="leads", records=records, actor=token.user, token=token)  # commits: enqueued

    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "REDIS_URL": django_settings.REDIS_URL,
        "DJANGO_SETTINGS_MODULE": "revops.settings",
        "PYTHONPATH": str(ROOT),
        "ENGINE_BATCH_SIZE": "10",
        "ENGINE_BATCH_MS": "100000",  # whole chunks of 10, so the count below shows the killed one rolled back
    }
    worker = subprocess.Popen(
        [sys.executable, "-c", WORKER], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 60
        while RoutingDecision.objects.count() < 10:
            assert worker.poll() is None, "the worker exited before it could be killed"
            assert time.monotonic() < deadline, "the worker never got going"
            time.sleep(0.01)
        os.kill(worker.pid, signal.SIGKILL)  # it goes straight on with the next chunk of 10
        worker.wait(timeout=10)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    decided = RoutingDecision.objects.count()
    assert 10 <= decided < leads and decided % 10 == 0  # whole chunks only: the killed one rolled back

    run_worker("default", "low")  # another worker takes the batch's other job; the killed one's events wait
    assert RoutingDecision.objects.count() < leads
    deadline = time.monotonic() + 10
    while not outbox_sweep(grace=0, stuck_after_minutes=0):
        assert time.monotonic() < deadline, "the sweeper never re-enqueued the batch"
        time.sleep(0.2)
    run_worker("default", "low")

    assert RoutingDecision.objects.count() == leads
    assert Lead.objects.filter(owner__isnull=True).count() == 0
    assert sorted(Counter(RoutingDecision.objects.values_list("lead_id", flat=True)).values()) == [1] * leads
    assert set(OutboxEvent.objects.values_list("status", flat=True)) == {"processed"}
    assert AutomationRun.objects.filter(outcome="fired").count() == leads
    assert SlaClock.objects.count() == 0  # no policy: no clock
    assert ChangeEntry.objects.filter(kind="owner_assigned").count() == leads
    counts = sorted(PoolCounter.objects.filter(pool=pool).values_list("assigned", flat=True))
    assert sum(counts) == leads and counts[-1] - counts[0] <= 1  # round robin, nothing counted twice
