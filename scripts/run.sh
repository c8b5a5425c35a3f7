#!/usr/bin/env bash
# `make run`: the portal on http://127.0.0.1:8000/admin/ with demo data, its RQ workers, the cron
# scheduler and (when no Redis answers) a Redis of its own. Ctrl-C stops everything.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$ROOT"

# Development settings for this script's processes only (DEBUG=1 unless set, a .env of your own if
# present): revops/settings.py reads no file, so a process started otherwise runs as production.
# `scripts/manage.sh <command>` runs manage.py commands with the same settings.
ensure_venv
dev_env
export PATH="$VENV/bin:$PATH"
mkdir -p "$DATA_DIR"
WEB_ADDR="${WEB_ADDR:-127.0.0.1:8000}"
export WEB_ADDR
web_host="${WEB_ADDR%:*}"
web_port="${WEB_ADDR##*:}"
if port_open "$web_host" "$web_port"; then
    die "something already listens on $WEB_ADDR (another \`make run\`?). Stop it or set WEB_ADDR=127.0.0.1:<port>."
fi

procfile="$DATA_DIR/Procfile.run"
: >"$procfile"

# Redis: ours only when REDIS_URL is left at the default and nothing answers there.
redis_pid=""
stop_setup_redis() {
    if [ -n "$redis_pid" ]; then
        kill -TERM "$redis_pid" 2>/dev/null || true # SIGTERM makes Redis save its RDB file
        wait "$redis_pid" 2>/dev/null || true
        redis_pid=""
    fi
}
trap stop_setup_redis EXIT
redis_note="REDIS_URL=${REDIS_URL:-} (external)"
if [ -z "${REDIS_URL:-}" ] || [ "$REDIS_URL" = "redis://127.0.0.1:6379/0" ]; then
    export REDIS_URL="redis://127.0.0.1:6379/0"
    if port_open 127.0.0.1 6379; then
        redis_note="$REDIS_URL (already running, not managed here)"
    else
        ensure_redis_server
        mkdir -p "$DATA_DIR/redis"
        redis_args=(--bind 127.0.0.1 --port 6379 --protected-mode yes --dir "$DATA_DIR/redis"
            --save "60 1" --appendonly no --daemonize no --loglevel warning)
        printf 'redis: exec bash scripts/run_redis.sh' >>"$procfile"
        printf ' %q' "${redis_args[@]}" >>"$procfile"
        printf '\n' >>"$procfile"
        # Running now too, for the setup steps below (load_demo may enqueue jobs); stopped again
        # before honcho takes over.
        redis-server "${redis_args[@]}" >"$DATA_DIR/redis/setup.log" 2>&1 &
        redis_pid=$!
        python scripts/wait_for_redis.py 15 || die "Redis did not start; see $DATA_DIR/redis/setup.log"
        redis_note="$REDIS_URL (started here, data in $DATA_DIR/redis)"
    fi
elif ! python scripts/wait_for_redis.py 3; then
    say "warning: Redis at $REDIS_URL does not answer; the workers will wait for it"
fi
grep -E '^[A-Za-z0-9_-]+:' Procfile >>"$procfile"

python scripts/ensure_database.py
say "migrate"
python manage.py migrate --noinput -v 0
say "load_demo"
python manage.py load_demo
say "ensure_admin"
login="$(python manage.py ensure_admin)"
login="$login
$(python manage.py ensure_admin --manager --username manager.na) (lands on the exception triage view)"
static_note=""
if ! DJANGO_SETTINGS_MODULE=revops.settings python -c 'from django.conf import settings; raise SystemExit(0 if settings.DEBUG else 1)'; then
    say "collectstatic (DEBUG is off)"
    python manage.py collectstatic --noinput -v 0
    sed -i 's/--noreload/--noreload --insecure/' "$procfile"
    static_note=" (DEBUG off: static files served by runserver --insecure)"
fi
stop_setup_redis
trap - EXIT

if [ -n "${DATABASE_URL:-}" ]; then
    db_note="$(python -c 'import os, re; print(re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", os.environ["DATABASE_URL"]))')"
else
    db_note="SQLite file $DATA_DIR/revops.sqlite3"
fi
cat <<EOF

================================================================================
  RevOps portal   http://$WEB_ADDR/admin/$static_note
  Health          http://$WEB_ADDR/healthz
$(sed 's/^/  /' <<<"$login")
  Database        $db_note
  Redis           $redis_note
  Processes       $(grep -oE '^[A-Za-z0-9_-]+' "$procfile" | paste -sd ' ') (from $procfile)
  Commands        scripts/manage.sh <command>  (manage.py with these settings: DEBUG=$DEBUG, DATA_DIR)
  Press Ctrl-C to stop them all.
================================================================================

EOF
exec honcho start -f "$procfile" -d "$ROOT"
