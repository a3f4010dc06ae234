# The front door: `make help` lists the targets.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PYTEST_ARGS ?=
BENCH_ARGS ?=

.DEFAULT_GOAL := help

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

# One .venv, two sets of packages, each with its own stamp: `make demo` installs the lean demo set, `make venv`
# (and `make test`) the dev set on top of it, in either order; pip keeps what the other one installed.
$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

venv: $(VENV)/.dev ## create .venv and install ormgate with every extra and the dev tools

$(VENV)/.demo: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[demo]'
	@touch $@

demo: $(VENV)/.demo ## install only what the demo and `ormgate serve` need (in .venv) and serve the users API on SQLite at http://127.0.0.1:8000
	$(BIN)/ormgate demo

test: venv ## run the whole suite (PostgreSQL/MariaDB pairs are skipped, loudly, when unreachable)
	$(BIN)/python -m pytest -n auto --dist loadgroup $(PYTEST_ARGS)

load: venv ## only the load test: clients, worker processes, outages; nothing lost (a few minutes)
	$(BIN)/python -m pytest -m load tests/load $(PYTEST_ARGS)

$(VENV)/.bench: pyproject.toml $(VENV)/.dev
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	@touch $@

bench: $(VENV)/.bench ## side-by-side benchmark -> bench/results (JSON, SVG chart), docs/benchmarks.md (BENCH_ARGS="--quick --database postgresql ...")
	@command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk"; exit 1; }
	$(BIN)/python -m bench.run $(BENCH_ARGS)
	$(BIN)/python -m bench.serve_chinook $(BENCH_ARGS)
	@# What a scope costs (issue 16), counted, not timed: the timing varies by more than the bound.
	@if command -v valgrind >/dev/null; then $(BIN)/python -m bench.scope_cost --instructions --bench-args $(BENCH_ARGS); \
	else echo "valgrind is missing (apt-get install valgrind): a scope's cost was not counted"; fi

lint: venv ## ruff and mypy --strict over the package (its demo included), the bench and the tests
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

clean: ## remove the virtualenvs, caches, builds and what the demo leaves (its SQLite file, -wal, -shm)
	rm -rf $(VENV) .venv-demo .pytest_cache .mypy_cache .ruff_cache build dist *.egg-info
	rm -f ormgate-demo.sqlite3 ormgate-demo.sqlite3-wal ormgate-demo.sqlite3-shm

.PHONY: help venv demo test load bench lint clean
