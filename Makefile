# Two commands on a fresh machine: `make run` and `make test`. See README.md.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
HOST ?= 127.0.0.1
export FLASK_APP := wsgi.py

.PHONY: run test setup db demo translations e2e test-postgres bench cluster-test clean

# The virtual environment is rebuilt when a requirements file changes.
$(BIN)/.installed: requirements.txt requirements-dev.txt
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 is needed ($(PYTHON) not found)."; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

setup: $(BIN)/.installed translations

translations: $(BIN)/.installed
	@$(BIN)/flask translations compile

db: setup
	@mkdir -p instance
	$(BIN)/flask db upgrade

demo: db
	$(BIN)/flask demo-data

# Serve on http://$(HOST):$(PORT) with demo data on SQLite, and run the scheduler beside it.
run: demo
	@echo "Serving on http://$(HOST):$(PORT)  (the scheduler runs beside it; Ctrl+C stops both)"
	@trap 'kill 0' INT TERM EXIT; \
	  $(BIN)/flask scheduler run & \
	  $(BIN)/flask run --host $(HOST) --port $(PORT)

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

bench: setup
	@for f in bench/bench_*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) instance/canyu.db
