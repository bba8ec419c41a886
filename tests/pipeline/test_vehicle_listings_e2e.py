"""The vehicle_listings DAG end to end under Airflow's own runner (`airflow dags test`) on the local stack:
valid and invalid rows in three formats, both providers, features and hotspots, sold vehicles, then the same
date again with zero new charges and the same manifest; a dry run; Car-Cutter running out of credits."""

from __future__ import annotations

import json

import pytest

from dev.sampledata import generate, upload
from tests.dag_runs import dags_test

DS = "2026-11-02"
VEHICLES = 4
IMAGES_PER_VEHICLE = 4
MAX_XCOM_BYTES = 64 * 1024


def read_json(s3_client, bucket: str, key: str):
    return json.loads(s3_client.get_object(Bucket=bucket, Key=key)["Body"].read())


def keys(s3_client, bucket: str, prefix: str) -> list[str]:
    listed = s3_client.list_objects_v2(Bucket=bucket, Prefix=prefix)
    return sorted(item["Key"] for item in listed.get("Contents", []))


def run_dag(bucket: str, log, check: bool = True, **params: object) -> int:
    return dags_test("vehicle_listings", DS, log, params, check=check, AIRFLOW_VAR_VEHICLE_PHOTOS_BUCKET=bucket)


@pytest.fixture
def sample(tmp_path, local_stack, bucket):
    data = generate(
        tmp_path / "sample", seed=11, vehicles=VEHICLES, images_per_vehicle=IMAGES_PER_VEHICLE, megapixels=0.2,
        bucket=bucket, http_base_url=f"{local_stack.s3_url}/{bucket}", inject_bad_rows=True,
    )  # fmt: skip
    upload(data, bucket=bucket, listing_date=DS, endpoint_url=local_stack.s3_url)
    return data


def test_pipeline_end_to_end_and_rerun_charges_nothing(
    airflow_home, sample, bucket, s3_client, carcutter_server, clippingmagic_server, tmp_path
):
    from vehicle_photos.carcutter.hooks.carcutter import CarCutterHook

    hook = CarCutterHook()
    sold = [row for row in sample.rows if row["listing_status"] != "active"]
    assert sold, "the sample should carry a sold vehicle"
    for row in sold:  # it was on sale, and so on Car-Cutter, on an earlier date
        hook.submit_vehicle(row["vehicle_id"], vehicle_manufacturer=row["make"])
        hook.submit_feature(row["vehicle_id"], title="Old feature", icon="star", type="text")

    run_dag(bucket, tmp_path / "run-1.log")

    active = [row for row in sample.rows if row["listing_status"] == "active"]
    active_images = [image for row in active for image in row["images"]]
    manifest = read_json(s3_client, bucket, f"manifests/dt={DS}/manifest.json")
    assert len(manifest) == len(active_images)
    assert {row["status"] for row in manifest} == {"final"}, [r for r in manifest if r["status"] != "final"]
    by_provider = {p: [r for r in manifest if r["provider"] == p] for p in ("carcutter", "clippingmagic")}
    assert len(by_provider["clippingmagic"]) == sum(1 for i in active_images if i["provider"] == "clippingmagic")
    for row in manifest:
        assert row["result"].startswith(f"s3://{bucket}/processed/{row['vehicle_id']}/{row['provider']}/")
    for row in by_provider["clippingmagic"]:
        assert row["clipping_path_svg"].endswith(".svg")
        assert row["alpha_mask_png"].endswith(".png")
    assert keys(s3_client, bucket, f"manifests/dt={DS}/") == [
        f"manifests/dt={DS}/manifest.json", f"manifests/dt={DS}/manifest.parquet"
    ]  # fmt: skip

    rejected = [json.loads(line) for line in s3_client.get_object(
        Bucket=bucket, Key=f"rejected/dt={DS}/rejected.jsonl")["Body"].read().decode().splitlines()]  # fmt: skip
    assert len(rejected) == len(sample.injected)
    assert all(item["file"].startswith(f"listings/dt={DS}/") and item["reason"] and item["line"] for item in rejected)
    assert any("ftp" in item["reason"] for item in rejected)
    assert any("superseded" in item["reason"] for item in rejected)

    report = s3_client.get_object(Bucket=bucket, Key=f"reports/dt={DS}/report.html")["Body"].read().decode()
    assert f"Vehicle photos for {DS}" in report
    assert report.count("<img ") == 2 * len(active_images)  # a before and an after thumbnail per image
    assert report.count('src="data:image/') == 2 * len(active_images)  # embedded: the report stands alone
    assert report_link_in_ui().startswith("/run-report/vehicle_listings/publish_run?run_id=")  # the api-server's app
    assert keys(s3_client, bucket, f"listings/dt={DS}/") == []
    assert len(keys(s3_client, bucket, f"archive/dt={DS}/")) == len(sample.listing_files)

    for row in active:
        features = hook.get_features(row["vehicle_id"])
        assert sorted(f["title"] for f in features) == sorted(f["title"] for f in row["features"])
    with_carcutter_images = {row["vehicle_id"] for row in by_provider["carcutter"]}
    for row in active:  # registered before their images went: a submission takes a vehicle off the shot list
        vehicle = hook.get_vehicle(row["vehicle_id"])
        assert vehicle["vehicle_manufacturer"] == row["make"]
        assert vehicle["app_status"] == ("active" if row["vehicle_id"] in with_carcutter_images else "new")
    annotated = [(row["vehicle_id"], h) for row in active for h in row["hotspots"]]
    assert annotated, "the sample should carry hotspots"
    vehicle_id, hotspot = annotated[0]
    image_name = f"{hotspot['image']:02d}-{sample_angle(active, vehicle_id, hotspot['image'])}"
    annotations = hook.get_annotations(f"{vehicle_id}/{image_name}")
    assert (hotspot["x"], hotspot["y"]) in {(int(a.get("position_x")), int(a.get("position_y"))) for a in annotations}
    for row in sold:
        assert hook.get_vehicle(row["vehicle_id"])["app_status"] == "deleted"
        assert hook.get_features(row["vehicle_id"]) == []

    carcutter_charges = carcutter_server.ledger()["charges"]
    clippingmagic_charges = clippingmagic_server.ledger()["charges"]
    assert sum(carcutter_charges.values()) == len(by_provider["carcutter"])
    assert set(carcutter_charges.values()) == {1}
    assert sum(clippingmagic_charges.values()) == len(by_provider["clippingmagic"])
    assert read_json(s3_client, bucket, f"reports/dt={DS}/summary.json")["credits_this_run"] == len(manifest)
    assert largest_xcom("vehicle_listings") < MAX_XCOM_BYTES

    calls_before = {name: server.requests()["counts"] for name, server in
                    (("carcutter", carcutter_server), ("clippingmagic", clippingmagic_server))}  # fmt: skip
    run_dag(bucket, tmp_path / "run-2.log")  # the same date again: everything from the records, no API call
    assert carcutter_server.ledger()["charges"] == carcutter_charges
    assert clippingmagic_server.ledger()["charges"] == clippingmagic_charges
    assert carcutter_server.requests()["counts"] == calls_before["carcutter"]
    assert clippingmagic_server.requests()["counts"] == calls_before["clippingmagic"]
    assert read_json(s3_client, bucket, f"manifests/dt={DS}/manifest.json") == manifest
    summary = read_json(s3_client, bucket, f"reports/dt={DS}/summary.json")
    assert summary["credits_this_run"] == 0

    dry_log = tmp_path / "dry-after-real.log"
    run_dag(bucket, dry_log, dry_run=True)
    assert "credits this run would spend: Car-Cutter 0, Clipping Magic 0" in dry_log.read_text()


