#!/usr/bin/env bash
# `make test`: the whole suite on throw-away PostgreSQL and Redis (scripts/with_services.sh),
# browser tests included. Extra arguments go to pytest: scripts/test.sh -k health -x
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$ROOT"

ensure_venv
CHROMIUM_PATH="$(chromium_path)"
export CHROMIUM_PATH
# Under `make test` a missing browser is a failure, not a skip.
export BROWSER_TESTS_REQUIRED=1
exec "$ROOT/scripts/with_services.sh" "$PY" -m pytest -p no:cacheprovider "$@"
