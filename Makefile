# Every target bootstraps .venv on first use (idempotent: re-installs only
# when pyproject.toml changes), so a fresh machine needs only Python, pip, make.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
TEST_DATABASES ?= sqlite
export TEST_DATABASES

.PHONY: install demo test test-fast lint typecheck docs bench matrix ci clean scaleout-up scaleout-down

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev,sqlite-async,postgres,mysql,cache,docs]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/demo.py

test: $(STAMP)
	$(BIN)/python -m pytest
	$(BIN)/python -m pytest --doctest-modules sqlmodel_crud_utils -p no:cacheprovider -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy --strict sqlmodel_crud_utils

docs: $(STAMP)
	$(BIN)/mkdocs build --strict

# Every Python x dependency-set cell of noxfile.py; one cell:
#   make matrix NOX_ARGS='-s "tests-3.10(floor)"'
NOX_ARGS ?=
matrix: $(STAMP)
	$(BIN)/nox $(NOX_ARGS)

# A streaming replica (127.0.0.1:5433) and PgBouncer (127.0.0.1:6432) next to
# the local PostgreSQL, for TEST_DATABASES=...,postgresql-replica,postgresql-pgbouncer
# (run as root; scripts/scaleout_servers.sh installs PgBouncer if missing).
scaleout-up:
	bash scripts/scaleout_servers.sh start

scaleout-down:
	bash scripts/scaleout_servers.sh stop

# FastCRUD (the bench extra) is measured beside ours where it installs.
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[bench]" || echo "FastCRUD did not install: case 12 runs without it"
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) site .pytest_cache .mypy_cache .ruff_cache
