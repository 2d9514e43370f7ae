# The two commands of the README: `make demo` and `make test` (lint, the docs build, pytest).
# Both create .venv and install the locked versions first: requirements/dev.txt, exported from
# uv.lock with a hash for every file (pip --require-hashes), then the project itself (--no-deps).
# `make lock` regenerates uv.lock and its exports after a change to pyproject.toml's dependencies.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast install lint lock benchmark clean

$(STAMP): pyproject.toml requirements/dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements/dev.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
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

# One lock (uv.lock: every extra, every platform) and the exports each install uses:
# requirements/dev.txt (make demo, make test), image.txt (the Dockerfile), nannyml.txt (the optional
# NannyML comparison). `uv lock` keeps every locked version that still fits pyproject.toml;
# `$(BIN)/uv lock --upgrade-package NAME` moves one. tests/test_lock.py fails when they disagree.
lock: | $(STAMP)
	$(BIN)/uv lock
	$(BIN)/uv export --frozen --no-emit-project --quiet --extra dev --extra mlflow --extra postgres -o requirements/dev.txt
	$(BIN)/uv export --frozen --no-emit-project --quiet --extra mlflow --extra postgres -o requirements/image.txt
	$(BIN)/uv export --frozen --no-emit-project --quiet --extra dev --extra nannyml -o requirements/nannyml.txt

benchmark: $(STAMP)
	$(BIN)/python benchmarks/cold_run.py
	$(BIN)/python benchmarks/backtest.py

clean:
	rm -rf .autoretrain
