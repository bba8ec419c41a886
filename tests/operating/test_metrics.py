"""Metrics through Airflow's Stats with StatsD on, received by a UDP listener on loopback: a vehicle_listings run
under the real scheduler, triggerer and task processes counts credits, images by state, rejected rows, API calls
and 429s, per provider, and the numbers agree with the stand-ins' ledgers and the manifest."""

from __future__ import annotations

import json
import socket
import threading
from collections import defaultdict

import pytest

from dev.sampledata import generate, upload
from tests.operating.scheduled_airflow import scheduled_airflow

pytestmark = pytest.mark.timeout(1500)

DS = "2026-11-07"
STATSD_PREFIX = "airflow"


class StatsdListener:
    """Keeps every StatsD line sent to it: counters summed, gauges' last value."""

    def __init__(self) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind(("127.0.0.1", 0))
        self.socket.settimeout(0.5)
        self.port = self.socket.getsockname()[1]
        self.counters: dict[str, float] = defaultdict(float)
        self.gauges: dict[str, float] = {}
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._listen, daemon=True)
        self._thread.start()

    def _listen(self) -> None:
        while not self._stopped.is_set():
            try:
                packet = self.socket.recv(65535).decode()
            except TimeoutError:
                continue
            for line in packet.splitlines():
                name, _, rest = line.partition(":")
                value, kind = rest.split("|")[:2]
                if kind == "c":
                    self.counters[name] += float(value)
                elif kind == "g":
                    self.gauges[name] = float(value)

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join()
        self.socket.close()


def test_a_run_counts_credits_images_rows_and_api_calls(
    airflow_home, local_stack, bucket, s3_client, carcutter_server, clippingmagic_server, tmp_path
):
    data = generate(
        tmp_path / "sample", seed=7, vehicles=3, images_per_vehicle=3, megapixels=0.1, bucket=bucket,
        http_base_url=f"{local_stack.s3_url}/{bucket}", inject_bad_rows=True,
    )  # fmt: skip
    upload(data, bucket=bucket, listing_date=DS, endpoint_url=local_stack.s3_url)
    clippingmagic_server.configure(rate_limit_next=2)  # retried: the run still succeeds
    listener = StatsdListener()
    env = {
        "AIRFLOW_VAR_VEHICLE_PHOTOS_BUCKET": bucket,
        "AIRFLOW__METRICS__STATSD_ON": "True",
        "AIRFLOW__METRICS__STATSD_HOST": "127.0.0.1",
        "AIRFLOW__METRICS__STATSD_PORT": str(listener.port),
        "AIRFLOW__METRICS__STATSD_PREFIX": STATSD_PREFIX,
        # only the run this test triggers
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
    }
    try:
        with scheduled_airflow(tmp_path / "airflow", local_stack.environment(), env, ("vehicle_listings",),
                               triggerer=True) as airflow:  # fmt: skip
            airflow.airflow("dags", "trigger", "vehicle_listings", "--logical-date", f"{DS}T00:00:00+00:00")
            _, state = airflow.wait_for_run("vehicle_listings", timeout=900)
    finally:
        listener.stop()

    assert state == "success"
    manifest = json.loads(s3_client.get_object(Bucket=bucket, Key=f"manifests/dt={DS}/manifest.json")["Body"].read())
    metric = f"{STATSD_PREFIX}.vehicle_photos"
    for provider, server in (("carcutter", carcutter_server), ("clippingmagic", clippingmagic_server)):
        rows = [row for row in manifest if row["provider"] == provider]
        assert rows, provider
        charged = sum(server.ledger()["charges"].values())
        assert listener.counters[f"{metric}.credits_spent.{provider}"] == charged > 0
        assert listener.gauges[f"{metric}.images.final.{provider}"] == len(rows)
        for state_name in ("failed", "waiting", "refused", "skipped"):
            assert listener.gauges[f"{metric}.images.{state_name}.{provider}"] == 0
        assert listener.counters[f"{metric}.api_calls.{provider}"] > 0
    assert listener.gauges[f"{metric}.rejected_rows"] == len(data.injected) > 0
    assert listener.counters[f"{metric}.api_rate_limited.clippingmagic"] == 2
    assert clippingmagic_server.requests()["status_codes"]["429"] == 2
    assert f"{metric}.api_rate_limited.carcutter" not in listener.counters
