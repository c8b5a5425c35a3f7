"""Exception triage benchmark: the triage changelist over 1,000,000 items, and next-item claiming.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/anything python bench/triage.py [--items 1000000]

Creates (and finally drops, unless ``--keep-db``) its own database ``revops_triage_bench`` on that
server, migrates it, and COPYs ``--items`` exception items spread over 20 queues (85 % closed,
the rest open / in progress / snoozed / escalated, due times spread over ±30 days, some without
one). Then, with production settings (``DEBUG=0``):

* ``changelist``: the triage view ``/admin/exceptions/exceptionitem/`` as a manager of 2 of the 20
  queues (Django test client, logged in), ``--requests`` times after a warm-up → p50/p95 ms; also
  as a superuser who sees every queue, and the manager's "overdue" filter;
* ``baseline``: in the same run, a logged-in admin page with no model queries
  (``/admin/password_change/``) and the changelist's main SQL query run raw (cursor), so the
  page's cost can be read as a ratio;
* ``claiming``: ``--claimers`` processes call ``exception_next_item`` in a loop for ``--seconds``
  → claims/s, and double claims (an item returned to two claimers, or whose owner is not the
  claimer who got it) — must be 0; ``claiming_busy``: the same while another process syncs leads
  into the same database (``bench/busy.py``), with that load's leads/s.

Prints one JSON document.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from busy import busy_queue  # noqa: E402
from support import database_urls, recreate, setup_django  # noqa: E402

DB_NAME = "revops_triage_bench"
QUEUES = 20
MANAGER_QUEUES = 2
KINDS = [
    "no_routing_match",
    "account_match",
    "missing_data",
    "sync_rejected",
    "automation_failed",
    "approval_required",
    "sla_breach",
    "handoff_incomplete",
    "hygiene_alert",
]
STATUS_WEIGHTS = [
    ("resolved", 70),
    ("dismissed", 15),
    ("open", 10),
    ("in_progress", 3),
    ("snoozed", 1),
    ("escalated", 1),
]


def populate(n: int) -> dict:
    """Users, queues and ``n`` items (COPY); returns ids and timings."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.utils import timezone

    from exceptions import roles
    from exceptions.models import Queue

    User = get_user_model()
    manager = User.objects.create_user("bench.manager", password="x", is_staff=True)
    roles.assign_role(manager, roles.MANAGER)
    admin = User.objects.create_superuser("bench.admin", "admin@example.com", "x")
    claimers = [User.objects.create_user(f"bench.claimer{i}", is_staff=True) for i in range(8)]
    queues = [
        Queue.objects.create(name=f"Queue {i:02d}", manager=manager if i < MANAGER_QUEUES else admin)
        for i in range(QUEUES)
    ]
    queue_ids = [q.pk for q in queues]
    rng = random.Random(5)
    statuses = [s for s, w in STATUS_WEIGHTS for _ in range(w)]
    now = timezone.now()
    started = time.perf_counter()
    columns = [
        "kind",
        "title",
        "reason",
        "expected_action",
        "severity",
        "status",
        "owner_id",
        "queue_name",
        "queue_id",
        "escalation_level",
        "object_type",
        "object_id",
        "external_id",
        "dedupe_key",
        "occurrences",
        "first_seen_at",
        "last_seen_at",
        "due_at",
        "proposal",
        "decision",
        "resolution_code",
        "resolution_note",
        "claimed_at",
    ]
    with connection.cursor() as cursor:
        raw = cursor.connection
        with raw.cursor() as cur:
            with cur.copy(f"COPY exceptions_exceptionitem ({', '.join(columns)}) FROM STDIN") as copy:
                for i in range(n):
                    status = statuses[rng.randrange(100)]
                    q = queue_ids[rng.randrange(QUEUES)]
                    seen = now - _dt(rng.uniform(0, 60 * 24 * 3600))
                    due = None if rng.random() < 0.05 else seen + _dt(rng.uniform(3600, 6 * 24 * 3600))
                    claimed = None if status == "open" else seen
                    copy.write_row(
                        (
                            KINDS[i % len(KINDS)],
                            f"Lead L{i:07d} needs a look",
                            "Matched no routing rule (country US, no employee count).",
                            "Pick the owner by hand.",
                            ("low", "medium", "high", "critical")[i % 4],
                            status,
                            None if status == "open" else claimers[i % len(claimers)].pk,
                            "",
                            q,
                            0,
                            "lead",
                            i + 1,
                            f"L{i:07d}",
                            f"bench:{i}",
                            1,
                            seen,
                            seen,
                            due,
                            "{}",
                            "",
                            "",
                            "",
                            claimed,
                        )
                    )
    with connection.cursor() as cursor:  # what autovacuum does soon after a big load
        cursor.execute("VACUUM ANALYZE exceptions_exceptionitem")
    return {
        "manager": manager,
        "admin": admin,
        "claimers": claimers,
        "queue_ids": queue_ids,
        "manager_queue_ids": queue_ids[:MANAGER_QUEUES],
        "copy_seconds": round(time.perf_counter() - started, 1),
    }


