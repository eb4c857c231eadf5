# Entry points the README names. Everything installs from pinned files on first use.
SHELL := /bin/bash
# Python 3.13, the Lambda runtime, for every virtual environment. pyenv machines find python3.13
# through its shim only when PYENV_VERSION names it (harmless without pyenv).
PYTHON ?= python3.13
export PYENV_VERSION := 3.13.0:3.12.1:3.11.7
VENV := .venv
SAM_VENV := .venv-sam
TRANSLATOR_VENV := .venv-translator
PY := $(VENV)/bin/python
SAM := $(SAM_VENV)/bin/sam
# Every install is a hash-checked lock (`make lock` writes them from the *.in files beside them).
PIP_LOCKED := --quiet --disable-pip-version-check --require-hashes
export SAM_CLI_TELEMETRY := 0
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help install test lint types complexity template-check unit integration e2e demo local invoke build validate artifact-check lock clean \
	bench-listings bench-quantity bench-orders bench-footprint bench-fleet bench chaos probe mutation

help:
	@echo "make demo   - run the end-to-end scenario on the embedded local stack"
	@echo "make test   - lint, types, the complexity gate, template checks and every test"
	@echo "make local  - run the local stack (HTTP API on :3000) until interrupted"
	@echo "make invoke FUNCTION=<LogicalId> EVENT=events/<file>.json - one function on the local stack (make local's,"
	@echo "              else one started for it); prints its logs and result (PRINT_EVENT=1: the filled event)"
	@echo "make build  - sam build (no container); make validate - sam validate --lint"
	@echo "make artifact-check - import every handler from the built artifact (.aws-sam/build); part of make test"
	@echo "make lock   - re-lock every requirements*.txt from its .in file (uv, hashes; LOCK_FLAGS=--upgrade to upgrade)"
	@echo "make bench-listings - import a 20,000-SKU Temu shop on the local stack (~5 min; not a test)"
	@echo "make bench-quantity - quantity sync, 200,000 units / 20,000 SKUs, full and 1 % runs (~6 min; not a test)"
	@echo "make bench-orders   - order import of 1,000 new Temu orders at WholeCell's 2 req/s (~10 min; not a test)"
	@echo "make bench-footprint - cold starts, package sizes, Temu budget, fan-out of 1,000 connections (~1 min)"
	@echo "make bench-fleet - 200 accounts on one Temu app, one tick under today's settings and the shared"
	@echo "              budgets, drain time against the physical bound (~45 min; not a test)"
	@echo "make bench  - the quantity, order and footprint benchmarks, one overview table, bench/results.json"
	@echo "make chaos  - the whole flow under faults and killed workers, then every invariant (~10 min; bench/chaos.json)"
	@echo "make mutation - mutation testing of domain/, Temu signing and models, the WholeCell adapter (~4 min;"
	@echo "              a floor of 90 % per module; MODULES=wholecell_temu.domain.orders for one module)"
	@echo "make probe  - read-only: each Temu/WholeCell read once, checked against the documented contract"
	@echo "              (real APIs with TEMU_ACCESS_TOKEN/TEMU_APP_KEY/TEMU_APP_SECRET/TEMU_REGION and/or"
	@echo "              WHOLECELL_APP_ID/WHOLECELL_APP_SECRET set; the local sandboxes otherwise)"

# The layer's lock and the dev lock together: pip refuses a version the two disagree on.
$(VENV)/.installed: requirements-dev.txt layers/common/requirements.txt pyproject.toml
	$(PYTHON) -m venv --clear $(VENV)
	$(VENV)/bin/pip install $(PIP_LOCKED) -r layers/common/requirements.txt -r requirements-dev.txt
	$(VENV)/bin/pip install --quiet --disable-pip-version-check --no-build-isolation --no-deps -e .
	touch $@

# SAM's own translator expands each function's policies for the local stack's IAM checks; its
# pydantic pin clashes with the runtime's, so it gets a virtual environment of its own.
$(TRANSLATOR_VENV)/.installed: requirements-translator.txt
	$(PYTHON) -m venv --clear $(TRANSLATOR_VENV)
	$(TRANSLATOR_VENV)/bin/pip install $(PIP_LOCKED) -r requirements-translator.txt
	touch $@

