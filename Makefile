# `make run`: install and open the dashboard (demo account when no Stripe key).
# `make test`: install and run every test.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: run test lint sync demo bench

$(VENV)/installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

run: $(VENV)/installed
	$(PY) -m tally_ui.serve

test: $(VENV)/installed
	$(PY) -m pytest

lint: $(VENV)/installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

sync: $(VENV)/installed
	$(PY) -m etl sync

demo: $(VENV)/installed
	$(PY) -m etl demo

bench: $(VENV)/installed
	$(PY) bench/sync.py && $(PY) bench/metrics.py && $(PY) bench/dashboard.py
