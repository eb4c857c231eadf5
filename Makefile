# Entry points the README names. Everything installs from pinned files on first use.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
SAM_VENV := .venv-sam
TRANSLATOR_VENV := .venv-translator
PY := $(VENV)/bin/python
SAM := $(SAM_VENV)/bin/sam
SAM_CLI_VERSION := 1.170.0
export SAM_CLI_TELEMETRY := 0
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help install test lint types template-check unit integration e2e demo local build validate clean \
	bench-listings bench-quantity bench-orders bench-footprint bench chaos probe

help:
	@echo "make demo   - run the end-to-end scenario on the embedded local stack"
	@echo "make test   - lint, types, template checks and every test"
	@echo "make local  - run the local stack (HTTP API on :3000) until interrupted"
	@echo "make build  - sam build (no container); make validate - sam validate --lint"
	@echo "make bench-listings - import a 20,000-SKU Temu shop on the local stack (~5 min; not a test)"
	@echo "make bench-quantity - quantity sync, 200,000 units / 20,000 SKUs, full and 1 % runs (~6 min; not a test)"
	@echo "make bench-orders   - order import of 1,000 new Temu orders at WholeCell's 2 req/s (~10 min; not a test)"
	@echo "make bench-footprint - cold starts, package sizes, Temu budget, fan-out of 1,000 connections (~1 min)"
	@echo "make bench  - the quantity, order and footprint benchmarks, one overview table, bench/results.json"
	@echo "make chaos  - the whole flow under faults and killed workers, then every invariant (~10 min; bench/chaos.json)"
	@echo "make probe  - read-only: each Temu/WholeCell read once, checked against the documented contract"
	@echo "              (real APIs with TEMU_ACCESS_TOKEN/TEMU_APP_KEY/TEMU_APP_SECRET/TEMU_REGION and/or"
	@echo "              WHOLECELL_APP_ID/WHOLECELL_APP_SECRET set; the local sandboxes otherwise)"

$(VENV)/.installed: requirements-dev.txt layers/common/requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(VENV)/bin/pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

# SAM's own translator expands each function's policies for the local stack's IAM checks; its
# pydantic pin clashes with the runtime's, so it gets a virtual environment of its own.
$(TRANSLATOR_VENV)/.installed: requirements-translator.txt
	$(PYTHON) -m venv $(TRANSLATOR_VENV)
	$(TRANSLATOR_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-translator.txt
	touch $@

install: $(VENV)/.installed $(TRANSLATOR_VENV)/.installed

# SAM CLI pins clash with the runtime stack: it gets its own virtual environment.
$(SAM_VENV)/.installed:
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet --disable-pip-version-check aws-sam-cli==$(SAM_CLI_VERSION)
	touch $@

lint: install
	$(VENV)/bin/ruff check .

types: install
	$(VENV)/bin/mypy

template-check: install
	$(VENV)/bin/cfn-lint template.yaml

unit: install
	$(VENV)/bin/pytest tests/unit

integration: install
	$(VENV)/bin/pytest tests/integration

e2e: install
	$(VENV)/bin/pytest tests/e2e

# The second run moves the clock a year ahead: a test bound to today's date fails the day it is written.
test: lint types template-check
	$(VENV)/bin/pytest tests
	TEST_CLOCK_SHIFT_DAYS=365 $(VENV)/bin/pytest tests/unit tests/integration

demo: install
	$(PY) -m local.demo

local: install
	$(PY) -m local.runner

bench-listings: install
	$(PY) -m bench.listings

bench-quantity: install
	$(PY) -m bench.quantity

bench-orders: install
	$(PY) -m bench.orders

validate: $(SAM_VENV)/.installed
	$(SAM) validate --lint

build: $(SAM_VENV)/.installed
	PYENV_VERSION=3.11.7:3.12.1:3.13.0 $(SAM) build

clean:
	rm -rf $(VENV) $(SAM_VENV) $(TRANSLATOR_VENV) .aws-sam .mypy_cache .ruff_cache

bench-footprint: install
	$(PY) -m bench.footprint

bench: install
	$(PY) -m bench.overview

chaos: install
	$(PY) -m bench.chaos

probe: install
	$(PY) -m local.probe
