"""vehicle_listings through the real scheduler on CeleryExecutor (Postgres, Redis, two workers), started from
docker-compose.yml by dev/cluster, on the local stack.

One cluster serves the module, and one scenario runs on it, because most of its time is waiting (the heartbeat
timeout and retry delay of a killed task, status polls):

1. the daily run of one date starts; once `carcutter.process_images` has its Car-Cutter submission in flight
   (held by the stand-in), the worker running it is SIGKILLed with everything it started, then started again,
   as compose's `restart: always` does;
2. a backfill of three more dates, whose listings name the same photos in the same bucket, starts beside it;
3. once Car-Cutter batches are deferred, the triggerer is restarted (`docker compose restart`);
4. meanwhile the same data set, bucket name and date run under `airflow dags test` (LocalExecutor, SQLite) on a
   second local stack, whose manifests and report must equal the cluster's.

The stand-ins' ledgers say what was billed: Car-Cutter's by submitted URL (grouped here by URL path, since a
presigned URL changes with every signing), Clipping Magic's by image id.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass
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

# the module's cluster and scenario are set up in the first test: more than the suite's 300 s per test
pytestmark = pytest.mark.timeout(900)

DAILY = "2026-11-10"
BACKFILL = ("2026-11-11", "2026-11-12", "2026-11-13")
PROCESS_TASK = "carcutter.process_images"
# one active vehicle (2 Car-Cutter images, 1 Clipping Magic image), one sold, four bad rows
SEED, VEHICLES, IMAGES_PER_VEHICLE, MEGAPIXELS = 21, 2, 3, 0.1
# Holds each Car-Cutter request this long in the stand-in, so the worker is killed with a submission in flight.
SUBMIT_LATENCY_MS = 2500
DEFERRED_PROCESSING_SECONDS = 6
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

    bucket: str
    sample: Any
    daily_run: str
    backfill_runs: list[str]
    states: dict[str, str]
    kill: Kill
    deferred_at_triggerer_restart: list[tuple[str, str, int]]
    process_tries: int
    carcutter_charges: dict[str, int]
    clippingmagic_charges: dict[str, int]
    reference_stack: LocalStack
    reference_log: Path
    reference_returncode: int


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


def make_sample(tmp: Path, stack: LocalStack, bucket: str, dates: tuple[str, ...]):
    """The same photos and listing (with bad rows) for every date; the same bytes for the same bucket name."""
    data = generate(
        tmp, seed=SEED, vehicles=VEHICLES, images_per_vehicle=IMAGES_PER_VEHICLE, megapixels=MEGAPIXELS,
        bucket=bucket, http_base_url=f"{stack.s3_url}/{bucket}", inject_bad_rows=True,
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
    """SIGKILL the worker whose task process runs `carcutter.process_images` once its submission reached Car-Cutter."""
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
        cluster.assert_running()
        time.sleep(0.1)
    raise TimeoutError(f"{PROCESS_TASK} of {run_id} never had a submission in flight; logs in {cluster.home}")


def restart_triggerer_while_deferred(cluster: AirflowCluster) -> list[tuple[str, str, int]]:
    """Restart the triggerer as `docker compose restart` does, once Car-Cutter batches are deferred."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        deferred = cluster.query(
            "SELECT run_id, task_id, try_number FROM task_instance WHERE dag_id = %s AND state = 'deferred'"
            " AND task_id = %s",
            DAG_ID, PROCESS_TASK,
        )  # fmt: skip
        if deferred:
            cluster.restart_component("airflow-triggerer")
            return [tuple(row) for row in deferred]
        cluster.assert_running()
        time.sleep(0.2)
    raise TimeoutError(f"no {PROCESS_TASK} batch ever deferred; logs in {cluster.home}")


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
    bucket = f"cluster-{uuid.uuid4().hex[:12]}"
    local_stack.s3_client().create_bucket(Bucket=bucket)
    sample = make_sample(tmp / "sample", local_stack, bucket, (DAILY, *BACKFILL))
    reference_stack = start_stack(StackSettings(s3_port=0, carcutter_port=0, clippingmagic_port=0, bucket=bucket,
                                                log_dir=tmp / "reference-stack"))  # fmt: skip
    try:
        make_sample(tmp / "reference", reference_stack, bucket, (DAILY,))
        StandIn(reference_stack.carcutter_url).configure(processing_seconds=1)

        carcutter.configure(latency_ms=SUBMIT_LATENCY_MS)
        daily_run = cluster.trigger(DAG_ID, f"daily__{DAILY}", DAILY, {"bucket": bucket})
        kill = kill_worker_during_submission(cluster, carcutter, daily_run)
        # batches submitted from now on stay deferred long enough to restart the triggerer meanwhile
        carcutter.configure(latency_ms=0, processing_seconds=DEFERRED_PROCESSING_SECONDS)
        cluster.start_component(kill.worker)

        reference_log = tmp / "reference-dags-test.log"
        reference = start_reference_run(reference_stack, bucket, reference_log)
        cluster.airflow(
            "backfill", "create", "--dag-id", DAG_ID, "--from-date", BACKFILL[0], "--to-date", BACKFILL[-1],
            "--max-active-runs", str(len(BACKFILL)), "--dag-run-conf", json.dumps({"bucket": bucket}),
        )  # fmt: skip
        backfill_runs = [run for (run,) in cluster.query(
            "SELECT run_id FROM dag_run WHERE dag_id = %s AND backfill_id IS NOT NULL", DAG_ID)]  # fmt: skip

        deferred = restart_triggerer_while_deferred(cluster)
        carcutter.configure(processing_seconds=1)
        states = cluster.wait_for_runs(DAG_ID, [daily_run, *backfill_runs], RUNS_TIMEOUT)
        yield Evidence(
            bucket=bucket,
            sample=sample,
            daily_run=daily_run,
            backfill_runs=backfill_runs,
            states=states,
            kill=kill,
            deferred_at_triggerer_restart=deferred,
            process_tries=task_row(cluster, daily_run, PROCESS_TASK)[2],
            carcutter_charges=carcutter.ledger()["charges"],
            clippingmagic_charges=clippingmagic.ledger()["charges"],
            reference_stack=reference_stack,
            reference_log=reference_log,
            reference_returncode=reference.wait(timeout=RUNS_TIMEOUT),
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


def test_daily_run_survives_a_killed_worker_and_a_triggerer_restart(evidence, cluster):
    assert evidence.states[evidence.daily_run] == "success", f"logs in {cluster.home}"
    assert evidence.kill.task_state == "running" and evidence.kill.try_number == 1
    assert evidence.process_tries >= 2, "the killed batch was never retried"
    deferred_runs = {run for run, _, _ in evidence.deferred_at_triggerer_restart}
    assert {run: evidence.states[run] for run in deferred_runs} == dict.fromkeys(deferred_runs, "success")


def test_backfill_beside_the_daily_run_bills_each_image_once(evidence, cluster, local_stack):
    assert len(evidence.backfill_runs) == len(BACKFILL)
    runs = evidence.backfill_runs
    assert {run: evidence.states[run] for run in runs} == dict.fromkeys(runs, "success"), f"logs in {cluster.home}"

    bucket, sample = evidence.bucket, evidence.sample
    charged = charges_by_path(evidence.carcutter_charges, bucket)
    assert set(charged.values()) == {1}, {path: n for path, n in charged.items() if n != 1}
    # Car-Cutter fetches an S3 photo as the immutable copy of the version its record names; an http one as listed
    in_s3 = [
        image for image in carcutter_images(sample) if image["ref"].startswith("s3://") or "://" not in image["ref"]
    ]
    over_http = [image for image in carcutter_images(sample) if image not in in_s3]
    copies = sorted(path for path in charged if f"/{bucket}/records/_sources/carcutter/" in path)
    assert set(charged) - set(copies) == {object_path(bucket, image["ref"]) for image in over_http}
    assert sorted(path.rsplit("/", 1)[1] for path in copies) == sorted(
        image["ref"].rsplit("/", 1)[1] for image in in_s3
    )
    # Clipping Magic's ledger holds only this bucket's uploads: one upload and one charge per image
    assert sum(evidence.clippingmagic_charges.values()) == len(clippingmagic_images(sample))
    assert set(evidence.clippingmagic_charges.values()) == {1}, evidence.clippingmagic_charges

    images = len(carcutter_images(sample)) + len(clippingmagic_images(sample))
    for ds in (DAILY, *BACKFILL):
        manifest = json.loads(read(local_stack, bucket, f"manifests/dt={ds}/manifest.json"))
        assert len(manifest) == images, ds
        assert {row["status"] for row in manifest} == {"final"}, [row for row in manifest if row["status"] != "final"]


def test_celery_run_publishes_what_a_local_executor_run_publishes(evidence, local_stack):
    """Equal after normalising the S3 endpoint (each stack has its own port), the output keys' digests (an
    http source's identity is its URL, with that port) and the credits spent by this run (on the cluster the
    backfill shares the work, and either run may pay for an image)."""
    assert evidence.reference_returncode == 0, evidence.reference_log.read_text()[-5000:]
    bucket, reference = evidence.bucket, evidence.reference_stack

    def normalised(stack: LocalStack, key: str) -> str:
        text = read(stack, bucket, key).decode().replace(stack.s3_url, "<s3>")
        text = re.sub(r"-[0-9a-f]{16}\.", "-<digest>.", text)
        text = re.sub(r'"credits_this_run": \d+', '"credits_this_run": "<n>"', text)
        return re.sub(r"<b>\d+</b>credits spent by this run", "<b>n</b>credits spent by this run", text)

    for key in (f"manifests/dt={DAILY}/manifest.json", f"reports/dt={DAILY}/report.html",
                f"reports/dt={DAILY}/summary.json", f"rejected/dt={DAILY}/rejected.jsonl"):  # fmt: skip
        assert normalised(local_stack, key) == normalised(reference, key), key

    def parquet_rows(stack: LocalStack) -> list[dict]:
        frame = pd.read_parquet(io.BytesIO(read(stack, bucket, f"manifests/dt={DAILY}/manifest.parquet")))
        text = frame.to_json(orient="records").replace(stack.s3_url.replace("/", "\\/"), "<s3>")
        return json.loads(re.sub(r"-[0-9a-f]{16}\.", "-<digest>.", text))

    assert parquet_rows(local_stack) == parquet_rows(reference)
