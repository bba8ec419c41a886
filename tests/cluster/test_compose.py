"""docker-compose.yml is valid for Compose itself, and `make cluster` (dev/cluster) starts exactly its Airflow
services with the same commands and settings: Compose's own `config` output is the reference."""

from __future__ import annotations

import configparser
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from dev.cluster import AirflowCluster, ClusterSettings
from dev.cluster.compose import COMPOSE_FILE, IMAGE_HOME, REPO_ROOT, compose_variables, load_compose
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


PROFILES = ("local", "flower", "statsd")


@pytest.mark.parametrize(
    ("env_file", "profiles"),
    [(None, ()), (REPO_ROOT / ".env.example", ("local",)), (REPO_ROOT / ".env.example", ("flower",)),
     (None, PROFILES)],
    ids=["fresh-clone", "env-example-with-local-profile", "env-example-with-flower-profile", "fresh-every-profile"],
)  # fmt: skip
def test_compose_file_is_valid(env_file, profiles, tmp_path):
    if env_file is None:  # a fresh clone: no .env at all
        env_file = tmp_path / ".env"
        env_file.write_text("")
    done = compose(*(f"--profile={profile}" for profile in profiles), "config", "-q", env_file=env_file)
    assert done.returncode == 0, done.stderr


def test_every_profile_of_the_compose_file_is_validated():
    declared = {profile for spec in load_compose()["services"].values() for profile in spec.get("profiles", ())}
    assert declared == set(PROFILES)


def resolve(*profiles: str, env_file: Path) -> dict:
    done = compose(*(f"--profile={profile}" for profile in profiles), "config", env_file=env_file)
    assert done.returncode == 0, done.stderr
    return yaml.safe_load(done.stdout)["services"]


@pytest.fixture(scope="module")
def fresh_clone(tmp_path_factory) -> dict:
    """Every service, as Compose resolves them in a fresh clone (no .env)."""
    env_file = tmp_path_factory.mktemp("fresh") / ".env"
    env_file.write_text("")
    return resolve(*PROFILES, env_file=env_file)


def test_airflow_services_run_as_airflow_uid_with_group_0_and_init_as_root(fresh_clone, tmp_path):
    """As Airflow's official compose file: init as root (it creates and hands over the folders), every other
    Airflow container as AIRFLOW_UID with group 0 (the image's airflow user by default)."""
    image = fresh_clone["airflow-scheduler"]["image"]
    airflow = {name: spec for name, spec in fresh_clone.items() if spec.get("image") == image}
    assert {"airflow-init", "flower", "airflow-worker"} <= set(airflow)
    assert airflow["airflow-init"]["user"] == "0:0"
    assert {name: spec["user"] for name, spec in airflow.items() if name != "airflow-init"} == dict.fromkeys(
        set(airflow) - {"airflow-init"}, "50000:0"
    )
    (tmp_path / ".env").write_text("AIRFLOW_UID=1234\n")
    assert resolve(env_file=tmp_path / ".env")["airflow-worker"]["user"] == "1234:0"


def init_script(services: dict) -> str:
    command = services["airflow-init"]["command"]
    assert services["airflow-init"]["entrypoint"] == "/bin/bash" and command[0] == "-c"
    return unescape(command[1])


def test_init_checks_resources_creates_the_shared_folders_and_hands_them_over(fresh_clone):
    script = init_script(fresh_clone)
    for check in ("_PHYS_PAGES", "/proc/stat", "df /"):  # memory, CPUs, disk, as the official file checks them
        assert check in script
    volumes = {volume.split(":")[1] for volume in fresh_clone["airflow-init"]["volumes"]}
    assert {"/opt/airflow/config", "/opt/airflow/logs"} <= {str(Path(volume)) for volume in volumes}
    assert 'mkdir -v -p "${config_dir}" "${logs_dir}"' in script
    assert 'chown -R "${AIRFLOW_UID}:0" "${config_dir}" "${logs_dir}"' in script
    assert script.index("airflow db migrate") < script.index("chown -R")  # files the init writes are handed over
    assert fresh_clone["airflow-init"]["environment"]["AIRFLOW_UID"] == "50000"


