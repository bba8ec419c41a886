"""Shared fixtures: real servers on real sockets, and a real Airflow metadata database.

The stack (moto's S3 server and both API stand-ins) is started once per session as child processes on
free ports; tests that change a stand-in's knobs use `configure()` and get them reset afterwards.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]

from dev.stack.services import LOCAL_FERNET_KEY  # noqa: E402 - imports no Airflow

# Airflow reads its configuration when first imported, so the test home must be set before any import.
_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="airflow-test-home-"))
os.environ.update(
    {
        "AIRFLOW__CORE__FERNET_KEY": LOCAL_FERNET_KEY,
        "AIRFLOW_HOME": str(_AIRFLOW_HOME),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE": "True",  # as deployed: every wait in the triggerer
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{_AIRFLOW_HOME / 'airflow.db'}",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(_AIRFLOW_HOME / "logs"),
        "PYTHONPATH": os.pathsep.join(
            [str(REPO_ROOT), str(REPO_ROOT / "plugins"), *filter(None, [os.environ.get("PYTHONPATH")])]
        ),
    }
)

import pytest  # noqa: E402

pytest_plugins = ["tests.image_server"]
import requests  # noqa: E402

from dev.stack import LocalStack, StackSettings, start_stack  # noqa: E402
from dev.stack.services import (  # noqa: E402
    LOCAL_CARCUTTER_TOKEN,
    LOCAL_CLIPPINGMAGIC_ID,
    LOCAL_CLIPPINGMAGIC_KEY,
)
from tests.postgres_databases import drop_session_template, name_session_template  # noqa: E402


def pytest_configure(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput"):  # the session's own process, before pytest-xdist starts its workers
        name_session_template()


def pytest_sessionfinish(session: pytest.Session) -> None:
    if not hasattr(session.config, "workerinput"):  # every worker has finished
        drop_session_template()


@dataclass
class StandIn:
    """A running stand-in server and its emulator-only controls."""

    url: str
    api_id: str | None = None
    api_key: str | None = None
    token: str | None = None

    def _emulator(self, method: str, path: str, **kwargs: Any) -> Any:
        response = requests.request(method, f"{self.url}/_emulator/{path}", timeout=10, **kwargs)
        response.raise_for_status()
        return response.json()

    def ledger(self) -> dict[str, Any]:
        return self._emulator("GET", "ledger")

    def requests(self) -> dict[str, Any]:
        return self._emulator("GET", "requests")

    def reset(self) -> None:
        self._emulator("POST", "reset")

    def configure(self, **knobs: Any) -> None:
        self._emulator("POST", "config", json=knobs)


@pytest.fixture(scope="session")
def local_stack() -> Iterator[LocalStack]:
    settings = StackSettings(s3_port=0, carcutter_port=0, clippingmagic_port=0, log_dir=_AIRFLOW_HOME / "stack-logs")
    stack = start_stack(settings)
    os.environ.update(stack.environment())
    yield stack
    stack.stop()


@pytest.fixture(scope="session")
def moto_s3(local_stack: LocalStack) -> str:
    """Endpoint URL of moto's S3 server; `local_stack.bucket` exists and AWS_* / aws_default point at it."""
    return local_stack.s3_url


@pytest.fixture
def s3_client(local_stack: LocalStack):
    return local_stack.s3_client()


@pytest.fixture
def bucket(local_stack: LocalStack) -> str:
    """A fresh, empty bucket for one test, so records of other tests cannot leak into it."""
    name = f"test-{uuid.uuid4().hex[:12]}"
    local_stack.s3_client().create_bucket(Bucket=name)
    return name


@pytest.fixture
def clippingmagic_server(local_stack: LocalStack) -> Iterator[StandIn]:
    server = StandIn(local_stack.clippingmagic_url, api_id=LOCAL_CLIPPINGMAGIC_ID, api_key=LOCAL_CLIPPINGMAGIC_KEY)
    server.reset()
    yield server
    server.reset()


@pytest.fixture
def carcutter_server(local_stack: LocalStack) -> Iterator[StandIn]:
    server = StandIn(local_stack.carcutter_url, token=LOCAL_CARCUTTER_TOKEN)
    server.reset()
    yield server
    server.reset()


def airflow_home_env(home: Path) -> dict[str, str]:
    """What makes an Airflow process use `home` and its own SQLite metadata database."""
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
    }


@pytest.fixture(scope="session")
def second_airflow_home(local_stack: LocalStack) -> dict[str, str]:
    """Another migrated metadata database, for a second DAG run at the same time as one in `airflow_home`
    (two `airflow dags test` processes must not share one SQLite file). Returns its environment."""
    env = airflow_home_env(Path(tempfile.mkdtemp(prefix="airflow-test-home-2-")))
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, env={**os.environ, **env},
                   stdout=subprocess.DEVNULL)  # fmt: skip
    return env


@pytest.fixture(scope="session")
def airflow_home(local_stack: LocalStack) -> Path:
    """A migrated SQLite metadata database in a throwaway AIRFLOW_HOME, connections pointing at the stack."""
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        check=True,
        env=os.environ.copy(),
        stdout=subprocess.DEVNULL,
    )
    return _AIRFLOW_HOME
