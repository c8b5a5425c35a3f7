"""Handoff benchmark: what the readiness checklists cost at ingest, and how fast handoffs re-evaluate.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/anything python bench/handoffs.py [--deals 1000] [--handoffs 20000]

Creates (and finally drops) its own database ``revops_handoffs_bench``. With one active checklist
(five required fields, one conditional), it measures in-process, through the real sync service:

* a sync batch of ``--deals`` deals in an open stage (the baseline) against a batch of as many Won
  deals lacking their handoff context: the bar is a ratio of at most 1.5. A batch with more than
  ``HANDOFFS_INLINE_MAX`` deals to evaluate records them for the bulk lane; that evaluation (each deal
  gets a handoff waiting for context and one item) is timed on its own right after each Won batch,
  run in-process as the ``low`` lane's worker would run it;
* re-evaluating ``--handoffs`` open handoffs after a bulk update of their deals that makes one more
  field due on every one (``handoffs_evaluate`` in chunks of 1,000, as a worker would), and again
  after an update that changes nothing they need: the bar is ≥ 5,000 handoffs/s.

Then the same again with the queue busy (``busy``): a second process syncs batches of 1,000 leads
through ``sync_batch_apply`` (new leads, then the same leads changed: validation, history, outbox)
against the same database the whole time. Its throughput alone, measured first in the same run, is
the load's baseline; the busy figures are reported next to the idle ones.

Prints one JSON document. ``--profile`` prints the Won batch's and the re-evaluation's top
functions (by cumulative and by own time) to stderr; the idle figures are then profiled ones.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import sys
import time
from pathlib import Path

from busy import busy_queue  # bench/ is on sys.path: these run as scripts
from support import database_urls, profiled, recreate

ROOT = Path(__file__).resolve().parent.parent
DB_NAME = "revops_handoffs_bench"
CHUNK = 1000


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
    parser.add_argument("--repeat", type=int, default=5, help="interleaved batch pairs per figure (median)")
    parser.add_argument("--busy-seconds", type=float, default=3.0, help="how long the load runs alone (its baseline)")
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument(
        "--profile", action="store_true", help="print the Won batch's and the re-evaluation's top functions"
    )
    args = parser.parse_args(argv)
    admin_url, bench_url = database_urls(DB_NAME, "bench/handoffs.py")
    recreate(admin_url, DB_NAME)
    os.environ.update(DATABASE_URL=bench_url, DJANGO_SETTINGS_MODULE="revops.settings", LOG_LEVEL="WARNING")
    # Production settings, as a worker runs: with DEBUG on, Django keeps every query's SQL (time and memory).
    os.environ.update(DEBUG="0", SECURE_SSL_REDIRECT="0", REVOPS_ENV_FILE="/dev/null")
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(48))
    sys.path.insert(0, str(ROOT))
    try:
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        return run(args, bench_url)
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep_db:
            recreate(admin_url, DB_NAME, drop_only=True)


def run(args, bench_url: str) -> int:
    from django.contrib.auth import get_user_model

    from exceptions.models import ExceptionItem, Queue
    from handoffs.deferred import handoffs_evaluate_pending
    from handoffs.models import Checklist, Handoff, PendingEvaluation
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

    def reevaluate(ids, cause: str) -> float:
        started = time.perf_counter()
        for offset in range(0, len(ids), CHUNK):  # as a worker would, a chunk per job
            handoffs_evaluate(opportunity_ids=ids[offset : offset + CHUNK], actor=user, cause=cause)
        return time.perf_counter() - started

    def drain() -> float:
        """Run the bulk lane's evaluations the Won batches recorded, as its worker would (one job per
        batch, in-process here); return their seconds."""
        started = time.perf_counter()
        for pending_id in PendingEvaluation.objects.values_list("pk", flat=True):
            handoffs_evaluate_pending(pending_id=pending_id)
        return time.perf_counter() - started

    def batches(first: int) -> tuple[float, float, float]:
        """(open-stage batch, Won batch lacking context, the Won batch's evaluation on the bulk lane)
        median seconds over ``--repeat`` interleaved pairs, on new deals from ``first`` (one pair alone
        swings with the machine's noise)."""
        opens, wons, lanes = [], [], []
        for r in range(args.repeat):
            start = first + 2 * n * r
            opens.append(timed_sync([deal(i, stage="negotiation") for i in range(start, start + n)]))
            with profiled(args.profile and not busy and r == 0, "Won batch lacking context"):
                wons.append(timed_sync([deal(i, stage="closed_won") for i in range(start + n, start + 2 * n)]))
            with profiled(args.profile and not busy and r == 0, "the Won batch's evaluation on the bulk lane"):
                lanes.append(drain())
        return statistics.median(opens), statistics.median(wons), statistics.median(lanes)

    def reevaluations(amount: int) -> tuple[float, float]:
        """(seconds when each handoff changes, seconds when none does) over the ``total`` handoffs."""
        Opportunity.objects.filter(pk__in=ids).update(amount=amount)  # billing contact due (>= 50,000) or not
        with profiled(args.profile and not busy, "re-evaluation, each handoff changing"):
            changing = reevaluate(ids, "bench re-evaluation")
        Opportunity.objects.filter(pk__in=ids).update(next_step=f"Kickoff {amount}")  # no checklist reads it
        return changing, reevaluate(ids, "bench re-evaluation")

    def rate(seconds: float) -> float | None:
        return round(total / seconds, 1) if seconds else None

    n, total, busy = args.deals, args.handoffs, False
    timed_sync([deal(i, stage="negotiation") for i in range(n)])  # warm-up (compiles validators, caches)
    baseline, won, won_lane = batches(n)
    waiting = Handoff.objects.filter(status="waiting").count()
    items = ExceptionItem.objects.filter(kind="handoff_incomplete").count()

    # Re-evaluation: open handoffs on Won deals, then bulk CRM updates of those deals.
    owner = Rep.objects.get(external_id="R-BENCH")
    deals = Opportunity.objects.bulk_create(
        Opportunity(external_id=f"BX{i:07d}", name=f"Deal {i}", stage="closed_won", owner=owner, amount=30000)
        for i in range(total)
    )
    ids = [d.pk for d in deals]
    reevaluate(ids, "bench setup")  # the handoffs, waiting for context, with their items
    changing, unchanged = reevaluations(60000)

    # The same with the queue busy: another process syncing leads into the same database.
    busy, load_alone, load_busy = True, {}, {}
    with busy_queue(bench_url, load_alone):
        time.sleep(args.busy_seconds)
    with busy_queue(bench_url, load_busy):
        busy_baseline, busy_won, busy_won_lane = batches(n + 2 * n * args.repeat)
        busy_changing, busy_unchanged = reevaluations(30000)  # billing contact no longer due: each changes

    print(
        json.dumps(
            {
                "deals_per_batch": n,
                "batch_pairs_median_of": args.repeat,
                "batch_open_stage_seconds": round(baseline, 3),
                "batch_won_missing_context_seconds": round(won, 3),
                "won_over_open_ratio": round(won / baseline, 2) if baseline else None,
                "won_over_open_bar": 1.5,
                # A bulk batch's handoffs are evaluated after its commit by the low lane's worker.
                "won_batch_bulk_lane_seconds": round(won_lane, 3),
                "won_plus_bulk_lane_over_open_ratio": round((won + won_lane) / baseline, 2) if baseline else None,
                "handoffs_waiting_after_won_batch": waiting,
                "handoff_items_after_won_batch": items,
                "reevaluated_handoffs": total,  # one more field due on each
                "reevaluate_seconds": round(changing, 2),
                "reevaluate_handoffs_per_second": rate(changing),
                "reevaluate_unchanged_seconds": round(unchanged, 2),
                "reevaluate_unchanged_handoffs_per_second": rate(unchanged),
                "reevaluate_bar_per_second": 5000,
                "note": "figures above: in-process, one connection, idle queue (no other process)",
                "busy": {
                    "note": "the same while another process syncs batches of 1,000 leads into the same database",
                    "batch_open_stage_seconds": round(busy_baseline, 3),
                    "batch_won_missing_context_seconds": round(busy_won, 3),
                    "won_over_open_ratio": round(busy_won / busy_baseline, 2) if busy_baseline else None,
                    "won_batch_bulk_lane_seconds": round(busy_won_lane, 3),
                    "reevaluate_seconds": round(busy_changing, 2),  # one field fewer due on each
                    "reevaluate_handoffs_per_second": rate(busy_changing),
                    "reevaluate_unchanged_seconds": round(busy_unchanged, 2),
                    "reevaluate_unchanged_handoffs_per_second": rate(busy_unchanged),
                    "load_alone_leads_per_second": load_alone["load_leads_per_second"],
                    "load_during_handoffs_leads_per_second": load_busy["load_leads_per_second"],
                },
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
