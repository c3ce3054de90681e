# quart-skeleton: the template's own commands. Needs only Python 3.11+ and make.
#   make demo   render the default project and serve it on http://127.0.0.1:8000
#   make test   the full template test suite
#   make bench  benchmark the rendered service (writes BENCHMARKS.md)

.DEFAULT_GOAL := help
.PHONY: help install demo test lint bench clean

PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
DEMO_DIR ?= build/demo
# Extra answers for the demo render, e.g. DEMO_ANSWERS="database=postgresql".
DEMO_ANSWERS ?=
HOST ?= 127.0.0.1
PORT ?= 8000
# Test workers: several renders install and test in parallel.
JOBS ?= auto
# The template's tools (uv among them) come first on PATH, for rendered projects too.
export PATH := $(BIN):$(PATH)

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=25.1"
	$(BIN)/python -m pip install --quiet --group dev
	@touch $@

install: $(VENV)/.installed ## Install the template's dev tools into .venv

demo: install ## Render the default project into build/demo and serve it
	rm -rf $(DEMO_DIR)
	$(BIN)/cookiecutter --no-input --output-dir $(DEMO_DIR) . $(DEMO_ANSWERS)
	$(MAKE) -C "$$(ls -d $(DEMO_DIR)/*/)" run HOST=$(HOST) PORT=$(PORT)

test: install ## Run the whole template test suite
	$(BIN)/python -m pytest -n $(JOBS) $(PYTEST_ARGS)

lint: install ## Lint the template's own Python (the hooks are linted once rendered, by the tests)
	$(BIN)/ruff check hooks/filters.py tests bench
	$(BIN)/ruff format --check hooks/filters.py tests bench

# Benchmark settings, as make variables or environment variables (empty: the default):
#   BENCH_VARIANTS     comma-separated variants of bench/bench.py's VARIANTS (default: all)
#   BENCH_RUNS         interleaved rounds of every (target, endpoint) (3)
#   BENCH_DURATION     seconds per wrk run (10); BENCH_WARMUP: untimed seconds first (2)
#   BENCH_CONNECTIONS  wrk connections (50); BENCH_ITEMS: items seeded first (1000)
#   BENCH_COLD_STARTS  cold starts timed per variant (3); BENCH_RENDER_TO_READY=0 skips that
#   BENCH_MEMORY_WORKERS  workers of the memory measure (4; 1 skips it)
#   BENCH_OUTPUT       the report (BENCHMARKS.md); raw figures: BENCH_RESULTS (bench/results.json)
#   BENCH_PAIRED=0     skips the Quart hello run made straight before each service run (about
#                      40% quicker; "÷ Quart hello" is then a ratio of medians)
#   BENCH_BUILD_DIR    where the projects are rendered (build/bench)
# Quick check: make bench BENCH_VARIANTS=sqlite BENCH_DURATION=1 BENCH_RUNS=1 BENCH_OUTPUT=/tmp/b.md
# Rewrite BENCHMARKS.md from bench/results.json without running: .venv/bin/python bench/bench.py --report
BENCH_SCRIPT := bench/bench.py

bench: install ## Benchmark the rendered service (writes BENCHMARKS.md)
	$(BIN)/python $(BENCH_SCRIPT)

clean: ## Remove the virtual environment and rendered output
	rm -rf $(VENV) build .pytest_cache .ruff_cache
