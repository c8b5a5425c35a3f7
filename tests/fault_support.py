"""Throw-away PostgreSQL and Redis servers a test may stop and start, and the portal's processes on them.

``make test`` already runs on throw-away servers, but restarting those would pull the ground from
under the test process itself. A fault test gets its own pair on free ports (PostgreSQL 15's
binaries, as ``scripts/with_services.sh`` finds them; ``redis-server`` from PATH), copies the
test database into it (``pg_dump | pg_restore``, so fixtures built with factories come along)
and runs the Procfile's processes against it.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float, *, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            if process is not None and process.poll() is not None:
                raise RuntimeError(f"process exited with {process.returncode} before listening on {port}") from None
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s") from None
            time.sleep(0.05)


def pg_bindir() -> Path:
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda d: [int(p) for p in d.split("/")[4].split(".")])
    for candidate in reversed(dirs):
        if os.access(os.path.join(candidate, "initdb"), os.X_OK):
            return Path(candidate)
    raise RuntimeError("PostgreSQL server binaries not found in /usr/lib/postgresql/*/bin")


class PostgresServer:
    """One PostgreSQL cluster in a temp directory; ``restart()`` terminates every session, as a real restart."""

    def __init__(self, tmp: Path):
        self.bin = pg_bindir()
        self.dir = tmp / "pg"
        self.data = self.dir / "data"
        self.port = free_port()
        self.root = os.geteuid() == 0

    def _run(self, *args: str, check: bool = True) -> None:
        cmd = [str(self.bin / args[0]), *args[1:]]
        if self.root:  # PostgreSQL refuses to run as root
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        # Output to a file, never a pipe: the server pg_ctl starts inherits it and would hold it open.
        with open(self.dir / "ctl.log", "ab") as log:
            done = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=self.dir)
        if check and done.returncode:
            raise RuntimeError(f"{args[0]} failed: {(self.dir / 'ctl.log').read_text()[-2000:]}")

    def _ctl(self, *args: str, check: bool = True) -> None:
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.dir / "server.log"), "-w", "-t", "30", *args, check=check
        )

    def start(self) -> PostgresServer:
        self.dir.mkdir(parents=True)
        if self.root:
            shutil.chown(self.dir, "postgres")
            os.chmod(self.dir.parent, 0o755)
        self._run(
            "initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync"
        )
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(
                f"listen_addresses = '127.0.0.1'\nport = {self.port}\nunix_socket_directories = '{self.dir}'\n"
                "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
            )
        self._ctl("start")
        return self

    def restart(self, down_for: float = 0.0) -> None:
        """A fast restart: every session is terminated, the server stays down ``down_for`` seconds, then starts."""
        self._ctl("-m", "fast", "stop")
        time.sleep(down_for)
        self._ctl("start")

    def stop(self) -> None:
        if self.data.exists():
            self._ctl("-m", "immediate", "stop", check=False)

    def url(self, name: str = "revops") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"

    def copy_database(self, settings_dict: dict, name: str = "revops") -> None:
        """Create ``name`` here as a copy (schema and rows) of the database ``settings_dict`` describes."""
        env = {**os.environ, "PGPASSWORD": settings_dict.get("PASSWORD") or ""}
        subprocess.run(
            [str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name],
            check=True,
            capture_output=True,
        )
        dump = subprocess.run(
            [
                str(self.bin / "pg_dump"),
                "-h",
                settings_dict.get("HOST") or "127.0.0.1",
                "-p",
                str(settings_dict.get("PORT") or 5432),
                "-U",
                settings_dict["USER"],
                "-Fc",
                "--no-owner",
                settings_dict["NAME"],
            ],
            check=True,
            capture_output=True,
            env=env,
        ).stdout
        subprocess.run(
            [
                str(self.bin / "pg_restore"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "--no-owner",
                "-d",
                name,
            ],
            input=dump,
            check=True,
            capture_output=True,
        )


class RedisServer:
    """One ``redis-server`` without persistence: a restart loses every key, the worst case."""

    def __init__(self, tmp: Path):
        self.dir = tmp / "redis"
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    def start(self) -> RedisServer:
        self.dir.mkdir(parents=True, exist_ok=True)
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not on PATH")
        self.process = subprocess.Popen(
            [binary, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no"]
            + ["--dir", str(self.dir), "--loglevel", "warning"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port, 10, process=self.process)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.process = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


class Processes:
    """The portal's processes (Procfile-style command lines) against the given servers, logs in files."""

    def __init__(self, tmp: Path, env: dict[str, str]):
        self.tmp = tmp
        self.env = {**os.environ, "PYTHONPATH": str(ROOT), **env}
        self.running: dict[str, subprocess.Popen] = {}

    def start(self, name: str, *args: str) -> subprocess.Popen:
        log = open(self.tmp / f"{name}.log", "wb")  # noqa: SIM115  (closed with the process)
        process = subprocess.Popen(
            [sys.executable, *args], cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        self.running[name] = process
        return process

    def log(self, name: str) -> str:
        return (self.tmp / f"{name}.log").read_text(errors="replace")

    def stop_all(self) -> None:
        for process in self.running.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        for process in self.running.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def temp_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="revops-faults-"))


# The Procfile's worker command lines (after ``manage.py rqworker``), for ``Portal.start_worker``.
HOT_WORKER = ("hot", "--worker-class", "revops.worker.HotWorker", "--worker-ttl", "60", "--with-scheduler")
IDLE_WORKER = ("default", "low", "--worker-class", "revops.worker.Worker", "--worker-ttl", "60", "--with-scheduler")


@dataclass
class Portal:
    """A test's own servers with the test database copied in, and the portal's processes on them."""

    tmp: Path
    pg: PostgresServer
    rd: RedisServer
    procs: Processes
    web_port: int

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def start_web(self) -> None:
        self.procs.start("web", "manage.py", "runserver", f"127.0.0.1:{self.web_port}", "--noreload")

    def start_worker(self, name: str, bootstrap: str, args) -> None:
        """A worker as the Procfile starts it; ``bootstrap`` is the ``python -c`` script that runs
        ``rqworker`` with ``args`` (it may import test-only automation kinds first)."""
        self.procs.start(name, "-c", bootstrap, *args)

    def start_scheduler(self, name: str = "scheduler") -> None:
        self.procs.start(name, "manage.py", "revops_cron", "revops.cron")


@contextmanager
def portal(settings_dict: dict, env: dict[str, str] | None = None, *, keep_logs: bool = False):
    """Start PostgreSQL and Redis of the test's own, copy the test database in, and yield a
    ``Portal`` whose processes use them (``env`` added to the tests' settings); stop everything
    afterwards."""
    tmp = temp_dir()
    pg, rd = PostgresServer(tmp), RedisServer(tmp)
    procs = None
    try:
        rd.start()
        pg.start()
        pg.copy_database(settings_dict)
        base_env = {
            "DATABASE_URL": pg.url(),
            "REDIS_URL": rd.url,
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "ALLOWED_HOSTS": "127.0.0.1",
        }
        procs = Processes(tmp, {**base_env, **(env or {})})
        yield Portal(tmp, pg, rd, procs, free_port())
    finally:
        if procs is not None:
            procs.stop_all()
        rd.stop()
        pg.stop()
        if not keep_logs:
            shutil.rmtree(tmp, ignore_errors=True)