def _dt(seconds: float):
    import datetime as dt

    return dt.timedelta(seconds=seconds)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return round(ordered[k], 2)


def all_visible_share() -> float:
    """The share of the items table's pages PostgreSQL knows all-visible (its visibility map, which
    VACUUM keeps): index-only scans skip the table only on those pages."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relallvisible::float / GREATEST(relpages, 1) FROM pg_class WHERE relname = 'exceptions_exceptionitem'"
        )
        return round(cursor.fetchone()[0], 3)


def time_get(client, path: str, n: int) -> dict:
    for _ in range(3):  # warm-up
        assert client.get(path).status_code == 200, path
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        response = client.get(path)
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (path, response.status_code)
    return {
        "path": path,
        "n": n,
        "p50_ms": percentile(samples, 50),
        "p95_ms": percentile(samples, 95),
        "max_ms": round(max(samples), 2),
    }


def _queue_counts_for(user):
    from exceptions.admin.helpers import _queue_counts  # the page's grouped count, without its cache
    from exceptions.selectors import visible_queues

    return _queue_counts(list(visible_queues(user=user).order_by("name").values("pk", "name")))


def time_call(fn, n: int, note: str) -> dict:
    fn()
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return {"what": note, "n": n, "p50_ms": percentile(samples, 50), "p95_ms": percentile(samples, 95)}


def main_query_raw(client, n: int) -> dict:
    """The changelist's main query (for the open view, the first tier's page of ids, which fills the
    page when that tier holds 50 items; its rows are then read by id), as SQL captured from a request,
    run raw."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        client.get("/admin/exceptions/exceptionitem/")
    sql = next(
        q["sql"]
        for q in ctx.captured_queries
        if q["sql"].startswith("SELECT")
        and "COUNT(" not in q["sql"].upper()
        and "ORDER BY" in q["sql"]
        and "LIMIT" in q["sql"]
    )
    samples = []
    with connection.cursor() as cursor:
        for _ in range(n):
            started = time.perf_counter()
            cursor.execute(sql)
            cursor.fetchall()
            samples.append((time.perf_counter() - started) * 1000)
        cursor.execute("EXPLAIN " + sql)
        plan = [row[0] for row in cursor.fetchall()]
    return {
        "queries_per_page": len(ctx.captured_queries),
        "p50_ms": percentile(samples, 50),
        "p95_ms": percentile(samples, 95),
        "plan": plan[:8],
    }


def claimer(index: int, user_id: int, queue_ids: list[int], seconds: float, start_at: float, out) -> None:
    from django.contrib.auth import get_user_model
    from django.db import connections

    from exceptions.services import exception_next_item

    connections.close_all()
    user = get_user_model().objects.get(pk=user_id)
    got = []
    while time.time() < start_at:
        time.sleep(0.001)
    deadline = start_at + seconds
    while time.time() < deadline:
        item = exception_next_item(actor=user, queues=queue_ids)
        if item is None:
            break
        got.append(item.pk)
    out.put((index, user_id, got))
    connections.close_all()


