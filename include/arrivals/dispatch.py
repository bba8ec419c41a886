"""Which vehicle_listings runs an arrival starts: at most one per date, and only when no run of the date will
see the new files anyway.

A run sees every file that is in the date's prefix when its `plan_run` starts (and waits for the prefix to be
quiet first). So for each date with arrivals:

- a run of the date that is queued or running and whose `plan_run` has not started is enough: nothing starts
  (a burst of files for one date, or a file for a date whose daily run still waits, starts no second run);
- otherwise (no run, or every run planned already) a follow-up run `on_arrival__<date>__<n>` starts, `n` one
  more than the date's last on-arrival run. It queues behind the running one (`max_active_runs=1`), plans the
  whole date again and bills nothing twice (records are claimed).

The runs of a date are those with its logical date (the daily run, backfills, manual runs given that logical
date) and the on-arrival runs, found by their run ids. The ids are fixed by date and number, so a second
dispatcher deciding the same start creates the same run id: Airflow refuses the duplicate, and that start
counts as done (the run that exists was created after the file arrived, so it sees it).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

log = logging.getLogger(__name__)

LISTINGS_DAG_ID = "vehicle_listings"
ON_ARRIVAL_RUN_PREFIX = "on_arrival__"
PLAN_TASK = "plan_run"
ACTIVE_RUN_STATES = frozenset({"queued", "running"})
# plan_run states of a run that will still list the date's files (a retry lists them again)
PLAN_NOT_STARTED = frozenset({None, "scheduled", "queued", "up_for_retry", "up_for_reschedule"})
_RUN_ID_PAGE = 20


class RunLookups(Protocol):
    """What the dispatcher asks Airflow (the task instance's execution API calls)."""

    def get_task_states(
        self, dag_id: str, *, task_ids: list[str], logical_dates: list[datetime] | None = None,
        run_ids: list[str] | None = None,
    ) -> dict[str, dict[str, Any]]: ...  # fmt: skip

    def get_dagrun_state(self, dag_id: str, run_id: str) -> str: ...


def runs_to_start_on_arrival(ti: Any = None, triggering_asset_events: Any = None) -> list[dict[str, Any]]:
    """The task callable: the messages of the run's asset events, and the runs they start (`runs_to_start`)."""
    from airflow.sdk import Asset, Variable

    from include.arrivals.asset import ARRIVALS_ASSET_NAME
    from include.arrivals.messages import arrivals_by_date
    from include.pipeline.settings import VARIABLE_PREFIX, PipelineSettings

    settings = PipelineSettings.from_params(
        {name: Variable.get(VARIABLE_PREFIX + name, default=None) for name in ("bucket", "listings_prefix")}
    )
    events = (triggering_asset_events or {}).get(Asset(name=ARRIVALS_ASSET_NAME), [])  # none in a manual run
    messages = [
        message for event in events for message in (event.extra.get("payload") or {}).get("message_batch") or []
    ]
    arrivals = arrivals_by_date(messages, settings.bucket, settings.listings_prefix)
    log.info(
        "%d messages in %d events: listing files for %s", len(messages), len(events), ", ".join(arrivals) or "no date"
    )
    return runs_to_start(ti, LISTINGS_DAG_ID, arrivals, settings.bucket)


def on_arrival_run_id(listing_date: str, number: int) -> str:
    return f"{ON_ARRIVAL_RUN_PREFIX}{listing_date}__{number}"


@dataclass(frozen=True)
class DateRuns:
    """What a date's runs mean for a new arrival: a run that will still see it, else the next run id."""

    listing_date: str
    unplanned_run: str | None
    on_arrival_runs: int
    runs: int  # every run of the date found

    @property
    def next_run_id(self) -> str:
        return on_arrival_run_id(self.listing_date, self.on_arrival_runs + 1)


def date_runs(lookups: RunLookups, dag_id: str, listing_date: str) -> DateRuns:
    midnight = datetime.fromisoformat(listing_date).replace(tzinfo=UTC)
    plan_states = dict(lookups.get_task_states(dag_id, task_ids=[PLAN_TASK], logical_dates=[midnight]))
    on_arrival = 0
    while True:  # the on-arrival runs are numbered from 1 without gaps
        ids = [on_arrival_run_id(listing_date, n) for n in range(on_arrival + 1, on_arrival + 1 + _RUN_ID_PAGE)]
        found = lookups.get_task_states(dag_id, task_ids=[PLAN_TASK], run_ids=ids)
        plan_states.update(found)
        on_arrival += sum(1 for run_id in ids if run_id in found)
        if len(found) < _RUN_ID_PAGE:
            break
    unplanned = [run_id for run_id, states in sorted(plan_states.items()) if states.get(PLAN_TASK) in PLAN_NOT_STARTED]
    waiting = next((run for run in unplanned if lookups.get_dagrun_state(dag_id, run) in ACTIVE_RUN_STATES), None)
    return DateRuns(listing_date=listing_date, unplanned_run=waiting, on_arrival_runs=on_arrival, runs=len(plan_states))


def runs_to_start(
    lookups: RunLookups, dag_id: str, arrivals: Mapping[str, Sequence[str]], bucket: str
) -> list[dict[str, Any]]:
    """`TriggerDagRunOperator` keyword arguments for each date that needs a run (`expand_kwargs`)."""
    starts = []
    for listing_date, keys in arrivals.items():
        runs = date_runs(lookups, dag_id, listing_date)
        files = _described(keys, bucket)
        if runs.unplanned_run:
            log.info("%s: %s: run %s has not planned yet and will see them", listing_date, files, runs.unplanned_run)
            continue
        why = f"its runs ({runs.runs}) planned already" if runs.runs else "no run of the date yet"
        log.info("%s: %s: %s, starting %s", listing_date, files, why, runs.next_run_id)
        starts.append(
            {
                "trigger_run_id": runs.next_run_id,
                "conf": {"listing_date": listing_date},
                "note": f"Started on arrival: {files}",
            }
        )
    return starts


def _described(keys: Sequence[str], bucket: str) -> str:
    first = f"s3://{bucket}/{keys[0]}"
    return first if len(keys) == 1 else f"{first} and {len(keys) - 1} more files"
