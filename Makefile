# patchwarden: `make demo` runs the main job end to end; `make test` runs every test.
# Both install what they need on a fresh Debian machine (system packages, venv, the project).

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# pytest-xdist: the suite mostly waits (Podman, servers, child processes), so more workers than
# cores overlap the waits; files stay whole on one worker (module-scoped servers start once),
# the long integration files first (tests/testkit/xdist_order.py).
# `make test PYTEST_WORKERS=0` runs serially. Writing tests for this: docs/architecture.md#tests
PYTEST_WORKERS ?= 4
PYTEST_XDIST   := $(if $(filter 0,$(PYTEST_WORKERS)),,-n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder)

.PHONY: demo test unit integration lint typecheck bench bench-scan bench-match bench-inventory bench-rollout deps venv clean

deps:
	bash scripts/install-system-deps.sh

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

demo: deps venv
	$(PY) -m patchwarden.demo

test: deps venv
	$(PY) -m ruff check src tests $(wildcard bench)
	$(PY) -m mypy
	$(PY) -m pytest -q $(PYTEST_XDIST)

unit: venv
	$(PY) -m pytest -q $(PYTEST_XDIST) tests/unit

integration: deps venv
	$(PY) -m pytest -q $(PYTEST_XDIST) tests/integration

lint: venv
	$(PY) -m ruff check src tests $(wildcard bench)

typecheck: venv
	$(PY) -m mypy

bench: deps venv
	$(PY) bench/check.py

bench-scan: deps venv
	$(PY) bench/scan.py

bench-inventory: venv
	$(PY) bench/inventory.py

bench-match: venv
	$(PY) bench/match.py

bench-rollout: deps venv
	$(PY) bench/rollout.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build dist .bench .demo
