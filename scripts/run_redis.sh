#!/usr/bin/env bash
# run_redis.sh [REDIS-SERVER ARGS...]: the `redis` process of `make run`.
# honcho stops all processes at once; Redis stopping first would make the workers' warm shutdown
# fail noisily. So Redis runs in its own session (out of reach of honcho's group-wide SIGTERM)
# and is stopped a moment after the others.
set -uo pipefail
setsid redis-server "$@" &
pid=$!
stop() {
    sleep "${REDIS_STOP_DELAY:-2}"
    kill -TERM "$pid" 2>/dev/null
}
trap stop TERM INT
wait "$pid" # returns early when a trapped signal arrives
wait "$pid"
