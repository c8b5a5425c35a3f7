"""Bulk-ingest benchmark: 100,000 leads (and as many contacts) through the real sync endpoint vs. a raw psycopg COPY.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/anything python bench/ingest.py

Creates (and finally drops) its own database ``revops_bench`` on that server and uses Redis db 4
of ``REDIS_URL``'s server (flushed), so it never touches real data. It starts the WSGI app under
gunicorn (``2 × cores + 1`` workers, as docs/deployment.md) in a subprocess, POSTs 100 batches of 1,000 new leads over
HTTP (then the same leads again with changes, then once more unchanged), measures a raw ``COPY``
of the same rows into a scratch table with the same columns, then POSTs as many new contacts (on
accounts synced first; e-mails in mixed case and formatted phone numbers for the normalisers, one in
ten converted from a lead of the first pass) and reports their rate against the leads' of the same
run, profiles the sync service in-process on one batch, and prints one JSON document. Options:
``--records``, ``--batch``, ``--keep-db``.
"""

from __future__ import annotations

import argparse
import cProfile
import http.client
import io
import json
import os
import pstats
import secrets
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse, urlunparse

from support import start_web

ROOT = Path(__file__).resolve().parent.parent
DB_NAME = "revops_bench"
REDIS_DB = 4
LEAD_COLUMNS = [
    "external_id",
    "source_updated_at",
    "email",
    "first_name",
    "last_name",
    "company",
    "domain",
    "title",
    "country",
    "state",
    "source",
    "score",
    "status",
]


def lead(n: int, *, version: int = 0) -> dict:
    return {
        "external_id": f"BL{n:07d}",
        "source_updated_at": f"2026-03-01T10:{version:02d}:00Z",
        "email": f"buyer{n}@prospect{n % 5000}.com",
        "first_name": f"First{n % 997}",
        "last_name": f"Last{n % 991}",
        "company": f"Prospect {n % 5000}",
        "domain": f"prospect{n % 5000}.com",
        "title": "VP Sales" if n % 3 else "Head of RevOps",
        "country": ("US", "DE", "GB", "FR")[n % 4],
        "state": "NY",
        "source": "web_form",
        "score": (n * 7 + version) % 100,
        "status": ("new", "working")[version % 2],
    }


ACCOUNTS_PER_CONTACT = 20  # one account per this many contacts


def account(n: int) -> dict:
    return {
        "external_id": f"BA{n:07d}",
        "source_updated_at": "2026-03-01T09:00:00Z",
        "name": f"Customer {n}",
        "domain": f"customer{n}.com",
        "country": ("US", "DE", "GB", "FR")[n % 4],
    }


def contact(n: int) -> dict:
    """A new contact as a CRM sends it: e-mail in mixed case, phone formatted for people, roles on its account."""
    record = {
        "external_id": f"BC{n:07d}",
        "source_updated_at": "2026-03-01T11:00:00Z",
        "account": f"BA{n // ACCOUNTS_PER_CONTACT:07d}",
        "first_name": f"First{n % 997}",
        "last_name": f"Last{n % 991}",
        "email": f"First{n % 997}.Last{n}@Customer{n // ACCOUNTS_PER_CONTACT}.com",
        "phone": f"+1 (415) {200 + n % 800:03d}-{n % 10000:04d}",
        "title": "CFO" if n % 5 == 0 else "VP Sales",
        "roles": [("champion", "executive_sponsor", "billing_contact", "decision_maker")[n % 4]] if n % 3 == 0 else [],
    }
    if n % 10 == 0:
        record["converted_from_lead"] = f"BL{n:07d}"
    return record


def database_urls() -> tuple[str, str]:
    url = os.environ.get("DATABASE_URL", "")
    parsed = urlparse(url)
    if parsed.scheme not in {"postgres", "postgresql", "pgsql"}:
        sys.exit("bench/ingest.py needs DATABASE_URL pointing at a PostgreSQL server (postgres://…)")
    admin = urlunparse(parsed._replace(scheme="postgresql", path="/postgres"))
    bench = urlunparse(parsed._replace(scheme="postgres", path=f"/{DB_NAME}"))
    return admin, bench


