#!/usr/bin/env bash
# `make bench`: bench/run.py (printing JSON) on throw-away PostgreSQL and Redis, once it exists.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$ROOT"
if [ ! -f bench/run.py ]; then
    say "no bench/run.py yet: nothing to run"
    exit 0
fi
exec "$ROOT/scripts/with_services.sh" "$PY" bench/run.py "$@"
