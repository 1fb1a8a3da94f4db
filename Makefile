# qbpa — everything a fresh Debian/Ubuntu machine needs, from two commands: `make demo`, `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export DAGSTER_HOME ?= $(CURDIR)/var/dagster_home
export QBPA_DATA_DIR ?= $(CURDIR)/var

# Debian packages that pip cannot bring: unixODBC + ODBC drivers (SQLite, PostgreSQL) for the
# Inventiv database, and OpenSSH's sshd for the SFTP tests.
APT_PACKAGES := unixodbc libsqliteodbc odbc-postgresql openssh-server

.PHONY: help demo dev test bench lint check system-deps venv dagster-home clean

help:
	@echo "make demo   install into .venv, start the QuickBooks emulator, run the flows end to end"
	@echo "make test   run the whole test suite (installs what it needs)"
	@echo "make dev    open the Dagster UI (webserver + daemon) on the emulator"
	@echo "make bench  run the benchmarks (slow; see benchmarks/README.md)"

system-deps:
	@missing=""; \
	command -v odbcinst >/dev/null 2>&1 || missing="$$missing unixodbc"; \
	odbcinst -q -d -n SQLite3 >/dev/null 2>&1 || missing="$$missing libsqliteodbc"; \
	odbcinst -q -d -n "PostgreSQL Unicode" >/dev/null 2>&1 || missing="$$missing odbc-postgresql"; \
	[ -x /usr/sbin/sshd ] || missing="$$missing openssh-server"; \
	if [ -n "$$missing" ]; then \
	  echo "qbpa: installing system packages:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO="sudo"; else \
	    echo "qbpa: cannot install$$missing: not root and no sudo. Install them with apt-get, then re-run." >&2; exit 1; fi; \
	  if ! command -v apt-get >/dev/null; then \
	    echo "qbpa: cannot install$$missing: apt-get not found (this Makefile targets Debian/Ubuntu)." >&2; exit 1; fi; \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $(APT_PACKAGES) >/dev/null \
	  || { echo "qbpa: apt-get install of$$missing failed (see above)." >&2; exit 1; }; \
	fi

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 10), "qbpa needs Python >= 3.10"'
	@[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

dagster-home:
	@mkdir -p $(DAGSTER_HOME)
	@[ -f $(DAGSTER_HOME)/dagster.yaml ] || $(PY) -m qbpa_assets.cli instance-yaml > $(DAGSTER_HOME)/dagster.yaml

demo: system-deps venv dagster-home
	$(PY) -m qbpa_assets.cli demo

dev: system-deps venv dagster-home
	$(PY) -m qbpa_assets.cli dev

test: system-deps venv
	$(VENV)/bin/pytest -q

bench: system-deps venv
	$(PY) -m benchmarks.run

lint: venv
	$(VENV)/bin/ruff check qbpa_assets qbpa_assets_tests benchmarks

check: venv
	$(PY) -m qbpa_assets.cli check

clean:
	rm -rf var .pytest_cache
