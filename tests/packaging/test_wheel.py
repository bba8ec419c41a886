"""The provider distribution as a user installs it: the wheel, built from this checkout, installed with the runtime
lock into a clean virtualenv that holds only apache-airflow==3.3.2 (and what the lock resolves), no PYTHONPATH,
the DAGs folder laid out as the image lays it (dags/ with include/ inside). Airflow then lists the provider, both
connection types, the Run report link and the plugin, and every DAG file imports.

Slow (a virtualenv install: see README "Tests"), so it is marked `wheel`; `make test` runs it, pip's downloads are
cached in .cache/pip (git-ignored)."""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
RUNTIME_LOCK = REPO_ROOT / "requirements" / "constraints-runtime.txt"
PIP_CACHE = REPO_ROOT / ".cache" / "pip"
DAG_IDS = {"vehicle_listings", "vehicle_listings_on_arrival", "clippingmagic_review", "api_housekeeping",
           "vehicle_manifest_consumer_example"}  # fmt: skip

pytestmark = [pytest.mark.wheel, pytest.mark.timeout(1200)]


def image_python() -> str:
    """Python 3.12, the image's, where this machine has it; else the one running the tests."""
    for candidate in [*sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.12*/bin/python3.12"))),
                      shutil.which("python3.12")]:  # fmt: skip
        if candidate and subprocess.run([candidate, "--version"], capture_output=True, check=False).returncode == 0:
            return candidate
    return sys.executable


def run(*argv: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=cwd, check=False)
    assert done.returncode == 0, f"{' '.join(argv)}:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict[str, str]:
    """The clean venv with the wheel installed; returns the environment Airflow commands run with."""
    work = tmp_path_factory.mktemp("wheel")
    # the machine's own pip settings (an index mirror, local wheels) as a user's pip would see them
    machine_pip = {name: value for name, value in os.environ.items() if name.startswith("PIP_")}
    pip_env = {**machine_pip, "PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", str(work)),
               "PIP_CACHE_DIR": str(PIP_CACHE), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}  # fmt: skip
    source = work / "source"  # what the Dockerfile's wheel stage copies; a build in the checkout would leave an
    # egg-info in plugins/, a second copy of the distribution on the dev venv's path (Makefile, venv)
    shutil.copytree(REPO_ROOT / "plugins" / "vehicle_photos", source / "plugins" / "vehicle_photos",
                    ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO_ROOT / name, source / name)
    run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(work / "dist"),
        str(source), env=pip_env)  # fmt: skip
    (wheel,) = (work / "dist").glob("*.whl")
    venv = work / "venv"
    run(image_python(), "-m", "venv", str(venv))
    # no .pyc compiled at install (most of a clean install's CPU): Python compiles what is imported, on import
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-compile", "-c", str(RUNTIME_LOCK)]
    run(*pip, "apache-airflow==3.3.2", env=pip_env)
    run(*pip, str(wheel), env=pip_env)
    run(str(venv / "bin" / "python"), "-m", "pip", "check", env=pip_env)
    dags = work / "home" / "dags"  # the image's layout: the DAG files, include/ inside (Dockerfile)
    shutil.copytree(REPO_ROOT / "dags", dags, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO_ROOT / "include", dags / "include", ignore=shutil.ignore_patterns("__pycache__"))
    return {
        "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(work),
        "AIRFLOW_HOME": str(work / "home"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "VENV_PYTHON": str(venv / "bin" / "python"),
        "WHEEL": str(wheel),
    }


def airflow_json(installed: dict[str, str], *args: str):
    return json.loads(run(str(Path(installed["VENV_PYTHON"]).parent / "airflow"), *args, "-o", "json",
                          env=installed, cwd=Path(installed["HOME"])))  # fmt: skip


def test_wheel_ships_exactly_the_vehicle_photos_package(installed):
    top_level = {name.split("/", 1)[0] for name in zipfile.ZipFile(installed["WHEEL"]).namelist()}
    version = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert top_level == {"vehicle_photos", f"vehicle_photo_pipelines-{version}.dist-info"}


def test_airflow_lists_the_provider(installed):
    providers = {provider["package_name"]: provider for provider in airflow_json(installed, "providers", "list")}
    version = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert providers["vehicle-photo-pipelines"]["version"] == version


def test_both_connection_types_register(installed):
    script = ("from airflow.providers_manager import ProvidersManager; hooks = ProvidersManager().hooks; "
              "print({name: hooks[name].hook_class_name for name in ('carcutter', 'clippingmagic')})")  # fmt: skip
    out = run(installed["VENV_PYTHON"], "-c", script, env=installed, cwd=Path(installed["HOME"]))
    assert "vehicle_photos.carcutter.hooks.carcutter.CarCutterHook" in out
    assert "vehicle_photos.clippingmagic.hooks.clippingmagic.ClippingMagicHook" in out


def test_the_plugin_and_the_extra_link_load(installed):
    plugins = {plugin["name"]: plugin for plugin in airflow_json(installed, "plugins")}
    assert "vehicle_photos" in plugins, plugins
    assert "Run report" in json.dumps(plugins["vehicle_photos"])  # its FastAPI app
    links = json.dumps(airflow_json(installed, "providers", "links"))
    assert "vehicle_photos.run_report.links.RunReportLink" in links


def test_every_dag_file_imports(installed):
    script = (
        "import json, os, pathlib; from airflow.dag_processing.dagbag import BundleDagBag; "
        "folder = pathlib.Path(os.environ['AIRFLOW__CORE__DAGS_FOLDER']); "
        "bag = BundleDagBag(folder, bundle_path=folder); "
        "print(json.dumps({'dags': sorted(bag.dag_ids), 'errors': bag.import_errors}))"
    )
    printed = run(installed["VENV_PYTHON"], "-c", script, env=installed, cwd=Path(installed["HOME"]))
    out = json.loads(printed.splitlines()[-1])
    assert out["errors"] == {}
    assert set(out["dags"]) == DAG_IDS
