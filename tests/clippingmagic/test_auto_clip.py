"""The auto-clip operator against the Clipping Magic stand-in and moto's S3 server: billing proven by the
stand-in's ledger, claims written through the real record store, refusals before anything is billed."""

from __future__ import annotations

import dataclasses
import io
import json
import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from tests.clippingmagic.airflow_runs import run_dag, task_states, xcom
from tests.clippingmagic.conftest import Answer, huge_canvas_png, items, jpeg_bytes, put_images
from vehicle_photos.clippingmagic.hooks.clippingmagic import ClippingMagicHook
from vehicle_photos.clippingmagic.operators.auto_clip import ClippingMagicAutoClipOperator
from vehicle_photos.clippingmagic.utils.models import RESULT_FORMATS
from vehicle_photos.clippingmagic.utils.upload_claims import upload_name
from vehicle_photos.image_common.identity import s3_identities
from vehicle_photos.image_common.record_store import ImageRecordStore
from vehicle_photos.image_common.records import ImageRecord, options_digest
from vehicle_photos.image_common.results import parse_results_jsonl
from vehicle_photos.image_common.sources import ImageSource
from vehicle_photos.image_common.statuses import RecordStatus

KEYS = ["photos/V1/01-front.jpg", "photos/V1/02-rear.jpg", "photos/V2/01-interior.jpg"]
PRODUCTION = ClippingMagicAutoClipOperator.record_options(test=False, outputs=RESULT_FORMATS)


@pytest.fixture
def photos(s3_client, bucket) -> list[dict[str, str]]:
    put_images(s3_client, bucket, KEYS)
    return items(bucket, KEYS)


def identity_of(s3_client, bucket: str, key: str) -> str:
    found, _ = s3_identities(s3_client, [ImageSource(f"s3://{bucket}/{key}")])
    return found[f"s3://{bucket}/{key}"]


def uploads(cm) -> int:
    return cm.requests()["counts"].get("upload", 0)


def test_record_options_and_the_worst_case_estimate_come_from_the_operator():
    assert ClippingMagicAutoClipOperator.record_options(True, ["result", "alpha_mask_png", "result"]) == {
        "format": "result",
        "test": True,
        "outputs": ["alpha_mask_png", "result"],
    }
    assert ClippingMagicAutoClipOperator.worst_case_credits_per_image(RESULT_FORMATS) == 3
    assert ClippingMagicAutoClipOperator.worst_case_credits_per_image(RESULT_FORMATS, False) == 1
    assert ClippingMagicAutoClipOperator.worst_case_credits_per_image(["clipping_path_svg"]) == 1
    with pytest.raises(ValueError, match="non-empty subset"):
        ClippingMagicAutoClipOperator.worst_case_credits_per_image(["result", "jpeg"])


def test_outputs_go_to_immutable_keys_and_a_rerun_calls_clipping_magic_not_at_all(cm, s3_client, bucket, photos,
                                                                                  auto_clip):  # fmt: skip
    results = auto_clip(bucket, photos)

    assert [(r["name"], r["status"], r["credits_this_run"], r["reused"]) for r in results] == [
        ("01-front", "final", 1, False), ("02-rear", "final", 1, False), ("01-interior", "final", 1, False),
    ]  # fmt: skip
    identity = identity_of(s3_client, bucket, KEYS[0])
    digest = options_digest(identity, PRODUCTION)
    stem = f"processed/V1/clippingmagic/01-front-{digest[:16]}"
    assert results[0]["outputs"] == {
        "result": f"s3://{bucket}/{stem}.png",
        "clipping_path_svg": f"s3://{bucket}/{stem}.svg",
        "alpha_mask_png": f"s3://{bucket}/{stem}.mask.png",
    }
    stored = {suffix: s3_client.get_object(Bucket=bucket, Key=f"{stem}{suffix}") for suffix in (".png", ".svg")}
    assert stored[".png"]["ContentType"] == "image/png" and stored[".svg"]["ContentType"] == "image/svg+xml"
    record = ImageRecordStore(bucket).get("clippingmagic", digest).record
    image_id = record.provider_ref["image_id"]
    assert (record.status, record.credits_charged, record.identity, record.revision) == ("final", 1, identity, 1)
    assert record.upload_name == upload_name("01-front", digest)
    charges = cm.ledger()["charges"]
    assert len(charges) == 3 and set(charges.values()) == {1} and charges[str(image_id)] == 1
    calls_before = cm.requests()["counts"]

    rerun = auto_clip(bucket, photos, results_uri=f"s3://{bucket}/runs/rerun.jsonl")

    assert rerun == {"images": 3, "final": 3, "failed": 0, "refused": 0, "skipped": 0, "pending": 0, "reused": 3,
                     "credits_this_run": 0, "results_uri": f"s3://{bucket}/runs/rerun.jsonl"}  # fmt: skip
    rows = parse_results_jsonl(s3_client.get_object(Bucket=bucket, Key="runs/rerun.jsonl")["Body"].read())
    assert [row.outputs for row in rows] == [r["outputs"] for r in results]
    assert cm.requests()["counts"] == calls_before, "a finished image is never sent again"


