"""Running a DAG the way the tests do it: Airflow's own `airflow dags test` in a child process (the scheduler's
task runner, deferrals through their triggers, the local stack's environment), optionally in an Airflow home
of its own so two runs can go at the same time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any


def dags_test_command(dag_id: str, logical_date: str, conf: dict[str, Any] | None = None) -> list[str]:
    return [sys.executable, "-m", "airflow", "dags", "test", dag_id, logical_date, "-c", json.dumps(conf or {})]


def start_dags_test(
    dag_id: str, logical_date: str, log: Path, conf: dict[str, Any] | None = None, **env: str
) -> subprocess.Popen:
    """Start `airflow dags test`; `env` adds variables (e.g. AIRFLOW_HOME, AIRFLOW_VAR_...)."""
    return subprocess.Popen(
        dags_test_command(dag_id, logical_date, conf), env={**os.environ, **env}, stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )  # fmt: skip


def dags_test(
    dag_id: str, logical_date: str, log: Path, conf: dict[str, Any] | None = None, *, check: bool = True, **env: str
) -> int:
    """Run `airflow dags test` to the end; returns its exit code (and asserts success unless `check=False`)."""
    process = start_dags_test(dag_id, logical_date, log, conf, **env)
    code = process.wait(timeout=600)
    if check:
        assert code == 0, log.read_text()[-6000:]
    return code
