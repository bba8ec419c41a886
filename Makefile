# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PYTHONPATH := $(CURDIR):$(CURDIR)/plugins

.PHONY: venv system-packages lock test wheel-test lint demo stack stack-down airflow sample-data backfill cluster bench probe clean

venv: $(STAMP)

# Re-runs only when the pins change; a present venv is reused.
$(STAMP): requirements.txt requirements/dev.txt requirements/constraints-dev.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements/dev.txt -c requirements/constraints-dev.txt
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	@# a build's by-product: on sys.path (the editable install's plugins/), it would be a second copy of the
	@# distribution, and Airflow would register the vehicle_photos plugin twice (an import error in the UI)
	rm -rf plugins/*.egg-info
	touch $(STAMP)

# Two locks, each the whole resolved set (Airflow's constraints practice), every install uses one with -c:
# requirements/constraints-runtime.txt from requirements.txt alone (what ships), and
# requirements/constraints-dev.txt from requirements/dev.txt resolved within the runtime lock (so the tests run
# the versions that ship). Resolved afresh from the package index on $(PYTHON) (the image's 3.12 is checked by
# `make wheel-test` and the image build's `pip check`).
LOCK_VENV := /tmp/vehicle-photos-lock
lock: export PYTHONPATH :=
lock:
	rm -rf $(LOCK_VENV) && $(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements.txt
	$(LOCK_VENV)/bin/pip check
	{ echo "# The whole resolved set of requirements.txt (the runtime set: what the image installs). Every runtime install"; \
	  echo "# uses it with -c. Regenerate with \`make lock\`."; \
	  $(LOCK_VENV)/bin/pip freeze --exclude-editable | sort -f; } > requirements/constraints-runtime.txt
	$(LOCK_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements/dev.txt \
		-c requirements/constraints-runtime.txt
	$(LOCK_VENV)/bin/pip check
	{ echo "# The whole resolved set of requirements/dev.txt within the runtime lock: \`make venv\` installs with it."; \
	  echo "# Regenerate with \`make lock\`."; \
	  $(LOCK_VENV)/bin/pip freeze --exclude-editable | sort -f; } > requirements/constraints-dev.txt
	rm -rf $(LOCK_VENV)

system-packages:
	bash dev/system-packages.sh

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The test files spread over TEST_PROCESSES pytest-xdist workers, a file to one worker (its module fixtures start
# once); most tests wait on servers and Airflow processes, so more workers than cores pay. TEST_PROCESSES=0: one process.
TEST_PROCESSES ?= 4
test: lint system-packages
	$(BIN)/pytest --durations=15 $(if $(filter-out 0,$(TEST_PROCESSES)),-n $(TEST_PROCESSES) --dist loadfile)

# Only the wheel test (part of `make test`): the provider wheel in a clean virtualenv with apache-airflow==3.3.2
wheel-test: venv
	$(BIN)/pytest -m wheel

demo: venv
	$(BIN)/python -m dev.demo

stack: venv
	$(BIN)/python -m dev.stack up

stack-down: venv
	$(BIN)/python -m dev.stack down

# The Airflow UI on the local stack until Ctrl-C; prints its URL. UI_PORT=8090, UI_HOST=0.0.0.0 (then with a
# login), LOGIN=1 (user admin, password in .airflow/simple_auth_manager_passwords.json.generated).
UI_HOST ?= 127.0.0.1
UI_PORT ?= 8080
airflow: venv
	$(BIN)/python -m dev.local_airflow standalone --host $(UI_HOST) --port $(UI_PORT) $(if $(LOGIN),--login,)

# A date's listing files and photos into the running stack: make sample-data DATE=2026-11-02 (default: today,
# UTC); BAD_ROWS=1 adds rows the pipeline must reject.
sample-data: venv
	$(BIN)/python -m dev.sampledata --stack $(if $(DATE),--listing-date $(DATE),) $(if $(BAD_ROWS),--inject-bad-rows,)

# Backfill vehicle_listings in the running `make airflow`: make backfill FROM=2026-11-01 TO=2026-11-07
# (one date at a time; dates that succeeded are skipped, failed ones rerun; REPROCESS=none|failed|completed).
backfill: venv
	@test -n "$(FROM)" -a -n "$(TO)" || { echo "usage: make backfill FROM=YYYY-MM-DD TO=YYYY-MM-DD"; exit 2; }
	$(BIN)/python -m dev.local_airflow backfill --from-date $(FROM) --to-date $(TO) \
		$(if $(REPROCESS),--reprocess-behavior $(REPROCESS),)

# docker-compose.yml's topology as processes: CeleryExecutor on this machine's Postgres and Redis, two workers.
cluster: venv
	$(BIN)/python -m dev.cluster

# make bench [QUICK=1] [SCALE=1] [ONLY=steady,clip] [PROFILE=1 | PROFILE=steady]; see README "Benchmark"
bench: venv
	$(BIN)/python -m bench $(if $(QUICK),--quick) $(if $(filter 1,$(SCALE)),--scale) $(if $(ONLY),--only $(ONLY)) \
		$(if $(PROFILE),--profile $(filter-out 1,$(PROFILE)))

# The contract probe (README "First run against the real services"): what the real services do where their documents
# are silent. Uses the connections of this environment (AIRFLOW_CONN_*, a secrets backend, the metadata DB), or the
# running local stack's (.stack/env of `make stack`) when no Car-Cutter connection is set here. SPEND=1 spends one
# Car-Cutter credit (the checks that need a submission); PROBE_ARGS passes more flags (see --help).
probe: venv
	@if [ -z "$$AIRFLOW_CONN_CARCUTTER_DEFAULT" ] && [ -f .stack/env ]; then \
		echo "using the local stack's connections (.stack/env)"; . ./.stack/env; fi; \
	$(BIN)/python -m vehicle_photos.contract_probe $(if $(filter 1,$(SPEND)),--spend-one-credit) $(PROBE_ARGS)

clean:
	rm -rf .stack .airflow .demo .cluster
