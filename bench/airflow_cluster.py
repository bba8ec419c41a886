"""Airflow as it runs in production, on this machine: api-server, scheduler (LocalExecutor), dag-processor and
triggerer as separate processes on a fresh metadata DB, pointed at the local stack: a Postgres database of its
own (what a deployment runs; `--database postgres`) or SQLite (what `airflow standalone` runs in Airflow 3).

Separate processes instead of `standalone` let the benchmark tell the components apart when it measures memory
and CPU.
Cron scheduling is switched off (`use_job_schedule`) so the only runs are the ones the benchmark triggers.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg2
import requests

from dev.local_airflow import airflow_environment, prepare
from dev.stack import LocalStack
from dev.stack.services import free_port

DAG_ID = "vehicle_listings"
# The one place that names the DAG's processing tasks, per provider: their span is a workload's "processing".
# Several ids may be listed (the span covers all that ran); update here when the DAG's task ids change.
PROCESSING_TASKS: dict[str, tuple[str, ...]] = {
    "carcutter": ("carcutter.process_images",),
    "clippingmagic": ("clippingmagic.autoclip_images",),
}
COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
FINISHED = ("success", "failed")


@dataclass
class TaskTiming:
    task_id: str
    map_index: int
    state: str | None
    start: datetime | None
    end: datetime | None
    try_number: int = 1


@dataclass
class XComSize:
    task_id: str
    map_index: int
    key: str
    bytes: int


@dataclass
class RunOutcome:
    run_id: str
    state: str
    start: datetime
    end: datetime
    tasks: list[TaskTiming] = field(default_factory=list)

    @property
    def wall_seconds(self) -> float:
        return (self.end - self.start).total_seconds()

    def span(self, *task_ids: str) -> float:
        """Seconds from the first start to the last end of the (mapped) tasks; 0 if none of them ran."""
        timings = [t for t in self.tasks if t.task_id in task_ids and t.start and t.end]
        if not timings:
            return 0.0
        return (max(t.end for t in timings) - min(t.start for t in timings)).total_seconds()

    @property
    def retried(self) -> list[str]:
        """Tasks that needed more than one try (`task_id[map_index] try n`): a retry waits out retry_delay."""
        return sorted(
            f"{t.task_id}{f'[{t.map_index}]' if t.map_index >= 0 else ''} try {t.try_number}"
            for t in self.tasks
            if t.try_number > 1
        )

    def processing_span(self, provider: str) -> float:
        """The span of the provider's processing tasks; an error if the run has none of them at all (the DAG
        was changed), rather than a benchmark that silently reports no processing time."""
        task_ids = PROCESSING_TASKS[provider]
        if not any(t.task_id in task_ids for t in self.tasks):
            present = ", ".join(sorted({t.task_id for t in self.tasks}))
            raise LookupError(
                f"run {self.run_id} has none of the {provider} processing tasks {task_ids}; its tasks are: {present}. "
                "Update PROCESSING_TASKS in bench/airflow_cluster.py."
            )
        return self.span(*task_ids)


class AirflowCluster:
    def __init__(self, home: Path, stack: LocalStack, postgres: bool = False) -> None:
        self.home = home
        self.port = free_port()
        self.postgres_database = f"vp_bench_{uuid.uuid4().hex[:10]}" if postgres else None
        self.env = {
            **airflow_environment(home, stack.environment()),
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{self.port}/execution/",
            "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{self.port}",
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
            "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
            # workload 3 measures auto-clip against its request-rate limit (one request per image):
            # store the result only, not the SVG and mask, which are extra requests per image
            "AIRFLOW_VAR_VEHICLE_PHOTOS_CLIPPINGMAGIC_OUTPUTS": "result",
        }
        if self.postgres_database:
            url = f"postgresql+psycopg2://postgres@127.0.0.1:5432/{self.postgres_database}"
            self.env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = url
        self.processes: dict[str, subprocess.Popen] = {}
        self.db_path = home / "airflow.db"

    def start(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        if self.postgres_database:
            _postgres_admin(f'CREATE DATABASE "{self.postgres_database}"')
        prepare(self.env)
        for component in COMPONENTS:
            args = ["api-server", "--host", "127.0.0.1", "--port", str(self.port)]
            command = [sys.executable, "-m", "airflow", *(args if component == "api-server" else [component])]
            log = (self.home / f"{component}.log").open("ab")
            self.processes[component] = subprocess.Popen(
                command, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        self._wait_until_ready()

    def stop(self) -> None:
        for process in self.processes.values():
            process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        if self.postgres_database:
            _postgres_admin(f'DROP DATABASE IF EXISTS "{self.postgres_database}" WITH (FORCE)')

    def _wait_until_ready(self, timeout: float = 300.0) -> None:
        """Until the api-server answers and the dag-processor has serialized the DAG."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, process in self.processes.items():
                if process.poll() is not None:
                    raise RuntimeError(f"airflow {name} exited early; see {self.home / (name + '.log')}")
            try:
                healthy = requests.get(f"http://127.0.0.1:{self.port}/api/v2/monitor/health", timeout=5).ok
            except requests.RequestException:
                healthy = False
            if healthy and self._query("SELECT 1 FROM serialized_dag WHERE dag_id = ?", DAG_ID):
                return
            time.sleep(1)
        raise TimeoutError(f"Airflow not ready after {timeout:.0f}s; logs in {self.home}")

    def _query(self, sql: str, *args: Any) -> list[tuple]:
        """`sql` with `?` placeholders, on either database."""
        if self.postgres_database:
            try:
                url = f"postgresql://postgres@127.0.0.1:5432/{self.postgres_database}"
                with psycopg2.connect(url) as db, db.cursor() as cursor:
                    cursor.execute(sql.replace("?", "%s"), args)
                    return cursor.fetchall()
            except psycopg2.errors.UndefinedTable:  # not migrated yet
                return []
        try:
            with sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=30) as db:
                return db.execute(sql, args).fetchall()
        except sqlite3.OperationalError:  # tables not migrated yet, or a writer holds the lock too long
            return []

    def trigger(self, logical_date: str, conf: dict[str, Any]) -> str:
        run_id = f"bench__{logical_date}__{secrets.token_hex(3)}"
        subprocess.run(
            [sys.executable, "-m", "airflow", "dags", "trigger", DAG_ID, "--run-id", run_id,
             "--logical-date", f"{logical_date}T00:00:00+00:00", "--conf", json.dumps(conf)],
            env=self.env, check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        return run_id

    def wait(self, run_id: str, timeout: float) -> RunOutcome:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rows = self._query("SELECT state, start_date, end_date FROM dag_run WHERE run_id = ?", run_id)
            if rows and rows[0][0] in FINISHED and rows[0][1] and rows[0][2]:
                state, start, end = rows[0]
                return RunOutcome(run_id, state, _parse(start), _parse(end), self._task_timings(run_id))
            time.sleep(0.5)
        raise TimeoutError(f"DAG run {run_id} did not finish within {timeout:.0f}s; logs in {self.home}")

    def run_log_dir(self, run_id: str) -> Path:
        """Where Airflow writes the task (and trigger) logs of one run of the DAG."""
        return self.home / "logs" / f"dag_id={DAG_ID}" / f"run_id={run_id}"

    def largest_xcom(self, run_id: str) -> XComSize | None:
        """The largest XCom value the run wrote, as stored in the metadata DB (`xcom.value`, JSON text)."""
        size = "octet_length(value::text)" if self.postgres_database else "length(CAST(value AS BLOB))"  # JSONB, text
        rows = self._query(
            f"SELECT task_id, map_index, key, {size} AS size FROM xcom WHERE run_id = ? "  # noqa: S608 (no input)
            "ORDER BY size DESC LIMIT 1",
            run_id,
        )
        return XComSize(rows[0][0], rows[0][1], rows[0][2], rows[0][3] or 0) if rows else None

    def _task_timings(self, run_id: str) -> list[TaskTiming]:
        rows = self._query(
            "SELECT task_id, map_index, state, start_date, end_date, try_number FROM task_instance WHERE run_id = ?",
            run_id,
        )
        return [
            TaskTiming(task, index, state, _parse(start), _parse(end), tries)
            for task, index, state, start, end, tries in rows
        ]


def _parse(value: str | datetime | None) -> datetime | None:
    """SQLite gives timestamps as text, Postgres as datetimes."""
    if isinstance(value, datetime) or value is None:
        return value
    return datetime.fromisoformat(value) if value else None


def _postgres_admin(statement: str) -> None:
    admin = psycopg2.connect(POSTGRES_ADMIN_URL)
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            cursor.execute(statement)
    finally:
        admin.close()
