"""docker-compose.yml is valid for Compose itself, and `make cluster` (dev/cluster) starts exactly its Airflow
services with the same commands and settings: Compose's own `config` output is the reference."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from dev.cluster import AirflowCluster, ClusterSettings
from dev.cluster.compose import COMPOSE_FILE, IMAGE_HOME, REPO_ROOT, compose_variables
from dev.cluster.launcher import LOCAL_ARGUMENTS, LOCAL_SETTINGS
from dev.stack.services import LocalStack, StackSettings, service_commands

STACK = LocalStack(StackSettings(s3_port=18600, carcutter_port=18601, clippingmagic_port=18602))


def compose(*args: str, env_file: Path) -> subprocess.CompletedProcess:
    """docker-compose on the repository's file with `env_file` as its `.env`, and nothing from this shell."""
    return subprocess.run(
        ["docker-compose", "--project-directory", str(REPO_ROOT), "-f", str(COMPOSE_FILE), "--env-file", str(env_file),
         *args],
        capture_output=True, text=True, check=False, env={"PATH": os.environ["PATH"]},
    )  # fmt: skip


@pytest.mark.parametrize(
    ("env_file", "profile"),
    [(None, None), (REPO_ROOT / ".env.example", "local")],
    ids=["fresh-clone", "env-example-with-local-profile"],
)
def test_compose_file_is_valid(env_file, profile, tmp_path):
    if env_file is None:  # a fresh clone: no .env at all
        env_file = tmp_path / ".env"
        env_file.write_text("")
    done = compose(*(["--profile", profile] if profile else []), "config", "-q", env_file=env_file)
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> AirflowCluster:
    """A cluster as `make cluster` would start it (nothing is started here)."""
    settings = ClusterSettings(home=tmp_path_factory.mktemp("home"), name="compose_check")
    return AirflowCluster(settings, STACK.environment())


@pytest.fixture(scope="module")
def resolved(cluster, tmp_path_factory) -> dict:
    """docker-compose.yml as Compose resolves it with the cluster's variables as `.env`."""
    env_file = tmp_path_factory.mktemp("env") / ".env"
    env_file.write_text("".join(f"{key}={value}\n" for key, value in cluster.variables.items()))
    done = compose("config", env_file=env_file)
    assert done.returncode == 0, done.stderr
    return yaml.safe_load(done.stdout)


def airflow_services(resolved: dict) -> dict[str, dict]:
    image = resolved["services"]["airflow-scheduler"]["image"]
    return {name: unescape(spec) for name, spec in resolved["services"].items() if spec.get("image") == image}


def unescape(value):
    """`config` prints a compose file, so a literal $ stays written as $$."""
    if isinstance(value, dict):
        return {key: unescape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [unescape(item) for item in value]
    return value.replace("$$", "$") if isinstance(value, str) else value


def test_cluster_runs_every_airflow_service_of_the_compose_file(cluster, resolved):
    services = airflow_services(resolved)
    assert {"airflow-init", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer",
            "airflow-worker"} <= set(services)  # fmt: skip
    assert {component.service for component in cluster.components.values()} == set(services)
    assert [name for name in cluster.components if name.startswith("airflow-worker")] == [
        "airflow-worker-1", "airflow-worker-2"
    ]  # fmt: skip


def test_cluster_commands_are_the_compose_commands(cluster, resolved):
    services = airflow_services(resolved)
    for component in cluster.components.values():
        spec = services[component.service]
        command = spec["command"]
        command = shlex.split(command) if isinstance(command, str) else command
        # without an entrypoint of its own, the image's runs `airflow <command>`
        prefix = [Path(spec["entrypoint"]).name] if spec.get("entrypoint") else [sys.executable, "-m", "airflow"]
        expected = [*prefix, *command]
        argv = list(component.argv)
        assert argv[: len(expected)] == expected, component.name
        extra = argv[len(expected) :]
        assert extra[::2] == list(LOCAL_ARGUMENTS.get(component.service, ())), component.name


def test_cluster_settings_are_the_compose_settings(cluster, resolved):
    """Every compose setting reaches the process unchanged (paths under /opt/airflow moved to the cluster's
    home); everything else the process gets is inherited from the shell, or a documented local setting, or
    part of the local stack's environment."""
    services = airflow_services(resolved)
    inherited = {key for key in cluster.environment if key not in LOCAL_SETTINGS} - {
        key for spec in services.values() for key in spec.get("environment", {})
    }
    for component in cluster.components.values():
        compose_env = {key: str(value) for key, value in services[component.service]["environment"].items()}
        for key, value in compose_env.items():
            local = str(cluster.home / value.removeprefix(f"{IMAGE_HOME}/")) if value.startswith(IMAGE_HOME) else value
            assert component.environment.get(key) == local, (component.name, key)
        extra = set(component.environment) - set(compose_env)
        assert extra <= set(LOCAL_SETTINGS) | set(cluster.stack_extras) | inherited, component.name
    assert not re.search(r"AIRFLOW__(CORE|DATABASE|CELERY|SCHEDULER)__", " ".join(cluster.stack_extras))


def test_cluster_differs_from_the_containers_only_in_its_variables(cluster):
    """What `.env` is for the containers, the cluster's variables are for the processes: database, broker, API
    URL, connections to the local stack, admin user, nothing else."""
    assert set(cluster.variables) <= compose_variables()
    assert cluster.variables["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].endswith("/compose_check")
    assert cluster.variables["AIRFLOW_CONN_CARCUTTER_DEFAULT"] == STACK.environment()["AIRFLOW_CONN_CARCUTTER_DEFAULT"]


def test_local_profile_runs_the_local_stack_commands(tmp_path):
    """The profile's stand-ins start as dev/stack starts them, listening on all interfaces of their container."""
    (tmp_path / ".env").write_text("")
    done = compose("--profile", "local", "config", env_file=tmp_path / ".env")
    services = yaml.safe_load(done.stdout)["services"]
    ports = {"s3": 5000, "carcutter": 8601, "clippingmagic": 8602}
    local = service_commands(StackSettings(host="0.0.0.0", s3_port=5000, carcutter_port=8601, clippingmagic_port=8602))
    for name, port in ports.items():
        command = shlex.split(services[name]["command"])
        assert command[: len(local[name])] == ["python", *local[name][1:]], name
        assert str(port) in command


def test_env_example_documents_every_compose_variable():
    documented = set(re.findall(r"^#? ?([A-Z_][A-Z0-9_]*)=", (REPO_ROOT / ".env.example").read_text(), re.MULTILINE))
    assert compose_variables() <= documented, sorted(compose_variables() - documented)
