#!/usr/bin/env bash
# `make bench [ARGS="..."]`: every benchmark in bench/ on throw-away PostgreSQL and Redis
# (scripts/with_services.sh), printing one JSON document on stdout (progress on stderr).
# Arguments go to bench/run.py: scripts/bench.sh --quick --only ingest,triage
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$ROOT"
exec "$ROOT/scripts/with_services.sh" "$PY" bench/run.py "$@"
