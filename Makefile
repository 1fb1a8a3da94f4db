# qbpa — everything a fresh Debian/Ubuntu machine needs, from two commands: `make demo`, `make test`.
SHELL := /bin/bash
# python3 when it is 3.11+, else a python3.11/3.12/3.13 on the PATH (Ubuntu 22.04's python3 is 3.10).
PYTHON ?= $(shell for p in python3 python3.11 python3.12 python3.13; do $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1 && echo $$p && break; done || true)
PYTHON := $(or $(PYTHON),python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Only the demo and the UI use these; the tests build their own temporary instances and folders.
# Your own company's settings live in ./qbpa.env (copied from qbpa.env.example), which `qbpa`
# reads itself; the demo keeps to var/demo, whatever qbpa.env says.
DAGSTER_HOME ?= $(CURDIR)/var/dagster_home
DEMO_ENV := DAGSTER_HOME=$(DAGSTER_HOME) QBPA_DATA_DIR=$(CURDIR)/var
UI_ENV := DAGSTER_HOME=$(DAGSTER_HOME)

# Debian packages that pip cannot bring are installed by scripts/system-deps.sh when missing.

.PHONY: help demo dev test bench lint check system-deps test-deps venv dagster-home clean

help:
	@echo "make demo   install into .venv, start the QuickBooks emulator, run the flows end to end"
	@echo "make test   run the whole test suite (installs what it needs)"
	@echo "make dev    open the Dagster UI (webserver + daemon): your company (qbpa.env) or the emulator"
	@echo "make check  check the settings of qbpa.env / the environment against the real systems"
	@echo "make bench  run the benchmarks (slow; see benchmarks/README.md)"

system-deps:
	@PYTHON=$(PYTHON) bash scripts/system-deps.sh runtime

test-deps:
	@PYTHON=$(PYTHON) bash scripts/system-deps.sh test

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "qbpa needs Python 3.11 or newer (apt-get install python3.11 python3.11-venv)")'
	@[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

dagster-home:
	@mkdir -p $(DAGSTER_HOME)
	@[ -f $(DAGSTER_HOME)/dagster.yaml ] || $(PY) -m qbpa_assets.cli instance-yaml > $(DAGSTER_HOME)/dagster.yaml

demo: system-deps venv dagster-home
	$(DEMO_ENV) $(PY) -m qbpa_assets.cli demo

dev: system-deps venv dagster-home
	$(UI_ENV) $(PY) -m qbpa_assets.cli dev

test: test-deps venv
	$(VENV)/bin/pytest -q

bench: system-deps venv
	$(PY) -m benchmarks.run

lint: venv
	$(VENV)/bin/ruff check qbpa_assets qbpa_assets_tests benchmarks

check: venv
	$(PY) -m qbpa_assets.cli check

clean:
	rm -rf var .pytest_cache
