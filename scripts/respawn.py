"""respawn.py NAME -- CMD [ARG...]: run CMD, and run it again whenever it exits, until told to stop.

Every process of the Procfile runs under this, so `make run` (honcho) and the production recipe
(docs/development.md, "Processes, restarts and /healthz") restart a worker, the scheduler or the
web server that dies anyway — killed for memory, a bug, a crash at start-up while the database is
still coming up — instead of losing it (or, under honcho, every other process with it).

- Restarts wait 1 s, doubling up to RESPAWN_MAX_WAIT (30 s) while CMD keeps dying within
  RESPAWN_STABLE_AFTER (30 s) of its start; a longer run resets the wait.
- CMD gets ``PROCESS_NAME=NAME`` in its environment (with ``LOG_DIR`` set it logs to NAME.log).
- Each restart logs one line on stderr:
  ``respawn: NAME exited with status 1 after 3s; restart #2 in 2s``.
- The first SIGTERM, SIGINT or SIGHUP (as SIGTERM) is passed on to CMD and ends the loop (stopping
  is never mistaken for a crash); the exit status is CMD's. One that arrives while a restart is
  being spawned reaches the new CMD as soon as it exists. Repeats are not passed on: a second
  SIGTERM would make an RQ worker abandon its job. CMD runs in its own session so that a signal
  sent to the whole process group (honcho, systemd) reaches it once, through here, and it gets
  SIGTERM if this wrapper is killed (or exits at once if the wrapper died while it started).
"""

from __future__ import annotations

import ctypes
import functools
import os
import signal
import subprocess
import sys
import time

PR_SET_PDEATHSIG = 1


def _die_with_parent(parent: int) -> None:  # runs in the child, between fork and exec
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # not Linux: a killed wrapper leaves CMD running
        return
    if os.getppid() != parent:  # the wrapper died before prctl: no signal would ever come
        os._exit(1)


def _describe(status: int) -> str:
    if status < 0:
        try:
            return f"signal {signal.Signals(-status).name}"
        except ValueError:
            return f"signal {-status}"
    return f"status {status}"


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print("usage: respawn.py NAME -- CMD [ARG...]", file=sys.stderr)
        return 2
    name, cmd = argv[0], argv[2:]
    max_wait = float(os.environ.get("RESPAWN_MAX_WAIT", "30"))
    stable_after = float(os.environ.get("RESPAWN_STABLE_AFTER", "30"))
    state = {"stopping": None, "child": None, "forwarded": False}

    def forward(signum, _frame):
        if state["stopping"] is not None:  # only the first stop signal is passed on
            return
        state["stopping"] = signal.SIGTERM if signum == signal.SIGHUP else signum
        _pass_on()

    def _pass_on():
        child = state["child"]
        if not state["forwarded"] and child is not None and child.poll() is None:
            state["forwarded"] = True
            child.send_signal(state["stopping"])

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, forward)

    env = {**os.environ, "PROCESS_NAME": name}  # names the process's log file (LOG_DIR, revops/settings.py)
    wait, restarts = 1.0, 0
    while True:
        started = time.monotonic()
        preexec = functools.partial(_die_with_parent, os.getpid())
        state["child"] = subprocess.Popen(cmd, start_new_session=True, preexec_fn=preexec, env=env)
        if state["stopping"] is not None:  # it came while the child was being spawned (the old one was gone)
            _pass_on()
        status = state["child"].wait()
        if state["stopping"] is not None:
            return status if status >= 0 else 128 - status
        ran = time.monotonic() - started
        if ran >= stable_after:
            wait = 1.0
        restarts += 1
        print(
            f"respawn: {name} exited with {_describe(status)} after {ran:.0f}s; restart #{restarts} in {wait:.0f}s",
            file=sys.stderr,
            flush=True,
        )
        deadline = time.monotonic() + wait
        while state["stopping"] is None and time.monotonic() < deadline:
            time.sleep(0.1)
        if state["stopping"] is not None:
            return 0
        wait = min(wait * 2, max_wait)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
