"""wait_for_portal.py URL PARENT_PID TIMEOUT: wait until the portal's /healthz says its processes are up.

`make run` prints its banner (the logins) after this returns, so that the banner comes after the
start-up lines of the web server, the workers and the scheduler. Up means the database, Redis,
the workers and the scheduler checks are "ok" (the outbox may still be working off the demo's
events). Gives up after TIMEOUT seconds (exit 1) or as soon as PARENT_PID is gone (exit 2).
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.request

UP = ("database", "redis", "workers", "scheduler")


def processes_up(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            body = json.loads(response.read())
    except urllib.error.HTTPError:
        return False  # 503: the database or Redis is not there yet
    except (OSError, ValueError):
        return False  # not listening yet, or not the portal
    checks = body.get("checks") or {}
    return all((checks.get(name) or {}).get("status") == "ok" for name in UP)


def main(url: str, parent: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(parent, 0)
        except OSError:
            return 2
        if processes_up(url):
            return 0
        time.sleep(0.5)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3])))
