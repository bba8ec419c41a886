"""Claims are leases that live (issue 18, points 4, 5 and 14), against the Clipping Magic stand-in and moto's S3
server: a slow holder keeps its claims, a paused one that lost them follows the run that took them over, a
photo shared by several vehicles of one task is uploaded once, and a rerun after a killed worker is not stalled.
Every test is judged by the stand-in's ledger, and the records' credits add up to it."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from tests.clippingmagic.conftest import items, put_images

LEASE = 2.0  # seconds: renewed every 2/3 s
DEAD_LEASE = 10.0  # seconds: the killed worker's claims
ONE_OUTPUT = {"outputs": ["result"]}


def records(s3_client, bucket: str) -> list[dict[str, Any]]:
    listed = s3_client.list_objects_v2(Bucket=bucket, Prefix="records/clippingmagic/").get("Contents", [])
    return [json.loads(s3_client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()) for item in listed]


def assert_each_charged_once(cm, s3_client, bucket: str, images: int) -> None:
    charges = cm.ledger()["charges"]
    assert sorted(charges.values()) == [1] * images, charges
    assert sum(record["credits_charged"] for record in records(s3_client, bucket)) == images


def wait_until(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def start_worker(bucket: str, images: list[dict], conn_id: str, **arguments: Any) -> subprocess.Popen:
    """The operator in a worker process of its own (a one-off claim holder)."""
    given = {"images": images, "dest_bucket": bucket, "clippingmagic_conn_id": conn_id, **arguments}
    return subprocess.Popen([sys.executable, "-m", "tests.clippingmagic.auto_clip_process", json.dumps(given)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip


def in_thread(run: Callable[[], Any]) -> tuple[threading.Thread, dict[str, Any]]:
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["results"] = run()
        except Exception as error:
            outcome["error"] = error

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, outcome


def test_a_photo_several_vehicles_share_in_one_task_is_uploaded_once(cm, s3_client, bucket, auto_clip):
    """Point 5: threads of one task share one claim holder and wait for each other's outcome."""
    put_images(s3_client, bucket, ["photos/dealer/logo-card.jpg"])
    shared = [{"source": f"s3://{bucket}/photos/dealer/logo-card.jpg", "vehicle_id": f"V{n}", "name": "99-logo"}
              for n in range(4)]  # fmt: skip
    cm.configure(latency_ms=300)  # long enough for the threads to meet on the photo

    results = auto_clip(bucket, shared, concurrency=2)

    assert [r["status"] for r in results] == ["final"] * 4, [r["error"] for r in results]
    assert [r["vehicle_id"] for r in results] == ["V0", "V1", "V2", "V3"]
    assert len({json.dumps(r["outputs"], sort_keys=True) for r in results}) == 1
    assert cm.requests()["counts"]["upload"] == 1
    assert sum(r["credits_this_run"] for r in results) == 1
    assert_each_charged_once(cm, s3_client, bucket, 1)


def test_a_slow_holder_keeps_its_claims_alive_and_another_run_waits_for_it(cm, s3_client, bucket, auto_clip):
    """Point 4: a holder busy longer than its lease (one upload at a time, a slow service) renews its claims,
    so a run arriving after the lease waits for it instead of taking them over and paying again."""
    keys = [f"photos/V7/{n:02d}-side.jpg" for n in range(4)]
    put_images(s3_client, bucket, keys)
    cm.configure(latency_ms=1500)
    slow, slow_outcome = in_thread(lambda: auto_clip(bucket, items(bucket, keys), task_id="slow", concurrency=1,
                                                     claim_lease_seconds=LEASE, **ONE_OUTPUT))  # fmt: skip
    wait_until(lambda: len(records(s3_client, bucket)) == 4)
    time.sleep(LEASE + 1.0)  # the last two images still wait for their upload
    assert sum(record["status"] == "claimed" for record in records(s3_client, bucket)) >= 2

    later = auto_clip(bucket, items(bucket, keys), task_id="later", claim_lease_seconds=LEASE, **ONE_OUTPUT)
    slow.join(60)

    assert cm.requests()["counts"]["upload"] == 4
    assert_each_charged_once(cm, s3_client, bucket, 4)
    assert [r["status"] for r in slow_outcome["results"]] == ["final"] * 4
    assert [r["status"] for r in later] == ["final"] * 4
    assert sum(r["credits_this_run"] for r in later) == 0 and all(r["reused"] for r in later)
    assert sum(record["lease_renewals"] > 0 for record in records(s3_client, bucket)) >= 2


