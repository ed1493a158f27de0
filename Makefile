# Absentia: `make run` sets up and runs the demo on SQLite, then serves;
# `make test` sets up and runs the whole suite (PostgreSQL included).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# axe-core (Deque), the accessibility rules engine the browser tests run against our
# pages (WCAG 2.1 A/AA); installed from the npm registry, never served to users.
AXE    := $(VENV)/npm/node_modules/axe-core/axe.min.js
DATA   ?= data

.PHONY: run test faults lint bench sysdeps install clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required (found " + sys.version.split()[0] + ")")'
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $@

install: sysdeps $(STAMP)

sysdeps:
	@bash scripts/system-packages.sh

run: install
	$(BIN)/absentia demo --data $(DATA)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

$(AXE):
	npm install --silent --no-save --no-audit --no-fund --prefix $(VENV)/npm axe-core@4.11

test: install lint $(AXE)
	$(BIN)/python -m pytest

# Fault injection against a real cluster (tests/faults, a few minutes): SIGKILLed app
# processes and scheduler, PostgreSQL restarts, a full disk, clock steps (libfaketime).
faults: install
	$(BIN)/python -m pytest tests/faults

bench: install
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
