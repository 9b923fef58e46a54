# `make run` serves on the embedded default; `make test` runs lint, types and tests.
# Both install exactly what uv.lock pins (runtime set for run, runtime + dev for test);
# `make lock` refreshes the lock within pyproject.toml's ranges.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
# uv itself comes hash-pinned from tools/uv.txt into a venv of its own, so that syncing
# .venv exactly to the lock never removes the installer.
TOOLS := .tools
UV := $(TOOLS)/bin/uv
export UV_PROJECT_ENVIRONMENT := $(VENV)
export UV_PYTHON_DOWNLOADS := never
UV_SYNC := $(UV) sync --locked --python $(PYTHON) --quiet

.PHONY: run test lock lock-check lint typecheck pytest schema screenshots vendor bench bench-all clean

$(UV): tools/uv.txt
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check \
		--require-hashes --no-deps -r tools/uv.txt
	touch $@

$(STAMP): pyproject.toml uv.lock | $(UV) lock-check
	$(UV_SYNC)
	touch $@

$(DEV_STAMP): pyproject.toml uv.lock | $(UV) lock-check
	$(UV_SYNC) --extra dev
	touch $@ $(STAMP)

# One line when pyproject.toml and uv.lock disagree (no network needed to tell).
lock-check: | $(UV)
	@$(UV) lock --check --offline --quiet 2>/dev/null || { \
		echo "uv.lock does not match pyproject.toml: run \`make lock\` and commit uv.lock" >&2; \
		exit 1; }

lock: | $(UV)
	$(UV) lock --upgrade

run: $(STAMP)
	$(BIN)/gql-keys serve

test: lock-check $(DEV_STAMP) lint typecheck pytest

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
	rm -rf $(VENV) $(TOOLS) .mypy_cache .ruff_cache .pytest_cache .import_linter_cache
