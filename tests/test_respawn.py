"""The Procfile runs every process under ``scripts/respawn.py``, which restarts what dies and stops on request."""

import os
import re
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
        assert wrapper.stdout.readline().strip() == "up"  # the second run, about a second later
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
