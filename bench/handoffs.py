"""Handoff benchmark: what the readiness checklists cost at ingest, and how fast handoffs re-evaluate.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/anything python bench/handoffs.py [--deals 1000] [--handoffs 20000]

Creates (and finally drops) its own database ``revops_handoffs_bench``. With one active checklist
(five required fields, one conditional), it measures in-process, through the real sync service:

* a sync batch of ``--deals`` deals in an open stage (the baseline) against a batch of as many Won
  deals lacking their handoff context (each gets a handoff waiting for context and one item):
  the bar is a ratio of at most 1.5;
* re-evaluating ``--handoffs`` open handoffs after a bulk update of their deals that makes one more
  field due on every one (``handoffs_evaluate`` in chunks of 1,000, as a worker would), and again
  after an update that changes nothing they need: the bar is ≥ 5,000 handoffs/s.

Prints one JSON document.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
DB_NAME = "revops_handoffs_bench"
CHUNK = 1000


def database_urls() -> tuple[str, str]:
    parsed = urlparse(os.environ.get("DATABASE_URL", ""))
    if parsed.scheme not in {"postgres", "postgresql", "pgsql"}:
        sys.exit("bench/handoffs.py needs DATABASE_URL pointing at a PostgreSQL server (postgres://…)")
    admin = urlunparse(parsed._replace(scheme="postgresql", path="/postgres"))
    return admin, urlunparse(parsed._replace(scheme="postgres", path=f"/{DB_NAME}"))


def recreate(admin_url: str, *, drop_only: bool = False) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        if not drop_only:
            conn.execute(f'CREATE DATABASE "{DB_NAME}"')


def deal(n: int, *, stage: str, at: str = "2026-03-01T10:00:00Z", **fields) -> dict:
    return {
        "external_id": f"BO{n:07d}",
        "name": f"Company {n} - Platform",
        "stage": stage,
        "owner": "R-BENCH",
        "amount": str(20000 + (n % 9) * 10000),
        "close_date": "2026-03-01",
        "source_updated_at": at,
        **fields,
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deals", type=int, default=1000)
    parser.add_argument("--handoffs", type=int, default=20000)
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--profile", action="store_true", help="print the re-evaluation's top functions to stderr")
    args = parser.parse_args(argv)
    admin_url, bench_url = database_urls()
    recreate(admin_url)
    os.environ.update(DATABASE_URL=bench_url, DJANGO_SETTINGS_MODULE="revops.settings", DEBUG="1", LOG_LEVEL="WARNING")
    sys.path.insert(0, str(ROOT))
    try:
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        return run(args)
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep_db:
            recreate(admin_url, drop_only=True)


def run(args) -> int:
    from django.contrib.auth import get_user_model

    from exceptions.models import ExceptionItem, Queue
    from handoffs.models import Checklist, Handoff
    from handoffs.services import checklist_save, handoffs_evaluate
    from revops.models import Opportunity, Rep, Team
    from revops.sync import sync_batch_apply

    user = get_user_model().objects.create(username="bench", is_staff=True, is_superuser=True)
    team = Team.objects.create(external_id="T-BENCH", name="Bench sales")
    Queue.objects.create(name="Bench triage", team=team)
    Rep.objects.create(external_id="R-BENCH", name="Bench Rep", email="rep@bench.test", team=team)
    checklist_save(
        checklist=Checklist(
            name="Sales → Onboarding",
            required_fields=[
                {"field": "contract_start_date"},
                {"field": "products_purchased"},
                {"field": "use_case"},
                {"field": "executive_sponsor"},
                {
                    "field": "billing_contact",
                    "when": {"all": [{"field": "opportunity.amount", "op": "gte", "value": 50000}]},
                },
            ],
            tasks=[{"title": "Onboarding kickoff", "due_in_days": 3}],
        ),
        actor=user,
    )

    def timed_sync(records) -> float:
        started = time.perf_counter()
        outcome = sync_batch_apply(object_name="opportunities", records=records, actor=user)
        elapsed = time.perf_counter() - started
        assert not outcome.counts.get("rejected"), outcome.counts
        return elapsed

    n = args.deals
    timed_sync([deal(i, stage="negotiation") for i in range(n)])  # warm-up (compiles validators, caches)
    baseline = timed_sync([deal(i, stage="negotiation") for i in range(n, 2 * n)])
    won = timed_sync([deal(i, stage="closed_won") for i in range(2 * n, 3 * n)])
    waiting = Handoff.objects.filter(status="waiting").count()
    items = ExceptionItem.objects.filter(kind="handoff_incomplete").count()

    # Re-evaluation: open handoffs on Won deals, then a bulk CRM update of those deals.
    owner = Rep.objects.get(external_id="R-BENCH")
    total = args.handoffs
    deals = Opportunity.objects.bulk_create(
        Opportunity(external_id=f"BX{i:07d}", name=f"Deal {i}", stage="closed_won", owner=owner, amount=30000)
        for i in range(total)
    )
    ids = [d.pk for d in deals]
    for offset in range(0, total, CHUNK):  # the handoffs, waiting for context, with their items
        handoffs_evaluate(opportunity_ids=ids[offset : offset + CHUNK], actor=user, cause="bench setup")
    Opportunity.objects.filter(pk__in=ids).update(amount=60000)  # the bulk CRM update: billing contact now due
    profiler = None
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    started = time.perf_counter()
    for offset in range(0, total, CHUNK):
        handoffs_evaluate(opportunity_ids=ids[offset : offset + CHUNK], actor=user, cause="bench re-evaluation")
    reevaluate = time.perf_counter() - started
    Opportunity.objects.filter(pk__in=ids).update(next_step="Kickoff")  # an update no checklist reads
    started = time.perf_counter()
    for offset in range(0, total, CHUNK):
        handoffs_evaluate(opportunity_ids=ids[offset : offset + CHUNK], actor=user, cause="bench re-evaluation")
    unchanged = time.perf_counter() - started
    if profiler is not None:
        import pstats

        profiler.disable()
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(25)
    rate = total / reevaluate if reevaluate else None

    print(
        json.dumps(
            {
                "deals_per_batch": n,
                "batch_open_stage_seconds": round(baseline, 3),
                "batch_won_missing_context_seconds": round(won, 3),
                "won_over_open_ratio": round(won / baseline, 2) if baseline else None,
                "won_over_open_bar": 1.5,
                "handoffs_waiting_after_won_batch": waiting,
                "handoff_items_after_won_batch": items,
                "reevaluated_handoffs": total,  # one more field due on each
                "reevaluate_seconds": round(reevaluate, 2),
                "reevaluate_handoffs_per_second": round(rate, 1) if rate else None,
                "reevaluate_unchanged_seconds": round(unchanged, 2),
                "reevaluate_unchanged_handoffs_per_second": round(total / unchanged, 1) if unchanged else None,
                "reevaluate_bar_per_second": 5000,
                "note": "in-process, one connection, idle queue (no workers running)",
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
