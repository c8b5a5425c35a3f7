"""Routing benchmark: speed-to-route, backfill throughput and backtest time, on PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379/0 \
        .venv/bin/python bench/routing.py      # --leads 400 --rate 20 --backfill 100000 --backtest 100000

Uses its own database ``revops_bench`` (dropped at the end unless ``--keep-db``) and Redis db 4.
Seeds 40 reps in 4 teams, 20,000 accounts (named, customers with open deals, subsidiaries), the
default rule precedence (named → deal owner → region pools → fallback) and SLA policies, then:

1. **speed-to-route**: starts gunicorn (``2 × cores + 1`` workers, as docs/deployment.md), 2 hot RQ
   workers and one on ``default low`` at ``nice 10`` (as the Procfile does), POSTs one lead per request at a steady ``--rate`` per second, and measures from
   the start of each POST to the moment the lead's owner is visible committed in the database
   (a trigger in the bench database NOTIFYs at commit; nothing polls). Baseline in the same run: the POST's own round trip (what the CRM
   already pays to hand the lead over).
2. **backfill**: ``--backfill`` leads synced in batches of 1,000 (in-process ``sync_batch_apply``,
   so the import itself is not what is measured), routed on the bulk lane (``low``: a batch of more
   than 100 events is bulk work) by the ``default low`` worker; leads routed per
   second from the first batch's commit until every lead has a decision. Each RQ worker's resident
   memory (and its job process's, for the forking bulk worker) is sampled during the busy phase and
   the backfill (``worker_memory``; bar ≤ 150 MB).
3. **backtest**: ``routing.backtest.backtest`` over the last 30 days with a draft rule added, on
   ``--backtest`` historical leads; baseline: loading the same leads alone.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import secrets
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest import ROOT, database_urls, manage, post, recreate_database, redis_url  # noqa: E402
from support import RssSampler, start_web  # noqa: E402

REGIONS = {"NA": ["US", "CA"], "EMEA": ["GB", "DE", "FR"], "APAC": ["AU", "JP"]}


def pct(values, p):
    values = sorted(values)
    if not values:
        return None
    k = (len(values) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return round(values[lo] + (values[hi] - values[lo]) * (k - lo), 1)


def summary(values):
    return {
        "n": len(values),
        "p50_ms": pct(values, 50),
        "p95_ms": pct(values, 95),
        "p99_ms": pct(values, 99),
        "max_ms": round(max(values), 1) if values else None,
    }


OWNER_TRIGGER = """
CREATE FUNCTION bench_owner_committed() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('owner_committed', NEW.external_id);
    RETURN NEW;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER bench_owner_committed AFTER UPDATE OF owner_id ON revops_lead
    FOR EACH ROW WHEN (OLD.owner_id IS NULL AND NEW.owner_id IS NOT NULL) EXECUTE FUNCTION bench_owner_committed();
