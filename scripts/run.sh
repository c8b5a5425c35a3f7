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
# Every link the portal prints or e-mails uses this address (revops/settings.py, PORTAL_BASE_URL).
export PORTAL_BASE_URL="${PORTAL_BASE_URL:-http://$WEB_ADDR}"
portal_url="${PORTAL_BASE_URL%/}"
# The processes' logs go to $LOG_DIR/<process>.log at LOG_LEVEL (INFO); the console shows warnings
# and errors only, so that the logins printed at the end stay on screen.
export LOG_DIR="${LOG_DIR:-$DATA_DIR/log}"
export LOG_CONSOLE_LEVEL="${LOG_CONSOLE_LEVEL:-WARNING}"
# E-mails (notifications, digests) are written to files unless you name a mail server (EMAIL_HOST)
# or a backend of your own (EMAIL_BACKEND).
if [ -n "${EMAIL_HOST:-}" ]; then
    mail_note="sent through $EMAIL_HOST"
elif [ -n "${EMAIL_BACKEND:-}" ]; then
    mail_note="EMAIL_BACKEND=$EMAIL_BACKEND"
else
    export EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend"
    export EMAIL_FILE_PATH="${EMAIL_FILE_PATH:-$DATA_DIR/mail}"
    mail_note="written to files in $EMAIL_FILE_PATH, not sent"
fi
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
$(python manage.py ensure_admin --manager --username manager.na) (lands on the exception triage view)
$(python manage.py ensure_admin --manager --username rep.na) (a sales rep: Lead lifecycle → MQLs waiting for an answer)"
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
token_cmd="scripts/manage.sh create_api_token crm --scope sync:write --scope read"
if [ "$portal_url" != "http://127.0.0.1:8000" ]; then
    token_cmd="PORTAL_BASE_URL=$portal_url $token_cmd"
fi
# The banner holds the passwords, shown once: it is kept in this shell only (never in a file) and
# printed once the portal answers (after the processes' start-up lines) and again when it stops.
banner() {
    cat <<EOF

================================================================================
  RevOps portal   $portal_url/admin/$static_note
  API docs        $portal_url/api/v1/docs/
  Health          $portal_url/healthz
$(sed 's/^/  /' <<<"$login")
  API token       $token_cmd
  Database        $db_note
  Redis           $redis_note
  Processes       $(grep -oE '^[A-Za-z0-9_-]+' "$procfile" | paste -sd ' ') (from $procfile)
  Logs            $LOG_DIR/<process>.log (the console shows warnings and errors only)
  E-mails         $mail_note
  Commands        scripts/manage.sh <command>  (manage.py with these settings: DEBUG=$DEBUG, DATA_DIR)
$1
================================================================================

EOF
}

# Once /healthz answers "ok" (or after a minute), print the banner: it comes last.
(
    python scripts/wait_for_portal.py "$portal_url/healthz" "$$" 60 || true
    kill -0 "$$" 2>/dev/null && banner "  Press Ctrl-C to stop them all."
) &
banner_pid=$!
# Ctrl-C reaches honcho, which stops every process; this script then prints the logins again.
trap ':' INT TERM
status=0
honcho start -f "$procfile" -d "$ROOT" || status=$?
kill "$banner_pid" 2>/dev/null || true
wait "$banner_pid" 2>/dev/null || true
banner "  Stopped. \`make run\` starts it all again with your data (passwords are not shown again)."
exit "$status"
