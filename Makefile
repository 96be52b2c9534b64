# Developer and CI entry points. `.ci/run` runs test, lint, typecheck, migrations-check and audit.
# Every target creates .venv when it is missing; dependencies are reinstalled only when a
# lock file changes (the stamp file's name carries their hash). requirements.in and
# requirements-dev.in are edited by hand; `make lock` turns them into the locks
# requirements.txt and requirements-dev.txt (every transitive dependency pinned, with hashes),
# which are all that is ever installed, with --require-hashes.

SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin

RUNTIME_SHA := $(shell cat requirements.txt | sha256sum | cut -c1-16)
DEV_SHA := $(shell cat requirements.txt requirements-dev.txt | sha256sum | cut -c1-16)
RUNTIME_STAMP := $(VENV)/.installed-$(RUNTIME_SHA)
DEV_STAMP := $(VENV)/.installed-dev-$(DEV_SHA)

PORT ?= 8000
PYTEST_ARGS ?=
# The suite runs on this many processes (pytest-xdist; each has its own test database, queue and
# media folder); 0 runs it in this one process.
PYTEST_WORKERS ?= 2
# `make test` runs on the production stack (PostgreSQL + Redis on 127.0.0.1).
TEST_DATABASE_URL := $(or $(DATABASE_URL),postgres://postgres@127.0.0.1:5432/labpanel)
TEST_BROKER_URL := $(or $(CELERY_BROKER_URL),redis://127.0.0.1:6379/0)

PIP_INSTALL := $(PY) -m pip install --disable-pip-version-check --require-hashes
# The locks record the hashes of the files on the package index; a local pip configuration
# (find-links folders, extra indexes) would add hashes of files nobody else has.
LOCK_ENV ?= PIP_CONFIG_FILE=/dev/null
# Extras are kept (`pydantic[email]==...`): pip's --require-hashes install refuses a dependency
# asked for with an extra (fhir.resources wants pydantic[email]) that the lock pins without it.
PIP_COMPILE := $(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe --no-strip-extras \
	--no-emit-index-url --no-emit-find-links
# pip-audit's source of advisories: `pypi` (the index's own per-release JSON) or `osv`.
AUDIT_SERVICE ?= pypi

.PHONY: help install install-dev run worker test check-services fmt lint typecheck \
	migrations-check lock audit clean distclean

help:
	@echo "make run               start Labpanel (web + worker) on http://127.0.0.1:$(PORT)/"
	@echo "make worker            start one more Celery worker"
	@echo "make test              run pytest against PostgreSQL and Redis (PYTEST_ARGS=..., PYTEST_WORKERS=2)"
	@echo "make lint              ruff format --check + ruff check"
	@echo "make fmt               ruff format + ruff check --fix"
	@echo "make typecheck         mypy"
	@echo "make migrations-check  fail if a model change has no migration"
	@echo "make install[-dev]     install the locked runtime [and development] dependencies"
	@echo "make lock              regenerate requirements[-dev].txt (hashed) from requirements[-dev].in"
	@echo "make audit             pip-audit both locks (known vulnerabilities; fails on any)"
	@echo "make clean             remove var/ (database, media, broker queue, secret key)"
	@echo "make distclean         clean, and remove .venv"

# --- Virtual environment ----------------------------------------------------------------------
$(PY):
	@py="$$(command -v python3.11 || true)"; \
	if [ -z "$$py" ] || ! "$$py" -c 'import sys' >/dev/null 2>&1; then \
		py="$$(command -v python3 || true)"; \
		if [ -z "$$py" ] || ! "$$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then \
			echo "Labpanel needs Python 3.11 or newer: install python3.11 and run make again" >&2; \
			exit 1; \
		fi; \
	fi; \
	echo "Creating $(VENV) with $$("$$py" --version)"; \
	"$$py" -m venv $(VENV)

$(RUNTIME_STAMP): | $(PY)
	$(PIP_INSTALL) -r requirements.txt
	@touch $@

# requirements-dev.txt locks requirements.in too, so it satisfies the runtime stamp.
$(DEV_STAMP): | $(PY)
	$(PIP_INSTALL) -r requirements-dev.txt
	@touch $@ $(RUNTIME_STAMP)

install: $(RUNTIME_STAMP)

install-dev: $(DEV_STAMP)

# --- Running ------------------------------------------------------------------------------------
run: $(RUNTIME_STAMP)
	PORT=$(PORT) $(PY) -m labpanel.launcher

# Finds the secret key and broker that `make run` chose (settings.py reads var/), like manage.py.
worker: $(RUNTIME_STAMP)
	$(BIN)/celery -A labpanel worker --loglevel=INFO -Q "$${CELERY_TASK_DEFAULT_QUEUE:-labpanel}"

# --- Checks -------------------------------------------------------------------------------------
# One line, and a non-zero exit, when PostgreSQL or Redis is not answering.
define CHECK_SERVICES
import socket, sys
from urllib.parse import urlsplit

def check(name, variable, url, schemes, default_port):
    parts = urlsplit(url)
    if parts.scheme not in schemes or not parts.hostname:
        return True
    address = (parts.hostname, parts.port or default_port)
    try:
        socket.create_connection(address, timeout=2).close()
    except OSError:
        print(f"{name} is not answering at {address[0]}:{address[1]} "
              f"(set {variable} or start it: see DEVELOPERS.md)", file=sys.stderr)
        return False
    return True

database_ok = check("PostgreSQL", "DATABASE_URL", sys.argv[1],
                    {"postgres", "postgresql", "pgsql"}, 5432)
broker_ok = check("Redis", "CELERY_BROKER_URL", sys.argv[2], {"redis", "rediss"}, 6379)
sys.exit(0 if database_ok and broker_ok else 1)
endef
export CHECK_SERVICES

check-services: | $(PY)
	@$(PY) -c "$$CHECK_SERVICES" '$(TEST_DATABASE_URL)' '$(TEST_BROKER_URL)'

test: $(DEV_STAMP) check-services
	DATABASE_URL='$(TEST_DATABASE_URL)' CELERY_BROKER_URL='$(TEST_BROKER_URL)' \
		$(PY) -m pytest -n $(PYTEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

fmt: $(DEV_STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Both run, so one pass shows every problem; either failing fails the target.
lint: $(DEV_STAMP)
	@status=0; \
	echo "ruff format --check ."; $(BIN)/ruff format --check . || status=1; \
	echo "ruff check ."; $(BIN)/ruff check . || status=1; \
	exit $$status

typecheck: $(DEV_STAMP)
	$(BIN)/mypy .

# An in-memory database: the check needs models and migrations, not a server.
migrations-check: $(DEV_STAMP)
	DJANGO_DEBUG=true DATABASE_URL='sqlite://:memory:' \
		$(PY) manage.py makemigrations --check --dry-run

# --- Dependencies -------------------------------------------------------------------------------
# Regenerate both locks from the .in files: pins kept, new ones resolved on the index, every file's
# hash recorded. Commit the four files together. `make lock LOCK_ARGS=--upgrade-package=NAME`
# moves one transitive dependency.
lock: $(DEV_STAMP)
	$(LOCK_ENV) $(PIP_COMPILE) $(LOCK_ARGS) --output-file requirements.txt requirements.in
	$(LOCK_ENV) $(PIP_COMPILE) $(LOCK_ARGS) --output-file requirements-dev.txt requirements-dev.in

# Known vulnerabilities of every locked version, read from the locks alone (no resolution, no
# install). --strict: a package that could not be audited fails the audit.
audit: $(DEV_STAMP)
	$(BIN)/pip-audit --progress-spinner off --strict --disable-pip --require-hashes \
		--vulnerability-service $(AUDIT_SERVICE) -r requirements.txt -r requirements-dev.txt

# --- Cleaning -----------------------------------------------------------------------------------
clean:
	rm -rf var/

distclean: clean
	rm -rf $(VENV)