"""


def seed(accounts: int) -> None:
    """Reps, teams, accounts, opportunities, pools, rules, SLA policies and the live routing automation."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from exceptions.models import Queue
    from revops.engine.services import automation_create
    from revops.models import Account, Opportunity, Rep, Team
    from routing.models import Pool, PoolMember, RoutingRule, SlaPolicy

    with connection.cursor() as cursor:
        cursor.execute(OWNER_TRIGGER)  # the bench's own measuring point, not part of the portal
    teams = {}
    for region in REGIONS:
        teams[region] = Team.objects.create(external_id=f"T-{region}", name=f"{region} SMB", region=region)
    teams["ENT"] = Team.objects.create(external_id="T-ENT", name="Enterprise")
    reps = []
    for i in range(40):
        team = list(teams.values())[i % 4]
        reps.append(
            Rep(
                external_id=f"R-{i:03d}",
                name=f"Rep {i}",
                email=f"rep{i}@seller.test",
                title="Account Executive",
                team=team,
                time_zone="UTC",
            )
        )
    Rep.objects.bulk_create(reps)
    reps = list(Rep.objects.order_by("pk"))
    rows = []
    for i in range(accounts):
        rows.append(
            Account(
                external_id=f"A-{i:06d}",
                name=f"Account {i} {'Holdings' if i % 7 == 0 else 'Labs'}",
                domain=f"account{i}.test",
                owner=reps[i % 40],
                is_named=i % 50 == 0,
                customer_status="customer" if i % 10 == 1 else "prospect",
                employees=(i % 300) * 20,
                country=["US", "GB", "AU", "DE"][i % 4],
            )
        )
    Account.objects.bulk_create(rows, batch_size=5000)
    opps = [
        Opportunity(external_id=f"O-{a.pk}", name="Deal", account=a, owner=reps[(a.pk + 3) % 40], stage="proposal")
        for a in Account.objects.filter(customer_status="customer")
    ]
    Opportunity.objects.bulk_create(opps, batch_size=5000)
    pools = {}
    for region in REGIONS:
        pool = Pool.objects.create(name=f"{region} inbound", strategy="weighted", max_open_leads=100_000)
        PoolMember.objects.create(pool=pool, team=teams[region], role="Account Executive")
        pools[region] = pool
    overflow = Pool.objects.create(name="Overflow", strategy="least_loaded")
    PoolMember.objects.create(pool=overflow, team=teams["ENT"])
    RoutingRule.objects.create(
        name="Named accounts",
        priority=10,
        status="live",
        target_type="account_owner",
        conditions={"all": [{"field": "lead.matched_account.is_named", "op": "eq", "value": True}]},
    )
    RoutingRule.objects.create(
        name="Customers: deal owner",
        priority=20,
        status="live",
        target_type="opportunity_owner",
        conditions={"all": [{"field": "lead.matched_account.customer_status", "op": "eq", "value": "customer"}]},
    )
    for i, (region, countries) in enumerate(REGIONS.items()):
        RoutingRule.objects.create(
            name=f"{region} territory",
            priority=30 + i,
            status="live",
            target_type="pool",
            target_pool=pools[region],
            conditions={"all": [{"field": "lead.country", "op": "in", "value": countries}]},
        )
    SlaPolicy.objects.create(
        name="Hot",
        priority=10,
        target_minutes=5,
        conditions={"all": [{"field": "lead.score", "op": "gte", "value": 80}]},
    )
    SlaPolicy.objects.create(name="Default", priority=100, target_minutes=1440)
    owner = get_user_model().objects.create(username="bench.owner", email="bench@seller.test")
    Queue.objects.get_or_create(name="RevOps")  # the automation's exception queue must exist
    automation_create(
        actor=owner,
        name="Lead routing",
        purpose="bench",
        kind="lead_routing",
        object_type="lead",
        trigger="created",
        conditions={"all": []},
        config={"fallback": {"type": "pool", "pool": "Overflow"}},
        mode="live",
        rule_owner=owner,
        failure_owner=owner,
        exception_queue="RevOps",
    )


def lead(n: int, *, at: str = "2026-11-24T10:00:00Z") -> dict:
    kind = n % 4
    if kind == 0:
        email, company = f"buyer{n}@account{(n * 7) % 20000}.test", f"Account {(n * 7) % 20000}"
    elif kind == 1:
        email, company = f"buyer{n}@gmail.com", f"Newco {n}"
    else:
        email, company = f"buyer{n}@prospect{n}.test", f"Prospect {n}"
    return {
        "external_id": f"RL{n:07d}",
        "source_updated_at": at,
        "email": email,
        "company": company,
        "country": ["US", "GB", "AU", "DE", "CA", "JP", "BR"][n % 7],
        "score": (n * 13) % 100,
        "source": "web_form",
        "status": "new",
    }


def stop(procs) -> None:
    """Stop the server and workers and wait for them: a worker left running would take the next run's jobs."""
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def jobs_per_worker(url: str) -> list[int]:
    """Jobs each live RQ worker has finished (both workers should share the load)."""
    from redis import Redis
    from rq import Worker

    return sorted(worker.successful_job_count for worker in Worker.all(connection=Redis.from_url(url)))


