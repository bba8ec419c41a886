"""Never bill twice, never lose an output, through the real DAG: a backfill beside the daily run over the same
photos at the same time, two vehicles sharing one photo in different batches, and files that arrive late."""

from __future__ import annotations

import json
import time

from dev.sampledata import generate, upload
from tests.dag_runs import dags_test, start_dags_test
from vehicle_photos.image_common.records import ImageRecord

DAILY, BACKFILL = "2026-11-20", "2026-11-13"
# The least friendly plausible Car-Cutter (issue 18): submissions filed late, answers lost after billing.
LAGGING_CARCUTTER = {"registration_delay_seconds": 2.0, "lost_answers": 2}


def read_json(s3_client, bucket: str, key: str):
    return json.loads(s3_client.get_object(Bucket=bucket, Key=key)["Body"].read())


def listed(s3_client, bucket: str, prefix: str) -> list[str]:
    return sorted(item["Key"] for item in s3_client.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", []))


def recorded_credits(s3_client, bucket: str, provider: str) -> int:
    """The credits the image records of `provider` say were charged (the records, not the index)."""
    keys = listed(s3_client, bucket, f"records/{provider}/")
    return sum(ImageRecord.from_json(s3_client.get_object(Bucket=bucket, Key=key)["Body"].read()).credits_charged
               for key in keys if key.endswith(".json"))  # fmt: skip


def put_listing(s3_client, bucket: str, date: str, name: str, rows: list[dict]) -> None:
    body = "".join(json.dumps(row) + "\n" for row in rows).encode()
    s3_client.put_object(Bucket=bucket, Key=f"listings/dt={date}/{name}", Body=body)


def test_a_backfill_beside_the_daily_run_charges_each_image_once(
    airflow_home, second_airflow_home, tmp_path, local_stack, bucket, s3_client, carcutter_server,
    clippingmagic_server,
):  # fmt: skip
    sample = generate(
        tmp_path / "sample", seed=21, vehicles=4, images_per_vehicle=3, megapixels=0.1, bucket=bucket,
        http_base_url=f"{local_stack.s3_url}/{bucket}",
    )  # fmt: skip
    upload(sample, bucket=bucket, listing_date=DAILY, endpoint_url=local_stack.s3_url)
    rows = [row for row in sample.rows if row["listing_status"] == "active"]
    first, second = rows[0], rows[1]
    # the same inventory listed on the backfilled date, and one photo shown for two vehicles
    shared = {**second, "images": [*second["images"], first["images"][0]]}
    put_listing(s3_client, bucket, BACKFILL, "inventory.jsonl", [shared, *[row for row in rows if row is not second]])

    carcutter_server.configure(**LAGGING_CARCUTTER)
    bucket_env = {"AIRFLOW_VAR_VEHICLE_PHOTOS_BUCKET": bucket}
    conf = {"batch_size": 1}  # every vehicle in a batch (a mapped task) of its own
    daily = start_dags_test("vehicle_listings", DAILY, tmp_path / "daily.log", conf, **bucket_env)
    backfill = start_dags_test(
        "vehicle_listings", BACKFILL, tmp_path / "backfill.log", conf, **bucket_env, **second_airflow_home
    )
    for run, log in ((daily, "daily.log"), (backfill, "backfill.log")):
        assert run.wait(timeout=600) == 0, (tmp_path / log).read_text()[-6000:]

    images = {(image["ref"], image["provider"]) for row in rows for image in row["images"]}
    carcutter_images = sum(1 for _, provider in images if provider != "clippingmagic")
    assert sum(carcutter_server.ledger()["charges"].values()) == carcutter_images
    assert recorded_credits(s3_client, bucket, "carcutter") == carcutter_images
    assert sum(clippingmagic_server.ledger()["charges"].values()) == len(images) - carcutter_images
    manifests = {date: read_json(s3_client, bucket, f"manifests/dt={date}/manifest.json") for date in (DAILY, BACKFILL)}
    assert {row["status"] for rows in manifests.values() for row in rows} == {"final"}
    outputs = {date: {(r["vehicle_id"], r["name"]): r["result"] for r in rows} for date, rows in manifests.items()}
    assert all(outputs[BACKFILL][key] == result for key, result in outputs[DAILY].items())  # the same outputs
    angle = first["images"][0]["angle"] or "image"
    shared_name = f"{len(second['images']):02d}-{angle}"
    shared_output = outputs[BACKFILL][(second["vehicle_id"], shared_name)]
    assert shared_output == outputs[DAILY][(first["vehicle_id"], f"00-{angle}")]
    spent = sum(read_json(s3_client, bucket, f"reports/dt={date}/summary.json")["credits_this_run"]
                for date in (DAILY, BACKFILL))  # fmt: skip
    assert spent == len(images)


def test_late_files_and_reruns_publish_the_whole_date(
    airflow_home, tmp_path, local_stack, bucket, s3_client, carcutter_server, clippingmagic_server
):
    sample = generate(
        tmp_path / "sample", seed=22, vehicles=3, images_per_vehicle=2, megapixels=0.1, bucket=bucket,
        http_base_url=f"{local_stack.s3_url}/{bucket}",
    )  # fmt: skip
    upload(sample, bucket=bucket, listing_date="2000-01-01", endpoint_url=local_stack.s3_url)  # the photos only
    rows = [row for row in sample.rows if row["listing_status"] == "active"]
    put_listing(s3_client, bucket, DAILY, "morning.jsonl", rows[:2])
    carcutter_server.configure(**LAGGING_CARCUTTER)
    bucket_env = {"AIRFLOW_VAR_VEHICLE_PHOTOS_BUCKET": bucket}
    dags_test("vehicle_listings", DAILY, tmp_path / "first.log", **bucket_env)
    first = read_json(s3_client, bucket, f"manifests/dt={DAILY}/manifest.json")
    assert {row["vehicle_id"] for row in first} == {row["vehicle_id"] for row in rows[:2]}
    charged = sum(carcutter_server.ledger()["charges"].values())
    charged += sum(clippingmagic_server.ledger()["charges"].values())

    time.sleep(1.1)  # upload times have one-second resolution: the late file is later
    put_listing(s3_client, bucket, DAILY, "evening.jsonl", [rows[2], {"vehicle_id": "NOT-A-VIN", "images": []}])
    dags_test("vehicle_listings", DAILY, tmp_path / "rerun.log", **bucket_env)

    manifest = read_json(s3_client, bucket, f"manifests/dt={DAILY}/manifest.json")
    assert {row["vehicle_id"] for row in manifest} == {row["vehicle_id"] for row in rows}  # the whole date
    assert {row["status"] for row in manifest} == {"final"}
    late_images = len(rows[2]["images"])
    assert (sum(carcutter_server.ledger()["charges"].values())
            + sum(clippingmagic_server.ledger()["charges"].values())) == charged + late_images  # fmt: skip
    carcutter_charged = sum(carcutter_server.ledger()["charges"].values())
    assert recorded_credits(s3_client, bucket, "carcutter") == carcutter_charged
    rejected = s3_client.get_object(Bucket=bucket, Key=f"rejected/dt={DAILY}/rejected.jsonl")["Body"].read()
    assert b"NOT-A-VIN" in rejected and b"evening.jsonl" in rejected
    assert listed(s3_client, bucket, f"listings/dt={DAILY}/") == []
    assert [key.rsplit("/", 1)[-1] for key in listed(s3_client, bucket, f"archive/dt={DAILY}/")] == [
        "evening.jsonl", "morning.jsonl"
    ]  # fmt: skip


def test_clipping_magic_losing_answers_and_listing_late_still_charges_each_image_once(
    airflow_home, tmp_path, local_stack, bucket, s3_client, carcutter_server, clippingmagic_server
):
    sample = generate(
        tmp_path / "sample", seed=23, vehicles=3, images_per_vehicle=3, megapixels=0.1, bucket=bucket,
        http_base_url=f"{local_stack.s3_url}/{bucket}",
    )  # fmt: skip
    upload(sample, bucket=bucket, listing_date=DAILY, endpoint_url=local_stack.s3_url)
    rows = [row for row in sample.rows if row["listing_status"] == "active"]
    clippingmagic_images = {
        image["ref"] for row in rows for image in row["images"] if image["provider"] == "clippingmagic"
    }
    assert len(clippingmagic_images) >= 2
    # the first uploads are processed and billed but their answers lost, and uploads are listed late
    clippingmagic_server.configure(lost_upload_answers=2, list_delay=4, preloaded_images=5_000)

    dags_test("vehicle_listings", DAILY, tmp_path / "lossy.log", AIRFLOW_VAR_VEHICLE_PHOTOS_BUCKET=bucket,
              AIRFLOW_VAR_VEHICLE_PHOTOS_REGISTRATION_GRACE_SECONDS="8")  # fmt: skip

    manifest = read_json(s3_client, bucket, f"manifests/dt={DAILY}/manifest.json")
    assert {row["status"] for row in manifest} == {"final"}
    charges = clippingmagic_server.ledger()["charges"]
    assert len(charges) == len(clippingmagic_images) and set(charges.values()) == {1}
    assert recorded_credits(s3_client, bucket, "clippingmagic") == sum(charges.values())
    assert clippingmagic_server.requests()["counts"]["list"] < 100, "never the whole 5,000-image list"
