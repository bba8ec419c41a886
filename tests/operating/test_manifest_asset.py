"""Handing the manifest on: a vehicle_listings run publishes the date's manifest as an asset event at the
deployment's own bucket and prefix, and Airflow's scheduler starts the example consumer, which loads that
manifest. The consumer runs under the real scheduler, dag-processor, api-server and LocalExecutor."""

from __future__ import annotations

import json

import pytest

from dev.sampledata import generate, upload
from tests.dag_runs import dags_test
from tests.operating.scheduled_airflow import scheduled_airflow

pytestmark = pytest.mark.timeout(1500)

DS = "2026-11-05"
CONSUMER = "vehicle_manifest_consumer_example"
MANIFESTS_PREFIX = "handover/manifests"  # not the default: the asset must follow the deployment's setting


def test_a_published_date_starts_the_consumer_with_its_manifest(
    airflow_home, local_stack, bucket, s3_client, carcutter_server, clippingmagic_server, tmp_path
):
    data = generate(
        tmp_path / "sample", seed=5, vehicles=2, images_per_vehicle=2, megapixels=0.1, bucket=bucket,
        http_base_url=f"{local_stack.s3_url}/{bucket}",
    )  # fmt: skip
    upload(data, bucket=bucket, listing_date=DS, endpoint_url=local_stack.s3_url)
    settings = {"AIRFLOW_VAR_VEHICLE_PHOTOS_BUCKET": bucket,
                "AIRFLOW_VAR_VEHICLE_PHOTOS_MANIFESTS_PREFIX": MANIFESTS_PREFIX}  # fmt: skip

    with scheduled_airflow(tmp_path / "airflow", local_stack.environment(), settings, (CONSUMER,)) as airflow:
        airflow.airflow("dags", "unpause", CONSUMER)
        dags_test("vehicle_listings", DS, tmp_path / "producer.log", **airflow.env)
        run_id, state = airflow.wait_for_run(CONSUMER, timeout=600)
        loaded = airflow.xcom(CONSUMER, run_id, "load_manifest")
        assets = airflow.query("SELECT uri FROM asset ORDER BY uri")
        producer_runs = airflow.query("SELECT run_id FROM dag_run WHERE dag_id = 'vehicle_listings'")

    assert state == "success", loaded
    key = f"{MANIFESTS_PREFIX}/dt={DS}/manifest.json"
    manifest = json.loads(s3_client.get_object(Bucket=bucket, Key=key)["Body"].read())
    charged = sum(sum(server.ledger()["charges"].values()) for server in (carcutter_server, clippingmagic_server))
    assert len(loaded) == 1, loaded
    event = loaded[0]
    assert (event["date"], event["bucket"], event["manifest_key"]) == (DS, bucket, key)
    assert event["manifest_parquet_key"] == f"{MANIFESTS_PREFIX}/dt={DS}/manifest.parquet"
    assert event["rows"] == event["images"] == len(manifest) > 0
    assert event["images_by_status"] == {"final": len(manifest)}
    assert event["credits_this_run"] == charged == sum(row["credits_charged"] for row in manifest)
    assert event["rejected_rows"] == 0
    assert [(event["source_run_id"],)] == producer_runs
    assert event["asset"] == f"s3://{bucket}/{MANIFESTS_PREFIX}"
    assert (f"s3://{bucket}/{MANIFESTS_PREFIX}",) in assets
    assert (f"s3://{bucket}/archive",) in assets
    assert not [uri for (uri,) in assets if "vehicle-photos" in uri]  # nothing hard-coded
