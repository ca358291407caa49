# Everything goes through .venv, created here from python3.11: a fresh machine needs only
# Python 3.11, pip and make.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
MANIFEST := dbt_project/target/manifest.json
DBT_SOURCES := $(shell find dbt_project -path dbt_project/target -prune -o -type f \( -name '*.sql' -o -name '*.yml' -o -name '*.yaml' \) -print 2>/dev/null)

# Keep dbt from phoning home (there is no network to phone to in CI anyway).
export DBT_SEND_ANONYMOUS_USAGE_STATS := False

.PHONY: install prepare test test-fast demo dev lint format bench check clean lock

install: $(STAMP)

# Re-installs only when the dependency pins change, so `make install` is quick when nothing did.
$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

# dagster-dbt's @dbt_assets reads manifest.json at import time: build it before anything
# imports the definitions.
prepare: $(MANIFEST)

$(MANIFEST): $(STAMP) $(DBT_SOURCES)
	$(BIN)/dbt parse --quiet --project-dir dbt_project --profiles-dir dbt_project
	@touch $(MANIFEST)

test: install prepare
	$(BIN)/python -m pytest

demo: install prepare
	$(BIN)/servicetitan-pipeline demo

# Dagster's state (run history, schedules) lives in ./.dagster_home unless DAGSTER_HOME is set.
dev: install prepare
	$(BIN)/servicetitan-pipeline dev

check: install
	$(BIN)/servicetitan-pipeline check

bench: install prepare
	$(BIN)/python bench/sync_benchmark.py

# sqlfluff renders the dbt models with its jinja templater (config in .sqlfluff): no dbt
# compile, no warehouse.
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/sqlfluff lint dbt_project

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .
	$(BIN)/sqlfluff fix dbt_project

# Regenerate constraints.txt from a clean resolve of pyproject.toml.
lock:
	rm -rf /tmp/st-lock && $(PYTHON) -m venv /tmp/st-lock
	/tmp/st-lock/bin/pip install --quiet --upgrade pip
	/tmp/st-lock/bin/pip install --quiet -e '.[dev]'
	( echo '# Transitive pins for a reproducible install (pip install -c constraints.txt). Regenerate with `make lock`.'; \
	  /tmp/st-lock/bin/pip freeze --exclude-editable ) > constraints.txt

clean:
	rm -rf $(VENV) data dbt_project/target dbt_project/logs .dagster_home .pytest_cache .ruff_cache
