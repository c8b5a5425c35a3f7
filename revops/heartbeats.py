"""Who is alive: RQ workers by their heartbeat, the scheduler by its last tick.

A registered worker is not necessarily a live one: a worker killed with SIGKILL stays in RQ's
registry until its key expires (the job's timeout plus a minute for a busy non-forking worker,
half an hour by default). ``revops.worker`` classes beat every ``HEARTBEAT_SECONDS`` whether idle
or busy, so a worker is counted live only while its last heartbeat is younger than
``WORKER_HEARTBEAT_WINDOW`` seconds, it has not registered its death, and — on this host — its
process exists. ``/healthz`` and the outbox sweeper (``revops.outbox``) both ask here.

The cron scheduler (``revops.scheduler``) writes ``SCHEDULER_TICK_KEY`` on every tick.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from rq.utils import as_text, utcparse
from rq.worker import Worker

HEARTBEAT_SECONDS = 15
SCHEDULER_TICK_KEY = "revops:scheduler:last-tick"
SCHEDULER_TICK_TTL = 7 * 24 * 3600


def heartbeat_window() -> int:
    """Seconds after which a silent worker counts as dead (``WORKER_HEARTBEAT_WINDOW``, default 60)."""
    return int(getattr(settings, "WORKER_HEARTBEAT_WINDOW", 60))


def scheduler_tick_window() -> int:
    """Seconds after which a silent scheduler counts as stopped (``SCHEDULER_TICK_WINDOW``, default 120)."""
    return int(getattr(settings, "SCHEDULER_TICK_WINDOW", 120))


@dataclass(frozen=True)
class WorkerState:
    """One registered worker as its Redis hash describes it, and whether it counts as alive."""

    name: str
    queues: tuple[str, ...]
    state: str
    last_heartbeat: datetime | None
    alive: bool
    reason: str


def _process_gone(hostname: str | None, pid: str | None) -> bool:
    """True only when the worker ran on this host and its process no longer exists."""
    if not pid or hostname != socket.gethostname():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, ValueError):
        return False
    return False


def worker_state(connection, name: str, *, now: datetime | None = None) -> WorkerState | None:
    """The worker called ``name`` (``rq:worker:<name>``), or None when Redis no longer has it."""
    raw = connection.hgetall(Worker.redis_worker_namespace_prefix + name)
    if not raw:
        return None
    data = {as_text(k): as_text(v) for k, v in raw.items()}
    now = now or datetime.now(UTC)
    beat = utcparse(data["last_heartbeat"]) if data.get("last_heartbeat") else None
    if beat is not None and beat.tzinfo is None:
        beat = beat.replace(tzinfo=UTC)
    if data.get("death"):
        alive, reason = False, "registered its death"
    elif beat is None or (now - beat).total_seconds() > heartbeat_window():
        alive, reason = False, f"no heartbeat for more than {heartbeat_window()} s"
    elif _process_gone(data.get("hostname"), data.get("pid")):
        alive, reason = False, "its process is gone"
    else:
        alive, reason = True, f"heartbeat {(now - beat).total_seconds():.0f} s ago"
    queues = tuple(q for q in (data.get("queues") or "").split(",") if q)
    return WorkerState(name, queues, data.get("state", "?"), beat, alive, reason)


def workers_states(connection) -> list[WorkerState]:
    """Every worker RQ has registered, live or not."""
    now = datetime.now(UTC)
    prefix = Worker.redis_worker_namespace_prefix
    states = []
    for key in Worker.all_keys(connection=connection):
        state = worker_state(connection, key[len(prefix) :], now=now)
        if state is not None:
            states.append(state)
    return states


def scheduler_tick_record(connection) -> None:
    """Record that the scheduler is ticking (a Unix timestamp)."""
    connection.set(SCHEDULER_TICK_KEY, repr(time.time()), ex=SCHEDULER_TICK_TTL)


def scheduler_last_tick(connection) -> float | None:
    """Seconds since the scheduler's last tick, or None if it never ticked (since Redis last lost its data)."""
    value = connection.get(SCHEDULER_TICK_KEY)
    if value is None:
        return None
    return max(0.0, time.time() - float(as_text(value)))
