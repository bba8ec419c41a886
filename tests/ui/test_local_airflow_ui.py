"""The Airflow UI of `make airflow` as a newcomer meets it, in a real browser: log in, trigger
vehicle_listings for a date through the trigger form, follow the Run report link to the report, press Test
on both connections; then `make backfill`'s command, and Ctrl-C stopping every process `make airflow` started.

The tests run in this order against one `make airflow`; screenshots go to tests/ui/screenshots/.
"""

from __future__ import annotations

import subprocess
import sys
import time
from urllib.parse import quote

import psutil
import pytest
import requests
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from dev.local_airflow import REPO_ROOT, STATE_FILE_NAME

pytestmark = pytest.mark.timeout(1200)

DAG_ID = "vehicle_listings"
RUN_SECONDS = 900
FORM_SECTIONS = {
    "Run Parameters": ("vehicle_ids", "dry_run", "clippingmagic_test_mode"),
    "Processing options": ("cut_type", "clippingmagic_angles", "batch_size", "bucket"),
}
PARAM_TITLES = {
    "vehicle_ids": "Only these vehicles",
    "dry_run": "Dry run",
    "clippingmagic_test_mode": "Clipping Magic test mode",
    "cut_type": "Car-Cutter cut type",
    "clippingmagic_angles": "Angles sent to Clipping Magic",
    "batch_size": "Vehicles per task",
    "bucket": "S3 bucket",
}


def test_trigger_a_date_from_the_form_and_open_its_run_report(page, local_airflow, sample_date, screenshot):
    page.goto(f"{local_airflow.url}/dags/{DAG_ID}")
    page.get_by_test_id("trigger-dag-button").click()
    dialog = page.locator("[role=dialog][data-state=open]")
    for section, names in FORM_SECTIONS.items():  # every Param titled, none marked required: all have defaults
        if section != "Run Parameters":  # open by default; opening another section closes it
            dialog.get_by_role("button", name=section).click()
        for name in names:
            element = page.locator(f"#element_{name}, [name=element_{name}]")  # a switch carries only the name
            field = dialog.locator("[data-scope=field][data-part=root]", has=element).last
            expect(field.locator("label[data-part=label]")).to_have_text(PARAM_TITLES[name])  # no "*" after it
            expect(field.locator("label[data-required]")).to_have_count(0)
    cut_type = dialog.locator("#element_cut_type")
    expect(cut_type).to_contain_text("Deployment default")
    cut_type.click()
    options = [text.strip() for text in page.locator("[id^=react-select][id*=-option-]").all_inner_texts()]
    assert options and options[0] == "Deployment default", options
    assert not [text for text in options if text.lower() == "null"], options
    page.locator("[id^=react-select][id*=-option-]").first.click()  # keeps the default, closes the menu

    page.get_by_test_id("datetime-input").click()
    picker = page.locator("[data-scope=popover][data-part=content][data-state=open]")
    picker.get_by_placeholder("YYYY/MM/DD").fill(sample_date.replace("-", "/"))
    picker.get_by_placeholder("HH:mm").fill("00:00")
    dialog.get_by_role("heading").first.click()  # a click outside closes the picker (Escape would close the form)
    expect(page.get_by_test_id("datetime-input")).to_contain_text(_ui_date(sample_date))
    screenshot(page, "trigger-form")
    with page.expect_response(lambda response: response.request.method == "POST") as triggered:
        dialog.get_by_role("button", name="Trigger").click()
    assert triggered.value.status == 200, triggered.value.text()
    run_id = triggered.value.json()["dag_run_id"]
    assert triggered.value.json()["logical_date"].startswith(sample_date)
    state = wait_for_run(page, local_airflow.url, run_id)
    assert state == "success", f"run {run_id} ended {state}; tasks: {task_states(page, local_airflow.url, run_id)}"

    page.goto(f"{local_airflow.url}/dags/{DAG_ID}/runs/{quote(run_id, safe='')}/tasks/publish_run")
    page.get_by_role("link", name="Details", exact=True).click()
    link = page.get_by_role("link", name="Run report")
    expect(link).to_be_visible()
    screenshot(page, "run-report-link")
    report_path = link.get_attribute("href")
    assert report_path.startswith("/run-report/"), report_path
    with page.expect_navigation() as navigation:
        link.click()
    response = navigation.value
    assert response.status == 200
    assert "default-src 'none'" in response.headers["content-security-policy"]
    expect(page.locator("h1")).to_have_text(f"Vehicle photos for {sample_date}")
    expect(page.get_by_role("heading", name="Before / after")).to_be_visible()
    thumbnails = page.locator("figure img[src^='data:image/']")
    assert thumbnails.count() >= 2
    assert page.evaluate("[...document.images].every(image => image.complete && image.naturalWidth > 0)")
    screenshot(page, "run-report")

    report_url = f"{local_airflow.url}{report_path}"
    anonymous = requests.get(report_url, timeout=120)
    assert anonymous.status_code == 401, anonymous.text
    no_session = requests.get(report_url, headers={"Accept": "text/html"}, allow_redirects=False, timeout=120)
    assert no_session.status_code in (302, 303, 307)
    assert "/auth/login" in no_session.headers["location"]
    unknown_run = page.request.get(report_url.replace(quote(run_id, safe=""), "manual__no-such-run"), timeout=60_000)
    assert unknown_run.status == 404


