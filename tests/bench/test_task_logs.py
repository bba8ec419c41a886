"""The benchmark counts task log lines per level from the files Airflow writes for a run, trigger logs apart."""

from __future__ import annotations

import json
from pathlib import Path

from bench.task_logs import count_task_log_lines


def record(level: str, event: str, **fields: object) -> str:
    """A line as Airflow 3 writes it into a task log file (structlog JSON)."""
    return json.dumps({"timestamp": "2026-12-03T11:48:09.372328Z", "level": level, "event": event, **fields}) + "\n"


def write(path: Path, *lines: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(lines))


def test_counts_each_level_of_every_try_and_trigger_of_the_run_and_nothing_else(tmp_path: Path) -> None:
    logs = tmp_path / "logs" / "dag_id=vehicle_listings"
    run = logs / "run_id=bench__2026-11-01__099e46"
    task = run / "task_id=carcutter.process_images" / "map_index=0"
    write(task / "attempt=1.log",
          record("info", "::group::Pre Execute", logger="task"),
          record("info", "120 images: 120 to claim, 0 refused", logger="airflow.task.operators.process_images"),
          record("debug", "image 01-front of V1 stored", logger="airflow.task.operators.process_images"),
          record("warning", "9 images need a retake (vehicles: V1)", logger="airflow.task.operators.process_images"),
          "\n")  # fmt: skip
    write(task / "attempt=2.log", record("error", "Task failed with exception", logger="task"),
          "Traceback (most recent call last): a line that is no JSON\n")  # fmt: skip
    write(task / "attempt=1.log.trigger.3.log", record("info", "trigger ... starting"),
          record("info", "120 of 120 images finished after 4 status calls"))  # fmt: skip
    write(run / "task_id=plan_run" / "attempt=1.log", record("INFO", "plan for 2026-11-01"))
    write(logs / "run_id=another_run" / "task_id=plan_run" / "attempt=1.log", record("info", "not this run"))
    write(tmp_path / "logs" / "dag_processor" / "vehicle_listings.py.log", record("info", "not a task log"))

    counted = count_task_log_lines(run)

    assert counted.files == 4
    assert counted.by_source == {
        "task": {"info": 3, "debug": 1, "warning": 1, "error": 1, "unparsed": 1},
        "trigger": {"info": 2},
    }
    assert counted.at_info("task") == 6  # the DEBUG line is not written at INFO; the unparsed one is counted
    assert counted.at_info("trigger") == 2
    assert counted.at_info() == 8


def test_a_run_without_log_files_counts_nothing(tmp_path: Path) -> None:
    counted = count_task_log_lines(tmp_path / "dag_id=vehicle_listings" / "run_id=never_ran")

    assert counted.by_source == {} and counted.files == 0 and counted.at_info() == 0
