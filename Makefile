# quart-skeleton: the template's own commands. Needs only Python 3.11+ and make.
#   make demo   render the default project and serve it on http://127.0.0.1:8000
#   make test   the full template test suite

.DEFAULT_GOAL := help
.PHONY: help install demo test lint clean

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
	$(MAKE) -C $(DEMO_DIR)/my-service run HOST=$(HOST) PORT=$(PORT)

test: install ## Run the whole template test suite
	$(BIN)/python -m pytest -n $(JOBS) $(PYTEST_ARGS)

lint: install ## Lint the template's own Python (the hooks are linted once rendered, by the tests)
	$(BIN)/ruff check hooks/filters.py tests
	$(BIN)/ruff format --check hooks/filters.py tests

clean: ## Remove the virtual environment and rendered output
	rm -rf $(VENV) build .pytest_cache .ruff_cache
