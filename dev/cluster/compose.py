"""docker-compose.yml as the source of truth for the process-level cluster: its Airflow services, their commands
and their environment, with `${NAME:-default}` interpolated from a mapping the way Compose does it from `.env`.

Only what Compose itself would read is used; tests/cluster/test_compose.py checks this reading against
`docker-compose config`.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
AIRFLOW_COMMON = "x-airflow-common"
INIT_SERVICE = "airflow-init"
WORKER_SERVICE = "airflow-worker"
IMAGE_HOME = "/opt/airflow"  # AIRFLOW_HOME in the official image

# Compose's interpolation syntax: $$ (a literal $), $NAME, ${NAME}, ${NAME:-default}, ${NAME-default}
_VARIABLE = re.compile(r"\$(?:(?P<escaped>\$)|(?P<named>[_a-zA-Z][_a-zA-Z0-9]*)|\{(?P<braced>[^}]*)\})")
_BRACED = re.compile(r"(?P<name>[_a-zA-Z][_a-zA-Z0-9]*)(?:(?P<operator>:?-)(?P<default>.*))?", re.DOTALL)


@dataclass(frozen=True)
class AirflowService:
    """One Airflow service of the compose file, interpolated: what it runs and with which environment."""

    name: str
    command: tuple[str, ...]  # arguments of `airflow` (image entrypoint), or of `entrypoint` when one is set
    entrypoint: str | None
    environment: dict[str, str]


def load_compose(path: Path = COMPOSE_FILE) -> dict[str, Any]:
    """The compose file as YAML reads it (anchors and `<<` merges resolved), not yet interpolated."""
    return yaml.safe_load(path.read_text())


def interpolate(value: Any, variables: Mapping[str, str]) -> Any:
    """Substitute `${...}` in every string of `value` (recursively), as Compose does. Unset variables are ''."""
    if isinstance(value, dict):
        return {key: interpolate(item, variables) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, variables) for item in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match) -> str:
        if match["escaped"]:
            return "$"
        if match["named"]:
            return variables.get(match["named"], "")
        braced = _BRACED.fullmatch(match["braced"])
        if braced is None:
            raise ValueError(f"unsupported interpolation ${{{match['braced']}}} in docker-compose.yml")
        name, operator, default = braced["name"], braced["operator"], braced["default"]
        if operator == ":-":
            return variables.get(name) or default
        if operator == "-":
            return variables.get(name, default)
        return variables.get(name, "")

    return _VARIABLE.sub(substitute, value)


def airflow_services(variables: Mapping[str, str], compose: dict[str, Any] | None = None) -> dict[str, AirflowService]:
    """Every service built on `x-airflow-common` outside a profile, interpolated with `variables`."""
    compose = compose if compose is not None else load_compose()
    image = compose[AIRFLOW_COMMON]["image"]
    services = {}
    for name, spec in compose["services"].items():
        if spec.get("image") != image or spec.get("profiles"):
            continue
        spec = interpolate(spec, variables)
        command = spec.get("command", [])
        services[name] = AirflowService(
            name=name,
            command=tuple(shlex.split(command) if isinstance(command, str) else command),
            entrypoint=spec.get("entrypoint"),
            environment={key: _as_text(value) for key, value in spec.get("environment", {}).items()},
        )
    return services


def compose_variables(compose: dict[str, Any] | None = None) -> set[str]:
    """Names of every variable the compose file reads (what `.env` may set)."""
    compose = compose if compose is not None else load_compose()
    names: set[str] = set()
    interpolate(compose, _Recorder(names))
    return names


def _as_text(value: Any) -> str:
    """Environment values as Compose passes them: booleans in lower case, numbers as written."""
    if isinstance(value, bool):
        return str(value).lower()
    return "" if value is None else str(value)


class _Recorder(dict):
    """A variables mapping that records which names were asked for."""

    def __init__(self, names: set[str]) -> None:
        super().__init__()
        self.names = names

    def get(self, key: str, default: Any = None) -> Any:
        self.names.add(key)
        return default
