"""The busy queue the benchmarks measure under: a second process syncing leads into the same database.

``busy_queue(bench_url, into)`` runs this file as a script (``busy_load``) for the duration of a block:
it syncs batches of 1,000 leads through ``revops.sync.sync_batch_apply`` (new leads, then the same
leads changed: validation, history, outbox) until it is stopped, and puts its leads/s in ``into``.
Run alone first for a few seconds, the same load gives the baseline its busy figure is compared with.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHUNK = 1000
# Each load process syncs leads of its own (BL<run>-…): a second load must not find the first one's
# leads already stored (unchanged records cost the sync much less).
_RUNS = itertools.count(1)


def lead(n: int, *, at: str, score: int, run: int = 0) -> dict:
    return {
        "external_id": f"BL{run}-{n:07d}",
        "source_updated_at": at,
        "email": f"buyer{n}@prospect{n % 5000}.test",
        "company": f"Prospect {n % 5000}",
        "country": ["US", "GB", "AU", "DE", "CA", "JP", "BR"][n % 7],
        "score": score,
        "source": "web_form",
        "status": "new",
    }


def busy_load() -> int:
    """The second process: sync batches of 1,000 leads (new, then the same changed) until SIGTERM;
    prints "ready" once warmed up, then at the end {"leads", "seconds"} of the batches after it."""
    stopping, run = [], int(os.environ.get("BUSY_LOAD_RUN", "0"))
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    os.environ.update(DJANGO_SETTINGS_MODULE="revops.settings", DEBUG="1", LOG_LEVEL="WARNING")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.contrib.auth import get_user_model

    from revops.sync import sync_batch_apply

    actor, _ = get_user_model().objects.get_or_create(username="bench-load", defaults={"is_staff": True})
    synced, started, batch = 0, None, 0
    while not stopping:
        first = (batch // 2) * CHUNK
        changed = batch % 2  # even batches create 1,000 leads, odd ones change them all
        records = [
            lead(i, at=f"2026-03-01T10:00:0{changed}Z", score=(i + changed * 7) % 100, run=run)
            for i in range(first, first + CHUNK)
        ]
        outcome = sync_batch_apply(object_name="leads", records=records, actor=actor)
        assert not outcome.counts.get("rejected"), outcome.counts
        batch += 1
        if started is None:  # the first batch warms up (validators, caches)
            print("ready", flush=True)
            started = time.perf_counter()
        else:
            synced += len(records)
    print(json.dumps({"leads": synced, "seconds": round(time.perf_counter() - started, 3)}), flush=True)
    return 0


@contextmanager
def busy_queue(bench_url: str, into: dict):
    """Run ``busy_load`` in another process for the duration of the block; its leads/s go in ``into``."""
    proc = subprocess.Popen(
        [sys.executable, __file__],
        env={**os.environ, "DATABASE_URL": bench_url, "BUSY_LOAD_RUN": str(next(_RUNS))},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        if proc.stdout.readline().strip() != "ready":
            raise RuntimeError(f"the busy load did not start (exit code {proc.wait()})")
        yield
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=120)
    done = json.loads(out.strip().splitlines()[-1])
    into["load_leads_per_second"] = round(done["leads"] / done["seconds"], 1) if done["seconds"] else None


if __name__ == "__main__":
    sys.exit(busy_load())
