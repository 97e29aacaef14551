# The two commands a newcomer needs: `make run` and `make test`. Everything they need is installed here.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SCENARIOS ?=

.PHONY: run test lint bench clean

$(VENV)/.installed-run: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip setuptools wheel
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip setuptools wheel
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@ $(VENV)/.installed-run

run: $(VENV)/.installed-run
	$(BIN)/gerbang run

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check gerbang tests bench
	$(BIN)/ruff format --check gerbang tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

# `alembic check` (models and migrations agree) runs inside pytest, on the real migrated database.
test: lint
	$(BIN)/pytest

bench: $(VENV)/.installed-dev
	$(BIN)/python -m bench $(SCENARIOS)

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