def claiming(setup: dict, workers: int, seconds: float) -> dict:
    from django.db import connections

    from exceptions.models import ExceptionItem

    connections.close_all()  # never share a connection with the forked claimers
    ctx = mp.get_context("fork")
    out = ctx.Queue()
    start_at = time.time() + 1.0
    procs = [
        ctx.Process(
            target=claimer, args=(i, setup["claimers"][i].pk, setup["queue_ids"], seconds, start_at, out), daemon=True
        )
        for i in range(workers)
    ]
    for p in procs:
        p.start()
    results = [out.get(timeout=seconds + 120) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    all_ids = [pk for _i, _u, got in results for pk in got]
    dupes = len(all_ids) - len(set(all_ids))
    owners = dict(ExceptionItem.objects.filter(pk__in=all_ids).values_list("pk", "owner_id"))
    wrong_owner = sum(1 for _i, user_id, got in results for pk in got if owners.get(pk) != user_id)
    total = len(all_ids)
    return {
        "claimers": workers,
        "seconds": seconds,
        "claims": total,
        "claims_per_s": round(total / seconds, 1),
        "per_claimer": [len(got) for _i, _u, got in sorted(results)],
        "double_claims": dupes,
        "owner_mismatch": wrong_owner,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--claimers", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--keep-db", action="store_true", help=f"leave {DB_NAME} in place afterwards")
    args = parser.parse_args()

    admin_url, bench_url = database_urls(DB_NAME, "bench/triage.py")
    recreate(admin_url, DB_NAME)
    try:
        setup_django(bench_url)
        from django.core.management import call_command

        started = time.perf_counter()
        call_command("migrate", verbosity=0, interactive=False)
        migrate_seconds = round(time.perf_counter() - started, 1)
        setup = populate(args.items)
        from django.test import Client

        manager = Client()
        manager.force_login(setup["manager"])
        admin = Client()
        admin.force_login(setup["admin"])
        changelist = "/admin/exceptions/exceptionitem/"
        result = {
            "benchmark": "exception triage changelist and next-item claiming",
            "items": args.items,
            "queues": QUEUES,
            "manager_queues": MANAGER_QUEUES,
            "setup": {
                "migrate_s": migrate_seconds,
                "copy_items_s": setup["copy_seconds"],
                "all_visible_pages": all_visible_share(),
            },
            "changelist_manager_default": time_get(manager, changelist, args.requests),
            "changelist_manager_overdue": time_get(manager, changelist + "?state=overdue", args.requests),
            "changelist_superuser_all_queues": time_get(admin, changelist, args.requests),
            "baseline_admin_page_no_queries": time_get(manager, "/admin/password_change/", args.requests),
            "baseline_main_query_raw": main_query_raw(manager, args.requests),
            "queue_counts_uncached": time_call(
                lambda: _queue_counts_for(setup["manager"]), args.requests, "manager's queues (cached 30 s in the page)"
            ),
            "queue_counts_uncached_superuser": time_call(
                lambda: _queue_counts_for(setup["admin"]), max(5, args.requests // 5), "every queue"
            ),
        }
        page = result["changelist_manager_default"]["p95_ms"]
        result["ratio_p95_page_to_empty_admin_page"] = round(
            page / max(result["baseline_admin_page_no_queries"]["p95_ms"], 0.01), 2
        )
        result["bar_p95_ms"] = 200
        result["bar_met_changelist"] = (
            max(result["changelist_manager_default"]["p95_ms"], result["changelist_superuser_all_queues"]["p95_ms"])
            <= 200
        )
        result["claiming"] = claiming(setup, args.claimers, args.seconds)
        result["bar_met_claiming"] = (
            result["claiming"]["claims_per_s"] >= 1000
            and result["claiming"]["double_claims"] == 0
            and result["claiming"]["owner_mismatch"] == 0
        )
        # The same claimers while another process syncs leads into the same database (bench/busy.py).
        load: dict = {}
        with busy_queue(bench_url, load):
            result["claiming_busy"] = claiming(setup, args.claimers, args.seconds)
        result["claiming_busy"]["load_leads_per_second"] = load.get("load_leads_per_second")
        result["bar_met_claiming_busy"] = (
            result["claiming_busy"]["claims_per_s"] >= 1000
            and result["claiming_busy"]["double_claims"] == 0
            and result["claiming_busy"]["owner_mismatch"] == 0
        )
        print(json.dumps(result, indent=2, default=str))
    finally:
        try:
            from django.db import connections

            connections.close_all()
        except Exception:
            pass
        if not args.keep_db:
            recreate(admin_url, DB_NAME, drop_only=True)


if __name__ == "__main__":
    main()
