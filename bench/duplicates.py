"""Duplicate-detection benchmark: a full duplicate scan, its precision and recall, and ingest with checks.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/anything REDIS_URL=redis://127.0.0.1:6379/0 \\
        python bench/duplicates.py            # --contacts 100000 --accounts 20000 --ingest 20000

Issue 13's bars: a full duplicate scan of 100,000 contacts and 20,000 accounts in at most 30 s with
one worker; recall and precision at least 0.95 each on a generated set with known duplicates; ingest
of contacts with duplicate checking at least 0.5× the rate without it, in the same run. ``--leads N``
adds leads to the scan (and their quality), as earlier runs measured.

Creates (and finally drops) its own database ``revops_duplicates_bench``, migrates it and, as setup
(not measured): adds the custom lead field ``phone`` (normalised to E.164) to the dictionary,
loads ``dataquality.generate``'s records (contacts at the generated accounts) (about one in ten a second copy of another, with typos,
case, swapped names, formatted phones, other legal suffixes; the true clusters kept) with COPY, and
creates the demo's duplicate rules (``dataquality.demo``) plus the phone on the lead rule.

Measured:

* ``scan``: one full scan through a real RQ worker (``SimpleWorker``, burst, the ``low`` queue of
  Redis db 5 of ``REDIS_URL``'s server, flushed): ``dataquality_scan`` and its chained steps.
  Reports seconds, records/s, the number of jobs and the longest job (no job should hold the lane
  for more than a second or two), and the pairs compared.
* ``quality``: per object, the pairs inside the duplicate sets against the true pairs (pairwise
  precision and recall).
* ``rescan``: the same scan again with nothing changed: the sets must stay as they were (checked).
* ``rescan_busy``: the rescan while another process syncs leads into the same database (``bench/busy.py``).
* ``ingest``: ``--ingest`` new contacts (a tenth of them second copies of others) through the sync
  service in-process, in batches of ``--batch``, alternating batches with the duplicate rules off
  (the baseline) and on; records/s of each and the ratio. A batch that large has its check on the
  low lane after the sync (``dataquality.deferred``): it is run in-process right after its batch
  and counted, so ``ratio_end_to_end`` (sync plus check against the sync without rules) is the bar's
  figure.

Prints one JSON document.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import secrets
import sys
import time
from pathlib import Path
from urllib.parse import urlparse, urlunparse

from support import database_urls, profiled, recreate

ROOT = Path(__file__).resolve().parent.parent
DB_NAME = "revops_duplicates_bench"
REDIS_DB = 5
CHUNK = 5000


def redis_url() -> str:
    parsed = urlparse(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    return urlunparse(parsed._replace(path=f"/{REDIS_DB}"))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=100000)
    parser.add_argument("--leads", type=int, default=0)
    parser.add_argument("--accounts", type=int, default=20000)
    parser.add_argument("--ingest", type=int, default=20000, help="new contacts synced for the ingest ratio")
    parser.add_argument(
        "--deployed", type=int, default=10000, help="contacts per mode synced with a real worker checking"
    )
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--profile", action="store_true", help="profile the scan (in-process) to stderr")
    parser.add_argument(
        "--profile-ingest-only", action="store_true", help="with --profile: the scan runs through the worker"
    )
    parser.add_argument("--sql-times", action="store_true", help="run one scan in-process first; SQL time by statement")
    args = parser.parse_args(argv)
    admin_url, bench_url = database_urls(DB_NAME, "bench/duplicates.py")
    recreate(admin_url, DB_NAME)
    # Production settings, as a worker runs: with DEBUG on, Django keeps every query's SQL (time and memory).
    os.environ.update(DEBUG="0", SECURE_SSL_REDIRECT="0", REVOPS_ENV_FILE="/dev/null")
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(48))
    os.environ.update(
        DATABASE_URL=bench_url, DJANGO_SETTINGS_MODULE="revops.settings", LOG_LEVEL="WARNING", REDIS_URL=redis_url()
    )
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
            recreate(admin_url, DB_NAME, drop_only=True)


def load(model, records: list[dict], now: dt.datetime, accounts: dict[str, int] | None = None) -> None:
    """COPY ``records`` (sync-style dicts; a lead's ``phone`` into the attributes, a contact's account by
    external id through ``accounts``) into ``model``'s table."""
    from revops.sync_writers import PgWriter

    columns = {f.attname for f in model._meta.concrete_fields}
    rows = []
    for record in records:
        row = {k: v for k, v in record.items() if k in columns}
        row.update(source_updated_at=now, created_at=now, updated_at=now, raw_values={})
        if "account_id" in columns and accounts is not None:
            row["account_id"] = accounts.get(record.get("account"))
        if "attributes" in columns:
            phone = record.get("phone") if "phone" not in columns else None
            row["attributes"] = {"phone": phone} if phone else {}
        rows.append(row)
    for start in range(0, len(rows), CHUNK):
        PgWriter().insert_rows(model, rows[start : start + CHUNK])


