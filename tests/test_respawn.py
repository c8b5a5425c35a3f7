"""The Procfile runs every process under ``scripts/respawn.py``, which restarts what dies and stops on request."""

import os
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CRASHES_ONCE = """
import os, signal, sys, time
marker = sys.argv[1]
if not os.path.exists(marker):
    open(marker, "w").close()
    sys.exit(3)  # the first run dies at once
signal.signal(signal.SIGTERM, lambda *a: (open(marker + ".stopped", "w").close(), sys.exit(0)))
print("up", flush=True)
time.sleep(60)
"""

STOPS_SLOWLY = """
import os, signal, sys, time
log = sys.argv[1]
terms = []
def term(*a):
    terms.append(time.monotonic())
    with open(log, "a") as f:
        f.write("TERM\\n")
signal.signal(signal.SIGTERM, term)
open(log + ".up", "w").close()
while not terms or time.monotonic() - terms[0] < 1.5:  # a worker finishing its job
    time.sleep(0.05)
sys.exit(0)
"""


def readline(stream, timeout=10.0) -> str:
    """One line of ``stream``, or AssertionError after ``timeout`` seconds (never a hung suite)."""
    ready, _, _ = select.select([stream], [], [], timeout)
    assert ready, f"no output within {timeout} s"
    return stream.readline()


def wait_for(predicate, timeout=10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_every_procfile_process_runs_under_respawn_with_the_resilient_classes():
    lines = dict(
        line.split(":", 1) for line in (ROOT / "Procfile").read_text().splitlines() if re.match(r"^[a-z]+:", line)
    )
    assert set(lines) == {"web", "hot", "worker", "scheduler"}
    for name, command in lines.items():
        assert f"scripts/respawn.py {name} -- " in command, name
    assert "--worker-class revops.worker.HotWorker" in lines["hot"]
    assert "--worker-class revops.worker.Worker" in lines["worker"]
    assert "manage.py revops_cron revops.cron" in lines["scheduler"]
    assert "--noreload" in lines["web"]  # scripts/run.sh appends --insecure after it


def test_a_process_that_dies_is_restarted_and_a_stop_is_passed_on(tmp_path):
    marker = tmp_path / "ran"
    wrapper = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "scripts/respawn.py"),
            "demo",
            "--",
            sys.executable,
            "-c",
            CRASHES_ONCE,
            str(marker),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "RESPAWN_MAX_WAIT": "1"},
    )
    try:
        assert readline(wrapper.stdout).strip() == "up"  # the second run, about a second later
        wrapper.send_signal(signal.SIGTERM)
        assert wrapper.wait(timeout=10) == 0  # the child's own exit status
        _out, err = wrapper.communicate(timeout=5)
    finally:
        if wrapper.poll() is None:
            wrapper.kill()
    assert "respawn: demo exited with status 3 after 0s; restart #1 in 1s" in err
    assert (tmp_path / "ran.stopped").exists()  # SIGTERM reached the child exactly as sent


def test_a_killed_wrapper_takes_its_child_with_it(tmp_path):
    wrapper = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts/respawn.py"), "demo", "--", "sleep", "60"],
    )
    try:
        deadline = time.monotonic() + 10
        children = []
        while not children and time.monotonic() < deadline:
            children = subprocess.run(["pgrep", "-P", str(wrapper.pid)], capture_output=True, text=True).stdout.split()
            time.sleep(0.05)
        assert children

        def exec_done():  # PDEATHSIG is set in the child before exec: wait for the exec
            try:
                return Path(f"/proc/{children[0]}/cmdline").read_bytes().startswith(b"sleep")
            except OSError:
                return False

        wait_for(exec_done)
        wrapper.kill()
        wrapper.wait()
        child = int(children[0])
        while time.monotonic() < deadline:
            try:
                os.kill(child, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        else:
            os.kill(child, signal.SIGKILL)
            raise AssertionError("the child outlived its wrapper")
    finally:
        if wrapper.poll() is None:
            wrapper.kill()


def test_a_stop_that_arrives_while_a_restart_is_spawned_reaches_the_new_child(tmp_path, monkeypatch):
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import respawn
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    real, calls = subprocess.Popen, []

    def popen(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:  # the stop lands while the restart is being spawned
            os.kill(os.getpid(), signal.SIGTERM)
        return real(*args, **kwargs)

    monkeypatch.setattr(respawn.subprocess, "Popen", popen)
    marker = tmp_path / "ran"
    cmd = (
        f"test -e {marker} || {{ touch {marker}; exit 3; }}; trap 'touch {marker}.stopped; exit 0' TERM; sleep 6 & wait"
    )
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    started = time.monotonic()
    try:
        status = respawn.main(["demo", "--", "sh", "-c", cmd])
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
    # the new child got the SIGTERM (as soon as it existed; before its trap, it dies of it)
    assert time.monotonic() - started < 4 and status in (0, 128 + signal.SIGTERM)
    assert len(calls) == 2


def test_only_the_first_stop_signal_is_passed_on(tmp_path):
    log = tmp_path / "terms"
    wrapper = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts/respawn.py"), "demo", "--", sys.executable, "-c", STOPS_SLOWLY, str(log)]
    )
    try:
        wait_for(lambda: Path(f"{log}.up").exists())
        wrapper.send_signal(signal.SIGTERM)
        wait_for(log.exists)
        wrapper.send_signal(signal.SIGTERM)  # honcho or systemd repeating itself: no cold shutdown
        wrapper.send_signal(signal.SIGINT)
        assert wrapper.wait(timeout=10) == 0
    finally:
        if wrapper.poll() is None:
            wrapper.kill()
    assert log.read_text() == "TERM\n"
