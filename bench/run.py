"""Run every benchmark in bench/ and print one JSON document with all their figures.

    make bench ARGS="--quick"                     # scripts/bench.sh: throw-away PostgreSQL and Redis
    scripts/with_services.sh .venv/bin/python bench/run.py [--quick] [--only ingest,triage] \
        [--flags 'routing=--backfill 20000 --leads 200'] [--timeout SECONDS]

Each benchmark runs as its own subprocess, one after the other, not imported: every one calls
``django.setup()`` against its own database (``revops_bench``, ``revops_triage_bench``), ingest
and routing both use ``revops_bench`` and Redis db 4 so they can never share a process or overlap,
a crash, ``sys.exit`` or hang in one must not lose the others' figures, and a subprocess is
exactly how a developer runs one by hand, so the numbers are the same. Each gets its own process
group: on ``--timeout`` or Ctrl-C it is sent SIGINT (its ``finally`` stops its server and workers
and drops its database), then SIGKILL after 60 s; anything it leaves running is killed.

stdout is one JSON document and nothing else::

    {"started_at", "finished_at", "quick", "machine": {"cpus", "python", "platform", "postgres", "redis"},
     "benchmarks": {"<name>": {…the benchmark's own JSON: figures, same-run baselines, ratios…}
                    or {"error": "exit code 1: <last stderr line>", "stderr_tail": […]}},
     "runs": {"<name>": {"command", "env", "seconds", "exit_code"}},
     "failed": ["<name>", …]}

Progress and the benchmarks' own stderr go to stderr. Exit code: 1 if any benchmark failed (the
document is printed anyway), 2 for bad options, 130 when interrupted.

``--quick`` passes each benchmark's own smaller sizes (its flags; ``BENCH_LEADS``/``BENCH_ROUNDS``
for conditions and engine, which take no flags) and a 600 s timeout, so the whole run takes a few
minutes; it checks that everything works, its figures are not comparable with a full run.
``--flags NAME=FLAGS`` appends FLAGS to that benchmark's command line (after the quick sizes, so
they win).
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import json
import os
import platform
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent

# name -> (quick flags, quick environment). Run in this order: cheap in-memory ones first.
BENCHMARKS = {
    "conditions": ([], {"BENCH_LEADS": "3000", "BENCH_ROUNDS": "2"}),
    "engine": ([], {"BENCH_LEADS": "1000", "BENCH_ROUNDS": "1"}),
    "ingest": (["--records", "5000"], {}),
    "triage": (["--items", "20000", "--requests", "10", "--seconds", "2"], {}),
    "routing": (
        ["--leads", "40", "--accounts", "2000", "--backfill", "1000", "--backtest", "5000"]
        + ["--busy-opportunities", "1000", "--busy-backfill", "1000"],
        {},
    ),
    "handoffs": (["--deals", "300", "--handoffs", "2000"], {}),
    "monitors": (["--deals", "5000"], {}),
    "scoring": (["--leads", "5000", "--events", "60"], {}),
    "duplicates": (["--contacts", "10000", "--accounts", "2000", "--ingest", "4000", "--deployed", "4000"], {}),
    "dashboard": (["--runs", "100000", "--items", "10000", "--leads", "10000", "--requests", "10"], {}),
}
# conditions and engine read BENCH_LEADS / BENCH_ROUNDS only
TAKES_FLAGS = {"ingest", "triage", "routing", "monitors", "scoring", "duplicates", "dashboard"}
QUICK_TIMEOUT = 600


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def machine() -> dict:
    info = {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}
    try:
        import psycopg

        url = os.environ["DATABASE_URL"].replace("postgres://", "postgresql://", 1)
        with psycopg.connect(url, connect_timeout=5) as conn:
            info["postgres"] = conn.execute("SHOW server_version").fetchone()[0]
    except Exception as exc:  # no DATABASE_URL, server down: the benchmarks will say so themselves
        info["postgres"] = f"unknown ({type(exc).__name__})"
    try:
        import redis

        info["redis"] = redis.Redis.from_url(os.environ["REDIS_URL"], socket_timeout=5).info("server")["redis_version"]
    except Exception as exc:
        info["redis"] = f"unknown ({type(exc).__name__})"
    return info


def signal_group(proc: subprocess.Popen, sig: int) -> bool:
    try:
        os.killpg(proc.pid, sig)
        return True
    except ProcessLookupError:  # nothing left in the group
        return False


def run_one(name: str, flags: list[str], env_overrides: dict[str, str], timeout: float | None) -> tuple[dict, dict]:
    """Run ``bench/NAME.py``; return (its JSON or {"error": …}, how it was run)."""
    command = [sys.executable, str(BENCH_DIR / f"{name}.py"), *flags]
    env = {**env_overrides, **os.environ}  # the caller's own BENCH_LEADS / BENCH_ROUNDS win
    sizes = {} if name in TAKES_FLAGS else {k: env[k] for k in ("BENCH_LEADS", "BENCH_ROUNDS") if k in env}
    log(f"{name}: {' '.join(f'{k}={v}' for k, v in sizes.items())} {shlex.join(command[1:])}".strip())
    tail: collections.deque[str] = collections.deque(maxlen=15)
    stopped = None
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out:
        proc = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.PIPE, text=True, start_new_session=True
        )

        def tee_stderr() -> None:  # show the benchmark's stderr as it comes, keep its end for the error
            for line in proc.stderr:
                sys.stderr.write(line)
                tail.append(line.rstrip())

        reader = threading.Thread(target=tee_stderr, daemon=True)
        reader.start()
        try:
            code = proc.wait(timeout=timeout)
        except (subprocess.TimeoutExpired, KeyboardInterrupt) as exc:
            stopped = "interrupted" if isinstance(exc, KeyboardInterrupt) else f"timed out after {timeout:g} s"
            log(f"{name}: {stopped}, stopping it")
            signal_group(proc, signal.SIGINT)
            try:
                code = proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                signal_group(proc, signal.SIGKILL)
                code = proc.wait()
        if signal_group(proc, signal.SIGKILL):  # a server or worker the benchmark left behind
            log(f"{name}: killed processes it left running")
        reader.join(timeout=10)
        out.seek(0)
        stdout = out.read()
    run = {"command": shlex.join([f"bench/{name}.py", *flags]), "env": sizes}
    run.update(seconds=round(time.perf_counter() - started, 1), exit_code=code)
    if stopped:
        run["stopped"] = stopped
    if stopped or code != 0:
        last = stopped or next((line for line in reversed(tail) if line.strip()), "")
        return {"error": f"exit code {code}: {last}", "stderr_tail": list(tail)}, run
    try:
        figures = json.loads(stdout)
    except json.JSONDecodeError:
        figures = None
    if not isinstance(figures, dict):
        return {"error": f"stdout is not one JSON object: {stdout[-500:]!r}"}, run
    return figures, run


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help=f"comma-separated subset of: {','.join(BENCHMARKS)}")
    parser.add_argument("--quick", action="store_true", help="the benchmarks' smaller sizes (a few minutes)")
    parser.add_argument(
        "--flags",
        action="append",
        default=[],
        metavar="NAME=FLAGS",
        help=f"extra flags for one benchmark ({', '.join(sorted(TAKES_FLAGS))}), e.g. 'ingest=--records 20000'",
    )
    parser.add_argument(
        "--timeout", type=float, help=f"seconds per benchmark (default: none, {QUICK_TIMEOUT} with --quick)"
    )
    args = parser.parse_args(argv)
    if args.timeout is None and args.quick:
        args.timeout = QUICK_TIMEOUT
    args.names = list(BENCHMARKS)
    if args.only:
        args.names = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = [n for n in args.names if n not in BENCHMARKS]
        if unknown:
            parser.error(f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
    args.extra = {}
    for item in args.flags:
        name, sep, flags = item.partition("=")
        if not sep or name not in TAKES_FLAGS:
            parser.error(
                f"--flags {item!r}: expected NAME=FLAGS with NAME one of {', '.join(sorted(TAKES_FLAGS))} "
                "(conditions and engine take no flags: set BENCH_LEADS / BENCH_ROUNDS in the environment)"
            )
        args.extra.setdefault(name, []).extend(shlex.split(flags))
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    doc = {"started_at": now(), "finished_at": None, "quick": args.quick, "machine": machine()}
    doc.update(benchmarks={}, runs={}, failed=[])
    interrupted = False
    for name in args.names:
        quick_flags, quick_env = BENCHMARKS[name] if args.quick else ([], {})
        figures, run = run_one(name, [*quick_flags, *args.extra.get(name, [])], quick_env, args.timeout)
        doc["benchmarks"][name], doc["runs"][name] = figures, run
        if "error" in figures:
            doc["failed"].append(name)
            log(f"{name}: FAILED in {run['seconds']} s: {figures['error'][:300]}")
        else:
            log(f"{name}: ok in {run['seconds']} s")
        interrupted = run.get("stopped") == "interrupted"
        if interrupted:
            break
    doc["finished_at"] = now()
    print(json.dumps(doc, indent=2, default=str))
    return 130 if interrupted else 1 if doc["failed"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
