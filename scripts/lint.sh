#!/usr/bin/env bash
# `make lint`: ruff, formatting, the one-way layers (import-linter), and migrations that are missing
# or auto-named.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
cd "$ROOT" || exit 1
ensure_venv || exit 1

failed=()
say "ruff check"
"$VENV/bin/ruff" check . || failed+=("ruff check")
say "ruff format --check"
"$VENV/bin/ruff" format --check . || failed+=("ruff format (run: .venv/bin/ruff format .)")

say "import-linter: one-way layers, independent workflow apps, no cycles (docs/architecture.md)"
"$VENV/bin/lint-imports" --no-cache || failed+=("lint-imports (a layer imports upward or a cycle: see docs/architecture.md)")

say "no auto-named migrations"
auto="$(find . -path ./.venv -prune -o -path '*/migrations/*_auto_*.py' -print | grep -E '_auto_[0-9]{8}_[0-9]{4}\.py$' || true)"
if [ -n "$auto" ]; then
    printf '%s\n' "$auto" >&2
    failed+=("auto-named migrations (name them: makemigrations --name <what_changed>)")
fi

say "makemigrations --check"
data_dir="$(mktemp -d)"
env -u DATABASE_URL DEBUG=1 DATA_DIR="$data_dir" "$PY" manage.py makemigrations --check --dry-run ||
    failed+=("makemigrations --check (models changed without a migration)")
rm -rf "$data_dir"

if [ ${#failed[@]} -gt 0 ]; then
    printf '\033[1;31mlint failed:\033[0m %s\n' "${failed[@]}" >&2
    exit 1
fi
say "lint ok"
