# Two commands: `make run` serves the API on the embedded Redis; `make test` runs the suite.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= $(or $(WAYFINDER_PORT),8000)
export WAYFINDER_REGISTRY ?= var/registry
DEMO_EVENTS := var/demo/events.jsonl

.PHONY: run test lint format install install-dev demo-model bench clean

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

demo-model: install
	@if [ -z "$$($(PY) -c 'from models.registry import Registry; import os; print(Registry(os.environ["WAYFINDER_REGISTRY"]).current() or "")')" ]; then \
		$(PY) -m training simulate --out $(DEMO_EVENTS) && \
		$(PY) -m training train --events $(DEMO_EVENTS); \
	fi

run: demo-model
	WAYFINDER_PORT=$(PORT) $(VENV)/bin/gunicorn -c gunicorn.conf.py 'service:create_app()'

test: install-dev
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .
	@# tests/browser drives Debian's chromium: skipped locally without it, required (so installed) under CI
	@if [ "$$CI" = "true" ] && ! { [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; }; then \
		SUDO=$$([ "$$(id -u)" -eq 0 ] || echo sudo); \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium chromium-driver; \
	fi
	$(PY) -m pytest -q

lint: install-dev
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

format: install-dev
	$(VENV)/bin/ruff format . && $(VENV)/bin/ruff check --fix .

bench: install
	$(PY) bench/api_bench.py

clean:
	rm -rf var .pytest_cache