def start_workers(env, count: int, bulk: int = 1):
    """``count`` hot workers and ``bulk`` workers on the bulk lanes, as the Procfile starts them: a
    backfill's batches (more than ``OUTBOX_HOT_MAX_EVENTS`` events) are worked on ``low``."""
    lanes = [("hot", "revops.worker.HotWorker", 0)] * count + [("default low", "revops.worker.Worker", 10)] * bulk
    return [
        subprocess.Popen(
            ["nice", "-n", str(niceness), sys.executable, str(ROOT / "manage.py"), "rqworker", *queues.split()]
            + ["--worker-class", worker_class, "--with-scheduler"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for queues, worker_class, niceness in lanes
    ]


def speed_to_route(port: int, raw_token: str, *, leads: int, rate: float, dsn: str, first: int = 5_000_000) -> dict:
    import psycopg

    sent: dict[str, float] = {}
    acked: dict[str, float] = {}
    seen: dict[str, float] = {}
    done = threading.Event()

    def poller():
        # NOTIFY is delivered when the routing transaction commits: no polling load on the machine.
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("LISTEN owner_committed")
            ready.set()
            while not done.is_set():
                for note in conn.notifies(timeout=0.2, stop_after=1):
                    seen.setdefault(note.payload, time.perf_counter())

    ready = threading.Event()
    thread = threading.Thread(target=poller, daemon=True)
    thread.start()
    ready.wait(10)
    interval = 1.0 / rate
    start = time.perf_counter()
    for i in range(leads):
        target = start + i * interval
        delay = target - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        record = lead(first + i)
        body = json.dumps({"records": [record]}).encode()
        t0 = time.perf_counter()
        sent[record["external_id"]] = t0
        status, payload = post(port, "/api/v1/sync/leads/", body, raw_token)
        acked[record["external_id"]] = time.perf_counter()
        if status != 200:
            raise SystemExit(f"sync answered {status}: {payload}")
    deadline = time.perf_counter() + 30
    # Only these leads count: a backfill running meanwhile notifies its own owners too.
    while any(e not in seen for e in sent) and time.perf_counter() < deadline:
        time.sleep(0.01)
    done.set()
    thread.join()
    routed = [(seen[e] - sent[e]) * 1000 for e in sent if e in seen]
    posts = [(acked[e] - sent[e]) * 1000 for e in sent]
    achieved = leads / (max(sent.values()) - min(sent.values()) or 1)
    return {
        "leads": leads,
        "rate_target_per_s": rate,
        "rate_achieved_per_s": round(achieved, 1),
        "unrouted_after_30s": sum(1 for e in sent if e not in seen),
        "post_to_owner_committed": summary(routed),
        "baseline_post_round_trip": summary(posts),
    }


def bulk_load(opportunities: int, leads: int, into: dict, started: threading.Event) -> None:
    """What a nightly sync does meanwhile: ``opportunities`` deals, then a ``leads`` backfill, in
    batches of 1,000 (in this process, on its own connection); their automation work is bulk work."""
    from django.db import connection

    from revops.models import ApiToken
    from revops.sync import sync_batch_apply

    token = ApiToken.objects.get(name="bench")
    t = time.perf_counter()
    started.set()
    for first in range(0, opportunities, 1000):
        deals = [
            {
                "external_id": f"BO{n:07d}",
                "source_updated_at": "2026-11-24T10:00:00Z",
                "name": f"Deal {n}",
                "amount": 5000 + n % 90000,
                "stage": ["discovery", "solution", "proposal"][n % 3],
            }
            for n in range(first, min(opportunities, first + 1000))
        ]
        sync_batch_apply(object_name="opportunities", records=deals, actor=token.user, token=token)
    for first in range(0, leads, 1000):
        batch = [lead(7_000_000 + n) for n in range(first, min(leads, first + 1000))]
        sync_batch_apply(object_name="leads", records=batch, actor=token.user, token=token)
    into["synced_seconds"] = round(time.perf_counter() - t, 2)
    connection.close()


def backfill(count: int) -> dict:
    from django.db import connection

    from revops.models import ApiToken, Lead, OutboxEvent
    from revops.sync import sync_batch_apply
    from routing.models import RoutingDecision

    token = ApiToken.objects.get(name="bench")
    # Its own leads only (RL1…): a busy phase's backfill (RL7…) may still be routed on the same lane.
    mine = RoutingDecision.objects.filter(lead__external_id__startswith="RL1")
    waited = time.perf_counter()
    while OutboxEvent.objects.filter(status="pending").exists() and time.perf_counter() - waited < 3600:
        time.sleep(1)  # the busy phase's backlog first: a backfill's rate is measured on a free lane
    waited = time.perf_counter() - waited
    before = mine.count()
    started = None
    import_seconds = 0.0
    for start in range(0, count, 1000):
        batch = [lead(1_000_000 + n) for n in range(start, min(count, start + 1000))]
        t = time.perf_counter()
        sync_batch_apply(object_name="leads", records=batch, actor=token.user, token=token)
        import_seconds += time.perf_counter() - t
        started = started or t
    deadline = time.perf_counter() + 3600
    while time.perf_counter() < deadline:
        done = mine.count() - before
        if done >= count:
            break
        time.sleep(0.5)
    elapsed = time.perf_counter() - started
    done = mine.count() - before
    connection.close()
    return {
        "leads": count,
        "routed": done,
        "waited_for_earlier_bulk_work_s": round(waited, 1),
        "import_seconds": round(import_seconds, 2),
        "seconds_first_commit_to_all_routed": round(elapsed, 2),
        "leads_routed_per_s": round(done / elapsed, 1),
        "owners_set": Lead.objects.filter(external_id__startswith="RL1", owner__isnull=False).count(),
    }


def backtest_bench(count: int) -> dict:
    from django.utils import timezone

    from revops.models import Lead, Rep
    from routing.backtest import LEAD_COLUMNS, backtest
    from routing.models import RoutingRule

    existing = Lead.objects.count()
    missing = max(0, count - existing)
    now = timezone.now()
    if missing:
        reps = list(Rep.objects.values_list("pk", flat=True))
        rows = []
        for n in range(missing):
            data = lead(3_000_000 + n)
            data.pop("source_updated_at")
            rows.append(Lead(**data, owner_id=reps[n % len(reps)]))
        Lead.objects.bulk_create(rows, batch_size=5000)
        # spread over the last 30 days
        from django.db import connection

        with connection.cursor() as cur:
            cur.execute(
                "UPDATE revops_lead SET created_at = %s - (id %% 43200) * interval '1 minute' "
                "WHERE external_id LIKE 'RL3%%'",
                [now],
            )
    RoutingRule.objects.create(
        name="Draft: UK to one rep",
        priority=5,
        status="draft",
        target_type="rep",
        target_rep=Rep.objects.order_by("pk").first(),
        conditions={"all": [{"field": "lead.country", "op": "eq", "value": "GB"}]},
    )
    t = time.perf_counter()
    loaded = len(list(Lead.objects.filter(created_at__gte=now - dt.timedelta(days=30)).only(*LEAD_COLUMNS)))
    load_only = time.perf_counter() - t
    report = backtest(days=30, now=now + dt.timedelta(seconds=1))
    return {
        "leads": report["leads"],
        "seconds": report["seconds"],
        "baseline_load_same_leads_s": round(load_only, 3),
        "loaded_for_baseline": loaded,
        "changes": report["changes"],
        "outcomes": report["outcomes"],
        "capped_fallbacks": report["capped_fallbacks"],
        "cap_violations": len(report["cap_violations"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=400, help="leads for speed-to-route")
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=2, help="hot workers")
    parser.add_argument(
        "--bulk-workers",
        type=int,
        default=os.cpu_count() or 1,
        help="workers on default and low (the bulk lane): one per core, as docs/deployment.md",
    )
    parser.add_argument("--busy-opportunities", type=int, default=10_000, help="synced while speed-to-route runs again")
    parser.add_argument("--busy-backfill", type=int, default=10_000, help="leads backfilled meanwhile")
    parser.add_argument("--accounts", type=int, default=20_000)
    parser.add_argument("--backfill", type=int, default=100_000)
    parser.add_argument("--backtest", type=int, default=100_000)
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument(
        "--runserver", action="store_true", help="Django's runserver instead of gunicorn (a comparison)"
    )
    args = parser.parse_args()

    admin_url, bench_url = database_urls()
    env = {
        **os.environ,
        "DATABASE_URL": bench_url,
        "REDIS_URL": redis_url(),
        "SECRET_KEY": secrets.token_urlsafe(48),
        "DEBUG": "0",
        "SECURE_SSL_REDIRECT": "0",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LOG_LEVEL": "WARNING",
        "API_THROTTLE_RATE": "1000000/min",
        "PYTHONDONTWRITEBYTECODE": "1",
        "DJANGO_SETTINGS_MODULE": "revops.settings",
        "REVOPS_ENV_FILE": "/dev/null",
        "EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",
    }
    import redis

    redis.Redis.from_url(env["REDIS_URL"]).flushdb()
    recreate_database(admin_url)
    procs = []
    result = {"benchmark": "lead routing on PostgreSQL", "workers": args.workers, "bulk_workers": args.bulk_workers}
    try:
        manage(env, "migrate", "--noinput", "-v", "0")
        os.environ.update(env)
        sys.path.insert(0, str(ROOT))
        import django

        django.setup()
        from revops.tokens import api_token_create

        t = time.perf_counter()
        seed(args.accounts)
        raw_token = api_token_create(name="bench", scopes=["sync:write"])[1]
        result["seed_seconds"] = round(time.perf_counter() - t, 2)
        from django.db import connection

        connection.close()
        server, port = start_web(env, ROOT, runserver=args.runserver)
        procs.append(server)
        workers = start_workers(env, args.workers, args.bulk_workers)
        procs.extend(workers)
        names = [f"hot {n + 1}" for n in range(args.workers)] + [
            f"default low {n + 1}" for n in range(args.bulk_workers)
        ]
        # ``nice`` execs the worker: each process's pid is the worker's own.
        sampler = RssSampler({name: proc.pid for name, proc in zip(names, workers, strict=True)})
        time.sleep(3)
        # warm up: imports, compiled rules, account index in each worker
        for i in range(10):
            post(port, "/api/v1/sync/leads/", json.dumps({"records": [lead(9_000_000 + i)]}).encode(), raw_token)
        time.sleep(3)
        dsn = bench_url.replace("postgres://", "postgresql://", 1)
        result["speed_to_route"] = speed_to_route(port, raw_token, leads=args.leads, rate=args.rate, dsn=dsn)
        from routing.models import RoutingDecision

        latencies = list(
            RoutingDecision.objects.filter(lead__external_id__startswith="RL5").values_list("latency_ms", flat=True)
        )
        result["speed_to_route"]["event_to_decision_commit_in_db"] = summary(latencies)
        result["speed_to_route"]["jobs_per_worker"] = jobs_per_worker(env["REDIS_URL"])
        if args.busy_opportunities or args.busy_backfill:
            # The same new leads again while a nightly sync's work fills the bulk lane.
            load, began = {}, threading.Event()
            loader = threading.Thread(
                target=bulk_load, args=(args.busy_opportunities, args.busy_backfill, load, began), daemon=True
            )
            with sampler:
                loader.start()
                began.wait()
                time.sleep(2)
                busy = speed_to_route(port, raw_token, leads=args.leads, rate=args.rate, dsn=dsn, first=6_000_000)
                loader.join()
            from revops.models import OutboxEvent

            busy["bulk"] = {
                "opportunities": args.busy_opportunities,
                "backfill_leads": args.busy_backfill,
                **load,
                "events_still_pending_after": OutboxEvent.objects.filter(status="pending").count(),
            }
            result["speed_to_route_busy"] = busy
        if args.backfill:
            with sampler:
                result["backfill"] = backfill(args.backfill)
        result["worker_memory"] = {**sampler.report(), "bar_rss_mb": 150}
        stop(procs)
        procs = []
        if args.backtest:
            result["backtest"] = backtest_bench(args.backtest)
        connection.close()
    finally:
        stop(procs)
        if not args.keep_db:
            from django.conf import settings
            from django.db import connections

            if settings.configured:  # not yet if migrate failed
                connections.close_all()
            recreate_database(admin_url, drop_only=True)
        redis.Redis.from_url(env["REDIS_URL"]).flushdb()
    print(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
