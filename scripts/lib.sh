# Shared helpers for scripts/*.sh. Source it; do not run it.
# shellcheck shell=bash

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
PY="$VENV/bin/python"

say() { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31mERROR:\033[0m %s\n' "$*" >&2; exit 1; }

is_root() { [ "$(id -u)" -eq 0 ]; }

# apt_install PKG...: install Debian packages when running as root; otherwise say exactly what
# to install and fail.
_APT_UPDATED=""
apt_install() {
    if ! is_root; then
        die "missing system packages: $*
    install them with:  sudo apt-get install -y $*
    (or run this command as root and it installs them itself)"
    fi
    command -v apt-get >/dev/null || die "missing system packages: $* (and apt-get is not available: install them with your package manager)"
    export DEBIAN_FRONTEND=noninteractive
    if [ -z "$_APT_UPDATED" ]; then
        say "apt-get update"
        apt-get update -qq </dev/null >/dev/null
        _APT_UPDATED=1
    fi
    say "apt-get install $*"
    apt-get install -y -qq --no-install-recommends "$@" </dev/null >/dev/null
}

# free_port: an unused TCP port on 127.0.0.1, picked by the kernel.
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# port_open HOST PORT: true when something accepts TCP connections there.
port_open() {
    python3 - "$1" "$2" <<'EOF'
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=0.5).close()
except OSError:
    sys.exit(1)
EOF
}

# ensure_python: python3 >= 3.11 with the venv module.
ensure_python() {
    if ! command -v python3 >/dev/null; then
        apt_install python3 python3-venv
    fi
    python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
        die "Python >= 3.11 is required (found $(python3 --version 2>&1))"
}

# ensure_venv: create .venv and install the project with its dev extras; re-install only when
# pyproject.toml changed (its hash is kept in a stamp file inside the venv).
ensure_venv() {
    ensure_python
    remove_generated_dev_env
    local stamp="$VENV/.pyproject.sha256" want
    want="$(sha256sum "$ROOT/pyproject.toml" | cut -d' ' -f1)"
    if [ -x "$PY" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        return 0
    fi
    if [ ! -x "$PY" ]; then
        say "creating $VENV"
        if ! python3 -m venv "$VENV" 2>/dev/null; then
            rm -rf "$VENV"
            # Debian splits ensurepip out of python3.
            apt_install "python3-venv" "python$(python3 -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')-venv" ||
                true
            python3 -m venv "$VENV" || die "could not create $VENV (install python3-venv)"
        fi
    fi
    say "installing the project into $VENV (pip install -e .[dev])"
    "$PY" -m pip install -q --disable-pip-version-check -e "${ROOT}[dev]"
    echo "$want" >"$stamp"
}

# remove_generated_dev_env: older versions wrote a .env with DEBUG=1 into the checkout, which the
# settings and honcho read, so that any process started there ran in debug mode with the public
# development secret. Delete that file when it is exactly what they wrote; a .env of your own stays
# (make run and scripts/manage.sh still read it, the settings never do).
GENERATED_DEV_ENV=$'# Local settings written by make; environment variables take precedence.\nDEBUG=1'
remove_generated_dev_env() {
    [ -f "$ROOT/.env" ] || return 0
    if [ "$(cat "$ROOT/.env")" = "$GENERATED_DEV_ENV" ]; then
        rm -f "$ROOT/.env"
        say "removed .env (DEBUG=1, written by an older make): production is now the default; make run and scripts/manage.sh set DEBUG=1 themselves"
    fi
}

# dev_env: the environment of a developer checkout's processes (make run, scripts/manage.sh): a
# .env of your own if present, then DEBUG=1 and DATA_DIR=var/ unless already set.
dev_env() {
    if [ -f "$ROOT/.env" ]; then
        set -a
        # shellcheck disable=SC1091
        . "$ROOT/.env"
        set +a
    fi
    export DEBUG="${DEBUG:-1}"
    export DATA_DIR="${DATA_DIR:-$ROOT/var}"
}

# ensure_redis_server: the redis-server binary.
ensure_redis_server() {
    command -v redis-server >/dev/null || apt_install redis-server
    command -v redis-server >/dev/null || die "redis-server is still missing after installing it"
}

# pg_bindir: the newest PostgreSQL server bin directory, installing Debian's postgresql if none.
pg_bindir() {
    local dir
    dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)"
    if [ -z "$dir" ] || [ ! -x "$dir/initdb" ]; then
        apt_install postgresql
        dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)"
    fi
    if [ -z "$dir" ] || [ ! -x "$dir/initdb" ]; then
        die "PostgreSQL server binaries (initdb) not found in /usr/lib/postgresql/*/bin"
    fi
    echo "$dir"
}

# chromium_path: Debian's chromium for the browser tests.
chromium_path() {
    local path="${CHROMIUM_PATH:-/usr/bin/chromium}"
    if [ ! -x "$path" ]; then
        apt_install chromium
    fi
    [ -x "$path" ] || die "chromium not found at $path (install Debian's chromium package or set CHROMIUM_PATH)"
    echo "$path"
}

# random_secret N: N random letters and digits.
random_secret() {
    python3 -c "import secrets, string; a = string.ascii_letters + string.digits; print(''.join(secrets.choice(a) for _ in range($1)))"
}
