# Two commands on a fresh machine: `make run` and `make test`. See README.md.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
HOST ?= 127.0.0.1
# E-mailed links (verification, tickets, invitations) point to the address `make run` serves, unless set.
BASE_URL ?= http://$(HOST):$(PORT)
export FLASK_APP := wsgi.py

.PHONY: run test setup db demo translations e2e test-postgres test-clock test-clock-postgres bench cluster-test clean

# The virtual environment is rebuilt when a requirements file changes.
# Each step prints a line first: on a fresh machine the whole of `make run` takes a few minutes.
$(BIN)/.installed: requirements.txt requirements-dev.txt
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 is needed ($(PYTHON) not found)."; exit 1; }
	@test -x $(BIN)/python || { echo "== Creating the virtual environment in $(VENV)/"; $(PYTHON) -m venv $(VENV); }
	@echo "== Installing the pinned dependencies (requirements-dev.txt; a few minutes the first time)"
	@$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

setup: $(BIN)/.installed translations

translations: $(BIN)/.installed
	@echo "== Compiling the language catalogues"
	@$(BIN)/flask translations compile

db: setup
	@mkdir -p instance
	@echo "== Migrating the database (instance/canyu.db unless DATABASE_URL says otherwise)"
	@$(BIN)/flask db upgrade

demo: db
	@echo "== Loading the demo data (a second run adds nothing)"
	@BASE_URL=$(BASE_URL) $(BIN)/flask demo-data

# Serve on http://$(HOST):$(PORT) with demo data on SQLite, and run the scheduler beside it. The trap clears itself
# before it signals the group: `kill 0` reaches this shell too, and a trap run again for its own signal recursed until
# the shell crashed ("Segmentation fault" on Ctrl+C).
run: demo
	@echo "Serving on http://$(HOST):$(PORT)  (the scheduler runs beside it; Ctrl+C stops both)"
	@trap 'trap - INT TERM EXIT; kill 0' INT TERM EXIT; \
	  BASE_URL=$(BASE_URL) $(BIN)/flask scheduler run & \
	  BASE_URL=$(BASE_URL) $(BIN)/flask run --host $(HOST) --port $(PORT)

# The whole suite on SQLite (and on PostgreSQL too when TEST_DATABASE_URL is set).
# Browser tests run when Chromium is installed; otherwise they are reported as skipped.
test: setup
	$(BIN)/python -m pytest -q -rs -n 2

e2e: setup
	$(BIN)/python -m pytest -q -rs -n 2 tests/e2e

test-postgres: setup
	TEST_DATABASE_URL=$${TEST_DATABASE_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test} $(BIN)/python -m pytest -q -rs -n 2 -m "not e2e"

# Two app hosts in network namespaces behind HAProxy, a host killed mid-rush (root; about 2 minutes; docs/deploy.md)
cluster-test: setup
	deploy/cluster-test.sh

# The fast tests (neither e2e nor slow) again with the clock moved to instants where dates change, every test
# starting at each instant (tests/conftest.py, --clock). Instants are UTC; Shanghai is 8 hours ahead:
#   2026-12-31T15:59:30Z  23:59:30 on 31 December in Shanghai: the last seconds of a month, a quarter and a year
#   2026-12-31T16:00:30Z  New Year in Shanghai while UTC is still 31 December 2026
#   2026-09-30T23:59:30Z  23:59:30 UTC on the last day of a quarter; 1 October (National Day) in Shanghai
#   2027-02-04T16:00:30Z  the eve of Spring Festival 2027 (2027-02-05, a holiday) begins in Shanghai
#   2026-02-14T01:30:00Z  Saturday 2026-02-14, 09:30 in Shanghai: a make-up working day (调休)
# On PostgreSQL, the instant where the Shanghai and UTC dates, months, quarters and years all differ (one pass keeps CI
# under 20 minutes; `make test-clock-postgres CLOCK_INSTANTS_POSTGRES="..."` runs any others).
CLOCK_INSTANTS ?= 2026-12-31T15:59:30Z 2026-12-31T16:00:30Z 2026-09-30T23:59:30Z 2027-02-04T16:00:30Z 2026-02-14T01:30:00Z
CLOCK_INSTANTS_POSTGRES ?= 2026-12-31T16:00:30Z

test-clock: setup
	$(BIN)/python -m pytest -q -n 2 -m "not e2e and not slow" --clock="$(CLOCK_INSTANTS)"

test-clock-postgres: setup
	TEST_DATABASE_URL=$${TEST_DATABASE_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test} $(BIN)/python -m pytest -q -n 2 -m "not e2e and not slow" --clock="$(CLOCK_INSTANTS_POSTGRES)"

bench: setup
	@for f in bench/bench_*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) instance/canyu.db