def test_image_creates_the_config_folder_owned_by_airflow():
    """A named volume takes the owner of the folder it is mounted on at its first use: without the folder in the
    image, airflow-config would be root's, and only a root init could write airflow.cfg."""
    dockerfile = (REPO_ROOT / "Dockerfile").read_text()
    final = dockerfile[dockerfile.index("AS airflow") : dockerfile.index("AS dev")]
    assert re.search(r"install -d -o airflow -g 0 [^\n]*/opt/airflow/config", final)
    assert "pip check" in final
    assert "PYTHONPATH" not in dockerfile
    copied = re.findall(r"^COPY (?:--\S+ )*(.+)$", final, re.MULTILINE)
    assert copied == [
        "requirements.txt requirements/constraints-runtime.txt /opt/airflow/requirements/",
        "/tmp/wheels /tmp/wheels",
        "dags /opt/airflow/dags",
        "include /opt/airflow/dags/include",
    ]


def test_apiserver_health_check_is_the_documented_endpoint(fresh_clone):
    assert "http://localhost:8080/api/v2/monitor/health" in fresh_clone["airflow-apiserver"]["healthcheck"]["test"]


def test_flower_profile_is_the_official_one(fresh_clone):
    flower = fresh_clone["flower"]
    assert flower["profiles"] == ["flower"] and flower["command"] in ("celery flower", ["celery", "flower"])
    assert flower["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"
    assert "http://localhost:5555/" in flower["healthcheck"]["test"]


SECRETS = {
    "AIRFLOW__CORE__FERNET_KEY": ("core", "fernet_key"),
    "AIRFLOW__API_AUTH__JWT_SECRET": ("api_auth", "jwt_secret"),
    "AIRFLOW__API__SECRET_KEY": ("api", "secret_key"),
}


def test_no_container_gets_an_empty_airflow_secret(fresh_clone):
    """An empty AIRFLOW__CORE__FERNET_KEY in a container overrides the config file's key with nothing."""
    for name, spec in fresh_clone.items():
        assert not set(SECRETS) & set(spec.get("environment", {})), name


@pytest.mark.parametrize("from_env", [True, False], ids=["secrets-from-env", "generated-secrets-kept"])
def test_init_writes_the_secrets_of_env_into_the_generated_config(from_env, tmp_path):
    """The init's own script, run on a config file generated by Airflow: what .env gives replaces the generated
    secret in its section, and nothing else changes; with nothing given the generated secrets stay."""
    given = {name: f"{section}-from-env-{index}" for index, (name, (section, _)) in enumerate(SECRETS.items())}
    (tmp_path / ".env").write_text("".join(f"{key}={value}\n" for key, value in given.items()) if from_env else "")
    init = resolve(env_file=tmp_path / ".env")["airflow-init"]
    script = init_script({"airflow-init": init})
    secrets_step = script[script.index("python - <<'EOF'") : script.index("\nEOF\n") + len("\nEOF\n")]
    config = tmp_path / "airflow.cfg"
    environment = {"PATH": os.environ["PATH"], "AIRFLOW_HOME": str(tmp_path), "AIRFLOW_CONFIG": str(config)}
    generated = subprocess.run([sys.executable, "-m", "airflow", "config", "list"], env=environment,
                               capture_output=True, text=True, check=False)  # fmt: skip
    assert generated.returncode == 0, generated.stderr
    before = config.read_text()
    environment.update({key: str(value) for key, value in init["environment"].items() if key.startswith("_AIRFLOW")})
    done = subprocess.run(["bash", "-c", secrets_step], env=environment, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(config.read_text())
    generated_parser = configparser.ConfigParser(interpolation=None)
    generated_parser.read_string(before)
    for name, (section, key) in SECRETS.items():
        expected = given[name] if from_env else generated_parser[section][key]
        assert parser[section][key] == expected and expected, name
    changed = [line for line in config.read_text().splitlines() if line not in before.splitlines()]
    assert len(changed) == (len(SECRETS) if from_env else 0)


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
    return {name: unescape(spec) for name, spec in resolved["services"].items()
            if spec.get("image") == image and not spec.get("profiles")}  # fmt: skip


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
