# Two commands set everything up on a machine with only Python 3.11, make and git:
#   make demo   simulate a Tier I shop, refresh, print the at-risk table
#   make test   run the whole test suite
#   make bench  measure the DESIGN.md §6 targets at a moderate scale (README: Benchmark)
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
# uv is used when installed; otherwise it is bootstrapped into .tools/ from the package index.
UV ?= $(shell command -v uv || echo .tools/bin/uv)
# Never download a Python interpreter: use the one this machine has, by its real path (a
# pyenv shim's path never matches the project environment, so uv would recreate .venv at
# every `uv run`, and lose the compiled bytecode `make install` put there).
export UV_PYTHON := $(shell $(PYTHON) -c 'import sys; print(sys.executable)')
export UV_PYTHON_DOWNLOADS := never
RUN := $(UV) run --frozen

.PHONY: install demo test bench ui clean

.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/python -m pip install --quiet --disable-pip-version-check uv

install: $(UV)
	@# Compiled bytecode is installed with the packages: where PYTHONDONTWRITEBYTECODE is set,
	@# every `stockout` and dbt process otherwise compiles Dagster's, dbt's and pandas' sources
	@# again (5.4 s of loading the Dagster definitions alone). A second sync compiles only what changed.
	$(UV) sync --frozen --compile-bytecode
	@# dbt's manifest, which the Dagster code location is built from
	$(RUN) dbt parse --quiet --project-dir dbt_project --profiles-dir dbt_project

demo: install
	$(RUN) stockout simulate
	$(RUN) stockout refresh
	$(RUN) stockout at-risk --top 15

test: install
	$(RUN) pytest

# The benchmark tier is BENCH_PRODUCTS=10000000 BENCH_SALES_PER_DAY=5000000 BENCH_HISTORY_DAYS=90.
BENCH_PRODUCTS ?= 1000000
BENCH_SALES_PER_DAY ?= 500000
BENCH_HISTORY_DAYS ?= 28
BENCH_JSON ?= data/bench/bench.json

bench: install
	$(RUN) stockout bench --products $(BENCH_PRODUCTS) --sales-per-day $(BENCH_SALES_PER_DAY) \
		--history-days $(BENCH_HISTORY_DAYS) --json $(BENCH_JSON)

ui: install
	$(RUN) stockout ui

clean:
	find data -mindepth 1 -maxdepth 1 ! -name README.md -exec rm -rf {} +
	rm -rf dbt_project/target dbt_project/logs
