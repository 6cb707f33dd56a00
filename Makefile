# Two commands on a fresh machine: `make run` (the twin + loop, ending in a
# report) and `make test`. Each creates .venv and installs what it needs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
ARGS   ?=

# Tests run on both cores, a test file per worker (module fixtures are built once), the
# longest files first (tests/conftest.py orders them; xdist keeps that order).
PYTEST := $(BIN)/python -m pytest -q -n 2 --dist loadfile --no-loadscope-reorder

.PHONY: run test test-fast bench lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.core: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.all: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[spark,dev,service,vision]"
	touch $(VENV)/.core $@

run: $(VENV)/.core
	$(BIN)/gigaloop run --out runs/latest $(ARGS)

test: $(VENV)/.all
	$(PYTEST) $(ARGS)

# The edit-test cycle: everything but the slow and Spark tests (about a minute).
test-fast: $(VENV)/.all
	$(PYTEST) -m "not slow and not spark" $(ARGS)

bench: $(VENV)/.all
	@for f in bench/bench_*.py; do $(BIN)/python $$f; done

# Lint rules and types (the code is laid out by hand, as STYLE.md shows: no formatter).
lint: $(VENV)/.all
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

clean:
	rm -rf $(VENV) runs .pytest_cache
