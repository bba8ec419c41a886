# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PYTHONPATH := $(CURDIR):$(CURDIR)/plugins

.PHONY: venv system-packages lock test lint demo stack stack-down airflow sample-data backfill cluster bench clean

venv: $(STAMP)

# Re-runs only when the pins change; a present venv is reused.
$(STAMP): requirements/runtime.txt requirements/dev.txt requirements/constraints.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements/dev.txt -c requirements/constraints.txt
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

# Re-resolve requirements/dev.txt from scratch and record the whole resolved set as the lock.
lock:
	rm -rf /tmp/vehicle-photos-lock && $(PYTHON) -m venv /tmp/vehicle-photos-lock
	/tmp/vehicle-photos-lock/bin/pip install --quiet --disable-pip-version-check -r requirements/dev.txt
	{ sed -n '1,2p' requirements/constraints.txt; /tmp/vehicle-photos-lock/bin/pip freeze | sort -f; } > requirements/constraints.tmp
	mv requirements/constraints.tmp requirements/constraints.txt

system-packages:
	bash dev/system-packages.sh

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint system-packages
	$(BIN)/pytest

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

clean:
	rm -rf .stack .airflow .demo .cluster
