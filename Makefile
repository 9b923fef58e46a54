# `make run` serves on the embedded default; `make test` runs lint, types and tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: run test lint typecheck pytest schema screenshots vendor bench bench-all clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(STAMP)

run: $(STAMP)
	$(BIN)/gql-keys serve

test: $(DEV_STAMP) lint typecheck pytest

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/hadolint docker/Dockerfile
	@if docker compose version >/dev/null 2>&1; then \
		GQL_KEYS_MASTER_KEY=x docker compose -f docker/compose.yaml config -q && echo "compose.yaml: valid"; \
	elif command -v docker-compose >/dev/null 2>&1; then \
		GQL_KEYS_MASTER_KEY=x docker-compose -f docker/compose.yaml config -q && echo "compose.yaml: valid"; \
	else echo "docker compose not installed: docker/compose.yaml not validated"; fi

typecheck: $(DEV_STAMP)
	$(BIN)/mypy

pytest: $(DEV_STAMP)
	$(BIN)/pytest

screenshots: $(DEV_STAMP)
	$(BIN)/python scripts/screenshots.py

vendor:
	$(PYTHON) scripts/vendor.py

schema: $(STAMP)
	$(BIN)/gql-keys export-schema > schema.graphql

bench: $(DEV_STAMP)
	$(BIN)/python -m bench.verify

bench-all: $(DEV_STAMP)
	$(BIN)/python -m bench.verify
	$(BIN)/python -m bench.fanout
	$(BIN)/python -m bench.usage_queries
	$(BIN)/python -m bench.login_flood
	$(BIN)/python -m bench.login_cost
	$(BIN)/python -m bench.scaleout
	$(BIN)/python -m bench.authz

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .import_linter_cache
