"""Airflow on this machine, pointed at the local stack: the environment, pools and commands.

`python -m dev.local_airflow standalone` is `make airflow`: it reuses the stack of `make stack`
(starting it if needed), migrates the SQLite metadata DB in `.airflow/`, creates the pools and runs
`airflow standalone` with the connections `aws_default`, `carcutter_default`, `clippingmagic_default`.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from include.pools import POOLS

REPO_ROOT = Path(__file__).resolve().parents[1]
STACK_ENV_FILE = REPO_ROOT / ".stack" / "env"


def airflow_environment(home: Path, stack_env: Mapping[str, str]) -> dict[str, str]:
    """Environment for an Airflow process: SQLite in `home`, LocalExecutor, our dags and plugins, no examples."""
    return {
        **os.environ,
        **stack_env,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",  # the connection form's Test button
        "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), str(REPO_ROOT / "plugins")]),
        # `airflow standalone` starts its components as `airflow ...` commands: this venv's must be found
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
    }


def airflow(env: Mapping[str, str], *args: str, quiet: bool = False) -> subprocess.CompletedProcess:
    """Run the `airflow` CLI of this venv; raises if it fails."""
    output = subprocess.DEVNULL if quiet else None
    return subprocess.run([sys.executable, "-m", "airflow", *args], env=dict(env), check=True, stdout=output)


def prepare(env: Mapping[str, str]) -> None:
    """Migrate the metadata DB and create the API pools (both idempotent)."""
    airflow(env, "db", "migrate", quiet=True)
    for name, (slots, description) in POOLS.items():
        airflow(env, "pools", "set", name, str(slots), description, quiet=True)


def read_stack_env(path: Path = STACK_ENV_FILE) -> dict[str, str]:
    env = {}
    for line in path.read_text().splitlines():
        key, _, value = line.removeprefix("export ").partition("=")
        env[key] = shlex.split(value)[0] if value else ""
    return env


def standalone() -> None:
    if not STACK_ENV_FILE.exists():
        subprocess.run([sys.executable, "-m", "dev.stack", "up"], check=True)
    env = airflow_environment(REPO_ROOT / ".airflow", read_stack_env())
    prepare(env)
    print("Airflow UI: http://localhost:8080 (all users are admins locally); Ctrl-C stops it.")
    os.execvpe(sys.executable, [sys.executable, "-m", "airflow", "standalone"], env)


if __name__ == "__main__":
    if sys.argv[1:] != ["standalone"]:
        sys.exit("usage: python -m dev.local_airflow standalone")
    standalone()
