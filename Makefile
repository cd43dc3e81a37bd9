# Crypto derivatives data warehouse. `make demo` and `make test` are all a newcomer needs.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
export CRYPTODW_DATA_DIR ?= $(CURDIR)/data
export PYTHONPATH := $(CURDIR)
export UV_COMPILE_BYTECODE := 1

.PHONY: help install demo test sql lint lock dbt-docs bench bench-smoke clean

SIZE ?= tiny

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(BIN)/uv:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check uv==0.13.9

$(VENV)/.installed: requirements.txt $(BIN)/uv
	$(BIN)/uv pip install --python $(BIN)/python --quiet -r requirements.txt
	touch $@

install: $(VENV)/.installed ## Create .venv and install the pinned dependencies

demo: install ## Simulate a crash month offline, run it through Airflow, build and check the marts
	$(BIN)/python -m include.cryptodw.demo

test: install ## Run the whole test suite
	$(BIN)/python -m pytest

sql: install ## Query the published warehouse read-only: make sql Q="select ..."
	$(BIN)/python -m include.cryptodw.cli sql "$(Q)"

lint: install ## Static checks (ruff is installed on demand)
	$(BIN)/uv pip install --python $(BIN)/python --quiet ruff==0.14.5 && $(BIN)/ruff check .

lock: $(BIN)/uv ## Re-resolve requirements.in into the pinned requirements.txt
	$(BIN)/uv pip compile requirements.in --python-version 3.11 --quiet -o requirements.txt

dbt-docs: install ## Serve the dbt docs site (written by every refresh) on http://127.0.0.1:8081
	$(BIN)/python -m include.cryptodw.cli docs --serve

bench: install ## Benchmark dbt vs a hand-written SQL floor and pandas: make bench SIZE=tiny|month|year|2y
	$(BIN)/python -m bench.run --size $(SIZE)

bench-smoke: install ## The benchmark at tiny size as a test (kept out of `make test` for time)
	$(BIN)/python -m pytest -m bench tests/bench

clean: ## Remove everything a run wrote (the data directory)
	rm -rf $(CRYPTODW_DATA_DIR)
