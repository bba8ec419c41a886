"""Alerts through the smtp provider's SmtpNotifier to a real SMTP server on loopback: a failed date with what
failed (images, rejected rows, credits), Clipping Magic's credits below the threshold, and a run not finished by
its deadline (Airflow's deadline alerts: the scheduler notices, the triggerer sends)."""

from __future__ import annotations

import json
import re

import pytest

from dev.sampledata import generate, upload
from tests.dag_runs import dags_test
from tests.operating.conftest import body_text
from tests.operating.scheduled_airflow import scheduled_airflow

pytestmark = pytest.mark.timeout(1500)

DS = "2026-11-06"
RECIPIENT = "platform-team@vehicle-photos.test"


def alert_env(mail_server, **settings: str) -> dict[str, str]:
    return {**mail_server.connection_env(), "AIRFLOW__VEHICLE_PHOTOS__ALERT_EMAILS": RECIPIENT,
            **{f"AIRFLOW__VEHICLE_PHOTOS__{name.upper()}": value for name, value in settings.items()}}  # fmt: skip


def test_a_failed_date_is_mailed_with_what_failed(
    airflow_home, local_stack, bucket, s3_client, carcutter_server, clippingmagic_server, mail_server, tmp_path
):
    data = generate(
        tmp_path / "sample", seed=11, vehicles=3, images_per_vehicle=3, megapixels=0.1, bucket=bucket,
        http_base_url=f"{local_stack.s3_url}/{bucket}", inject_bad_rows=True,
    )  # fmt: skip
    upload(data, bucket=bucket, listing_date=DS, endpoint_url=local_stack.s3_url)
    carcutter_server.configure(credits=2)  # Car-Cutter runs out during the run: 402, the batch task fails

    code = dags_test("vehicle_listings", DS, tmp_path / "run.log", {"batch_size": 1}, check=False,
                     AIRFLOW_VAR_VEHICLE_PHOTOS_BUCKET=bucket, **alert_env(mail_server))  # fmt: skip

    assert code != 0
    message = mail_server.wait_for(f"vehicle_listings failed for {DS}", timeout=30)
    assert message["To"] == RECIPIENT
    text = re.sub(r"<[^>]+>", " ", body_text(message))
    manifest = json.loads(s3_client.get_object(Bucket=bucket, Key=f"manifests/dt={DS}/manifest.json")["Body"].read())
    not_final = sum(1 for row in manifest if row["status"] != "final")
    charged = sum(sum(server.ledger()["charges"].values()) for server in (carcutter_server, clippingmagic_server))
    assert not_final > 0 and charged > 0
    assert "process_carcutter_images" in text
    assert f"Images: {len(manifest)}; not final: {not_final}" in text
    assert f"Rejected rows: {len(data.injected)}" in text
    assert f"Credits spent this run: {charged}" in text
    assert f"reports/dt={DS}/report.html" in text


def test_clippingmagic_credits_below_the_threshold_are_mailed(
    airflow_home, bucket, clippingmagic_server, carcutter_server, mail_server, tmp_path
):
    clippingmagic_server.configure(credits=3)
    code = dags_test("api_housekeeping", DS, tmp_path / "housekeeping.log", {"bucket": bucket, "min_credits": 10},
                     check=False, **alert_env(mail_server))  # fmt: skip

    assert code != 0
    message = mail_server.wait_for("api_housekeeping.check_clippingmagic_credits failed", timeout=30)
    assert "Clipping Magic has 3 credits left, below the threshold of 10" in body_text(message)
    assert [m["Subject"] for m in mail_server.messages if "check_carcutter_access" in m["Subject"]] == []


def test_a_run_not_finished_by_its_deadline_is_mailed(airflow_home, local_stack, bucket, mail_server, tmp_path):
    # no listings arrive: the scheduled run waits for them (deferred) past its deadline of 20 s
    env = {"AIRFLOW_VAR_VEHICLE_PHOTOS_BUCKET": bucket, **alert_env(mail_server, finish_deadline_hours=str(20 / 3600))}
    with scheduled_airflow(tmp_path / "airflow", local_stack.environment(), env, ("vehicle_listings",),
                           triggerer=True) as airflow:  # fmt: skip
        airflow.airflow("dags", "unpause", "vehicle_listings")
        message = mail_server.wait_for("is late", timeout=300)
        runs = airflow.query("SELECT run_id, state FROM dag_run WHERE dag_id = 'vehicle_listings'")

    assert len(runs) == 1 and runs[0][1] == "running", runs
    assert f"run {runs[0][0]} is late" in message["Subject"]
    assert "has not finished by its deadline" in body_text(message)
