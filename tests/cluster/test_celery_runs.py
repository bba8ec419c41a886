"""vehicle_listings through the real scheduler on CeleryExecutor (Postgres, Redis, two workers), started from
docker-compose.yml by dev/cluster, on the local stack.

Three scenarios share one cluster and run at the same time, because most of their time is waiting (the retry
delay of a killed task, status polls) rather than work:

- the daily run of one date, during which a worker is SIGKILLed while `process_carcutter_images` has a
  Car-Cutter submission in flight, and the triggerer is restarted while the retried batch is deferred;
- a backfill of three dates beside a daily run, all four listing the same photos, in another bucket;
- the daily run's data under `airflow dags test` (LocalExecutor, SQLite) on a second local stack with a bucket
  of the same name, whose manifests and report must equal the cluster's.

The stand-ins' ledgers say what was billed: Car-Cutter's by submitted URL (grouped here by URL path, since a
presigned URL changes with every signing), Clipping Magic's by image id.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pandas as pd
import pytest

from dev.cluster import AirflowCluster
from dev.sampledata import generate, upload
from dev.stack import LocalStack, StackSettings, start_stack
from dev.stack.services import LOCAL_CARCUTTER_TOKEN, LOCAL_CLIPPINGMAGIC_ID, LOCAL_CLIPPINGMAGIC_KEY
from tests.cluster.conftest import DAG_ID
from tests.conftest import StandIn

DAILY = "2026-11-10"
BESIDE = "2026-11-20"  # the daily run beside the backfill
BACKFILL = ("2026-11-17", "2026-11-18", "2026-11-19")
PROCESS_TASK = "process_carcutter_images"
VEHICLES, IMAGES_PER_VEHICLE, MEGAPIXELS = 2, 3, 0.1  # 4 Car-Cutter and 2 Clipping Magic images a data set
# Holds each Car-Cutter request this long in the stand-in, so the worker is killed with a submission in flight.
SUBMIT_LATENCY_MS = 2500
RUNS_TIMEOUT = 420


@dataclass
class Kill:
    worker: str
    task_state: str
    try_number: int
    submissions_seen: int


@dataclass
class Evidence:
    """What happened on the cluster; the tests below judge it."""

    daily_bucket: str
    backfill_bucket: str
    daily_sample: Any
    backfill_sample: Any
    states: dict[str, str]
    kill: Kill
    deferred_at_triggerer_restart: list[tuple[str, str, int]]
    process_tries: int
    carcutter_charges: dict[str, int]
    clippingmagic_charges: dict[str, int]
    reference_stack: LocalStack
    reference_log: Path
    reference_returncode: int
    backfill_runs: list[str] = field(default_factory=list)


def carcutter_images(sample) -> list[dict]:
    return [image for row in active_rows(sample) for image in row["images"] if image["provider"] != "clippingmagic"]


def clippingmagic_images(sample) -> list[dict]:
    return [image for row in active_rows(sample) for image in row["images"] if image["provider"] == "clippingmagic"]


def active_rows(sample) -> list[dict]:
    return [row for row in sample.rows if row["listing_status"] == "active"]


def object_path(bucket: str, ref: str) -> str:
    """/<bucket>/<key> of a listing image ref (s3://, http(s):// path-style, or a bare key)."""
    if ref.startswith("s3://"):
        return "/" + ref.removeprefix("s3://")
    if "://" in ref:
        return urlsplit(ref).path
    return f"/{bucket}/{ref}"


def charges_by_path(charges: dict[str, int], bucket: str) -> Counter:
    """Car-Cutter charges of one bucket's images, per object (the query string of a presigned URL dropped)."""
    counted: Counter = Counter()
    for url, count in charges.items():
        path = urlsplit(url).path
        if path.startswith(f"/{bucket}/"):
            counted[path] += count
    return counted


def make_sample(tmp: Path, stack: LocalStack, bucket: str, dates: tuple[str, ...], seed: int, bad_rows: bool):
    data = generate(
        tmp, seed=seed, vehicles=VEHICLES, images_per_vehicle=IMAGES_PER_VEHICLE, megapixels=MEGAPIXELS,
        bucket=bucket, http_base_url=f"{stack.s3_url}/{bucket}", inject_bad_rows=bad_rows,
    )  # fmt: skip
    for ds in dates:
        upload(data, bucket=bucket, listing_date=ds, endpoint_url=stack.s3_url)
    return data


def task_row(cluster: AirflowCluster, run_id: str, task_id: str) -> tuple[str | None, int | None, int]:
    rows = cluster.query(
        "SELECT state, pid, try_number FROM task_instance WHERE dag_id = %s AND run_id = %s AND task_id = %s"
        " ORDER BY map_index LIMIT 1",
        DAG_ID, run_id, task_id,
    )  # fmt: skip
    return rows[0] if rows else (None, None, 0)


def kill_worker_during_submission(cluster: AirflowCluster, carcutter: StandIn, run_id: str) -> Kill:
    """SIGKILL the worker whose task process runs `process_carcutter_images` once its submission reached Car-Cutter."""
    before = carcutter.requests()["counts"].get("asyncSubmit", 0)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        state, pid, tries = task_row(cluster, run_id, PROCESS_TASK)
        submissions = carcutter.requests()["counts"].get("asyncSubmit", 0) - before
        if state == "running" and pid and submissions:
            worker = cluster.worker_running(pid)
            if worker:
                cluster.kill_component(worker)
                return Kill(worker, state, tries, submissions)
        time.sleep(0.1)
    raise TimeoutError(f"{PROCESS_TASK} of {run_id} never had a submission in flight; logs in {cluster.home}")


def restart_triggerer_while_deferred(cluster: AirflowCluster, run_id: str) -> list[tuple[str, str, int]]:
    """Restart the triggerer as `docker compose restart` does, once the retried batch is deferred."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        state, _, tries = task_row(cluster, run_id, PROCESS_TASK)
        if state == "deferred" and tries >= 2:
            deferred = cluster.query(
                "SELECT run_id, task_id, try_number FROM task_instance WHERE dag_id = %s AND state = 'deferred'",
                DAG_ID,
            )
            cluster.restart_component("airflow-triggerer")
            return [tuple(row) for row in deferred]
        time.sleep(0.2)
    raise TimeoutError(f"the retried {PROCESS_TASK} of {run_id} never deferred; logs in {cluster.home}")


@pytest.fixture(scope="module")
def evidence(cluster, local_stack, airflow_home, tmp_path_factory):
    carcutter = StandIn(local_stack.carcutter_url, token=LOCAL_CARCUTTER_TOKEN)
    clippingmagic = StandIn(
        local_stack.clippingmagic_url, api_id=LOCAL_CLIPPINGMAGIC_ID, api_key=LOCAL_CLIPPINGMAGIC_KEY
    )
    for server in (carcutter, clippingmagic):
        server.reset()
    carcutter.configure(processing_seconds=1)
    tmp = tmp_path_factory.mktemp("celery-runs")
    daily_bucket, backfill_bucket = (f"cluster-{uuid.uuid4().hex[:12]}" for _ in range(2))
    for name in (daily_bucket, backfill_bucket):
        local_stack.s3_client().create_bucket(Bucket=name)
    daily_sample = make_sample(tmp / "daily", local_stack, daily_bucket, (DAILY,), seed=21, bad_rows=True)
    backfill_sample = make_sample(tmp / "backfill", local_stack, backfill_bucket, (*BACKFILL, BESIDE), seed=22,
                                  bad_rows=False)  # fmt: skip
    # the same data set, bucket name and date for a LocalExecutor run, on a stack of its own
    reference_stack = start_stack(StackSettings(s3_port=0, carcutter_port=0, clippingmagic_port=0,
                                                bucket=daily_bucket, log_dir=tmp / "reference-stack"))  # fmt: skip
    try:
        make_sample(tmp / "reference", reference_stack, daily_bucket, (DAILY,), seed=21, bad_rows=True)
        StandIn(reference_stack.carcutter_url).configure(processing_seconds=1)

        carcutter.configure(latency_ms=SUBMIT_LATENCY_MS)
        daily_run = cluster.trigger(DAG_ID, f"daily__{DAILY}", DAILY, {"bucket": daily_bucket})
        kill = kill_worker_during_submission(cluster, carcutter, daily_run)
        carcutter.configure(latency_ms=0)
        cluster.start_component(kill.worker)  # compose's `restart: always`

        reference_log = tmp / "reference-dags-test.log"
        reference = start_reference_run(reference_stack, daily_bucket, reference_log)
        beside_run = cluster.trigger(DAG_ID, f"daily__{BESIDE}", BESIDE, {"bucket": backfill_bucket})
        cluster.airflow(
            "backfill", "create", "--dag-id", DAG_ID, "--from-date", BACKFILL[0], "--to-date", BACKFILL[-1],
            "--max-active-runs", str(len(BACKFILL)), "--dag-run-conf", json.dumps({"bucket": backfill_bucket}),
        )  # fmt: skip
        backfill_runs = [run for (run,) in cluster.query(
            "SELECT run_id FROM dag_run WHERE dag_id = %s AND backfill_id IS NOT NULL", DAG_ID)]  # fmt: skip

        deferred = restart_triggerer_while_deferred(cluster, daily_run)
        states = cluster.wait_for_runs(DAG_ID, [daily_run, beside_run, *backfill_runs], RUNS_TIMEOUT)
        reference_returncode = reference.wait(timeout=RUNS_TIMEOUT)
        yield Evidence(
            daily_bucket=daily_bucket,
            backfill_bucket=backfill_bucket,
            daily_sample=daily_sample,
            backfill_sample=backfill_sample,
            states=states,
            kill=kill,
            deferred_at_triggerer_restart=deferred,
            process_tries=task_row(cluster, daily_run, PROCESS_TASK)[2],
            carcutter_charges=carcutter.ledger()["charges"],
            clippingmagic_charges=clippingmagic.ledger()["charges"],
            reference_stack=reference_stack,
            reference_log=reference_log,
            reference_returncode=reference_returncode,
            backfill_runs=backfill_runs,
        )
    finally:
        carcutter.reset()
        clippingmagic.reset()
        reference_stack.stop()


def start_reference_run(stack: LocalStack, bucket: str, log: Path) -> subprocess.Popen:
    """`airflow dags test` (LocalExecutor, the session's SQLite DB) against `stack`, in the background."""
    env = {**os.environ, **stack.environment(), "AIRFLOW_VAR_VEHICLE_PHOTOS_BUCKET": bucket}
    command = [sys.executable, "-m", "airflow", "dags", "test", DAG_ID, DAILY, "-c", json.dumps({"bucket": bucket})]
    with log.open("w") as out:
        return subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)


def read(stack: LocalStack, bucket: str, key: str) -> bytes:
    return stack.s3_client().get_object(Bucket=bucket, Key=key)["Body"].read()


def test_daily_run_survives_a_killed_worker_and_a_triggerer_restart(evidence, cluster, local_stack):
    run_id = f"daily__{DAILY}"
    assert evidence.states[run_id] == "success", f"logs in {cluster.home}"
    assert evidence.kill.task_state == "running" and evidence.kill.try_number == 1
    assert evidence.process_tries >= 2, "the killed batch was never retried"
    assert (run_id, PROCESS_TASK, evidence.process_tries) in evidence.deferred_at_triggerer_restart

    bucket, sample = evidence.daily_bucket, evidence.daily_sample
    expected = {object_path(bucket, image["ref"]) for image in carcutter_images(sample)}
    charged = charges_by_path(evidence.carcutter_charges, bucket)
    assert set(charged) == expected
    assert set(charged.values()) == {1}, {path: n for path, n in charged.items() if n != 1}

    manifest = json.loads(read(local_stack, bucket, f"manifests/dt={DAILY}/manifest.json"))
    assert len(manifest) == len(carcutter_images(sample)) + len(clippingmagic_images(sample))
    assert {row["status"] for row in manifest} == {"final"}, [row for row in manifest if row["status"] != "final"]


def test_backfill_beside_the_daily_run_bills_each_image_once(evidence, cluster, local_stack):
    assert len(evidence.backfill_runs) == len(BACKFILL)
    runs = [f"daily__{BESIDE}", *evidence.backfill_runs]
    assert {run: evidence.states[run] for run in runs} == dict.fromkeys(runs, "success"), f"logs in {cluster.home}"

    bucket, sample = evidence.backfill_bucket, evidence.backfill_sample
    expected = {object_path(bucket, image["ref"]) for image in carcutter_images(sample)}
    charged = charges_by_path(evidence.carcutter_charges, bucket)
    assert set(charged) == expected
    assert set(charged.values()) == {1}, {path: n for path, n in charged.items() if n != 1}

    images = len(carcutter_images(sample)) + len(clippingmagic_images(sample))
    spent = 0
    for ds in (*BACKFILL, BESIDE):
        manifest = json.loads(read(local_stack, bucket, f"manifests/dt={ds}/manifest.json"))
        assert len(manifest) == images and {row["status"] for row in manifest} == {"final"}, ds
        spent += json.loads(read(local_stack, bucket, f"reports/dt={ds}/summary.json"))["credits_this_run"]
    assert spent == images, "credits reported by the four runs together"


def test_clipping_magic_billed_each_image_once(evidence):
    """Clipping Magic's ledger counts image ids of both buckets: one upload, one charge, per image."""
    expected = len(clippingmagic_images(evidence.daily_sample)) + len(clippingmagic_images(evidence.backfill_sample))
    assert sum(evidence.clippingmagic_charges.values()) == expected, evidence.clippingmagic_charges
    assert set(evidence.clippingmagic_charges.values()) == {1}


def test_celery_run_publishes_what_a_local_executor_run_publishes(evidence, local_stack):
    assert evidence.reference_returncode == 0, evidence.reference_log.read_text()[-5000:]
    bucket, reference = evidence.daily_bucket, evidence.reference_stack

    def normalised(stack: LocalStack, key: str) -> str:
        return read(stack, bucket, key).decode().replace(stack.s3_url, "<s3>")

    for key in (f"manifests/dt={DAILY}/manifest.json", f"reports/dt={DAILY}/report.html",
                f"reports/dt={DAILY}/summary.json", f"rejected/dt={DAILY}/rejected.jsonl"):  # fmt: skip
        assert normalised(local_stack, key) == normalised(reference, key), key

    def parquet_rows(stack: LocalStack) -> list[dict]:
        frame = pd.read_parquet(io.BytesIO(read(stack, bucket, f"manifests/dt={DAILY}/manifest.parquet")))
        return json.loads(frame.to_json(orient="records").replace(stack.s3_url.replace("/", "\\/"), "<s3>"))

    assert parquet_rows(local_stack) == parquet_rows(reference)
