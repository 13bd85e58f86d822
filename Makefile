# Usage ledger: developer and CI entry points.
#   make setup   virtualenv + the project (editable) with its dev tools; reruns when pyproject changes
#   make test    services up (Kafka + PostgreSQL, installed on first use) and Chromium for the
#                browser tests (Debian's package, installed on first use), then the whole test suite
#   make lint    ruff check, ruff format --check, mypy --strict
#   make fuzz-api  schemathesis against the HTTP API, longer than the bounded run in make test
#   make screenshots  the browser tests, saving each page's screenshot to docs/screenshots/
#   make soak    the fault harness for 10 minutes (SOAK_SECONDS) on private services, ingest at
#                its maximum, >= 200 worker kills; report in bench-out/soak/
#   make demo / make bench / make up / make status / make down / make clean

SHELL := /bin/bash
.DEFAULT_GOAL := test

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
TYPED_PACKAGES := ledger streams schemas billing infra

.PHONY: setup test lint demo bench fuzz-api screenshots soak up status down clean

setup: $(INSTALLED)

# A file target: pip runs again only when pyproject.toml is newer than the last install.
$(INSTALLED): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

test: setup
	$(BIN)/ledger infra up
	$(BIN)/ledger infra browser
	$(BIN)/pytest -q

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy $(TYPED_PACKAGES)

demo: setup
	@if [ -f scripts/demo.sh ]; then bash scripts/demo.sh; else echo "demo not yet written"; fi

# Schemathesis against a running `ledger serve`, one run per party's token, many more examples.
fuzz-api: setup
	$(BIN)/ledger infra up
	LEDGER_FUZZ_EXAMPLES=$${LEDGER_FUZZ_EXAMPLES:-300} $(BIN)/pytest -q tests/http/test_schemathesis.py

# The browser tests save screenshots to build/screenshots/ (a test artefact) unless told
# otherwise; these are the ones the README shows.
screenshots: setup
	$(BIN)/ledger infra up
	$(BIN)/ledger infra browser
	LEDGER_SCREENSHOTS=docs/screenshots $(BIN)/pytest -q tests/browser

# Its own broker and PostgreSQL under a temporary folder (it kills and restarts them), never
# the ones `make up` runs; the ledger must equal an uninterrupted replay at the end.
soak: setup
	SOAK_SECONDS=$${SOAK_SECONDS:-600} $(BIN)/python -m tests.faults.soak

bench: setup
	@if [ -f scripts/bench.sh ]; then bash scripts/bench.sh; else echo "bench not yet written"; fi

up: setup
	$(BIN)/ledger infra up

status: setup
	$(BIN)/ledger infra status

# Stops only the services of this checkout's state folder ($LEDGER_HOME or .ledger).
down:
	@if [ -x $(BIN)/ledger ]; then $(BIN)/ledger infra down; else echo "no $(BIN)/ledger: nothing to stop"; fi

# Removes the state folder (topics, databases, logs) and caches; keeps .venv and the jar cache.
clean: down
	rm -rf .ledger build bench-out .pytest_cache .mypy_cache .ruff_cache .hypothesis
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -exec rm -rf {} +
	rm -rf *.egg-info
