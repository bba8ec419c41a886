"""Which run an arrival starts, decided over a table of runs that answers the two questions the dispatcher asks
Airflow (plan_run's state by logical date or run id, a run's state). Through Airflow's own scheduler and
triggerer: tests/operating/test_on_arrival.py."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from include.arrivals.dispatch import runs_to_start

DAY = "2026-11-20"
MIDNIGHT = datetime(2026, 11, 20, tzinfo=UTC)


class RunsTable:
    def __init__(self, runs: dict[str, tuple[datetime | None, str, str | None]]) -> None:
        self.runs = runs  # run id: (logical date, run state, plan_run state)
        self.asked: list[dict[str, Any]] = []

    def get_task_states(self, dag_id, *, task_ids, logical_dates=None, run_ids=None):
        self.asked.append({"logical_dates": logical_dates, "run_ids": run_ids})
        return {
            run_id: {"plan_run": plan}
            for run_id, (logical, _, plan) in self.runs.items()
            if (logical_dates is None or logical in logical_dates) and (run_ids is None or run_id in run_ids)
        }

    def get_dagrun_state(self, dag_id, run_id):
        return self.runs[run_id][1]


def on_arrival(n: int) -> str:
    return f"on_arrival__{DAY}__{n}"


@pytest.mark.parametrize(
    ("runs", "started"),
    [
        pytest.param({}, on_arrival(1), id="no run of the date"),
        pytest.param({"scheduled__daily": (MIDNIGHT, "running", "running")}, on_arrival(1), id="planning"),
        pytest.param({"scheduled__daily": (MIDNIGHT, "running", None)}, None, id="daily run waits for quiet"),
        pytest.param({"scheduled__daily": (MIDNIGHT, "queued", None)}, None, id="daily run queued"),
        pytest.param({"scheduled__daily": (MIDNIGHT, "success", "success")}, on_arrival(1), id="daily run done"),
        pytest.param({"scheduled__daily": (MIDNIGHT, "failed", None)}, on_arrival(1), id="failed before planning"),
        pytest.param(
            {on_arrival(1): (None, "running", "running"), on_arrival(2): (None, "queued", None)},
            None,
            id="a follow-up queued",
        ),
        pytest.param(
            {on_arrival(n): (None, "success", "success") for n in range(1, 26)},
            on_arrival(26),
            id="more on-arrival runs than one page",
        ),
        pytest.param(
            {"manual__other_day": (datetime(2026, 11, 19, tzinfo=UTC), "queued", None)},
            on_arrival(1),
            id="a waiting run of another date",
        ),
    ],
)
def test_a_date_gets_a_run_unless_one_of_its_runs_has_not_planned(runs, started):
    table = RunsTable(runs)
    starts = runs_to_start(table, "vehicle_listings", {DAY: ["listings/dt=2026-11-20/a.csv"]}, "vehicle-photos")
    assert [start["trigger_run_id"] for start in starts] == ([started] if started else [])
    assert all(start["conf"] == {"listing_date": DAY} for start in starts)
    assert {"logical_dates": [MIDNIGHT], "run_ids": None} in table.asked
