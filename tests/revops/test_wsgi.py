"""The WSGI module (``revops/wsgi.py``): what it loads is frozen for the garbage collector."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import gc, sys
import revops.wsgi
print(gc.get_freeze_count(), 'revops.api.sync' in sys.modules, 'routing.api.views' in sys.modules)
"""


def test_loading_the_application_imports_the_views_and_freezes_them():
    env = {**os.environ, "DEBUG": "1", "DJANGO_SETTINGS_MODULE": "revops.settings"}
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=True
    )
    frozen, sync_views, routing_views = done.stdout.split()
    # Django and the portal's modules alone are well over 100,000 objects.
    assert int(frozen) > 100_000
    assert sync_views == routing_views == "True"