def rules_create(actor) -> None:
    from dataquality.demo import demo_rule_specs
    from dataquality.models import DuplicateRule
    from dataquality.services import duplicate_rule_save

    for spec in demo_rule_specs():
        fields = list(spec["fields"])
        if spec["object_type"] == "lead":
            fields.insert(2, {"field": "phone", "method": "normalised", "weight": 60, "blocking": True})
        rule = DuplicateRule(**{k: v for k, v in spec.items() if k != "fields"})
        duplicate_rule_save(rule=rule, fields=fields, actor=actor, reason="benchmark")


def job_durations(queue) -> list[float]:
    """Seconds each finished job of ``queue`` ran."""
    from rq.registry import FinishedJobRegistry

    registry = FinishedJobRegistry(queue=queue)
    durations = []
    for job in queue.job_class.fetch_many(registry.get_job_ids(), connection=queue.connection):
        if job is not None and job.started_at and job.ended_at:
            durations.append((job.ended_at - job.started_at).total_seconds())
    return durations


def scan_through_worker() -> dict:
    """One full scan through a real RQ worker (burst) on the low queue; seconds, jobs and the longest job."""
    import django_rq
    from rq import SimpleWorker

    queue = django_rq.get_queue("low")
    queue.connection.flushdb()
    queue.enqueue("dataquality.jobs.dataquality_scan", "benchmark")
    started, cpu = time.perf_counter(), time.process_time()
    SimpleWorker([queue], connection=queue.connection).work(burst=True)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    durations = job_durations(queue)
    failed = queue.failed_job_registry.count
    return {
        "seconds": round(seconds, 2),
        "worker_cpu_s": round(cpu, 2),
        "jobs": len(durations),
        "failed_jobs": failed,
        "longest_job_s": round(max(durations), 3) if durations else None,
        "median_job_s": round(sorted(durations)[len(durations) // 2], 3) if durations else None,
    }


def found_pairs(object_type: str) -> set[tuple[str, str]]:
    from dataquality.models import DuplicateMember, DuplicateSet
    from dataquality.objects import duplicate_object

    model = duplicate_object(object_type).model
    members: dict[int, list[int]] = {}
    for set_id, object_id in DuplicateMember.objects.filter(
        object_type=object_type, set__status=DuplicateSet.Status.OPEN
    ).values_list("set_id", "object_id"):
        members.setdefault(set_id, []).append(object_id)
    ids = {i for group in members.values() for i in group}
    ext = dict(model.objects.filter(pk__in=list(ids)).values_list("pk", "external_id"))
    pairs = set()
    for group in members.values():
        names = sorted(ext[i] for i in group if i in ext)
        pairs.update((a, b) for i, a in enumerate(names) for b in names[i + 1 :])
    return pairs


def sets_fingerprint() -> list:
    from dataquality.models import DuplicateMember

    return sorted(DuplicateMember.objects.values_list("set_id", "object_id"))


def rescan_busy() -> dict:
    """The rescan again while another process syncs batches of 1,000 leads into the same database
    (``bench/busy.py``; its jobs go to another Redis database, so the scan's worker does not run them).
    The lead rule is off meanwhile: the scan covers the same contacts and accounts as the idle one."""
    from busy import busy_queue

    from dataquality.models import DuplicateRule

    load: dict = {}
    redis = os.environ["REDIS_URL"]
    DuplicateRule.objects.filter(object_type="lead").update(is_active=False)
    os.environ["REDIS_URL"] = redis.rsplit("/", 1)[0] + f"/{REDIS_DB + 1}"
    try:
        with busy_queue(os.environ["DATABASE_URL"], load):
            os.environ["REDIS_URL"] = redis
            result = scan_through_worker()
    finally:
        os.environ["REDIS_URL"] = redis
        DuplicateRule.objects.filter(object_type="lead").update(is_active=True)
    return {**result, **load}


def ingest_settled(args, actor) -> dict:
    """``ingest`` once the database has settled after the scans: their rewrite of the key index leaves
    dead rows that autovacuum would otherwise clean up during the measurement (the nightly scan's
    aftermath is long gone when the day's syncs come)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    return ingest(args, actor)


def ingest(args, actor) -> dict:
    """Batches of new contacts with the rules off, then on; records/s of each and the ratio. A
    batch of more than ``DATAQUALITY_INLINE_MAX`` contacts has its duplicate check on the low lane after
    the sync: right after each such batch it is run in-process, as the lane's worker would, and timed
    apart; the bar's ratio counts it."""
    from dataquality.deferred import duplicate_check_pending
    from dataquality.models import DuplicateRule, PendingDuplicateCheck
    from revops.sync import sync_batch_apply

    warmup = 2 * args.batch  # one batch of each mode first, not counted: the first sync of a process is slower
    records = fresh_contacts(args.ingest + warmup, args.seed + 1, "IN")
    timings = {"off": [0.0, 0], "on": [0.0, 0], "check": [0.0, 0]}
    starts = range(0, len(records), args.batch)
    # After the warm-up, every batch without rules first: a batch right after a check pays for its
    # writes' aftermath (the database's background work), so that cost falls on the rules' side.
    half = (len(starts) - 2) // 2
    modes = ["off", "on"] + ["off"] * half + ["on"] * (len(starts) - 2 - half)
    for index, (start, mode) in enumerate(zip(starts, modes, strict=True)):
        if index == 2:
            timings = {"off": [0.0, 0], "on": [0.0, 0], "check": [0.0, 0]}
        batch = records[start : start + args.batch]
        DuplicateRule.objects.update(is_active=mode == "on")
        began = time.perf_counter()
        with profiled(args.profile and mode == "on" and index == 3, "ingest with duplicate rules"):
            outcome = sync_batch_apply(object_name="contacts", records=batch, actor=actor)
        timings[mode][0] += time.perf_counter() - began
        timings[mode][1] += len(batch)
        if outcome.counts["rejected"]:
            raise SystemExit(f"ingest: {outcome.counts['rejected']} records rejected: {outcome.results[:2]}")
        began = time.perf_counter()
        with profiled(args.profile and index == 5, "deferred duplicate check"):
            for pending_id in PendingDuplicateCheck.objects.order_by("pk").values_list("pk", flat=True):
                timings["check"][1] += duplicate_check_pending(pending_id=pending_id)["checked"]
        timings["check"][0] += time.perf_counter() - began
    DuplicateRule.objects.update(is_active=True)
    rate = {mode: round(n / s) if s else None for mode, (s, n) in timings.items()}
    on_total = timings["on"][0] + timings["check"][0]
    return {
        "records": len(records) - warmup,
        "warmup_records": warmup,
        "batch": args.batch,
        "off_records_per_s": rate["off"],
        "on_records_per_s": rate["on"],
        "ratio_on_to_off": round(rate["on"] / rate["off"], 3) if rate["off"] and rate["on"] else None,
        "deferred_checked": timings["check"][1],
        "deferred_check_records_per_s": rate["check"],
        "on_plus_deferred_check_records_per_s": round(timings["on"][1] / on_total) if on_total else None,
        "ratio_end_to_end": round(timings["on"][1] / on_total / rate["off"], 3) if on_total and rate["off"] else None,
    }


def fresh_contacts(count: int, seed: int, prefix: str) -> list[dict]:
    """``count`` new contacts as the CRM sends them (a tenth second copies of others), at stored accounts."""
    from dataquality.generate import generate

    now = dt.datetime.now(dt.UTC).isoformat()
    records = []
    for i, record in enumerate(generate(leads=0, contacts=count, accounts=10, seed=seed).contacts):
        record = {k: v for k, v in record.items() if v not in ("", None)}
        record.update(external_id=f"{prefix}-{i:07d}", source_updated_at=now)
        records.append(record)
    return records


def start_low_worker():
    """A real worker on ``default low`` at ``nice 10``, as the Procfile starts the bulk lane's worker."""
    import subprocess

    return subprocess.Popen(
        ["nice", "-n", "10", sys.executable, str(ROOT / "manage.py"), "rqworker", "default", "low"]
        + ["--worker-class", "revops.worker.Worker"],
        env=dict(os.environ),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def lane_busy(queue) -> bool:
    from rq.registry import StartedJobRegistry

    return bool(queue.count or StartedJobRegistry(queue=queue).count)


def ingest_deployed(args, actor) -> dict:
    """The ingest as deployed: ``--deployed`` contacts synced back to back in this process (the web tier)
    with the rules off, then as many with the rules on, while a real niced worker works the low lane:
    the batches' outbox parts (both modes) and the deferred duplicate checks (rules on). Each rate
    counts until the lane is drained: what the portal does with the records, with and without checks."""
    import django_rq

    from dataquality.models import DuplicateRule, PendingDuplicateCheck
    from revops.sync import sync_batch_apply

    queue = django_rq.get_queue("low")
    queue.connection.flushdb()
    worker = start_low_worker()
    try:
        ready = queue.enqueue("dataquality.deferred.inline_max")  # the worker started and took a job
        while ready.get_status(refresh=True) != "finished":
            time.sleep(0.05)
        rates = {}
        for mode in ("off", "on"):
            records = fresh_contacts(args.deployed, args.seed + (3 if mode == "on" else 2), f"DP{mode[1]}")
            DuplicateRule.objects.update(is_active=mode == "on")
            began = time.perf_counter()
            for start in range(0, len(records), args.batch):
                sync_batch_apply(object_name="contacts", records=records[start : start + args.batch], actor=actor)
            synced = time.perf_counter() - began
            while PendingDuplicateCheck.objects.exists() or lane_busy(queue):
                if time.perf_counter() - began > 600:
                    raise SystemExit("ingest_deployed: the worker did not drain the low lane in 10 minutes")
                time.sleep(0.02)
            rates[mode] = (len(records) / synced, len(records) / (time.perf_counter() - began))
        DuplicateRule.objects.update(is_active=True)
        jobs = job_durations(queue)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    return {
        "check_jobs": len(jobs),
        "median_check_job_s": round(sorted(jobs)[len(jobs) // 2], 3) if jobs else None,
        "records": args.deployed,
        "batch": args.batch,
        "off_synced_records_per_s": round(rates["off"][0]),
        "off_synced_and_processed_records_per_s": round(rates["off"][1]),
        "on_synced_records_per_s": round(rates["on"][0]),
        "on_synced_processed_and_checked_records_per_s": round(rates["on"][1]),
        "ratio_on_to_off": round(rates["on"][1] / rates["off"][1], 3),
    }


def sql_times(args) -> None:
    """One scan in-process with the time spent per kind of SQL statement (first 60 characters), to stderr."""
    from collections import Counter

    from django.db import connection

    from dataquality.jobs import dataquality_scan
    from dataquality.scan import scan_step

    spent, calls = Counter(), Counter()

    def timed(execute, sql, params, many, context):
        began = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            spent[sql[:60]] += time.perf_counter() - began
            calls[sql[:60]] += 1

    began = time.perf_counter()
    with connection.execute_wrapper(timed):
        scan_id = dataquality_scan("benchmark (SQL timed)")
        while scan_step(scan_id=scan_id):
            pass
    print(f"[duplicates] timed scan {time.perf_counter() - began:.1f} s; SQL by statement:", file=sys.stderr)
    for sql, seconds in spent.most_common(12):
        print(f"  {seconds:7.2f} s {calls[sql]:5d}× {sql}", file=sys.stderr)


def run(args) -> int:
    from django.db import connection

    from dataquality.generate import generate, pair_quality
    from dataquality.models import DuplicateScan, DuplicateSet
    from revops.audit import system_user
    from revops.models import Account, Contact, Lead
    from revops.services import dictionary_field_create

    actor = system_user("bench", first_name="Benchmark")
    dictionary_field_create(
        actor=actor,
        object_type="lead",
        key="phone",
        label="Phone",
        field_type="text",
        definition="The lead's phone number.",
        is_core=False,
        owning_team="Marketing",
        normalise="phone",
    )
    started = time.perf_counter()
    data = generate(leads=args.leads, contacts=args.contacts, accounts=args.accounts, seed=args.seed)
    now = dt.datetime.now(dt.UTC)
    load(Account, data.accounts, now)
    load(Lead, data.leads, now)
    load(Contact, data.contacts, now, accounts=dict(Account.objects.values_list("external_id", "pk")))
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    rules_create(actor)
    setup_s = time.perf_counter() - started
    print(f"[duplicates] setup {setup_s:.1f} s", file=sys.stderr, flush=True)

    if args.sql_times:
        sql_times(args)
    if args.profile and not args.profile_ingest_only:
        from dataquality.jobs import dataquality_scan
        from dataquality.scan import scan_step

        with profiled(True, "scan"):
            began = time.perf_counter()
            scan_id = dataquality_scan("benchmark (profiled)")
            while scan_step(scan_id=scan_id):
                pass
            scan = {"seconds": round(time.perf_counter() - began, 2), "profiled": True}
    else:
        scan = scan_through_worker()
    record = DuplicateScan.objects.order_by("-pk").first()
    scan["records"] = args.contacts + args.leads + args.accounts
    scan["records_per_s"] = round(scan["records"] / scan["seconds"]) if scan["seconds"] else None
    scan["counts"] = {k: v for k, v in record.counts.items() if k != "objects"}
    scan["finished"] = record.status == DuplicateScan.Status.FINISHED
    objects = ["contact", "account"] + (["lead"] if args.leads else [])
    quality = {ot: pair_quality(found_pairs(ot), data.true_pairs(ot)) for ot in objects}

    before = sets_fingerprint()
    rescan = scan_through_worker()
    rescan["sets_unchanged"] = sets_fingerprint() == before
    rescan["open_sets"] = DuplicateSet.objects.filter(status=DuplicateSet.Status.OPEN).count()
    scan_busy = rescan_busy()
    result = {
        "contacts": args.contacts,
        "leads": args.leads,
        "accounts": args.accounts,
        "setup_s": round(setup_s, 1),
        "scan": scan,
        "bar_scan_s": 30,
        "quality": quality,
        "bar_quality": 0.95,
        "rescan": rescan,
        "rescan_busy": scan_busy,
        "ingest": ingest_settled(args, actor),
        "ingest_deployed": ingest_deployed(args, actor) if args.deployed else None,
        "bar_ingest_ratio": 0.5,
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
