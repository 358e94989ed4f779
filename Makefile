# make run  : create .venv, install srs, start it with conf/srs.conf (foreground, console log)
# make test : install test dependencies (pip + Debian tools when root) and run the whole suite

PYTHON ?= python3.11
VENV   ?= .venv
BIN     = $(VENV)/bin
CONF   ?= conf/srs.conf
JOBS   ?= auto

.PHONY: run test install install-test system-deps lint typecheck bench clean

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found; set PYTHON=python3"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed pyproject.toml
	$(BIN)/pip install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

system-deps:
	@scripts/install-system-deps.sh

run: install
	@scripts/install-system-deps.sh --runtime
	$(BIN)/srs -c $(CONF)

test: install-test system-deps
	$(BIN)/python -m pytest -n $(JOBS) -q --hypothesis-profile=ci

lint: install-test
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

typecheck: install-test
	$(BIN)/mypy

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache .mypy_cache .ruff_cache
