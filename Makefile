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

# Every third-party file is pinned and hashed: pip refuses one whose sha256 differs from the
# lock's (--require-hashes). When a lock changes, .venv is made anew from them, so that it holds
# what they list and nothing else: pip and setuptools first (pip.lock), then every dependency
# with --no-deps, so nothing is resolved at install time. The project comes last, and again
# when its metadata changes: an editable install cannot be hashed, so --no-deps and
# --no-build-isolation (built by the hashed setuptools, not one fetched for an isolated build)
# leave pip nothing to fetch for it; `pip check` fails when the locks miss a dependency.
# `make install` is quick when nothing changed.
LOCKS  := pip.lock requirements.lock requirements-dev.lock
LOCKED := $(VENV)/.locked

$(LOCKED): $(LOCKS)
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r pip.lock
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps \
	  -r requirements.lock -r requirements-dev.lock
	@touch $(LOCKED)

$(STAMP): $(LOCKED) pyproject.toml setup.py
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	@$(BIN)/python -m pip check >/dev/null || { $(BIN)/python -m pip check; exit 1; }
	@touch $(STAMP)

# Optional: every command parses the dbt project by itself when its manifest is missing or
# older than the models (servicetitan_pipeline/defs/dbt_project.py). This only does it ahead.
prepare: install
	$(BIN)/python -m servicetitan_pipeline.defs.dbt_project

# The whole suite, the slow install tests (a fresh virtualenv, a few minutes) included, on
# two worker processes: most tests wait on a simulator, a subprocess or DuckDB, so two workers
# take ~60% of one's time even on 2 cores. A file's tests stay in one worker (--dist loadfile:
# module fixtures such as a synced warehouse are built once). PYTEST_WORKERS=0 runs in-process.
PYTEST_WORKERS ?= 2
test: install
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile

# Everything but the install tests.
test-fast: install
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile -m "not install"

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

# The 100,000-customer tenant: bare client, the sync two entities at a time and one at a time
# side by side, then a full `dbt build` of the synced warehouse (bench/README.md).
bench: install
	$(BIN)/python bench/sync_benchmark.py --sync-workers 2,1 --dbt-build

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

# Regenerate the hashed locks (pip.lock, requirements.lock, requirements-dev.lock) from a clean
# resolve of pyproject.toml, with the newest pip and setuptools; see scripts/lock.py.
lock:
	$(PYTHON) scripts/lock.py

clean:
	rm -rf $(VENV) data dbt_project/target dbt_project/logs .dagster_home .pytest_cache .ruff_cache \
	  build *.egg-info
