# docqueue developer / CI entry points.  Works from a fresh clone: every target that
# needs the virtualenv or redis-server builds/installs it first.
#
#   make test         unit + integration tests (starts its own Postgres/Redis in temp dirs)
#   make test-faults  slow fault-injection tests
#   make lint         ruff (lint + format), mypy --strict (tests too), import-linter
#   make demo / down  bring the demo stack up / tear it down
#   make bench        benchmark (BENCH_ARGS="--quick" for a smoke run)

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := test

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
BENCH_ARGS ?=
# When set (by .ci/run), `make test` writes pytest's own exit code to this file,
# because make itself turns every failing recipe into exit code 2.
PYTEST_RC_FILE ?=
# Dev stack state and ports for the services-* targets (same defaults as schemas/config.py).
RUN_DIR ?= .run
PG_PORT ?= 54329
REDIS_PORT ?= 63799

# apt-get needs root; use sudo when we are not root.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_GET := $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300

.PHONY: venv redis postgres prometheus pgbouncer sentinel tesseract chromium test test-faults lint demo down bench \
	services-up services-down services-status clean

## venv: .venv with the project installed editable with its dev extras.
## Reinstalls only when pyproject.toml is newer than the stamp file.
venv: $(STAMP)

$(PY):
	$(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); exit 1; }

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --disable-pip-version-check -q -e ".[dev]"
	touch $(STAMP)

## redis: install redis-server from Debian if it is missing (never started as a service).
redis:
	@if ! command -v redis-server >/dev/null 2>&1; then \
		echo "redis-server not found: installing it with apt-get"; \
		$(APT_GET) update && $(APT_GET) install -y redis-server </dev/null; \
		command -v redis-server >/dev/null || { echo "redis-server install failed" >&2; exit 1; }; \
	fi

## postgres: the machines ship postgresql-15; install it only if its binaries are missing.
postgres:
	@if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then \
		echo "PostgreSQL server binaries not found: installing postgresql-15 with apt-get"; \
		$(APT_GET) update && $(APT_GET) install -y postgresql-15 </dev/null; \
	fi

## tesseract: Debian's tesseract-ocr (with its English data) for OCR of scans, if missing.
tesseract:
	@if ! command -v tesseract >/dev/null 2>&1; then \
		echo "tesseract not found: installing tesseract-ocr with apt-get"; \
		$(APT_GET) update && $(APT_GET) install -y --no-install-recommends tesseract-ocr tesseract-ocr-eng </dev/null; \
		command -v tesseract >/dev/null || { echo "tesseract install failed" >&2; exit 1; }; \
	fi

## chromium: Debian's chromium for the console's browser tests (Playwright drives it through
## executable_path; no browser download), if missing.
chromium:
	@if ! command -v chromium >/dev/null 2>&1; then \
		echo "chromium not found: installing it with apt-get"; \
		$(APT_GET) update && $(APT_GET) install -y --no-install-recommends chromium fonts-dejavu-core </dev/null; \
		command -v chromium >/dev/null || { echo "chromium install failed" >&2; exit 1; }; \
	fi

test: venv redis postgres prometheus tesseract chromium pgbouncer sentinel
	@rc=0; $(VENV)/bin/pytest -q -m "not faults" $(PYTEST_ARGS) || rc=$$?; \
	if [ -n "$(PYTEST_RC_FILE)" ]; then echo "$$rc" > "$(PYTEST_RC_FILE)"; fi; \
	if [ "$$rc" -eq 5 ]; then echo "make test: pytest ran no tests (exit code 5)" >&2; fi; \
	exit $$rc

## prometheus: Debian's prometheus (promtool included) if missing; never run as a service.
## pgbouncer, sentinel: Debian's pgbouncer and redis-sentinel, the same way. The tests start
## their own servers in temp dirs (scripts/devstack/apt-quiet.sh says how and why).
prometheus:
	@scripts/devstack/apt-quiet.sh promtool prometheus prometheus; \
	command -v prometheus >/dev/null || { echo "prometheus install failed" >&2; exit 1; }

pgbouncer:
	@PATH="$$PATH:/usr/sbin" scripts/devstack/apt-quiet.sh pgbouncer pgbouncer pgbouncer

sentinel: redis
	@scripts/devstack/apt-quiet.sh redis-sentinel redis-sentinel redis-sentinel

test-faults: venv redis postgres prometheus tesseract pgbouncer sentinel
	$(VENV)/bin/pytest -q -m faults $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy api tasks schemas storage scripts tests
	$(VENV)/bin/lint-imports

demo: venv redis postgres tesseract
	$(PY) -m scripts.demo

down: venv
	$(PY) -m scripts.demo down

bench: venv redis postgres
	$(PY) -m scripts.bench $(BENCH_ARGS)

## services-*: only Postgres + Redis of the dev stack, via scripts/devstack.
services-up: venv redis postgres
	$(PY) -m scripts.devstack up --dir $(RUN_DIR) --pg-port $(PG_PORT) --redis-port $(REDIS_PORT)

services-down: venv
	$(PY) -m scripts.devstack down --dir $(RUN_DIR) --pg-port $(PG_PORT) --redis-port $(REDIS_PORT)

services-status: venv
	$(PY) -m scripts.devstack status --dir $(RUN_DIR) --pg-port $(PG_PORT) --redis-port $(REDIS_PORT)

## clean: drop the virtualenv and caches (stop the stack first with `make down`).
clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