def test_both_connection_test_buttons_pass(page, local_airflow, screenshot):
    page.goto(f"{local_airflow.url}/connections")
    for connection_id, message in (
        ("carcutter_default", "Car-Cutter accepted the token"),
        ("clippingmagic_default", "Connected"),
    ):
        page.mouse.move(0, 0)  # no tooltip of the previous row over this row's buttons
        row = page.locator("tr", has_text=connection_id)
        with page.expect_response(lambda response: response.url.endswith("/api/v2/connections/test")) as tested:
            row.get_by_role("button", name="Test Connection").click()
        assert tested.value.status == 200, tested.value.text()
        assert tested.value.json()["status"] is True, tested.value.json()
        toast = page.get_by_text("Test Connection Successful").last
        expect(toast).to_be_visible()
        expect(page.get_by_text(message).last).to_be_visible()
        screenshot(page, f"connection-test-{connection_id}")


def test_backfill_command_works_as_written(page, local_airflow, sample_date):
    completed = subprocess.run(
        [sys.executable, "-m", "dev.local_airflow", "backfill", "--home", str(local_airflow.home),
         "--from-date", sample_date, "--to-date", sample_date],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert f"backfill of {DAG_ID} {sample_date} .. {sample_date} created" in completed.stdout
    listed = page.request.get(f"{local_airflow.url}/api/v2/backfills?dag_id={DAG_ID}", timeout=60_000)
    backfills = listed.json()["backfills"]
    assert [(b["from_date"][:10], b["to_date"][:10], b["max_active_runs"]) for b in backfills] == [
        (sample_date, sample_date, 1)
    ]


def test_ctrl_c_stops_every_process_make_airflow_started(local_airflow):
    started = psutil.Process(local_airflow.process.pid).children(recursive=True)
    assert len(started) >= 5, [process.cmdline() for process in started]  # standalone and its four components
    local_airflow.stop(timeout=120)

    left = [process for process in started if _alive(process)]
    assert not left, [process.cmdline() for process in left]
    assert "stopping Airflow and every process it started" in local_airflow.output()
    assert not (local_airflow.home / STATE_FILE_NAME).exists()
    with pytest.raises(requests.ConnectionError):
        requests.get(local_airflow.url, timeout=5)


def wait_for_run(page, url: str, run_id: str) -> str:
    """The run's final state, asked of the REST API with the browser's session."""
    deadline = time.monotonic() + RUN_SECONDS
    state = "unknown"
    while time.monotonic() < deadline:
        try:
            response = page.request.get(f"{url}/api/v2/dags/{DAG_ID}/dagRuns/{quote(run_id, safe='')}", timeout=60_000)
        except PlaywrightError:  # a busy api-server: ask again
            continue
        state = response.json()["state"]
        if state in ("success", "failed"):
            return state
        time.sleep(3)
    return f"still {state} after {RUN_SECONDS}s"


def task_states(page, url: str, run_id: str) -> dict[str, str]:
    run = quote(run_id, safe="")
    listed = page.request.get(f"{url}/api/v2/dags/{DAG_ID}/dagRuns/{run}/taskInstances", timeout=60_000).json()
    return {f"{ti['task_id']}[{ti['map_index']}]": ti["state"] for ti in listed.get("task_instances", [])}


def _ui_date(date: str) -> str:
    """2026-11-02 as the trigger form shows it: Nov 02, 2026."""
    import datetime as dt

    return dt.date.fromisoformat(date).strftime("%b %d, %Y")


def _alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False
