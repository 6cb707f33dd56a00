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

# uv installs what pip resolves (the same versions), in about half the time on a fresh
# machine: it fetches in parallel and byte-compiles on both cores (docs/architecture.md).
# It does not read pip's configuration, so pip's find-links, indexes, constraints and
# certificate bundle are handed to it; like pip it takes each package's best version from
# any of them. pip's settings are listed once per venv (each `pip config list` costs
# about 0.6 s, and five settings are read).
PIP_CONFIG := $(VENV)/pip-config.txt
PIP_SETTING = $(sort $(shell sed -n "s/^[^.]*\.$(1)='\(.*\)'$$/\1/p" $(PIP_CONFIG)))
INSTALL = $(foreach file,$(call PIP_SETTING,cert),SSL_CERT_FILE=$(file)) \
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python \
	--index-strategy unsafe-best-match \
	$(foreach url,$(call PIP_SETTING,index-url),--index-url $(url)) \
	$(foreach url,$(call PIP_SETTING,extra-index-url),--extra-index-url $(url)) \
	$(foreach place,$(call PIP_SETTING,find-links),--find-links $(place)) \
	$(foreach file,$(call PIP_SETTING,constraint),--constraint $(file))

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(BIN)/uv: | $(BIN)/python
	$(BIN)/pip install --quiet uv

$(PIP_CONFIG): | $(BIN)/python
	$(BIN)/pip config list > $@ 2>/dev/null || true

$(VENV)/.core: pyproject.toml | $(BIN)/uv $(PIP_CONFIG)
	$(INSTALL) -e .
	touch $@

$(VENV)/.all: pyproject.toml | $(BIN)/uv $(PIP_CONFIG)
	$(INSTALL) -e ".[spark,dev,service,vision]"
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
