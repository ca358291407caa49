# Everything goes through .venv, created here from python3.11: a fresh machine needs only
# Python 3.11, pip and make.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# Keep dbt from phoning home (there is no network to phone to in CI anyway).
export DBT_SEND_ANONYMOUS_USAGE_STATS := False

.PHONY: install prepare test test-fast test-install demo dev lint format bench check clean lock

install: $(STAMP)

# Re-installs only when the dependency pins change, so `make install` is quick when nothing did.
$(STAMP): pyproject.toml setup.py constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

# Optional: every command parses the dbt project by itself when its manifest is missing or
# older than the models (servicetitan_pipeline/defs/dbt_project.py). This only does it ahead.
prepare: install
	$(BIN)/python -m servicetitan_pipeline.defs.dbt_project

# The whole suite, the slow install tests (a fresh virtualenv, a few minutes) included.
test: install
	$(BIN)/python -m pytest

# Everything but the install tests.
test-fast: install
	$(BIN)/python -m pytest -m "not install"

# Only the install tests: `pip install .` and an editable install into fresh virtualenvs.
test-install: install
	$(BIN)/python -m pytest -m install

demo: install
	$(BIN)/servicetitan-pipeline demo

# Dagster's state (run history, schedules) lives in ./.dagster_home unless DAGSTER_HOME is set.
dev: install
	$(BIN)/servicetitan-pipeline dev

check: install
	$(BIN)/servicetitan-pipeline check

bench: install
	$(BIN)/python bench/sync_benchmark.py

# Python: ruff, and mypy in strict mode over the package (config in pyproject.toml). SQL:
# sqlfluff renders the dbt models with its jinja templater (config in .sqlfluff): no dbt
# compile, no warehouse.
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
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
	rm -rf $(VENV) data dbt_project/target dbt_project/logs .dagster_home .pytest_cache .ruff_cache \
	  build *.egg-info
