#!/usr/bin/env bash
# with_services.sh CMD [ARG...]: run CMD against a throw-away PostgreSQL and Redis on loopback.
#
# Both live in a fresh temp directory on free ports and are stopped (and deleted) when CMD ends,
# whatever happens. CMD sees DATABASE_URL, REDIS_URL, a random SECRET_KEY and DEBUG=0, and its exit
# code is returned. Missing server binaries are installed with apt-get when running as root.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$ROOT"
[ $# -gt 0 ] || die "usage: $0 CMD [ARG...]"

ensure_venv
pg_bin="$(pg_bindir)"
ensure_redis_server

tmp="$(mktemp -d "${TMPDIR:-/tmp}/revops-services.XXXXXX")"
pgdata="$tmp/pg/data"
redis_pid=""
pg_started=""

as_pg() {
    # PostgreSQL refuses to run as root: run its tools as the `postgres` user then.
    # (from a directory it can read, as the checkout may live under /root).
    if is_root; then (cd "$tmp" && runuser -u postgres -- "$@"); else "$@"; fi
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ -n "$pg_started" ]; then
        as_pg "$pg_bin/pg_ctl" -D "$pgdata" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    if [ -n "$redis_pid" ]; then
        kill -TERM "$redis_pid" 2>/dev/null || true
        wait "$redis_pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# PostgreSQL
mkdir -p "$tmp/pg"
if is_root; then
    id -u postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/sh postgres
    chown postgres "$tmp/pg"
    chmod 755 "$tmp" # postgres must traverse it
fi
pg_port="$(free_port)"
as_pg "$pg_bin/initdb" -D "$pgdata" -U postgres -A trust -E UTF8 --no-locale --no-sync >"$tmp/pg/initdb.log" 2>&1 ||
    { cat "$tmp/pg/initdb.log" >&2; die "initdb failed"; }
cat >>"$pgdata/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $pg_port
unix_socket_directories = '$tmp/pg'
max_connections = 100
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
pg_started=1
as_pg "$pg_bin/pg_ctl" -D "$pgdata" -l "$tmp/pg/server.log" -w -t 60 start >/dev/null ||
    { cat "$tmp/pg/server.log" >&2; die "PostgreSQL did not start"; }
"$pg_bin/createdb" -h 127.0.0.1 -p "$pg_port" -U postgres revops

# Redis
redis_port="$(free_port)"
mkdir -p "$tmp/redis"
redis-server --bind 127.0.0.1 --port "$redis_port" --save "" --appendonly no --dir "$tmp/redis" \
    --daemonize no --loglevel warning >"$tmp/redis/server.log" 2>&1 &
redis_pid=$!

export DATABASE_URL="postgres://postgres@127.0.0.1:$pg_port/revops"
export REDIS_URL="redis://127.0.0.1:$redis_port/0"
export SECRET_KEY="${TEST_SECRET_KEY:-$(random_secret 50)}"
export DEBUG=0
# Production settings, but served over plain HTTP by the test client and the live server.
export SECURE_SSL_REDIRECT=0
export REVOPS_ENV_FILE=/dev/null  # a developer's .env (from make run) must not leak into tests
export DATA_DIR="$tmp/data"
export PATH="$VENV/bin:$PATH"
"$PY" scripts/wait_for_redis.py 15 || { cat "$tmp/redis/server.log" >&2; die "Redis did not start"; }
say "PostgreSQL on 127.0.0.1:$pg_port, Redis on 127.0.0.1:$redis_port (in $tmp)"

set +e
"$@"
rc=$?
set -e
exit "$rc"
