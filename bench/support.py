"""What the benchmarks that own a throwaway database share: its URLs, creating and dropping it, and
an optional profile of one phase printed to stderr."""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse, urlunparse


def setup_django(bench_url: str) -> None:
    """Django on the benchmark's own database with production settings (``DEBUG=0``) and the test
    client's host allowed; a secret of its own unless ``SECRET_KEY`` is set."""
    import secrets

    os.environ.update(
        {
            "DATABASE_URL": bench_url,
            "SECRET_KEY": os.environ.get("SECRET_KEY") or secrets.token_urlsafe(48),
            "DEBUG": "0",
            "SECURE_SSL_REDIRECT": "0",
            "ALLOWED_HOSTS": "testserver,127.0.0.1,localhost",
            "LOG_LEVEL": "WARNING",
            "DJANGO_SETTINGS_MODULE": "revops.settings",
        }
    )
    root = str(Path(__file__).resolve().parent.parent)
    if root not in sys.path:
        sys.path.insert(0, root)
    import django

    django.setup()


def database_urls(db_name: str, script: str) -> tuple[str, str]:
    """(the server's ``postgres`` database, the benchmark's own ``db_name``) from ``DATABASE_URL``."""
    parsed = urlparse(os.environ.get("DATABASE_URL", ""))
    if parsed.scheme not in {"postgres", "postgresql", "pgsql"}:
        sys.exit(f"{script} needs DATABASE_URL pointing at a PostgreSQL server (postgres://…)")
    admin = urlunparse(parsed._replace(scheme="postgresql", path="/postgres"))
    return admin, urlunparse(parsed._replace(scheme="postgres", path=f"/{db_name}"))


def recreate(admin_url: str, db_name: str, *, drop_only: bool = False) -> None:
    """Drop ``db_name`` (forcing its connections closed) and, unless ``drop_only``, create it empty."""
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        if not drop_only:
            conn.execute(f'CREATE DATABASE "{db_name}"')


@contextmanager
def profiled(enabled: bool, label: str, *, top: int = 30):
    """Profile the block when ``enabled``: its top functions by cumulative and by own time, to stderr."""
    if not enabled:
        yield
        return
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    try:
        yield
    finally:
        profiler.disable()
        print(f"\n===== {label} =====", file=sys.stderr)
        stats = pstats.Stats(profiler, stream=sys.stderr)
        stats.sort_stats("cumulative").print_stats(top)
        stats.sort_stats("tottime").print_stats(top - 5)


def start_web(env: dict, root: Path, *, workers: int | None = None, runserver: bool = False):
    """The web tier as docs/deployment.md runs it — gunicorn, ``2 × cores + 1`` sync workers — on a free
    port of 127.0.0.1; returns ``(process, port)`` once it accepts connections. ``runserver``: Django's
    development server instead (threaded, one process), for a comparison."""
    import socket
    import subprocess
    import time

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    workers = workers or 2 * (os.cpu_count() or 1) + 1
    command = [sys.executable, "-m", "gunicorn", "revops.wsgi", "--bind", f"127.0.0.1:{port}"]
    command += ["--workers", str(workers), "--timeout", "120", "--log-level", "warning"]
    if runserver:
        command = [sys.executable, str(root / "manage.py"), "runserver", "--noreload", f"127.0.0.1:{port}"]
    server = subprocess.Popen(
        command,
        env=env,
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return server, port
        except OSError:
            if server.poll() is not None:
                raise SystemExit(f"gunicorn died: {server.stderr.read().decode()[-2000:]}") from None
            time.sleep(0.1)
    raise SystemExit("gunicorn did not start")


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _children(pid: int) -> list[int]:
    found = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as children:
                found.extend(int(child) for child in children.read().split())
    except OSError:
        pass
    return found


class RssSampler:
    """The highest resident memory (MB) of named processes and, apart, of their children (a forking RQ
    worker's job process; rq's scheduler process, for the worker started ``--with-scheduler`` that
    holds its lock), sampled every ``interval`` seconds from ``/proc`` inside each ``with`` block."""

    def __init__(self, processes: dict[str, int], interval: float = 0.25):
        import threading

        self.processes, self.interval = processes, interval
        self.peak: dict[str, float] = dict.fromkeys(processes, 0.0)
        self.peak_child: dict[str, float] = dict.fromkeys(processes, 0.0)
        self._stop = threading.Event()
        self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            for name, pid in self.processes.items():
                self.peak[name] = max(self.peak[name], _rss_mb(pid))
                for child in _children(pid):
                    self.peak_child[name] = max(self.peak_child[name], _rss_mb(child))
            self._stop.wait(self.interval)

    def __enter__(self):
        import threading

        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def report(self) -> dict:
        return {
            name: {"rss_mb_max": round(self.peak[name], 1), "children_rss_mb_max": round(self.peak_child[name], 1)}
            for name in self.processes
        }
