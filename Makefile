# The two commands of the README: `make demo` and `make test` (lint, the docs build, pytest).
# Both create .venv and install the project with the pinned versions of constraints.txt first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast install lint benchmark clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python flows/monitor.py

lint: $(STAMP)
	$(BIN)/ruff check flows tasks tests benchmarks docs/hooks examples
	$(BIN)/ruff format --check flows tasks tests benchmarks docs/hooks examples
	$(BIN)/mypy
	$(BIN)/lint-imports
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet --site-dir build/site

test: lint
	$(BIN)/python -m pytest

# The inner loop: unit tests of the core, stores, adapters, steps and render (no flow runs, no
# server, no multi-process or crash-loop tests).
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not e2e and not server and not slow" tests/core tests/stores tests/adapters tests/steps tests/render tests/test_config.py

benchmark: $(STAMP)
	$(BIN)/python benchmarks/cold_run.py
	$(BIN)/python benchmarks/backtest.py

clean:
	rm -rf .autoretrain