def test_test_mode_never_overwrites_the_production_outputs_of_the_same_image(cm, s3_client, bucket, photos, auto_clip):
    (production,) = auto_clip(bucket, photos[:1])
    production_bytes = s3_client.get_object(Bucket=bucket, Key=production["outputs"]["result"].split("/", 3)[3])

    (test_run,) = auto_clip(bucket, photos[:1], test="true")

    assert test_run["status"] == "final" and test_run["credits_this_run"] == 0
    assert set(test_run["outputs"].values()).isdisjoint(production["outputs"].values())
    again = s3_client.get_object(Bucket=bucket, Key=production["outputs"]["result"].split("/", 3)[3])
    assert again["ETag"] == production_bytes["ETag"]
    assert sum(cm.ledger()["charges"].values()) == 1 and uploads(cm) == 2


def test_two_tasks_over_the_same_images_at_the_same_time_charge_each_image_once(cm, s3_client, bucket, auto_clip):
    keys = [f"photos/V7/{n:02d}-side.jpg" for n in range(4)]
    put_images(s3_client, bucket, keys)
    cm.configure(latency_ms=300)  # long enough for the two tasks to meet on the same images
    outcomes: dict[str, Any] = {}

    def task(task_id: str) -> None:
        outcomes[task_id] = auto_clip(bucket, items(bucket, keys), task_id=task_id)

    threads = [threading.Thread(target=task, args=(task_id,)) for task_id in ("run_a", "run_b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["run_a", "run_b"]
    for results in outcomes.values():
        assert [r["status"] for r in results] == ["final"] * 4
    assert uploads(cm) == 4
    assert sorted(cm.ledger()["charges"].values()) == [1, 1, 1, 1]
    assert sum(r["credits_this_run"] for results in outcomes.values() for r in results) == 4
    assert sum(r["reused"] for results in outcomes.values() for r in results) == 4, "each waited for the other"
    assert [a["outputs"] for a in outcomes["run_a"]] == [b["outputs"] for b in outcomes["run_b"]]


def stale_claim(s3_client, bucket: str, key: str, name: str) -> ImageRecord:
    """The claim a crashed task left behind, once its lease ran out (it stopped renewing)."""
    identity = identity_of(s3_client, bucket, key)
    digest = options_digest(identity, PRODUCTION)
    claim = ImageRecord(
        "clippingmagic", identity, PRODUCTION, RecordStatus.CLAIMED, source=f"s3://{bucket}/{key}", attempts=1,
        owner="vehicle_listings/crashed-run/autoclip_images/0", owner_try=1, claimed_at=time.time() - 3 * 3600,
        lease_seconds=1.0, upload_name=upload_name(name, digest),
    )  # fmt: skip
    assert ImageRecordStore(bucket).create(claim) is not None
    time.sleep(2.1)  # one lease after its last write by S3's clock (one-second resolution)
    return claim


def test_a_crashed_try_whose_upload_happened_is_resumed_without_a_second_charge(
    cm, s3_client, bucket, photos, auto_clip, fast_conn
):
    claim = stale_claim(s3_client, bucket, KEYS[0], "01-front")
    # The crashed try had uploaded the image (and paid) but died before recording the image id.
    earlier = ClippingMagicHook(fast_conn()).auto_clip(jpeg_bytes(), io.BytesIO(), filename=f"{claim.upload_name}.jpg")

    (result,) = auto_clip(bucket, photos[:1])

    assert result["status"] == "final" and result["credits_this_run"] == 0
    assert uploads(cm) == 1, "found by its upload name, never uploaded again"
    assert cm.ledger()["charges"] == {str(earlier.image_id): 1}
    record = ImageRecordStore(bucket).get("clippingmagic", claim.digest).record
    assert record.provider_ref["image_id"] == earlier.image_id
    assert (record.credits_charged, record.attempts, record.status) == (1, 2, "final")


def test_a_stale_claim_whose_upload_never_happened_is_taken_over(cm, s3_client, bucket, photos, auto_clip):
    claim = stale_claim(s3_client, bucket, KEYS[1], "02-rear")

    (result,) = auto_clip(bucket, photos[1:2])

    assert result["status"] == "final" and result["credits_this_run"] == 1
    assert uploads(cm) == 1 and sum(cm.ledger()["charges"].values()) == 1
    record = ImageRecordStore(bucket).get("clippingmagic", claim.digest).record
    assert record.owner != claim.owner and record.attempts == 2


def test_unusable_and_forbidden_sources_are_refused_before_anything_is_billed(
    cm, s3_client, bucket, auto_clip, source_server, local_stack
):
    jpeg = jpeg_bytes()
    bad = {
        "photos/V3/html.jpg": (b"<!DOCTYPE html><html><body>Access denied</body></html>", "text/html"),
        "photos/V3/empty.jpg": (b"", "image/jpeg"),
        "photos/V3/truncated.jpg": (jpeg[: len(jpeg) // 2], "image/jpeg"),
        "photos/V3/bomb.png": (huge_canvas_png(12000, 12000), "image/png"),
    }
    for key, (body, content_type) in bad.items():
        s3_client.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)
    other_bucket = f"{bucket}-other"
    s3_client.create_bucket(Bucket=other_bucket)
    s3_client.put_object(Bucket=other_bucket, Key="car.jpg", Body=jpeg)
    source_server.routes["/car.jpg"] = Answer(jpeg)
    images = [*items(bucket, list(bad)), f"s3://{other_bucket}/car.jpg", source_server.url("/car.jpg"),
              "http://images.dealer.example/car.jpg"]  # fmt: skip
    operator = ClippingMagicAutoClipOperator(task_id="refusals", images=images, dest_bucket=bucket)
    # The dealer's host name resolves to a private address: refused at the resolution step, nothing sent.
    operator.policy = dataclasses.replace(operator.policy, resolve=lambda *args, **kwargs: [
        (2, 1, 6, "", ("10.1.2.3", 80))])  # fmt: skip

    results = operator.execute({})

    reasons = {r["name"]: r["error"] for r in results}
    assert {r["status"] for r in results} == {"refused"}
    assert "is text/html, not an image" in reasons["html"]
    assert "is empty (0 bytes)" in reasons["empty"]
    assert "is a truncated JPEG" in reasons["truncated"]
    assert "12000x12000 = 144,000,000 pixels, over the 64,000,000 pixel limit" in reasons["bomb"]
    by_source = {r["source"]: r["error"] for r in results}
    assert f"bucket '{other_bucket}' is not an allowed image bucket" in by_source[f"s3://{other_bucket}/car.jpg"]
    assert "127.0.0.1 is a loopback address" in by_source[source_server.url("/car.jpg")]
    assert "images.dealer.example (10.1.2.3) is a private address" in by_source["http://images.dealer.example/car.jpg"]
    assert source_server.gets == {}
    assert uploads(cm) == 0 and cm.ledger()["charges"] == {}
    assert "Contents" not in s3_client.list_objects_v2(Bucket=bucket, Prefix="records/"), "nothing was claimed"


def test_oversize_and_slow_drip_downloads_are_cut_off_and_refused(cm, bucket, auto_clip, source_server):
    jpeg = jpeg_bytes()
    source_server.routes["/big.jpg"] = Answer(jpeg + b"\0" * 200_000)
    source_server.routes["/drip.jpg"] = Answer(jpeg, drip_seconds=0.05)
    images = [{"source": source_server.url(path), "vehicle_id": "V4"} for path in ("/big.jpg", "/drip.jpg")]

    started = time.monotonic()
    results = auto_clip(bucket, images, allowed_networks=["127.0.0.1/32"], max_source_bytes=100_000,
                        source_deadline_seconds=1.0)  # fmt: skip

    assert time.monotonic() - started < 15
    assert [r["status"] for r in results] == ["refused", "refused"]
    assert "is 0.2 MB, over the 0.1 MB limit" in results[0]["error"]
    assert "took longer than the time limit to download" in results[1]["error"]
    assert uploads(cm) == 0 and cm.ledger()["charges"] == {}


def test_an_http_source_without_validators_is_read_once_and_known_by_its_content(
    cm, s3_client, bucket, auto_clip, source_server
):
    source_server.routes["/lot/car.jpg"] = Answer(jpeg_bytes(colour="red"))
    signed = source_server.url("/lot/car.jpg", "X-Signature=very-secret-token")
    images = [{"source": signed, "vehicle_id": "V5", "name": "01-front"}]

    (result,) = auto_clip(bucket, images, allowed_networks=["127.0.0.1/32"])
    (again,) = auto_clip(bucket, images, allowed_networks=["127.0.0.1/32"])

    assert result["status"] == "final" and result["identity"].startswith("sha256:")
    assert again["reused"] and again["identity"] == result["identity"]
    assert source_server.gets["/lot/car.jpg"] == 2, "one download per run: identity, inspection and upload"
    assert uploads(cm) == 1
    assert result["source"] == source_server.url("/lot/car.jpg") + "?…"
    records = s3_client.list_objects_v2(Bucket=bucket, Prefix="records/clippingmagic/")["Contents"]
    written = "".join(s3_client.get_object(Bucket=bucket, Key=o["Key"])["Body"].read().decode() for o in records)
    assert "very-secret-token" not in written + json.dumps([result, again])


def test_requests_in_flight_stay_within_concurrency_and_429s_are_waited_out(cm, s3_client, bucket, auto_clip):
    keys = [f"photos/V8/{n:02d}-side.jpg" for n in range(6)]
    put_images(s3_client, bucket, keys)
    cm.configure(concurrency_cap=2, latency_ms=100)

    results = auto_clip(bucket, items(bucket, keys), concurrency=2)

    assert [r["status"] for r in results] == ["final"] * 6
    assert "429" not in cm.requests()["status_codes"], "never more than 2 requests in flight"

    cm.configure(concurrency_cap=0, rate_limit_next=3)
    more = [f"photos/V9/{n:02d}-side.jpg" for n in range(2)]
    put_images(s3_client, bucket, more)
    assert [r["status"] for r in auto_clip(bucket, items(bucket, more))] == ["final"] * 2
    assert cm.requests()["status_codes"]["429"] == 3
    charges = cm.ledger()["charges"]
    assert uploads(cm) <= 8 + 3 and len(charges) == 8 and set(charges.values()) == {1}


def test_running_out_of_credits_stops_new_uploads_and_fails_without_retry(cm, s3_client, bucket, auto_clip):
    keys = [f"photos/V6/{n:02d}-front.jpg" for n in range(5)]
    put_images(s3_client, bucket, keys)
    cm.configure(credits=2)
    results_uri = f"s3://{bucket}/runs/credits.jsonl"

    with pytest.raises(AirflowFailException, match="Clipping Magic auto-clip stopped: CreditsError"):
        auto_clip(bucket, items(bucket, keys), concurrency=1, results_uri=results_uri)

    rows = parse_results_jsonl(s3_client.get_object(Bucket=bucket, Key="runs/credits.jsonl")["Body"].read())
    assert sorted(row.status for row in rows) == ["final", "final", "skipped", "skipped", "skipped"]
    reasons = sorted(row.error for row in rows if row.status == "skipped")
    assert "402" in reasons[0] and reasons[1].startswith("not started: CreditsError") and reasons[1] == reasons[2]
    assert uploads(cm) == 3 and sum(cm.ledger()["charges"].values()) == 2
    records = s3_client.list_objects_v2(Bucket=bucket, Prefix="records/clippingmagic/")["Contents"]
    assert len(records) == 2, "the refused upload's claim was given back; the others were never claimed"


def test_runs_in_airflow_with_templated_arguments_and_returns_only_counts(
    airflow_home, cm, s3_client, bucket, photos, tmp_path, monkeypatch
):
    s3_client.put_object(Bucket=bucket, Key="batches/b1.json", Body=json.dumps(photos).encode())
    run = run_dag(
        tmp_path / "dags", monkeypatch, "cm_auto_clip",
        f"""
        @task
        def outputs():
            return ["alpha_mask_png", "result"]

        ClippingMagicAutoClipOperator(
            task_id="auto_clip", images="s3://{bucket}/batches/b1.json", dest_bucket="{bucket}",
            outputs=outputs(), test="{{{{ dag_run.conf.get('test', 'false') }}}}", concurrency=2,
            results_uri="s3://{bucket}/runs/{{{{ ds }}}}/autoclip.jsonl",
        )
        """,
    )  # fmt: skip

    assert task_states(run) == {"outputs": "success", "auto_clip": "success"}
    counts = xcom(run, "auto_clip")
    assert (counts["images"], counts["final"], counts["credits_this_run"]) == (3, 3, 3)
    written = s3_client.get_object(Bucket=bucket, Key=counts["results_uri"].split("/", 3)[3])["Body"].read()
    rows = parse_results_jsonl(written)
    assert [sorted(row.outputs) for row in rows] == [["alpha_mask_png", "result"]] * 3


def test_unanswered_uploads_stay_claimed_fail_the_task_and_a_rerun_resumes_them(cm, s3_client, bucket, photos,
                                                                                auto_clip):  # fmt: skip
    cm.configure(error_5xx_ratio=1.0)

    with pytest.raises(AirflowException, match="2 of 2 images failed"):
        auto_clip(bucket, photos[:2], results_uri=f"s3://{bucket}/runs/first.jsonl", claim_lease_seconds=1)

    rows = parse_results_jsonl(s3_client.get_object(Bucket=bucket, Key="runs/first.jsonl")["Body"].read())
    assert [row.status for row in rows] == ["pending", "pending"]
    assert all("ServerError" in row.error and "a rerun resumes it" in row.error for row in rows)
    cm.configure(error_5xx_ratio=0.0)

    time.sleep(2.1)  # the first task is gone: one lease (S3's clock, one-second resolution) later its claims are free
    rerun = auto_clip(bucket, photos[:2])

    assert [r["status"] for r in rerun] == ["final", "final"]
    assert sorted(cm.ledger()["charges"].values()) == [1, 1]
    digest = options_digest(identity_of(s3_client, bucket, KEYS[0]), PRODUCTION)
    assert ImageRecordStore(bucket).get("clippingmagic", digest).record.attempts == 2


def test_an_upload_the_first_release_recorded_is_downloaded_not_paid_again(cm, s3_client, bucket, photos, auto_clip,
                                                                           fast_conn):  # fmt: skip
    earlier = ClippingMagicHook(fast_conn()).auto_clip(jpeg_bytes(), io.BytesIO(), filename="01-front.jpg")
    identity = identity_of(s3_client, bucket, KEYS[0])
    # What round 1 wrote once the upload had answered: same key and digest, no claim fields.
    ImageRecordStore(bucket).create(ImageRecord(
        "clippingmagic", identity, PRODUCTION, "submitted", source=f"s3://{bucket}/{KEYS[0]}",
        provider_ref={"image_id": earlier.image_id}, credits_charged=1, attempts=1,
    ))  # fmt: skip

    (result,) = auto_clip(bucket, photos[:1])

    assert result["status"] == "final" and result["credits_this_run"] == 0 and result["credits_charged"] == 1
    assert uploads(cm) == 1 and cm.ledger()["charges"] == {str(earlier.image_id): 1}


# A service that lists late, loses answers and holds uploads (issue 18 points 6, 11, 12; issue 19 point 2)


def recorded_credits(s3_client, bucket: str) -> int:
    """The credits all the bucket's Clipping Magic records say were charged."""
    listing = s3_client.list_objects_v2(Bucket=bucket, Prefix="records/clippingmagic/")
    keys = [entry["Key"] for entry in listing.get("Contents", []) if entry["Key"].endswith(".json")]
    records = [json.loads(s3_client.get_object(Bucket=bucket, Key=key)["Body"].read()) for key in keys]
    return sum(record.get("credits_charged", 0) for record in records if "identity" in record)


def assert_records_match_the_ledger(cm, s3_client, bucket: str) -> None:
    assert recorded_credits(s3_client, bucket) == sum(cm.ledger()["charges"].values())


def test_a_lost_upload_answer_listed_late_is_found_over_the_grace_period_not_paid_again(cm, s3_client, bucket, photos,
                                                                                       auto_clip):  # fmt: skip
    cm.configure(lost_upload_answers=1, list_delay=1.5)

    (result,) = auto_clip(bucket, photos[:1], registration_grace_seconds=4)

    assert result["status"] == "final" and result["credits_this_run"] == 1
    assert uploads(cm) == 1 and list(cm.ledger()["charges"].values()) == [1]
    assert_records_match_the_ledger(cm, s3_client, bucket)


def test_an_upload_held_past_the_client_timeout_is_found_not_paid_again(cm, s3_client, bucket, photos, fast_conn):
    cm.configure(upload_hold_seconds=1.5, list_delay=0.5)
    operator = ClippingMagicAutoClipOperator(
        task_id="held", images=photos[:1], dest_bucket=bucket, registration_grace_seconds=4,
        clippingmagic_conn_id=fast_conn("cm_short_timeout", timeout=0.5),
    )  # fmt: skip

    (result,) = operator.execute({})

    assert result["status"] == "final" and result["credits_this_run"] == 1
    assert uploads(cm) == 1 and list(cm.ledger()["charges"].values()) == [1]
    assert_records_match_the_ledger(cm, s3_client, bucket)


def test_a_402_on_attempt_two_never_gives_back_a_claim_whose_attempt_one_was_billed(cm, s3_client, bucket, photos,
                                                                                    auto_clip):  # fmt: skip
    cm.configure(credits=1, lost_upload_answers=1, list_delay=1.0)  # attempt 1 uses the last credit

    (result,) = auto_clip(bucket, photos[:1], registration_grace_seconds=3)

    assert result["status"] == "final" and result["credits_charged"] == 1
    assert uploads(cm) == 1 and "402" not in cm.requests()["status_codes"]
    assert_records_match_the_ledger(cm, s3_client, bucket)


def test_a_lost_upload_is_looked_for_in_a_window_of_a_100k_image_account_not_the_whole_list(
    cm, s3_client, bucket, photos, auto_clip
):
    cm.configure(preloaded_images=100_000, lost_upload_answers=2, list_delay=0.5)

    results = auto_clip(bucket, photos, registration_grace_seconds=3)

    assert [r["status"] for r in results] == ["final"] * 3
    assert uploads(cm) == 3 and sorted(cm.ledger()["charges"].values()) == [1, 1, 1]
    assert_records_match_the_ledger(cm, s3_client, bucket)
    # Reading the whole list once is 1,001 requests; the anchor and each lookup read a few pages.
    assert cm.requests()["counts"]["list"] < 100


def test_a_lost_upload_is_found_in_a_newest_first_list_too(cm, hook_factory):
    cm.configure(preloaded_images=100_000, list_order="descending")
    hook = hook_factory()
    anchor = hook.list_anchor()
    uploaded = hook.upload(jpeg_bytes(), filename="car.0123.jpg", test=True)
    before = cm.requests()["counts"]["list"]

    assert hook.find_upload("car.0123", anchor).id == uploaded.id
    assert hook.find_upload("stock-2345", anchor) is None, "older images are outside the window"
    assert cm.requests()["counts"]["list"] - before == 2, "one page each: the newest come first"


def test_claims_that_used_up_their_attempts_end_failed_with_a_reason(cm, s3_client, bucket, photos, auto_clip,
                                                                     fast_conn):  # fmt: skip
    never_uploaded = dataclasses.replace(stale_claim(s3_client, bucket, KEYS[0], "01-front"), attempts=3,
                                         last_error="ServerError: 500")  # fmt: skip
    # An upload for review has no result: its download never succeeds, try after try.
    no_result = ClippingMagicHook(fast_conn()).upload(jpeg_bytes(), filename="review.jpg")
    never_final = dataclasses.replace(
        stale_claim(s3_client, bucket, KEYS[1], "02-rear"), attempts=3, provider_ref={"image_id": no_result.id},
        credits_charged=1, last_error="BadRequestError: no result",
    )  # fmt: skip
    store = ImageRecordStore(bucket)
    for claim in (never_uploaded, never_final):
        store.replace(store.get("clippingmagic", claim.digest), claim)

    with pytest.raises(AirflowException, match="2 of 2 images failed"):
        auto_clip(bucket, photos[:2])

    for claim in (never_uploaded, never_final):
        record = store.get("clippingmagic", claim.digest).record
        assert record.status == "failed" and record.last_error.startswith("gave up after 3 attempts; last error: ")
    assert uploads(cm) == 1 and cm.ledger()["charges"] == {}, "the review upload is free; nothing was uploaded again"


def test_grace_longer_than_the_execution_timeout_allows_is_refused(bucket, photos, fast_conn):
    operator = ClippingMagicAutoClipOperator(
        task_id="slow", images=photos, dest_bucket=bucket, clippingmagic_conn_id=fast_conn(),
        execution_timeout=timedelta(minutes=1), registration_grace_seconds=120,
    )  # fmt: skip

    with pytest.raises(ValueError, match=r"one call may take \d+ s: more than half the task's execution_timeout"):
        operator.execute({})


def test_waiting_on_another_tasks_claim_stops_before_the_execution_timeout(cm, s3_client, bucket, photos, fast_conn):
    live = dataclasses.replace(stale_claim(s3_client, bucket, KEYS[0], "01-front"), claimed_at=time.time(),
                               lease_seconds=1800.0)  # its holder renews it  # fmt: skip
    store = ImageRecordStore(bucket)
    store.replace(store.get("clippingmagic", live.digest), live)
    operator = ClippingMagicAutoClipOperator(
        task_id="waiting", images=photos[:1], dest_bucket=bucket, registration_grace_seconds=1,
        clippingmagic_conn_id=fast_conn("cm_one_try", timeout=1, max_attempts=1),  # a call takes 11 s at worst
        execution_timeout=timedelta(seconds=24),
    )  # fmt: skip
    outcome: list[Any] = []
    worker = threading.Thread(target=lambda: outcome.append(_raised(operator.execute, {})), daemon=True)

    worker.start()
    worker.join(timeout=30)

    assert outcome, "the task still waits on a claim whose lease (30 min) outlives its execution_timeout"
    assert isinstance(outcome[0], AirflowException) and "claimed by vehicle_listings/crashed-run" in str(outcome[0])
    assert uploads(cm) == 0


def _raised(call: Any, *args: Any) -> Any:
    try:
        return call(*args)
    except Exception as error:
        return error


def test_a_200_download_that_is_not_the_file_is_never_stored_nor_final(cm, s3_client, bucket, photos, auto_clip):
    cm.configure(storage_bad_body="html")  # the SVG and the mask are downloaded from storage

    with pytest.raises(AirflowException, match="1 of 1 images failed"):
        auto_clip(bucket, photos[:1], results_uri=f"s3://{bucket}/runs/html.jsonl", claim_lease_seconds=1)

    (row,) = parse_results_jsonl(s3_client.get_object(Bucket=bucket, Key="runs/html.jsonl")["Body"].read())
    assert row.status == "pending" and "is not an SVG document" in row.error
    stored = [o["Key"] for o in s3_client.list_objects_v2(Bucket=bucket, Prefix="processed/").get("Contents", [])]
    assert not [key for key in stored if key.endswith((".svg", ".mask.png"))]
    cm.configure(storage_bad_body="")

    time.sleep(2.1)  # one lease after the first task's last write (S3's clock, one-second resolution)
    (rerun,) = auto_clip(bucket, photos[:1])

    assert rerun["status"] == "final" and rerun["credits_this_run"] == 0
    assert uploads(cm) == 1 and list(cm.ledger()["charges"].values()) == [1]
    assert_records_match_the_ledger(cm, s3_client, bucket)


def test_an_output_written_before_is_never_overwritten(cm, s3_client, bucket, photos, auto_clip):
    digest = options_digest(identity_of(s3_client, bucket, KEYS[0]), PRODUCTION)
    svg_key = f"processed/V1/clippingmagic/01-front-{digest[:16]}.svg"
    earlier = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><!-- an earlier try --></svg>'
    s3_client.put_object(Bucket=bucket, Key=svg_key, Body=earlier)

    (result,) = auto_clip(bucket, photos[:1])

    assert result["status"] == "final" and result["outputs"]["clipping_path_svg"] == f"s3://{bucket}/{svg_key}"
    assert s3_client.get_object(Bucket=bucket, Key=svg_key)["Body"].read() == earlier
