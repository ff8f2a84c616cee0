# The whole set-up: `make run` and `make test`. Each creates .venv when missing and installs what it needs.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip

.PHONY: run test lint debian-deps bench clean

$(VENV)/.base: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e .
	touch $@

$(VENV)/.test: $(VENV)/.base
	$(PIP) install -q -e '.[test,bench]'
	touch $@

run: $(VENV)/.base
	$(VENV)/bin/cns run

lint: $(VENV)/.test
	$(VENV)/bin/ruff check src tests
	$(VENV)/bin/ruff format --check src tests
	$(VENV)/bin/mypy src/cns/runtime src/cns/otp src/cns/venue

debian-deps:
	./scripts/debian-deps.sh

test: lint debian-deps
	$(PY) -m pytest -q

bench: $(VENV)/.test
	$(VENV)/bin/cns bench actors --json out/bench-actors.json
	$(VENV)/bin/cns bench signals --json out/bench-signals.json
	$(VENV)/bin/cns bench pipeline --json out/bench-pipeline.json
	$(VENV)/bin/cns bench shacl --json out/bench-shacl.json
	$(VENV)/bin/cns bench book --json out/bench-book.json
	$(VENV)/bin/cns bench live --json out/bench-live.json
	$(VENV)/bin/cns bench journal --json out/bench-journal.json
	$(VENV)/bin/cns bench backtest --json out/bench-backtest.json
	$(VENV)/bin/cns bench startup --json out/bench-startup.json
	$(VENV)/bin/cns bench span --json out/bench-span.json
	$(VENV)/bin/cns report readme

clean:
	rm -rf $(VENV) out build src/*.egg-info
