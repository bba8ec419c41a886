"""The DAG-running tests of this folder wait up to 600 s for an `airflow dags test` (tests/dag_runs.py): their
pytest-timeout is above that wait, so a loaded machine fails them with the run's log, not a bare timeout."""

from __future__ import annotations

import pytest

DAG_RUN_TIMEOUT_SECONDS = 900
DAG_RUNNING_MODULES = {
    "test_billing_integrity",
    "test_companion_dags",
    "test_dealer_profiles",
    "test_hostile_input",
    "test_vehicle_listings_e2e",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.module.__name__.rsplit(".", 1)[-1] in DAG_RUNNING_MODULES and not item.get_closest_marker("timeout"):
            item.add_marker(pytest.mark.timeout(DAG_RUN_TIMEOUT_SECONDS))
