"""`make airflow` as a newcomer meets it: the same command on the test's own stack, port and AIRFLOW_HOME,
data from `make sample-data`'s command, and a headless Chromium (Debian's, never a downloaded build)."""

from __future__ import annotations

import datetime as dt
import json
import os
import shlex
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from dev.local_airflow import REPO_ROOT
from dev.stack import LocalStack
from dev.stack.services import free_port

CHROMIUM = Path("/usr/bin/chromium")
# without the background-networking flags this machine's closed network refuses Chromium's connections
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]  # fmt: skip
SCREENSHOTS = Path(__file__).parent / "screenshots"  # git-ignored: screenshots and the make airflow log
STARTUP_SECONDS = 600  # a 2-core machine shared with other test runs can be slow
PASSWORD_FILE = "simple_auth_manager_passwords.json.generated"


@dataclass
class LocalAirflow:
    """A running `python -m dev.local_airflow standalone` (what `make airflow` runs)."""

    url: str
    home: Path
    process: subprocess.Popen
    log: Path

    def password(self) -> str:
        return json.loads((self.home / PASSWORD_FILE).read_text())["admin"]

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self, timeout: float) -> None:
        """Ctrl-C as a terminal sends it: SIGINT to the foreground process group."""
        os.killpg(self.process.pid, signal.SIGINT)
        self.process.wait(timeout=timeout)


@pytest.fixture(scope="module")
def ui_stack_env(tmp_path_factory: pytest.TempPathFactory, local_stack: LocalStack) -> Path:
    """A `.stack/env` for the session's stack, with a bucket of this module's own."""
    bucket = f"ui-{uuid.uuid4().hex[:10]}"
    env = {**local_stack.environment(), "STACK_BUCKET": bucket, "AIRFLOW_VAR_VEHICLE_PHOTOS_BUCKET": bucket}
    path = tmp_path_factory.mktemp("ui-stack") / "env"
    path.write_text("".join(f"export {key}={shlex.quote(value)}\n" for key, value in env.items()))
    return path


@pytest.fixture(scope="module")
def sample_date(ui_stack_env: Path) -> str:
    """A recent past date with listings and photos in the stack, written by `make sample-data`'s command."""
    date = (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=3)).isoformat()
    command = [
        sys.executable, "-m", "dev.sampledata", "--stack", "--stack-env", str(ui_stack_env), "--listing-date", date,
        "--vehicles", "2", "--images-per-vehicle", "3", "--megapixels", "0.1",
    ]  # fmt: skip
    subprocess.run(command, cwd=REPO_ROOT, check=True, stdout=subprocess.DEVNULL)
    return date


@pytest.fixture(scope="module")
def local_airflow(tmp_path_factory: pytest.TempPathFactory, ui_stack_env: Path) -> Iterator[LocalAirflow]:
    """`make airflow` with a login (the report app's auth is then real), on a free port; stopped with Ctrl-C."""
    home = tmp_path_factory.mktemp("ui-airflow")
    port = free_port()
    SCREENSHOTS.mkdir(exist_ok=True)
    log = SCREENSHOTS / "make-airflow.log"  # beside the screenshots, kept after the run
    command = [
        sys.executable, "-m", "dev.local_airflow", "standalone", "--home", str(home), "--stack-env", str(ui_stack_env),
        "--port", str(port), "--login",
    ]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    airflow = LocalAirflow(f"http://127.0.0.1:{port}", home, process, log)
    try:
        wait_for_banner(airflow)
        yield airflow
    finally:
        if process.poll() is None:
            try:
                airflow.stop(timeout=120)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


def wait_for_banner(airflow: LocalAirflow) -> None:
    """Until `make airflow` prints its real URL, i.e. the UI answers and the scheduler is up."""
    deadline = time.monotonic() + STARTUP_SECONDS
    while f"Airflow UI: {airflow.url}" not in airflow.output():
        if airflow.process.poll() is not None:
            pytest.fail(f"make airflow exited with {airflow.process.returncode}:\n{airflow.output()[-5000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"make airflow printed no URL within {STARTUP_SECONDS}s:\n{airflow.output()[-5000:]}")
        time.sleep(1)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=60_000)  # a busy machine renders slowly
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make system-packages` installs Debian's chromium")
    with sync_playwright() as playwright:
        # launch() gives every run a fresh, temporary profile (user data dir)
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def page(browser, local_airflow: LocalAirflow):
    """A browser tab logged in to the local Airflow as admin, through the login form."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    tab = context.new_page()
    tab.set_default_timeout(120_000)
    tab.set_default_navigation_timeout(120_000)
    tab.goto(local_airflow.url)
    tab.locator("input[name=username]").fill("admin")
    tab.locator("input[name=password]").fill(local_airflow.password())
    tab.locator("form button[type=submit]").click()
    tab.get_by_role("link", name="Dags").first.wait_for()
    yield tab
    context.close()


@pytest.fixture(scope="module")
def screenshot():
    SCREENSHOTS.mkdir(exist_ok=True)

    def take(tab, name: str) -> None:
        tab.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

    return take
