# `make run`: install and open the dashboard (demo account when no Stripe key).
# `make test`: install and run every test; `make test-fast` leaves out the
# browser and subprocess tests; `make lint`: ruff and mypy.
# Installs come from the hash-locked files (`make lock` regenerates them).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP_INSTALL := $(PY) -m pip install --quiet --disable-pip-version-check --require-hashes
LOCK_VENV := .venv-lock
UV_VERSION := 0.13.9

.PHONY: run test test-fast lint lock sync demo bench

$(PY):
	$(PYTHON) -m venv $(VENV)

# The runtime packages only.
$(VENV)/installed: requirements.lock | $(PY)
	$(PIP_INSTALL) -r requirements.lock
	touch $@

# The test and lint tools on top. The dev lock pins the runtime packages at
# the runtime lock's versions, so it satisfies `make run` too.
$(VENV)/installed-dev: requirements-dev.lock requirements.lock | $(PY)
	$(PIP_INSTALL) -r requirements-dev.lock
	touch $@ $(VENV)/installed

run: $(VENV)/installed
	$(PY) -m tally_ui.serve

test: $(VENV)/installed-dev
	$(PY) -m pytest

test-fast: $(VENV)/installed-dev
	$(PY) -m pytest -m "not browser and not subprocess"

lint: $(VENV)/installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

# Pin every transitive package with its hashes. uv lives in a venv of its own,
# not in the project's. The dev lock is compiled after the runtime one and
# prefers its versions (uv keeps the pins already in an output file).
lock:
	test -x $(LOCK_VENV)/bin/uv || { $(PYTHON) -m venv $(LOCK_VENV) && \
		$(LOCK_VENV)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION); }
	$(LOCK_VENV)/bin/uv pip compile --quiet --generate-hashes --python-version 3.11 \
		--custom-compile-command "make lock" requirements.txt -o requirements.lock
	test -f requirements-dev.lock || cp requirements.lock requirements-dev.lock
	$(LOCK_VENV)/bin/uv pip compile --quiet --generate-hashes --python-version 3.11 \
		--custom-compile-command "make lock" requirements-dev.txt -o requirements-dev.lock

sync: $(VENV)/installed
	$(PY) -m etl sync

demo: $(VENV)/installed
	$(PY) -m etl demo

bench: $(VENV)/installed-dev
	$(PY) bench/sync.py && $(PY) bench/metrics.py && $(PY) bench/dashboard.py