install: $(VENV)/.installed $(TRANSLATOR_VENV)/.installed

# SAM CLI pins clash with the runtime stack: it gets its own virtual environment.
$(SAM_VENV)/.installed: requirements-sam.txt
	$(PYTHON) -m venv --clear $(SAM_VENV)
	$(SAM_VENV)/bin/pip install $(PIP_LOCKED) -r requirements-sam.txt
	touch $@

lint: install
	$(VENV)/bin/ruff check .

types: install
	$(VENV)/bin/mypy

# The layer's cyclomatic complexity (radon's grades, A ≤ 5, B ≤ 10, C ≤ 20): no function above C, no
# module averaging above B, the whole layer averaging A. A function that outgrows C is split along its
# seams (pure decisions into domain/ or small private functions, I/O steps into named ones).
complexity: install
	$(VENV)/bin/xenon --max-absolute C --max-modules B --max-average A layers/common/wholecell_temu

template-check: install
	$(VENV)/bin/cfn-lint --include-checks I -- template.yaml

unit: install
	$(VENV)/bin/pytest tests/unit

integration: install
	$(VENV)/bin/pytest tests/integration

e2e: install
	$(VENV)/bin/pytest tests/e2e

# The second run moves the clock a year ahead: a test bound to today's date fails the day it is written.
# SAM validates (with cfn-lint) and builds first: tests/artifact imports every handler from .aws-sam/build (ARTIFACT_REQUIRED
# turns its skip, when nothing is built, into a failure).
test: lint types complexity template-check validate build
	ARTIFACT_REQUIRED=1 $(VENV)/bin/pytest tests
	TEST_CLOCK_SHIFT_DAYS=365 $(VENV)/bin/pytest tests/unit tests/integration

demo: install
	$(PY) -m local.demo

local: install
	$(PY) -m local.runner

# stdout is the function's result only (logs on stderr), so the recipe is not echoed
invoke: install
	@$(PY) -m local.invoke --function "$(FUNCTION)" --event "$(EVENT)" $(if $(PRINT_EVENT),--print-event)

bench-listings: install
	$(PY) -m bench.listings

bench-quantity: install
	$(PY) -m bench.quantity

bench-orders: install
	$(PY) -m bench.orders

bench-fleet: install
	$(PY) -m bench.fleet

validate: $(SAM_VENV)/.installed
	$(SAM) validate --lint

# The layer builds with layers/common/Makefile, using the SAM venv's pinned pip.
build: $(SAM_VENV)/.installed
	LAYER_PIP="$(CURDIR)/$(SAM_VENV)/bin/python -m pip" $(SAM) build

artifact-check: install build
	ARTIFACT_REQUIRED=1 $(VENV)/bin/pytest tests/artifact

# Re-lock every requirements*.txt from its .in with uv (pinned in requirements-dev.in), hashes of
# every file of each pinned release. The layer resolves for Lambda (python3.13, arm64, glibc 2.34),
# the tools for any platform; the dev lock takes the layer's pins as constraints. Versions already
# locked are kept unless an .in asks otherwise: LOCK_FLAGS=--upgrade (or --upgrade-package NAME).
# A lock that comes out unchanged keeps its file (uv would rewrite it), so no venv is rebuilt for it.
UV_COMPILE = $(VENV)/bin/uv pip compile --quiet --generate-hashes --python-version 3.13 \
	--custom-compile-command "make lock" $(LOCK_FLAGS)
define relock
test ! -f $(2).txt || cp $(2).txt $(2).txt.new  # uv keeps the versions it finds there
$(UV_COMPILE) $(1) $(2).in -o $(2).txt.new
if cmp -s $(2).txt.new $(2).txt; then rm $(2).txt.new; else mv $(2).txt.new $(2).txt; fi
endef
lock: $(VENV)/.installed
	$(call relock,--python-platform aarch64-manylinux_2_34,layers/common/requirements)
	$(call relock,--universal,requirements-dev)
	$(call relock,--universal,requirements-translator)
	$(call relock,--universal,requirements-sam)

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

mutation: install
	$(PY) -m local.mutation
