"""The docker-compose topology as processes on this machine: Postgres metadata DB, Redis as Celery broker and
result backend, api-server, scheduler, dag-processor, triggerer and N Celery workers, after the compose file's
own `airflow-init` script.

Commands and environment come from docker-compose.yml (dev/cluster/compose.py). What differs here is only what
must: the compose variables get local values (the cluster's own `.env`: database URL, broker, API URL,
connections to the local stack), `/opt/airflow` paths become this cluster's home, and LOCAL_SETTINGS below
(listen ports, repository folders, Redis key prefix) are added, so clusters of several people or test runs
share one Postgres server and one Redis without meeting: each has its own database, key prefix and ports.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import psutil
import psycopg2
import redis
import requests
from sqlalchemy.engine import make_url

from dev.cluster.compose import (
    IMAGE_HOME,
    INIT_SERVICE,
    REPO_ROOT,
    WORKER_SERVICE,
    AirflowService,
    airflow_services,
    compose_variables,
)
from dev.stack.services import free_port

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
ADMIN_USER = "admin"
FINISHED = ("success", "failed")

# Settings the processes get on top of the compose environment, and why they differ from the containers.
LOCAL_SETTINGS = {
    "AIRFLOW_HOME": "the cluster's own home instead of the image's /opt/airflow",
    "AIRFLOW__CORE__DAGS_FOLDER": "the repository's dags/ (the image copies it, with include/, to /opt/airflow/dags)",
    "AIRFLOW__LOGGING__BASE_LOG_FOLDER": "logs under the cluster's home",
    "PYTHONPATH": "the repository's include/ (in the image it sits in the DAGs folder, which Airflow puts on sys.path)",
    "PATH": "this virtualenv's `airflow` and `python` first",
    "AIRFLOW__API__HOST": "loopback only",
    "AIRFLOW__API__PORT": "a free port (containers each own 8080)",
    "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_HOST": "loopback only",
    "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": "a free port (containers each own 8974)",
    "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": "a free port (containers each own 8794)",
    "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": "a free port per worker (containers each own 8793)",
    "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__GLOBAL_KEYPREFIX": "this cluster's Redis keys only",
    "AIRFLOW__CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS__GLOBAL_KEYPREFIX": "this cluster's Redis keys only",
}
# Arguments added to a compose command: containers of a scaled service differ by hostname, processes cannot.
LOCAL_ARGUMENTS = {WORKER_SERVICE: ("--celery-hostname",)}


@dataclass
class ClusterSettings:
    """Where the cluster lives and what it uses. `variables` overrides compose variables, as `.env` would."""

    home: Path
    name: str  # the database name, the Redis key prefix and the worker names derive from it
    postgres_url: str = field(default_factory=lambda: os.environ.get("CLUSTER_POSTGRES_URL", DEFAULT_POSTGRES_URL))
    redis_url: str = field(default_factory=lambda: os.environ.get("CLUSTER_REDIS_URL", DEFAULT_REDIS_URL))
    workers: int = 2
    api_port: int = 0  # 0: a free one
    admin_password: str = "admin"  # noqa: S105 (a local cluster's UI login)
    variables: dict[str, str] = field(default_factory=dict)
    # the database `name` exists, migrated (a copy of a migrated one): airflow-init finds it at the head
    database_exists: bool = False


@dataclass(frozen=True)
class Component:
    """One process of the cluster, derived from a compose service."""

    name: str
    service: str
    argv: tuple[str, ...]
    environment: dict[str, str]


class AirflowCluster:
    def __init__(self, settings: ClusterSettings, stack_env: Mapping[str, str]) -> None:
        if not re.fullmatch(r"[a-z][a-z0-9_]*", settings.name):
            raise ValueError(f"cluster name must be lower-case letters, digits and _, got {settings.name!r}")
        self.settings = settings
        self.home = settings.home
        self.api_port = settings.api_port or free_port()
        self.api_url = f"http://127.0.0.1:{self.api_port}"
        self.database_url = (
            make_url(settings.postgres_url)
            .set(drivername="postgresql+psycopg2", database=settings.name)
            .render_as_string(hide_password=False)
        )
        self.key_prefix = f"{settings.name}:"
        read_by_compose = compose_variables()
        self.variables = {
            **{key: value for key, value in stack_env.items() if key in read_by_compose},
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.database_url,
            "AIRFLOW__CELERY__BROKER_URL": settings.redis_url,
            "AIRFLOW__CELERY__RESULT_BACKEND": settings.redis_url,
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.api_url}/execution/",
            "AIRFLOW__API__BASE_URL": self.api_url,
            "_AIRFLOW_WWW_USER_USERNAME": ADMIN_USER,
            "_AIRFLOW_WWW_USER_PASSWORD": settings.admin_password,
            # airflow-init hands its files over to this uid when it runs as root: here, the one running the cluster
            "AIRFLOW_UID": str(os.getuid()),
            **settings.variables,
        }
        # Airflow's own settings come only from the compose file and the config airflow-init writes (with its
        # generated Fernet key), never from the local stack's environment
        self.stack_extras = {
            key: value
            for key, value in stack_env.items()
            if key not in read_by_compose and not key.startswith("AIRFLOW__")
        }
        self.ports = {"scheduler": free_port(), "triggerer": free_port()}
        self.services = airflow_services(self.variables)
        self.components = self._components()
        self.processes: dict[str, subprocess.Popen] = {}
        self.starts: dict[str, int] = {}

    # ---- what runs -------------------------------------------------------------------------------------------

    def _components(self) -> dict[str, Component]:
        components = {}
        for service in self.services.values():
            if service.name == WORKER_SERVICE:
                for index in range(1, self.settings.workers + 1):
                    name = f"{WORKER_SERVICE}-{index}"
                    extra = {"AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port())}
                    hostname = ("--celery-hostname", f"{self.settings.name}-worker-{index}")
                    components[name] = self._component(name, service, extra, hostname)
            else:
                components[service.name] = self._component(service.name, service, {}, ())
        return components

    def _component(
        self, name: str, service: AirflowService, extra: dict[str, str], arguments: tuple[str, ...]
    ) -> Component:
        if service.entrypoint:
            argv = (service.entrypoint.rsplit("/", 1)[-1], *service.command, *arguments)  # /bin/bash -> bash
        else:  # the image's entrypoint runs `airflow <command>`
            argv = (sys.executable, "-m", "airflow", *service.command, *arguments)
        compose_env = {key: self._local_path(value) for key, value in service.environment.items()}
        local = {**self._local_settings(), **extra}
        clash = (local.keys() | self.stack_extras.keys()) & compose_env.keys()
        if clash:
            raise ValueError(f"local settings must not override docker-compose.yml: {sorted(clash)}")
        environment = {**_inherited_environment(), **self.stack_extras, **local, **compose_env}
        return Component(name, service.name, argv, environment)

    def _local_settings(self) -> dict[str, str]:
        settings = {
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(self.home / "logs"),
            "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), str(REPO_ROOT / "plugins")]),
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.api_port),
            "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_HOST": "127.0.0.1",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": str(self.ports["scheduler"]),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(self.ports["triggerer"]),
            "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__GLOBAL_KEYPREFIX": self.key_prefix,
            "AIRFLOW__CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS__GLOBAL_KEYPREFIX": self.key_prefix,
        }
        assert set(settings) <= set(LOCAL_SETTINGS)
        return settings

    def _local_path(self, value: str) -> str:
        return str(self.home / value.removeprefix(f"{IMAGE_HOME}/")) if value.startswith(f"{IMAGE_HOME}/") else value

    @property
    def environment(self) -> dict[str, str]:
        """The environment of an Airflow CLI call against this cluster (the scheduler's)."""
        return dict(self.components["airflow-scheduler"].environment)

    @property
    def scheduler_health_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['scheduler']}/health"

    # ---- life cycle ------------------------------------------------------------------------------------------

    def start(self, wait_for_dags: tuple[str, ...] = ()) -> None:
        """Create the database, run `airflow-init`, start every component and wait until all are healthy."""
        (self.home / "config").mkdir(parents=True, exist_ok=True)
        (self.home / "logs").mkdir(parents=True, exist_ok=True)
        if not self.settings.database_exists:
            self._create_database()
        try:
            init = self.components[INIT_SERVICE]
            with self._log(INIT_SERVICE) as log:
                done = subprocess.run(
                    init.argv, env=init.environment, stdout=log, stderr=subprocess.STDOUT, check=False
                )
            if done.returncode:
                raise RuntimeError(f"{INIT_SERVICE} failed; see {self.log_path(INIT_SERVICE)}")
            for name in self.components:
                if name != INIT_SERVICE:
                    self.start_component(name)
            self.wait_until_ready(wait_for_dags)
        except BaseException:
            self.stop()
            raise

    def start_component(self, name: str) -> None:
        component = self.components[name]
        with self._log(name) as log:
            self.processes[name] = subprocess.Popen(
                component.argv, env=component.environment, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True, cwd=self.home,
            )  # fmt: skip

    def stop_components(self, names: list[str], timeout: float = 30) -> None:
        """SIGTERM, as `docker compose stop` does (each component stops its own children), then SIGKILL to
        whatever of their process trees is left after `timeout`."""
        stopping = {name: self.processes.pop(name) for name in names if name in self.processes}
        trees = {name: _process_tree(process.pid) for name, process in stopping.items()}
        for process in stopping.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for name, process in stopping.items():
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            _signal_all([p for p in trees[name] if p.is_running()], signal.SIGKILL)
            process.wait(timeout=10)

    def kill_component(self, name: str) -> None:
        """What a crashed machine does to a component: SIGKILL to it and everything it started, at once."""
        process = self.processes.pop(name)
        _signal_all(_process_tree(process.pid), signal.SIGKILL)
        process.wait(timeout=10)

    def restart_component(self, name: str) -> None:
        self.stop_components([name])
        self.start_component(name)

    def stop(self) -> None:
        """Stop every component, then drop the database and the Redis keys."""
        self.stop_components(list(self.processes))
        self._drop_database()
        client = redis.Redis.from_url(self.settings.redis_url)
        keys = list(client.scan_iter(match=f"{self.key_prefix}*", count=1000))
        if keys:
            client.delete(*keys)

    def wait_until_ready(self, dags: tuple[str, ...] = (), timeout: float = 300) -> None:
        """Until the api-server answers, every component reports healthy, each worker is ready, `dags` are parsed."""
        deadline = time.monotonic() + timeout
        checks = [
            ("the api-server", lambda: _answers(f"{self.api_url}/api/v2/version")),
            ("healthy components", self._all_healthy),
            ("ready workers", lambda: all(self.worker_ready(name) for name in self.workers)),
            *((f"DAG {dag}", partial(self._parsed, dag)) for dag in dags),
        ]
        for what, check in checks:
            while not check():
                self.assert_running()
                if time.monotonic() > deadline:
                    raise TimeoutError(f"no {what} after {timeout:.0f}s; logs in {self.home / 'logs'}")
                time.sleep(0.5)

    def assert_running(self) -> None:
        """Raise if a component has exited (a crash, not a stop of ours)."""
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}; see {self.log_path(name)}")

    def _parsed(self, dag_id: str) -> bool:
        return bool(self.query("SELECT 1 FROM serialized_dag WHERE dag_id = %s", dag_id))

    def _all_healthy(self) -> bool:
        try:
            health = requests.get(f"{self.api_url}/api/v2/monitor/health", timeout=5).json()
        except (requests.RequestException, ValueError):
            return False
        parts = ("metadatabase", "scheduler", "triggerer", "dag_processor")
        return all((health.get(part) or {}).get("status") == "healthy" for part in parts) and _answers(
            self.scheduler_health_url
        )

    @property
    def workers(self) -> list[str]:
        return [name for name in self.components if name.startswith(f"{WORKER_SERVICE}-")]

    def worker_ready(self, name: str) -> bool:
        """Celery logs `<nodename> ready.` once it consumes; a restarted worker appends a new line."""
        marker = f"celery@{self.settings.name}-worker-{name.rsplit('-', 1)[1]} ready."
        return self.log_path(name).read_text(errors="replace").count(marker) >= self.starts.get(name, 1)

    def log_path(self, name: str) -> Path:
        return self.home / "logs" / f"{name}.log"

    def _log(self, name: str):
        self.starts[name] = self.starts.get(name, 0) + 1
        return self.log_path(name).open("ab")

    # ---- metadata database -----------------------------------------------------------------------------------

    def _administer(self, *statements: str) -> None:
        """Run statements on the server's admin database, outside a transaction (as CREATE DATABASE needs)."""
        admin = psycopg2.connect(make_url(self.settings.postgres_url).render_as_string(hide_password=False))
        admin.autocommit = True
        try:
            with admin.cursor() as cursor:
                for statement in statements:
                    cursor.execute(statement)
        finally:
            admin.close()

    def _create_database(self) -> None:
        name = self.settings.name
        self._administer(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')

    def _drop_database(self) -> None:
        self._administer(f'DROP DATABASE IF EXISTS "{self.settings.name}" WITH (FORCE)')

    def query(self, sql: str, *args: Any) -> list[tuple]:
        """Read the metadata DB directly (what the UI shows, without its login)."""
        url = make_url(self.database_url).set(drivername="postgresql").render_as_string(hide_password=False)
        connection = psycopg2.connect(url)
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql, args)
                return cursor.fetchall()
        finally:
            connection.close()

    # ---- runs ------------------------------------------------------------------------------------------------

    def airflow(self, *args: str) -> str:
        """The `airflow` CLI against this cluster; returns its output, raises with it on failure."""
        done = subprocess.run(
            [sys.executable, "-m", "airflow", *args], env=self.environment, capture_output=True, text=True, check=False
        )
        if done.returncode:
            raise RuntimeError(f"airflow {' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
        return done.stdout

    def trigger(self, dag_id: str, run_id: str, logical_date: str, conf: Mapping[str, Any]) -> str:
        self.airflow("dags", "trigger", dag_id, "--run-id", run_id, "--logical-date", f"{logical_date}T00:00:00+00:00",
                     "--conf", json.dumps(dict(conf)))  # fmt: skip
        return run_id

    def run_states(self, dag_id: str) -> dict[str, str]:
        return dict(self.query("SELECT run_id, state FROM dag_run WHERE dag_id = %s", dag_id))

    def wait_for_runs(self, dag_id: str, run_ids: list[str], timeout: float) -> dict[str, str]:
        """Until every run has finished; returns run id -> state."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            states = {run_id: self.run_states(dag_id).get(run_id) for run_id in run_ids}
            if all(state in FINISHED for state in states.values()):
                return states
            self.assert_running()
            time.sleep(1)
        raise TimeoutError(f"runs {run_ids} of {dag_id} not finished within {timeout:.0f}s: {states}")

    def worker_running(self, pid: int) -> str | None:
        """The worker whose process tree holds `pid` (a task's process), if any."""
        for name in self.workers:
            process = self.processes.get(name)
            if process is not None and pid in {p.pid for p in _process_tree(process.pid)}:
                return name
        return None


def _inherited_environment() -> dict[str, str]:
    """This shell's environment without any Airflow setting, so only the compose file configures Airflow."""
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AIRFLOW__", "AIRFLOW_CONN_", "AIRFLOW_VAR_", "AIRFLOW_HOME", "AIRFLOW_CONFIG"))
    }


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=5).ok
    except requests.RequestException:
        return False


def _process_tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _signal_all(processes: list[psutil.Process], sig: signal.Signals) -> None:
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.send_signal(sig)
