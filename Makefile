# Developer entry points. Each target bootstraps .venv (and system packages when run as root).
#   make run                 the portal with demo data, workers and scheduler on http://127.0.0.1:8000/admin/
#   make test [ARGS="..."]   the test suite on throw-away PostgreSQL and Redis; ARGS go to pytest
#   make lint                ruff, formatting, migrations check
#   make bench               bench/run.py on throw-away services
SHELL := /bin/bash
ARGS ?=

.PHONY: run test lint bench venv
run:
	@bash scripts/run.sh

test:
	@bash scripts/test.sh $(ARGS)

lint:
	@bash scripts/lint.sh

bench:
	@bash scripts/bench.sh $(ARGS)

venv:
	@bash -c '. scripts/lib.sh && ensure_venv'
