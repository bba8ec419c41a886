"""The three workloads of the benchmark, each measured the same way: counters and ledger of the stand-in,
peak RSS and CPU of every process, wall time from Airflow's own record of the DAG run."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import requests

from bench.airflow_cluster import AirflowCluster, RunOutcome
from bench.monitor import Monitor
from bench.naive_client import run_naive_client
from bench.photos import BenchListing, PoolPhoto, make_listing, upload_listing
from dev.stack import LocalStack
from dev.stack.services import LOCAL_AWS_KEY, LOCAL_AWS_SECRET, LOCAL_CARCUTTER_TOKEN, LOCAL_REGION

AIRFLOW_ROLES = ("api-server", "scheduler", "dag-processor", "triggerer")
# Operation names of the stand-ins' `/_emulator/requests`, by kind; every other operation is "other".
KINDS = {
    "carcutter": {"submission": ("asyncSubmit",), "status": ("asyncStatus",), "result": ("asyncResult",)},
    "clippingmagic": {"submission": ("upload",), "status": (), "result": ("download",)},
}
PROCESSING_TASK = {"carcutter": "process_carcutter_images", "clippingmagic": "autoclip_images"}
PRESIGN_SECONDS = 3600


@dataclass
class Measurement:
    workload: str
    n: int
    wall_seconds: float
    processing_seconds: float  # span of the processing task(s); equals wall for the naive client
    limit_images_per_second: float
    limit_note: str
    calls: dict[str, int]
    operations: dict[str, int]
    status_429: int
    failed_images: int
    statuses: dict[str, int]
    credits_charged: int
    airflow_cpu_seconds: float
    cpu_by_role: dict[str, float]
    processes: list[dict[str, Any]] = field(default_factory=list)
    run_state: str = "success"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def images_per_second(self) -> float:
        return self.n / self.wall_seconds

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["images_per_second"] = self.images_per_second
        data["processing_images_per_second"] = self.n / self.processing_seconds if self.processing_seconds else 0.0
        data["limit_ratio"] = self.images_per_second / self.limit_images_per_second
        data["calls_per_image"] = {kind: count / self.n for kind, count in self.calls.items()}
        data["credits_per_image"] = self.credits_charged / self.n
        data["cpu_ms_per_image"] = 1000 * self.airflow_cpu_seconds / self.n
        return data


def service_json(url: str, path: str) -> dict[str, Any]:
    response = requests.get(f"{url}/_emulator/{path}", timeout=30)
    response.raise_for_status()
    return response.json()


def reset_service(url: str) -> None:
    requests.post(f"{url}/_emulator/reset", timeout=30).raise_for_status()


def calls_by_kind(provider: str, counts: dict[str, int]) -> dict[str, int]:
    kinds = Counter({"submission": 0, "status": 0, "result": 0, "other": 0})
    for operation, count in counts.items():
        kind = next((k for k, names in KINDS[provider].items() if operation in names), "other")
        kinds[kind] += count
    return dict(kinds)


class Bench:
    """Everything the workloads share: the stack, Airflow, the photo pool and the process monitor."""

    def __init__(
        self,
        stack: LocalStack,
        cluster: AirflowCluster | None,
        pool: list[PoolPhoto],
        work: Path,
        profile_dir: Path | None = None,
    ) -> None:
        self.stack, self.cluster, self.pool, self.work = stack, cluster, pool, work
        self.profile_dir = profile_dir
        import boto3
        from botocore.config import Config

        self.s3 = boto3.client(
            "s3", endpoint_url=stack.s3_url, aws_access_key_id=LOCAL_AWS_KEY, aws_secret_access_key=LOCAL_AWS_SECRET,
            region_name=LOCAL_REGION, config=Config(max_pool_connections=32),
        )  # fmt: skip
        self.service_url = {"carcutter": stack.carcutter_url, "clippingmagic": stack.clippingmagic_url}
        self.monitor: Monitor | None = None
        # Logical dates from the DAG's start_date on (Airflow creates no tasks for earlier dates).
        self._dates = iter(f"2026-11-{day:02d}" for day in range(1, 23))

    def watch(self) -> None:
        roots = {name: process.pid for name, process in self.stack.processes.items()}
        if self.cluster:
            roots |= {name: process.pid for name, process in self.cluster.processes.items()}
        self.monitor = Monitor(roots)

    def listing(self, tag: str, n: int, provider: str, per_vehicle: int) -> BenchListing:
        date = next(self._dates)
        listing = make_listing(f"{tag}-{date}", date, n, provider, [p.angle for p in self.pool], per_vehicle)
        upload_listing(listing, self.pool, self.s3, self.stack.bucket)
        return listing

    # Workloads

    def pipeline(self, workload: str, provider: str, n: int, per_vehicle: int, batch_size: int) -> Measurement:
        """One `vehicle_listings` run under the scheduler with every image sent to `provider`."""
        listing = self.listing(f"{workload}-{n}", n, provider, per_vehicle)
        for url in self.service_url.values():
            reset_service(url)
        conf = {"batch_size": batch_size}
        cpu_before = self.monitor.cpu_seconds()
        self.monitor.start()
        profilers = self._start_profilers(f"{workload}-{n}")
        run_id = self.cluster.trigger(listing.date, conf)
        outcome = self.cluster.wait(run_id, timeout=max(600, n))
        processes = self.monitor.stop()
        _stop_profilers(profilers)
        cpu_after = self.monitor.cpu_seconds()
        counters = service_json(self.service_url[provider], "requests")
        ledger = service_json(self.service_url[provider], "ledger")
        statuses = self._manifest_statuses(listing.date)
        processing = outcome.span(PROCESSING_TASK[provider])
        cpu = {role: cpu_after[role] - cpu_before[role] for role in cpu_after}
        measurement = Measurement(
            workload=workload, n=n, wall_seconds=outcome.wall_seconds, processing_seconds=processing,
            limit_images_per_second=0.0, limit_note="", calls=calls_by_kind(provider, counters["counts"]),
            operations=counters["counts"], status_429=int(counters["status_codes"].get("429", 0)),
            failed_images=n - statuses.get("final", 0), statuses=statuses,
            credits_charged=sum(ledger["charges"].values()),
            airflow_cpu_seconds=sum(cpu[role] for role in AIRFLOW_ROLES), cpu_by_role=cpu,
            processes=[asdict(p) for p in processes], run_state=outcome.state,
            extra={"tasks": _task_spans(outcome), "batch_size": batch_size},
        )  # fmt: skip
        if provider == "carcutter":
            self._carcutter_limit(measurement, list(ledger["charges"]))
        return measurement

    def naive(self, n: int, processing_seconds: float) -> Measurement:
        listing = self.listing(f"naive-{n}", n, "carcutter", n)
        reset_service(self.stack.carcutter_url)
        urls = [
            self.s3.generate_presigned_url(
                "get_object", Params={"Bucket": self.stack.bucket, "Key": key}, ExpiresIn=PRESIGN_SECONDS
            )
            for key in listing.photo_keys
        ]
        self.monitor.start()
        outcome = run_naive_client(self.stack.carcutter_url, LOCAL_CARCUTTER_TOKEN, urls, self.work / "naive")
        processes = self.monitor.stop()
        counters = service_json(self.stack.carcutter_url, "requests")
        ledger = service_json(self.stack.carcutter_url, "ledger")
        return Measurement(
            workload="naive", n=n, wall_seconds=outcome.wall_seconds, processing_seconds=outcome.wall_seconds,
            limit_images_per_second=1 / processing_seconds,
            limit_note=f"one image at a time: at best P = {processing_seconds:g} s each",
            calls=calls_by_kind("carcutter", counters["counts"]), operations=counters["counts"],
            status_429=int(counters["status_codes"].get("429", 0)), failed_images=outcome.failed,
            statuses={"final": n - outcome.failed}, credits_charged=sum(ledger["charges"].values()),
            airflow_cpu_seconds=0.0, cpu_by_role={},
            processes=[asdict(p) for p in processes if p.role == "carcutter"],
        )  # fmt: skip

    # Helpers

    def _start_profilers(self, name: str) -> list[subprocess.Popen]:
        """py-spy samples (collapsed stacks, for `flamegraph.pl` or speedscope) of the scheduler tree (task
        processes included), the triggerer and S3."""
        if self.profile_dir is None:
            return []
        self.profile_dir.mkdir(parents=True, exist_ok=True)
        py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        targets = {
            "scheduler": self.cluster.processes["scheduler"].pid,
            "triggerer": self.cluster.processes["triggerer"].pid,
            "s3": self.stack.processes["s3"].pid,
        }
        return [
            subprocess.Popen(
                [py_spy, "record", "--pid", str(pid), "--subprocesses", "--rate", "50", "--nonblocking",
                 "--format", "raw", "--output", str(self.profile_dir / f"{name}-{role}.txt")],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
            for role, pid in targets.items()
        ]  # fmt: skip

    def _manifest_statuses(self, date: str) -> dict[str, int]:
        try:
            body = self.s3.get_object(Bucket=self.stack.bucket, Key=f"manifests/dt={date}/manifest.json")["Body"]
        except self.s3.exceptions.NoSuchKey:
            return {}
        return dict(Counter(row["status"] for row in json.loads(body.read())))

    def _carcutter_limit(self, measurement: Measurement, submitted_urls: list[str], processing: float = 2.0) -> None:
        """The floor of any client: P, plus moving every result's bytes from the service into S3, measured
        now with the same concurrency as the operator's downloads (16) over the same services."""
        session = requests.Session()
        session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=16))
        headers = {"Authorization": f"Bearer {LOCAL_CARCUTTER_TOKEN}"}

        def move(numbered: tuple[int, str]) -> int:
            number, url = numbered
            result = session.get(
                f"{self.stack.carcutter_url}/vehicle/image/result", params={"image_url": url}, headers=headers,
                timeout=60,
            )  # fmt: skip
            result.raise_for_status()
            self.s3.put_object(Bucket=self.stack.bucket, Key=f"bench-bytes/{number}.jpg", Body=result.content)
            return len(result.content)

        started = time.monotonic()
        with ThreadPoolExecutor(16) as threads:
            moved = sum(threads.map(move, enumerate(submitted_urls)))
        seconds = time.monotonic() - started
        measurement.limit_images_per_second = measurement.n / (processing + seconds)
        measurement.limit_note = f"P {processing:g} s + {seconds:.2f} s to move {moved / 1e6:.1f} MB of results"
        measurement.extra["bytes_move_seconds"] = seconds


def _stop_profilers(profilers: list[subprocess.Popen]) -> None:
    for profiler in profilers:
        profiler.send_signal(signal.SIGINT)
    for profiler in profilers:
        profiler.wait(timeout=120)


def _task_spans(outcome: RunOutcome) -> dict[str, float]:
    return {task: round(outcome.span(task), 2) for task in sorted({t.task_id for t in outcome.tasks})}
