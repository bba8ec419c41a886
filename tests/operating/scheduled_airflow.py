"""Airflow's own scheduler, dag-processor and api-server (LocalExecutor) on a Postgres database of their own, with
the schedule on (asset-triggered runs are the scheduler's job), every DAG paused at creation: a test unpauses the
DAGs it wants scheduled and runs the others with `airflow dags test` against the same database.

Each database is a copy of the session's migrated template (tests/postgres_databases.py), with the API pools.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg2
import requests

from dev.local_airflow import airflow_environment
from dev.stack.services import free_port
from tests.postgres_databases import database_copy, drop_database, postgres_url

COMPONENTS = ("api-server", "scheduler", "dag-processor")


class ScheduledAirflow:
    def __init__(
        self, home: Path, stack_env: Mapping[str, str], extra_env: Mapping[str, str], triggerer: bool = False
    ) -> None:
        self.home = home
        self.components = (*COMPONENTS, "triggerer") if triggerer else COMPONENTS
        self.database = f"vp_operating_{uuid.uuid4().hex[:10]}"
        self.port = free_port()
        self.env = {
            **airflow_environment(home, stack_env),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": postgres_url(self.database),
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "True",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{self.port}/execution/",
            "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{self.port}",
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
            "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.5",
            **extra_env,
        }
        self.processes: dict[str, subprocess.Popen] = {}

    def start(self, wait_for_dags: tuple[str, ...]) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        database_copy(self.database)
        for component in self.components:
            args = (
                ["api-server", "--host", "127.0.0.1", "--port", str(self.port)]
                if component == "api-server"
                else [component]
            )
            log = (self.home / f"{component}.log").open("ab")
            self.processes[component] = subprocess.Popen(
                [sys.executable, "-m", "airflow", *args], env=self.env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        self._wait_until_ready(wait_for_dags)

    def stop(self) -> None:
        for process in self.processes.values():
            process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        drop_database(self.database)

    def airflow(self, *command: str) -> None:
        subprocess.run([sys.executable, "-m", "airflow", *command], env=self.env, check=True,
                       stdout=subprocess.DEVNULL)  # fmt: skip

    def api(self, method: str, path: str, **body: Any) -> Any:
        """A call to the api-server's REST API (`/api/v2/<path>`): every caller is an admin here, without a login,
        and it answers in a fraction of a CLI command's start."""
        response = requests.request(method, f"http://127.0.0.1:{self.port}/api/v2/{path}", json=body, timeout=30)
        assert response.ok, f"{method} {path}: {response.status_code} {response.text[:500]}"
        return response.json()

    def set_paused(self, dag_id: str, paused: bool) -> None:
        self.api("PATCH", f"dags/{dag_id}", is_paused=paused)

    def query(self, sql: str, *args: Any) -> list[tuple]:
        with psycopg2.connect(f"postgresql://postgres@127.0.0.1:5432/{self.database}") as db, db.cursor() as cursor:
            cursor.execute(sql, args)
            return cursor.fetchall()

    def wait_for_run(self, dag_id: str, timeout: float) -> tuple[str, str]:
        """The first run of `dag_id` that finished: (run_id, state)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive()
            rows = self.query("SELECT run_id, state FROM dag_run WHERE dag_id = %s AND state IN ('success', 'failed')"
                              " ORDER BY id LIMIT 1", dag_id)  # fmt: skip
            if rows:
                return rows[0]
            time.sleep(1)
        raise TimeoutError(f"no finished run of {dag_id} within {timeout:.0f}s; logs in {self.home}")

    def xcom(self, dag_id: str, run_id: str, task_id: str) -> Any:
        rows = self.query("SELECT value FROM xcom WHERE dag_id = %s AND run_id = %s AND task_id = %s AND "
                          "key = 'return_value'", dag_id, run_id, task_id)  # fmt: skip
        value = rows[0][0] if rows else None
        return json.loads(value) if isinstance(value, str) else value

    def _wait_until_ready(self, dag_ids: tuple[str, ...], timeout: float = 300.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                healthy = requests.get(f"http://127.0.0.1:{self.port}/api/v2/monitor/health", timeout=5).ok
            except requests.RequestException:
                healthy = False
            found = {row[0] for row in self.query("SELECT dag_id FROM serialized_dag")} if healthy else set()
            if set(dag_ids) <= found:
                return
            time.sleep(1)
        raise TimeoutError(f"Airflow not ready after {timeout:.0f}s; logs in {self.home}")

    def _check_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                log = (self.home / f"{name}.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"airflow {name} exited early:\n{log}")


@contextmanager
def scheduled_airflow(
    home: Path,
    stack_env: Mapping[str, str],
    extra_env: Mapping[str, str],
    wait_for_dags: tuple[str, ...],
    triggerer: bool = False,
) -> Iterator[ScheduledAirflow]:
    airflow = ScheduledAirflow(home, stack_env, extra_env, triggerer)
    try:
        airflow.start(wait_for_dags)
        yield airflow
    finally:
        airflow.stop()
