# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PYTHONPATH := $(CURDIR):$(CURDIR)/plugins

.PHONY: venv system-packages lock test lint demo stack stack-down airflow cluster bench clean

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

test: lint system-packages
	$(BIN)/pytest

demo: venv
	$(BIN)/python -m dev.demo

stack: venv
	$(BIN)/python -m dev.stack up

stack-down: venv
	$(BIN)/python -m dev.stack down

airflow: venv
	$(BIN)/python -m dev.local_airflow standalone

# docker-compose.yml's topology as processes: CeleryExecutor on this machine's Postgres and Redis, two workers.
cluster: venv
	$(BIN)/python -m dev.cluster

# make bench [QUICK=1] [SCALE=1] [ONLY=steady,clip] [PROFILE=1 | PROFILE=steady]; see README "Benchmark"
bench: venv
	$(BIN)/python -m bench $(if $(QUICK),--quick) $(if $(filter 1,$(SCALE)),--scale) $(if $(ONLY),--only $(ONLY)) \
		$(if $(PROFILE),--profile $(filter-out 1,$(PROFILE)))

clean:
	rm -rf .stack .airflow .demo .cluster
