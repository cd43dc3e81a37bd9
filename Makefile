# Crypto derivatives data warehouse. `make demo` and `make test` are all a newcomer needs.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
export CRYPTODW_DATA_DIR ?= $(CURDIR)/data
export PYTHONPATH := $(CURDIR)
export UV_COMPILE_BYTECODE := 1

.PHONY: help install chromium demo test audit sql brief lint lock dbt-docs bench bench-smoke celery-check clean

SIZE ?= tiny
# pip-audit runs in uv's throwaway tool environment: it never touches the project's pins
AUDIT_SERVICE ?= pypi
PIP_AUDIT := $(BIN)/uv tool run --quiet --from pip-audit==2.10.1 pip-audit -s $(AUDIT_SERVICE)
AUDIT_REQUIREMENTS ?= requirements.txt
AUDIT_OFFLINE ?= warn

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(BIN)/uv:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check uv==0.13.9

$(VENV)/.installed: requirements.txt $(BIN)/uv
	$(BIN)/uv pip install --python $(BIN)/python --quiet -r requirements.txt
	touch $@

install: $(VENV)/.installed ## Create .venv and install the pinned dependencies

chromium: ## Install Debian's chromium if missing (headless check of the brief's HTML)
	@test -x /usr/bin/chromium || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; }

demo: install ## Simulate a crash month offline, run it through Airflow, build and check the marts
	$(BIN)/python -m include.cryptodw.demo

test: install chromium audit ## Run the whole test suite and the benchmark smoke run (after the dependency audit)
	$(BIN)/python -m pytest -m "not bi"

audit: $(BIN)/uv ## Fail on a known vulnerability in the pins that .pip-audit-ignore does not accept
	$(BIN)/python scripts/pip_audit_gate.py --pip-audit "$(PIP_AUDIT)" --offline $(AUDIT_OFFLINE) $(AUDIT_REQUIREMENTS)

sql: install ## Query the published warehouse read-only: make sql Q="select ..."
	$(BIN)/python -m include.cryptodw.cli sql "$(Q)"

brief: install ## Write the daily brief (Markdown + HTML): make brief [DATE=YYYY-MM-DD]
	$(BIN)/python -m include.cryptodw.cli brief $(if $(DATE),--date $(DATE))

lint: install ## Static checks (ruff is installed on demand)
	$(BIN)/uv pip install --python $(BIN)/python --quiet ruff==0.14.5 && $(BIN)/ruff check .

lock: $(BIN)/uv ## Re-resolve requirements.in into the pinned requirements.txt
	$(BIN)/uv pip compile requirements.in --python-version 3.11 --quiet -o requirements.txt

dbt-docs: install ## Serve the dbt docs site (written by every refresh) on http://127.0.0.1:8081
	$(BIN)/python -m include.cryptodw.cli docs --serve

bench: install ## Benchmark dbt vs a hand-written SQL floor and pandas: make bench SIZE=tiny|month|year|2y [RESUME=<log of a stopped run>]
	$(BIN)/python -m bench.run --size $(SIZE) $(if $(RESUME),--resume $(RESUME))

bench-smoke: install ## The benchmark at tiny size as a test alone (`make test` runs it too)
	$(BIN)/python -m pytest -m bench tests/bench

# Superset lives in its own venv: its pins (SQLAlchemy 1.4, pandas 2.1) never move the project's.
.PHONY: bi-install bi-lock test-bi
BI_VENV ?= .venv-bi

$(BI_VENV)/.installed: requirements-bi.txt $(BIN)/uv
	$(BIN)/uv venv --quiet --allow-existing --python $(PYTHON) $(BI_VENV)
	$(BIN)/uv pip install --python $(BI_VENV)/bin/python --quiet -r requirements-bi.txt
	touch $@

bi-install: $(BI_VENV)/.installed ## Create .venv-bi with Superset and duckdb-engine (docs/bi.md)

bi-lock: $(BIN)/uv ## Re-resolve requirements-bi.in into the pinned requirements-bi.txt
	$(BIN)/uv pip compile requirements-bi.in --python-version 3.11 --quiet -o requirements-bi.txt

test-bi: install bi-install chromium ## Superset on loopback, provisioned, rendered in headless Chromium
	$(BIN)/python -m pytest -m bi tests/bi

celery-check: install ## Run the DAGs under CeleryExecutor (Postgres+Redis on loopback, as root); compare with a local run
	$(BIN)/python -m include.cryptodw.ops.celery_check

clean: ## Remove everything a run wrote (the data directory)
	rm -rf $(CRYPTODW_DATA_DIR)
