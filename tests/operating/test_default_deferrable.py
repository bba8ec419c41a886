"""The DAGs take `[operators] default_deferrable` instead of hard-coding `deferrable=True`: every waiting task
follows it, parsed by Airflow's DagBag in a process of its own (the setting is read when the operators' modules
are imported)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT

WAITING_TASKS = {
    ("vehicle_listings", "wait_for_listings"),
    ("vehicle_listings", "process_carcutter_images"),
    ("clippingmagic_review", "wait_for_edits"),
}
# a mapped task gets what its partial() gave, else its operator's default
PARSE = """
import inspect, json, sys
from airflow.dag_processing.dagbag import DagBag
def deferrable(task):
    if not hasattr(task, "partial_kwargs"):
        return getattr(task, "deferrable", None)
    default = inspect.signature(task.operator_class.__init__).parameters.get("deferrable")
    return task.partial_kwargs.get("deferrable", default.default if default else None)
bag = DagBag(dag_folder=sys.argv[1])
assert not bag.import_errors, bag.import_errors
print(json.dumps({f"{d.dag_id}.{t.task_id}": [deferrable(t), getattr(t, "mode", None)]
                  for d in bag.dags.values() for t in d.tasks}))
"""


def parsed_tasks(default_deferrable: str) -> dict[str, list]:
    env = {**os.environ, "AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE": default_deferrable}
    out = subprocess.run([sys.executable, "-c", PARSE, str(REPO_ROOT / "dags")], env=env, check=True,
                         capture_output=True, text=True).stdout  # fmt: skip
    return json.loads(out.strip().splitlines()[-1])


@pytest.mark.parametrize("setting", ["True", "False"])
def test_waiting_tasks_follow_default_deferrable(airflow_home, setting):
    tasks = parsed_tasks(setting)
    for dag_id, task_id in WAITING_TASKS:
        assert tasks[f"{dag_id}.{task_id}"][0] is (setting == "True"), (dag_id, task_id, tasks)
    # not deferred, the listings wait gives its worker slot back between pokes
    assert tasks["vehicle_listings.wait_for_listings"][1] == ("poke" if setting == "True" else "reschedule")