def report_link_in_ui() -> str:
    """What the "Run report" button of the publish_run task opens (stored by Airflow as the link's XCom)."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    from vehicle_photos.run_report import RunReportLink

    with create_session() as session:
        stored = session.scalars(
            select(XComModel.value)
            .where(XComModel.dag_id == "vehicle_listings", XComModel.task_id == "publish_run")
            .where(XComModel.key == RunReportLink().xcom_key)
            .order_by(XComModel.timestamp.desc())
        ).first()
    assert stored, "publish_run stored no Run report link"
    return stored.strip('"') if isinstance(stored, str) else stored


def largest_xcom(dag_id: str) -> int:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import func, select

    with create_session() as session:
        return session.scalar(select(func.max(func.length(XComModel.value))).where(XComModel.dag_id == dag_id)) or 0


def sample_angle(active: list[dict], vehicle_id: str, index: int) -> str:
    row = next(row for row in active if row["vehicle_id"] == vehicle_id)
    return row["images"][index]["angle"] or "image"


def test_dry_run_of_a_vehicle_subset_estimates_the_worst_case_and_spends_nothing(
    airflow_home, sample, bucket, s3_client, carcutter_server, clippingmagic_server, tmp_path
):
    vehicle = next(row for row in sample.rows if row["listing_status"] == "active")
    log = tmp_path / "dry-run.log"
    run_dag(bucket, log, dry_run=True, vehicle_ids=[vehicle["vehicle_id"]])

    carcutter = sum(1 for image in vehicle["images"] if image["provider"] != "clippingmagic")
    clips = (len(vehicle["images"]) - carcutter) * 3  # result, SVG and mask may each cost a credit
    assert f"credits this run would spend: Car-Cutter {carcutter}, Clipping Magic {clips}" in log.read_text()
    assert carcutter_server.ledger()["charges"] == {}
    assert clippingmagic_server.ledger()["charges"] == {}
    assert keys(s3_client, bucket, f"rejected/dt={DS}/") == [f"rejected/dt={DS}/rejected.jsonl"]
    assert keys(s3_client, bucket, "processed/") == []
    assert keys(s3_client, bucket, f"manifests/dt={DS}/") == []
    assert len(keys(s3_client, bucket, f"listings/dt={DS}/")) == len(sample.listing_files)  # not archived


def test_carcutter_running_out_of_credits_stops_the_run_with_what_was_done_recorded(
    airflow_home, sample, bucket, s3_client, carcutter_server, clippingmagic_server, tmp_path
):
    carcutter_server.configure(credits=5)
    log = tmp_path / "no-credits.log"
    assert run_dag(bucket, log, check=False, batch_size=1) != 0
    assert "Credits exceeded" in log.read_text()

    manifest = read_json(s3_client, bucket, f"manifests/dt={DS}/manifest.json")
    done = [row for row in manifest if row["provider"] == "carcutter" and row["status"] == "final"]
    assert 0 < len(done) <= 5
    assert sum(carcutter_server.ledger()["charges"].values()) == len(done)
    skipped = [row for row in manifest if row["status"] == "skipped"]
    assert skipped and all("credits" in row["error"].lower() for row in skipped)
    report = s3_client.get_object(Bucket=bucket, Key=f"reports/dt={DS}/report.html")["Body"].read().decode()
    assert "Failures (0)" not in report
