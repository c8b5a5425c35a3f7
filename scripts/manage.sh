#!/usr/bin/env bash
# scripts/manage.sh COMMAND [ARG...]: `manage.py COMMAND` with the developer settings of `make run`
# (DEBUG=1 unless set, DATA_DIR=var/ unless set, a .env of your own if present), e.g.
#   scripts/manage.sh create_api_token crm --scope sync:write --scope read
#   scripts/manage.sh ensure_admin --reset-password
# The settings never read a file themselves: a plain `.venv/bin/python manage.py …` runs as production
# (and refuses to start without SECRET_KEY), which is what a deployment wants.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$ROOT"
[ $# -gt 0 ] || die "usage: scripts/manage.sh COMMAND [ARG...]   (manage.py with DEBUG=1, as make run)"
[ -x "$PY" ] || ensure_venv
dev_env
exec "$PY" manage.py "$@"
