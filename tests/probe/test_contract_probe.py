"""The contract probe against the stand-ins: every guess "as assumed" by default, and each knob that gives the
other plausible answer flips the matching verdict to "differs" (and no other)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import requests

from dev.stack.services import LOCAL_CARCUTTER_TOKEN, LOCAL_CLIPPINGMAGIC_KEY
from tests.conftest import REPO_ROOT
from tests.probe.conftest import charged
from vehicle_photos.carcutter.utils import paths
from vehicle_photos.contract_probe.checks import AS_ASSUMED, DIFFERS, NOT_MEASURED
from vehicle_photos.contract_probe.report import setting_shown
from vehicle_photos.contract_probe.runner import ORDER

CARCUTTER_ONLY = ("carcutter",)
CLIPPINGMAGIC_ONLY = ("clippingmagic",)
BILLABLE = {"carcutter.registration_delay", "carcutter.result_before_final", "carcutter.status_values"}
SECRETS = (LOCAL_CARCUTTER_TOKEN, LOCAL_CLIPPINGMAGIC_KEY, "X-Amz-Signature", "X-Amz-Credential", "/_storage/")


def assert_no_secrets(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text


def test_default_stand_ins_give_every_guess_as_assumed_for_one_credit(probe, stand_ins, s3_client, bucket):
    run = probe(spend=True)

    assert run.report.verdicts() == {guess.key: AS_ASSUMED for guess in ORDER}
    assert charged(stand_ins["carcutter"]) == run.report.spent_carcutter_credits == 1
    assert charged(stand_ins["clippingmagic"]) == 0
    assert any("Spending ONE Car-Cutter credit" in line for line in probe.said)
    json_key, html_key = (place.removeprefix(f"s3://{bucket}/") for place in run.stored.split(" and "))
    assert json_key.startswith("probes/") and json_key.endswith(".json") and html_key == json_key[:-4] + "html"
    stored = json.loads(s3_client.get_object(Bucket=bucket, Key=json_key)["Body"].read())
    page = s3_client.get_object(Bucket=bucket, Key=html_key)
    html = page["Body"].read().decode()
    assert {check["key"]: check["verdict"] for check in stored["checks"]} == run.report.verdicts()
    assert page["ContentType"].startswith("text/html")
    assert html.count('<tr class="as-assumed">') == len(ORDER)
    assert_no_secrets(run.table, json.dumps(stored), html, "\n".join(probe.said))
    assert run.report.observations["carcutter_processing_seconds"] > 0
    # what the probe made is gone again: its test images, its vehicle
    cm, cc = stand_ins["clippingmagic"], stand_ins["carcutter"]
    images = requests.get(f"{cm.url}/api/v1/images", auth=(cm.api_id, cm.api_key), timeout=10).json()["images"]
    assert images == []
    vehicle_id = next(line for line in probe.said if "for vehicle" in line).split("for vehicle ")[1].split(";")[0]
    vehicle = requests.get(f"{cc.url}/vehicle/status", params={"vehicle_id": vehicle_id},
                           headers={"Authorization": f"Bearer {cc.token}"}, timeout=10).json()["vehicle"]  # fmt: skip
    assert vehicle["app_status"] == "deleted"


def test_without_the_flag_nothing_is_spent_and_the_billable_checks_are_not_measured(probe, stand_ins):
    run = probe(spend=False, services=CARCUTTER_ONLY)

    verdicts = run.report.verdicts()
    assert {key for key, verdict in verdicts.items() if verdict == NOT_MEASURED} == BILLABLE
    assert set(verdicts.values()) == {AS_ASSUMED, NOT_MEASURED}
    assert charged(stand_ins["carcutter"]) == 0


# (service, knobs of its stand-in, the guess whose verdict must flip, whether the check needs the credit)
FLIPPING_KNOBS = [
    ("carcutter", {"unknown_url_status": "404"}, "carcutter.unknown_url_status", False),
    ("carcutter", {"status_url_echo": "normalised"}, "carcutter.status_url_echo", False),
    ("carcutter", {"status_url_echo": "normalised"}, "carcutter.status_url_echo", True),
    ("carcutter", {"feature_params_in": "query"}, "carcutter.feature_params_in", False),
    ("carcutter", {"max_request_target": 4000}, "carcutter.request_target_limit", False),
    ("carcutter", {"error_body": "html"}, "carcutter.error_body", False),
    ("carcutter", {"unknown_phase_ratio": 1.0}, "carcutter.status_values", True),
    ("carcutter", {"unknown_quality_ratio": 1.0}, "carcutter.status_values", True),
    ("carcutter", {"registration_delay_seconds": 1.5}, "carcutter.registration_delay", True),
    ("carcutter", {"hold_submission_seconds": 1.5}, "carcutter.registration_delay", True),
    ("clippingmagic", {"error_body": "text"}, "clippingmagic.error_body", False),
    ("clippingmagic", {"strict_fields": False}, "clippingmagic.unknown_fields", False),
    ("clippingmagic", {"storage_refuses_credentials": False}, "clippingmagic.storage_refuses_credentials", False),
    ("clippingmagic", {"storage_link_seconds": 0.5}, "clippingmagic.storage_link_seconds", False),
    ("clippingmagic", {"list_delay": 1.5}, "clippingmagic.list_delay", False),
    ("clippingmagic", {"list_order": "descending"}, "clippingmagic.list_order", False),
]


@pytest.mark.parametrize(
    ("service", "knobs", "flipped", "spend"),
    FLIPPING_KNOBS,
    ids=[f"{knobs}{'-spend' if spend else ''}" for _, knobs, _, spend in FLIPPING_KNOBS],
)
def test_each_knob_flips_its_verdict_only(probe, stand_ins, service, knobs, flipped, spend):
    stand_ins[service].configure(**knobs)

    run = probe(spend=spend, services=(service,))

    verdicts = run.report.verdicts()
    assert verdicts[flipped] == DIFFERS
    assert {key for key, verdict in verdicts.items() if verdict == DIFFERS} == {flipped}
    check = next(check for check in run.report.checks if check.key == flipped)
    assert setting_shown(check) == check.setting  # shown where it differs
    if service == "carcutter":
        assert charged(stand_ins["carcutter"]) == run.report.spent_carcutter_credits == int(spend)


def test_the_registration_delay_is_measured_and_a_grace_period_recommended(probe, stand_ins):
    stand_ins["carcutter"].configure(registration_delay_seconds=1.5)

    run = probe(spend=True, services=CARCUTTER_ONLY)

    check = next(check for check in run.report.checks if check.key == "carcutter.registration_delay")
    assert 1.5 <= run.report.observations["carcutter_registration_seconds"] < 3.0
    assert check.observed.endswith("set registration_grace_seconds to at least 10")
    assert "within 1 s" in check.assumed


@pytest.mark.parametrize("lost_as", ["dropped", "502"])
def test_a_lost_submission_answer_is_settled_by_status_not_sent_again(probe, stand_ins, lost_as):
    stand_ins["carcutter"].configure(lost_answers=1, lost_answers_of="asyncSubmit", lost_answer_as=lost_as)

    run = probe(spend=True, services=CARCUTTER_ONLY)

    assert charged(stand_ins["carcutter"]) == run.report.spent_carcutter_credits == 1
    check = next(check for check in run.report.checks if check.key == "carcutter.registration_delay")
    assert "the submission's answer was lost" in check.observed
    assert set(run.report.verdicts().values()) == {AS_ASSUMED}


def test_a_refused_submission_spends_nothing(probe, stand_ins):
    stand_ins["carcutter"].configure(credits=0)

    run = probe(spend=True, services=CARCUTTER_ONLY)

    assert charged(stand_ins["carcutter"]) == run.report.spent_carcutter_credits == 0
    verdicts = run.report.verdicts()
    assert {key for key, verdict in verdicts.items() if verdict == NOT_MEASURED} == BILLABLE
    check = next(check for check in run.report.checks if check.key == "carcutter.registration_delay")
    assert check.observed.startswith("the submission was refused (HTTP 402")


def test_uploads_are_found_at_the_end_of_a_long_list(probe, stand_ins):
    stand_ins["clippingmagic"].configure(preloaded_images=1234)

    run = probe(services=CLIPPINGMAGIC_ONLY)

    check = next(check for check in run.report.checks if check.key == "clippingmagic.list_order")
    assert (check.verdict, check.observed) == (AS_ASSUMED, "ascending image id (oldest first); 1236 images listed "
                                               "up to the newest")  # fmt: skip
    assert set(run.report.verdicts().values()) == {AS_ASSUMED}


def test_feature_fields_in_the_query_recommend_the_connection_extra(probe, stand_ins):
    stand_ins["carcutter"].configure(feature_params_in="query-ignoring-body")

    run = probe(services=CARCUTTER_ONLY)

    check = next(check for check in run.report.checks if check.key == "carcutter.feature_params_in")
    assert {key for key, verdict in run.report.verdicts().items() if verdict == DIFFERS} == {check.key}
    assert "form: GET answered without it" in check.observed
    assert check.observed.endswith("set feature_params_in: query")
    # the annotation paths are then asked about the way that works, and found
    assert run.report.verdicts()["carcutter.annotation_paths"] == AS_ASSUMED


def test_an_annotation_path_the_service_does_not_have_differs(probe, stand_ins, monkeypatch):
    monkeypatch.setattr(paths, "ANNOTATION_GET", "/vehicle/image/annotation-get")

    run = probe(services=CARCUTTER_ONLY)

    check = next(check for check in run.report.checks if check.key == "carcutter.annotation_paths")
    assert check.verdict == DIFFERS
    assert check.observed == "GET /vehicle/image/annotation-get answers like an unknown path (HTTP 404)"


def test_a_report_that_cannot_be_stored_is_still_printed(probe, stand_ins):
    run = probe(services=CARCUTTER_ONLY, bucket="no-such-bucket-for-the-probe")

    assert run.stored.startswith("not written to s3://no-such-bucket-for-the-probe/probes/ (An error occurred")
    assert "NoSuchBucket" in run.stored
    assert "| as assumed" in run.table


def test_strict_accept_headers_change_nothing(probe, stand_ins):
    for server in stand_ins.values():
        server.configure(strict_accept=True)

    run = probe(spend=True)

    assert set(run.report.verdicts().values()) == {AS_ASSUMED}


def test_a_lost_clipping_magic_upload_answer_changes_nothing(probe, stand_ins):
    stand_ins["clippingmagic"].configure(lost_upload_answers=1)

    run = probe(services=CLIPPINGMAGIC_ONLY)

    assert set(run.report.verdicts().values()) == {AS_ASSUMED}
    assert charged(stand_ins["clippingmagic"]) == 0
    assert stand_ins["clippingmagic"].requests()["counts"]["upload"] == 3  # the lost one found, not sent again


def test_a_flat_error_body_is_as_documented(probe, stand_ins):
    stand_ins["carcutter"].configure(nest_errors=False)

    run = probe(services=CARCUTTER_ONLY)

    check = next(check for check in run.report.checks if check.key == "carcutter.error_body")
    assert (check.verdict, check.observed) == (AS_ASSUMED, "HTTP 404 with a flat JSON error object")


def test_the_command_reads_the_deployments_variables_prints_the_table_and_spends_one_credit(
    stand_ins, local_stack, bucket
):
    env = {
        **os.environ, **local_stack.environment(),
        "AIRFLOW_VAR_VEHICLE_PHOTOS_BUCKET": bucket, "AIRFLOW_VAR_VEHICLE_PHOTOS_REGISTRATION_GRACE_SECONDS": "7",
    }  # fmt: skip
    completed = subprocess.run(
        [sys.executable, "-m", "vehicle_photos.contract_probe", "--spend-one-credit"],
        env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip

    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert completed.stdout.count("| as assumed") == len(ORDER)
    assert "Spending ONE Car-Cutter credit" in completed.stdout
    assert "known to status within 7 s" in completed.stdout
    assert f"Report: s3://{bucket}/probes/" in completed.stdout
    assert_no_secrets(completed.stdout, completed.stderr)
    assert charged(stand_ins["carcutter"]) == 1


def test_a_refused_token_stops_the_command_before_anything_is_spent(stand_ins, bucket, monkeypatch, capsys):
    cc = stand_ins["carcutter"]
    monkeypatch.setenv("AIRFLOW_CONN_CARCUTTER_DEFAULT", json.dumps({"conn_type": "carcutter", "host": cc.url,
                                                                      "password": "not-the-token"}))  # fmt: skip
    monkeypatch.setenv("_AIRFLOW_PROCESS_CONTEXT", "")
    from vehicle_photos.contract_probe.__main__ import main

    status = main(["--spend-one-credit", "--bucket", bucket])

    assert status == 2
    assert "Car-Cutter refused connection 'carcutter_default'" in capsys.readouterr().err
    assert charged(cc) == 0
    assert cc.requests()["counts"].get("asyncSubmit", 0) == 0


def test_the_command_exits_1_when_a_guess_differs(stand_ins, bucket, monkeypatch, capsys):
    stand_ins["clippingmagic"].configure(strict_fields=False)
    monkeypatch.setenv("_AIRFLOW_PROCESS_CONTEXT", "")  # what importing the command sets stays in this test
    from vehicle_photos.contract_probe.__main__ import main

    status = main(["--only", "clippingmagic", "--bucket", bucket])

    table = capsys.readouterr().out
    assert status == 1
    assert table.count("| differs") == 1