def test_a_paused_holder_that_lost_its_claims_makes_no_upload_and_follows_the_new_holder(
    cm, s3_client, bucket, auto_clip, fast_conn
):
    """Point 4: a worker paused past its lease (a VM or GC pause: SIGSTOP here) stops renewing; another run
    takes its claims over and finishes them. When the worker wakes up, its check right before the upload finds
    the claim gone, so it uploads nothing, and the upload it had in flight is not lost: the record says it."""
    keys = ["photos/V8/00-front.jpg", "photos/V8/01-rear.jpg"]
    put_images(s3_client, bucket, keys)
    cm.configure(latency_ms=1500)
    worker = start_worker(bucket, items(bucket, keys), fast_conn(), concurrency=1, claim_lease_seconds=LEASE,
                          **ONE_OUTPUT)  # fmt: skip
    try:
        wait_until(lambda: len(records(s3_client, bucket)) == 2)
        worker.send_signal(signal.SIGSTOP)
        time.sleep(LEASE + 1.5)  # no renewal: its claims run out by S3's clock
        taker = auto_clip(bucket, items(bucket, keys), task_id="taker", claim_lease_seconds=LEASE, **ONE_OUTPUT)
        assert [r["status"] for r in taker] == ["final", "final"]
    finally:
        worker.send_signal(signal.SIGCONT)
    assert worker.wait(120) == 0, "the woken worker follows the new holder's records"

    assert cm.requests()["counts"]["upload"] == 2
    assert_each_charged_once(cm, s3_client, bucket, 2)
    assert all(record["status"] == "final" for record in records(s3_client, bucket))


def test_a_rerun_after_a_killed_worker_is_not_stalled_by_its_claims(cm, s3_client, bucket, auto_clip, fast_conn,
                                                                    caplog):  # fmt: skip
    """Point 14: a worker SIGKILLed halfway stops renewing; the rerun (with the default lease setting) honours
    the lease the dead holder wrote into its claims, says what it waits for, and finishes soon after."""
    keys = [f"photos/V9/{n:02d}-side.jpg" for n in range(4)]
    put_images(s3_client, bucket, keys)
    cm.configure(latency_ms=700)
    # long enough that the rerun still finds the dead holder's leases on a loaded machine (a 2 s one may be
    # over before the rerun reads its first claim, and then it has nothing to wait for)
    worker = start_worker(bucket, items(bucket, keys), fast_conn(), concurrency=1, claim_lease_seconds=DEAD_LEASE,
                          **ONE_OUTPUT)  # fmt: skip
    try:
        wait_until(lambda: any(record["status"] == "final" for record in records(s3_client, bucket)))
    finally:
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait()
    assert len(records(s3_client, bucket)) == 4

    caplog.set_level(logging.INFO, logger="vehicle_photos.clippingmagic.utils.upload_claims")
    started = time.monotonic()
    rerun, outcome = in_thread(lambda: auto_clip(bucket, items(bucket, keys), task_id="rerun", **ONE_OUTPUT))
    rerun.join(90)

    assert not rerun.is_alive(), "the rerun waits on the dead worker's claims"
    assert time.monotonic() - started < 60
    assert [r["status"] for r in outcome["results"]] == ["final"] * 4
    waits = [r.getMessage() for r in caplog.records if r.getMessage().startswith("waiting for")]
    assert waits and all("claimed by adhoc/" in m and "held until 20" in m for m in waits)
    assert any(f"s3://{bucket}/photos/V9/" in m for m in waits)
    assert_each_charged_once(cm, s3_client, bucket, 4)