def redis_url() -> str:
    parsed = urlparse(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    return urlunparse(parsed._replace(path=f"/{REDIS_DB}"))


def recreate_database(admin_url: str, *, drop_only: bool = False) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        if not drop_only:
            conn.execute(f'CREATE DATABASE "{DB_NAME}"')


def manage(env, *args, capture=False) -> str:
    result = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if result.returncode:
        raise SystemExit(f"manage.py {' '.join(args)} failed (exit {result.returncode}):\n{result.stderr[-3000:]}")
    return result.stdout if capture else ""


def post(port: int, path: str, body: bytes, raw_token: str) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.request(
            "POST",
            path,
            body=body,
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {raw_token}"},
        )
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def http_pass(port, raw_token, bodies, expect, *, path="/api/v1/sync/leads/") -> dict:
    started = time.perf_counter()
    totals: dict[str, int] = {}
    for body in bodies:
        status, payload = post(port, path, body, raw_token)
        if status != 200:
            raise SystemExit(f"sync answered {status}: {str(payload)[:500]}")
        for key, value in payload["counts"].items():
            totals[key] = totals.get(key, 0) + value
    elapsed = time.perf_counter() - started
    records = sum(totals.values())
    if totals.get(expect) != records:
        raise SystemExit(f"expected every record {expect}, got {totals}")
    return {"records": records, "seconds": round(elapsed, 3), "records_per_s": round(records / elapsed)}


def http_fixed_cost(port, raw_token, requests: int = 200) -> dict:
    """Per-request cost of the server, auth, throttling and an empty batch: ``{"records": []}``."""
    body = json.dumps({"records": []}).encode()
    started = time.perf_counter()
    for _ in range(requests):
        status, payload = post(port, "/api/v1/sync/leads/", body, raw_token)
        if status != 200:
            raise SystemExit(f"sync answered {status}: {str(payload)[:500]}")
    elapsed = time.perf_counter() - started
    return {"requests": requests, "ms_per_request": round(elapsed / requests * 1000, 2)}


def in_process_pass(batches: list[list[dict]], user, token) -> dict:
    """``sync_batch_apply`` without HTTP: what the server adds is the difference to ``http_*``."""
    from revops.sync import sync_batch_apply

    started = time.perf_counter()
    records = 0
    for batch in batches:
        outcome = sync_batch_apply(object_name="leads", records=batch, actor=user, token=token)
        assert outcome.counts["created"] == len(batch), outcome.counts
        records += len(batch)
    elapsed = time.perf_counter() - started
    return {"records": records, "seconds": round(elapsed, 3), "records_per_s": round(records / elapsed)}


def copy_baseline(bench_url: str, rows: list[dict]) -> dict:
    """COPY the same rows (same columns as revops_lead) into a scratch table."""
    import datetime as dt

    import psycopg

    with psycopg.connect(bench_url.replace("postgres://", "postgresql://", 1)) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_copy_lead")
        conn.execute("CREATE TABLE bench_copy_lead (LIKE revops_lead INCLUDING DEFAULTS INCLUDING INDEXES)")
        conn.execute("ALTER TABLE bench_copy_lead ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY")
        conn.commit()
        columns = [*LEAD_COLUMNS, "attributes", "raw_values", "created_at", "updated_at"]
        started = time.perf_counter()
        now = dt.datetime.now(dt.UTC)
        with conn.cursor() as cur:
            with cur.copy(f"COPY bench_copy_lead ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row([*(row[c] for c in LEAD_COLUMNS), "{}", "{}", now, now])
        conn.commit()
        elapsed = time.perf_counter() - started
        conn.execute("DROP TABLE bench_copy_lead")
        conn.commit()
    return {"records": len(rows), "seconds": round(elapsed, 3), "records_per_s": round(len(rows) / elapsed)}


def profile_in_process(env: dict, batch: int) -> dict:
    """Profile ``sync_batch_apply`` on one batch of new leads, called in this process."""
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from revops.models import ApiToken
    from revops.sync import sync_batch_apply, sync_records_from_body

    token = ApiToken.objects.get(name="bench")
    unprofiled = in_process_pass(
        [[lead(8_000_000 + b * batch + n) for n in range(batch)] for b in range(20)], token.user, token
    )
    body = json.dumps({"records": [lead(9_000_000 + n) for n in range(batch)]}).encode()
    # warm up (validator compile, connection)
    sync_batch_apply(
        object_name="leads",
        records=sync_records_from_body(json.dumps({"records": [lead(8_999_999)]}).encode(), max_records=batch),
        actor=token.user,
        token=token,
    )
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    records = sync_records_from_body(body, max_records=batch)
    outcome = sync_batch_apply(object_name="leads", records=records, actor=token.user, token=token)
    profiler.disable()
    elapsed = time.perf_counter() - started
    assert outcome.counts["created"] == batch, outcome.counts
    stream = io.StringIO()
    stats = pstats.Stats(profiler, stream=stream)
    top = []
    for (filename, line, func), (_cc, ncalls, tottime, cumtime, _callers) in sorted(
        stats.stats.items(), key=lambda item: item[1][2], reverse=True
    )[:15]:
        where = filename.replace(str(ROOT) + "/", "").split("site-packages/")[-1]
        top.append(
            {
                "function": f"{where}:{line}({func})",
                "calls": ncalls,
                "tottime_ms": round(tottime * 1000, 1),
                "cumtime_ms": round(cumtime * 1000, 1),
            }
        )
    return {
        "in_process_create_unprofiled": unprofiled,
        "batch": batch,
        "seconds": round(elapsed, 4),
        "records_per_s": round(batch / elapsed),
        "top_by_tottime": top,
    }


def opportunity(n: int, *, version: int = 0) -> dict:
    """A deal as a nightly sync sends it: on one of the contacts' accounts, open stages (a later
    version moves it one stage on and changes the amount)."""
    stages = ("prospecting", "discovery", "solution", "proposal", "negotiation")
    return {
        "external_id": f"BO{n:07d}",
        "source_updated_at": f"2026-03-01T12:{version:02d}:00Z",
        "name": f"Customer {n // ACCOUNTS_PER_CONTACT} — deal {n}",
        "account": f"BA{n // ACCOUNTS_PER_CONTACT:07d}",
        "amount": 5000 + (n * 37 + version * 1000) % 95000,
        "stage": stages[(n + version) % len(stages)],
        "close_date": f"2027-0{1 + n % 6}-{1 + n % 28:02d}",
        "forecast_category": "pipeline",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--keep-db", action="store_true", help="leave revops_bench in place afterwards")
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
        "SYNC_MAX_RECORDS": str(max(args.batch, 1000)),
        "API_THROTTLE_RATE": "1000000/min",
        "PYTHONDONTWRITEBYTECODE": "1",
        "DJANGO_SETTINGS_MODULE": "revops.settings",
    }
    import redis

    redis.Redis.from_url(env["REDIS_URL"]).flushdb()
    recreate_database(admin_url)
    server = None
    try:
        manage(env, "migrate", "--noinput", "-v", "0")
        raw_token = (
            manage(
                env,
                "shell",
                "-c",
                "from revops.tokens import api_token_create; print(api_token_create(name='bench', scopes=['sync:write'])[1])",
                capture=True,
            )
            .strip()
            .splitlines()[-1]
        )
        server, port = start_web(env, ROOT)

        n, size = args.records, args.batch
        rows = [lead(i) for i in range(n)]
        bodies = [json.dumps({"records": rows[i : i + size]}).encode() for i in range(0, n, size)]
        changed = [lead(i, version=1) for i in range(n)]
        changed_bodies = [json.dumps({"records": changed[i : i + size]}).encode() for i in range(0, n, size)]
        # warm the server process (imports, validator compile, connection)
        post(port, "/api/v1/sync/leads/", json.dumps({"records": [lead(n + 1)]}).encode(), raw_token)

        create = http_pass(port, raw_token, bodies, "created")
        update = http_pass(port, raw_token, changed_bodies, "updated")
        unchanged = http_pass(port, raw_token, changed_bodies, "unchanged")
        fixed = http_fixed_cost(port, raw_token)
        baseline = copy_baseline(bench_url, rows)

        # Contacts: their accounts first, then as many new contacts as leads, in the same batch size.
        accounts = [account(i) for i in range(n // ACCOUNTS_PER_CONTACT + 1)]
        account_bodies = [
            json.dumps({"records": accounts[i : i + size]}).encode() for i in range(0, len(accounts), size)
        ]
        http_pass(port, raw_token, account_bodies, "created", path="/api/v1/sync/accounts/")
        contact_rows = [contact(i) for i in range(n)]
        contact_bodies = [json.dumps({"records": contact_rows[i : i + size]}).encode() for i in range(0, n, size)]
        contacts_create = http_pass(port, raw_token, contact_bodies, "created", path="/api/v1/sync/contacts/")
        # Opportunities: as many new deals as leads on the same accounts, then the same deals changed.
        deal_bodies = [
            json.dumps({"records": [opportunity(i) for i in range(first, min(n, first + size))]}).encode()
            for first in range(0, n, size)
        ]
        changed_deals = [
            json.dumps({"records": [opportunity(i, version=1) for i in range(first, min(n, first + size))]}).encode()
            for first in range(0, n, size)
        ]
        deals_create = http_pass(port, raw_token, deal_bodies, "created", path="/api/v1/sync/opportunities/")
        deals_update = http_pass(port, raw_token, changed_deals, "updated", path="/api/v1/sync/opportunities/")

        server.terminate()
        server.wait(timeout=10)
        server = None
        profile = profile_in_process(env, size)
        from django.db import connection

        connection.close()

        print(
            json.dumps(
                {
                    "benchmark": "bulk ingest: POST /api/v1/sync/leads/ (validation, history, outbox) vs COPY",
                    "records": n,
                    "batch_size": size,
                    "http_create": create,
                    "http_update": update,
                    "http_unchanged": unchanged,
                    "http_empty_batch": fixed,
                    "copy_baseline": baseline,
                    "ratio_create_to_copy": round(create["records_per_s"] / baseline["records_per_s"], 3),
                    "ratio_update_to_copy": round(update["records_per_s"] / baseline["records_per_s"], 3),
                    "bar_records_per_s": 20_000,
                    "meets_bar_create": create["records_per_s"] >= 20_000,
                    "contacts": {
                        "http_create": contacts_create,
                        "ratio_to_leads_create": round(contacts_create["records_per_s"] / create["records_per_s"], 3),
                        "ratio_to_copy": round(contacts_create["records_per_s"] / baseline["records_per_s"], 3),
                        "meets_bar_create": contacts_create["records_per_s"] >= 20_000,
                    },
                    "opportunities": {
                        "http_create": deals_create,
                        "http_update": deals_update,
                        "ratio_to_leads_create": round(deals_create["records_per_s"] / create["records_per_s"], 3),
                        "ratio_to_copy": round(deals_create["records_per_s"] / baseline["records_per_s"], 3),
                        "meets_bar_create": deals_create["records_per_s"] >= 20_000,
                    },
                    "profile_in_process_one_batch": profile,
                },
                indent=2,
            )
        )
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=10)
        redis.Redis.from_url(env["REDIS_URL"]).flushdb()
        if not args.keep_db:
            recreate_database(admin_url, drop_only=True)


if __name__ == "__main__":
    main()
