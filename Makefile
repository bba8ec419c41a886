# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PYTHONPATH := $(CURDIR):$(CURDIR)/plugins

.PHONY: venv test lint demo stack stack-down airflow bench clean

venv: $(STAMP)

# Re-runs only when the pins change; a present venv is reused.
$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

lint: venv
	$(BIN)/ruff check .

test: lint
	$(BIN)/pytest

demo: venv
	$(BIN)/python -m include.demo

stack: venv
	$(BIN)/python -m include.stack up

stack-down: venv
	$(BIN)/python -m include.stack down

airflow: venv
	$(BIN)/python -m include.local_airflow standalone

bench: venv
	$(BIN)/python -m bench $(if $(QUICK),--quick,)

clean:
	rm -rf .stack .airflow .demo
