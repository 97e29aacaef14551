# The two commands a newcomer needs: `make run` and `make test`. Everything they need is installed here.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SCENARIOS ?=

.PHONY: run test lint browser bench clean

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

# The browser tests drive Debian's chromium (never a browser download of Playwright's own).
CHROMIUM := /usr/bin/chromium
APT_INSTALL := DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium

browser:
	@test -x $(CHROMIUM) || { \
	  if [ "$$(id -u)" -eq 0 ]; then \
	    $(APT_INSTALL) || { apt-get update -q && $(APT_INSTALL); }; \
	  else \
	    echo "The browser tests need Debian's chromium at $(CHROMIUM): run 'sudo apt-get install chromium'." >&2; \
	    exit 1; \
	  fi; \
	}

# `alembic check` (models and migrations agree) runs inside pytest, on the real migrated database.
test: lint browser
	$(BIN)/pytest

bench: $(VENV)/.installed-dev
	$(BIN)/python -m bench $(SCENARIOS)

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
