"""deploy/helm/values.yaml sets only keys the official chart's values.schema.json has, none of them deprecated."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import jsonschema
import pytest
import yaml

HELM = Path(__file__).resolve().parents[1] / "deploy" / "helm"
KEYS = json.loads((HELM / "chart-schema-keys.json").read_text())


@pytest.fixture
def values() -> dict:
    return yaml.safe_load((HELM / "values.yaml").read_text())


def paths(values: dict, prefix: str = "") -> set[str]:
    """Every key path of the values, `config` (Airflow's own settings, free-form in the chart) as one leaf."""
    found = set()
    for key, value in values.items():
        path = f"{prefix}{key}"
        found.add(path)
        if isinstance(value, dict) and path != "config":
            found |= paths(value, f"{path}.")
    return found


def test_values_match_the_chart_schema(values):
    jsonschema.validate(values, KEYS["values_schema"])


def test_no_deprecated_key(values):
    assert not paths(values) & set(KEYS["deprecated"]), {key: KEYS["deprecated"][key] for key in paths(values)
                                                         if key in KEYS["deprecated"]}  # fmt: skip


@pytest.mark.parametrize(
    ("change", "path"),
    [
        (lambda v: v["workers"].update(replicas=2), "workers.replicas"),  # the key the README's table used to name
        (lambda v: v["workers"]["celery"].update(replica=2), "workers.celery.replica"),  # a typo
        (lambda v: v.update(postInstallJob={"enabled": True}), "postInstallJob"),  # no such thing in the chart
    ],
    ids=["deprecated", "typo", "unknown"],
)
def test_a_wrong_key_is_refused(values, change, path):
    wrong = copy.deepcopy(values)
    change(wrong)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(wrong, KEYS["values_schema"])


def test_values_name_the_versions_the_extract_was_read_for(values):
    assert values["airflowVersion"] == "3.3.2"
    assert KEYS["chart"]["version"] in (HELM / "values.yaml").read_text()
    assert f"--version {KEYS['chart']['version']}" in (HELM.parents[1] / "README.md").read_text()


@pytest.mark.skipif(not os.environ.get("HELM_VALUES_SCHEMA"), reason="HELM_VALUES_SCHEMA names no chart schema file")
def test_values_match_the_full_chart_schema(values):
    schema = json.loads(Path(os.environ["HELM_VALUES_SCHEMA"]).read_text())
    jsonschema.validate(values, schema)
