"""The workloads of the benchmark, each DAG run measured the same way: the stand-ins' counters and ledgers,
S3 requests from moto's access log, peak RSS and CPU of every process, wall time and the largest XCom value
from Airflow's own metadata DB."""

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

from bench.airflow_cluster import AirflowCluster, RunOutcome, XComSize
from bench.monitor import Monitor, ProcessPeak
from bench.naive_client import run_naive_client
from bench.photos import BenchListing, PoolPhoto, make_listing, put_listing_file, upload_photos
from bench.s3_requests import S3RequestLog, S3Requests
from bench.services import ServiceCounts, calls_by_kind, reset_service, result_downloads
from bench.task_logs import TaskLogLines, count_task_log_lines
from dev.stack import LocalStack
from dev.stack.services import LOCAL_AWS_KEY, LOCAL_AWS_SECRET, LOCAL_CARCUTTER_TOKEN, LOCAL_REGION

AIRFLOW_ROLES = ("api-server", "scheduler", "dag-processor", "triggerer")
PRESIGN_SECONDS = 3600
IMAGES_PER_SUBMISSION = 60  # Car-Cutter's async submission takes at most 60 URLs, all of one vehicle
MB = 1024 * 1024


@dataclass
class DagRun:
    """One `vehicle_listings` run and what it cost, from just before it was triggered to its end."""

    outcome: RunOutcome
    processes: list[ProcessPeak]
    cpu_by_role: dict[str, float]
    services: dict[str, ServiceCounts]  # provider -> what the stand-in counted during the run
    s3: S3Requests
    largest_xcom: XComSize | None
    statuses: dict[str, int]  # image status -> count, from the run's manifest
    task_logs: TaskLogLines  # lines of the run's task and trigger log files, by level

    @property
    def api_calls(self) -> int:
        return sum(counts.calls for counts in self.services.values())

    @property
    def credits(self) -> int:
        return sum(counts.credits for counts in self.services.values())

    @property
    def airflow_cpu_seconds(self) -> float:
        return sum(self.cpu_by_role.get(role, 0.0) for role in AIRFLOW_ROLES)

    @property
    def airflow_peak_rss_mb(self) -> float:
        return max((p.rss_bytes for p in self.processes if p.role in AIRFLOW_ROLES), default=0) / MB


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
    s3_requests: dict[str, Any] = field(default_factory=dict)
    largest_xcom: dict[str, Any] | None = None
    submission_floor: int = 0  # fewest submissions the API allows: one per vehicle per 60 images
    result_downloads: dict[str, Any] | None = None  # Car-Cutter stand-in's per-URL count, when it has one
    task_log_lines: dict[str, dict[str, int]] | None = None  # source (task, trigger) -> level -> lines; None: no DAG
    task_log_lines_at_info: int | None = None  # of those, the lines a logger at INFO writes (INFO and above)
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
        data["s3_requests_per_image"] = self.s3_requests.get("total", 0) / self.n
        at_info = self.task_log_lines_at_info
        data["task_log_lines_per_image"] = at_info / self.n if at_info is not None else None
        return data


def submission_floor(listing: BenchListing, provider: str) -> int:
    images = Counter(
        row["vehicle_id"] for row in listing.rows for image in row["images"] if image["provider"] == provider
    )
    return sum(-(-count // IMAGES_PER_SUBMISSION) for count in images.values())


def profile_name(workload: str) -> str:
    """The short name `--profile` and `--only` use for a workload."""
    return {"carcutter-async": "async", "clippingmagic-autoclip": "clip"}.get(workload, workload)


class Bench:
    """Everything the workloads share: the stack, Airflow, the photo pool and the process monitor."""

    def __init__(
        self,
        stack: LocalStack,
        cluster: AirflowCluster | None,
        pool: list[PoolPhoto],
        work: Path,
        profile_dir: Path | None = None,
        profiled: set[str] | None = None,
    ) -> None:
        """`profiled`: the workloads `profile_dir` gets py-spy samples of (None: every one)."""
        self.stack, self.cluster, self.pool, self.work = stack, cluster, pool, work
        self.profile_dir, self.profiled = profile_dir, profiled
        import boto3
        from botocore.config import Config

        self.s3 = boto3.client(
            "s3", endpoint_url=stack.s3_url, aws_access_key_id=LOCAL_AWS_KEY, aws_secret_access_key=LOCAL_AWS_SECRET,
            region_name=LOCAL_REGION, config=Config(max_pool_connections=32),
        )  # fmt: skip
        self.service_url = {"carcutter": stack.carcutter_url, "clippingmagic": stack.clippingmagic_url}
        log_dir = stack.settings.log_dir or work / "logs"
        self.s3_log = S3RequestLog(log_dir / "s3.log", stack.bucket)
        self.monitor: Monitor | None = None
        # Logical dates from the DAG's start_date on (Airflow creates no tasks for earlier dates).
        self._dates = iter(f"2026-11-{day:02d}" for day in range(1, 31))

    def watch(self) -> None:
        roots = {name: process.pid for name, process in self.stack.processes.items()}
        if self.cluster:
            roots |= {name: process.pid for name, process in self.cluster.processes.items()}
        self.monitor = Monitor(roots)

    def next_date(self) -> str:
        return next(self._dates)

    def new_photos(
        self, tag: str, date: str, n: int, provider: str, per_vehicle: int, pool: list[PoolPhoto] | None = None
    ) -> BenchListing:
        """A listing of `n` new photos for `date`; the photos are uploaded, the listing file is not."""
        pool = pool or self.pool
        listing = make_listing(f"{tag}-{date}", date, n, provider, [p.angle for p in pool], per_vehicle)
        upload_photos(listing.photo_keys, pool, self.s3, self.stack.bucket)
        return listing

    def listing(
        self, tag: str, n: int, provider: str, per_vehicle: int, pool: list[PoolPhoto] | None = None
    ) -> BenchListing:
        """The next date's listing of `n` new photos, uploaded with its photos."""
        listing = self.new_photos(tag, self.next_date(), n, provider, per_vehicle, pool)
        put_listing_file(listing, self.s3, self.stack.bucket)
        return listing

    def run_dag(self, profile_as: str, listing: BenchListing, batch_size: int) -> DagRun:
        """Trigger the DAG for the listing's date and measure it; the stand-ins keep the state they had."""
        before = {provider: ServiceCounts.read(url) for provider, url in self.service_url.items()}
        cpu_before = self.monitor.cpu_seconds()
        s3_start = self.s3_log.mark()
        self.monitor.start()
        profilers = self._start_profilers(profile_as, listing.date)
        run_id = self.cluster.trigger(listing.date, {"batch_size": batch_size})
        outcome = self.cluster.wait(run_id, timeout=max(600, listing.image_count))
        s3_end = self.s3_log.mark()
        processes = self.monitor.stop()
        _stop_profilers(profilers)
        cpu_after = self.monitor.cpu_seconds()
        if outcome.retried:
            print(f"  warning: retried tasks (each waits out retry_delay): {', '.join(outcome.retried)}", flush=True)
        return DagRun(
            outcome=outcome, processes=processes,
            cpu_by_role={role: cpu_after[role] - cpu_before[role] for role in cpu_after},
            services={p: ServiceCounts.read(url).since(before[p]) for p, url in self.service_url.items()},
            s3=self.s3_log.count(s3_start, s3_end), largest_xcom=self.cluster.largest_xcom(run_id),
            statuses=self._manifest_statuses(listing.date),
            task_logs=count_task_log_lines(self.cluster.run_log_dir(run_id)),
        )  # fmt: skip

    # Workloads

    def pipeline(self, workload: str, provider: str, listing: BenchListing, batch_size: int) -> Measurement:
        """One `vehicle_listings` run under the scheduler, every image sent to `provider`, on fresh stand-ins."""
        for url in self.service_url.values():
            reset_service(url)
        run = self.run_dag(profile_name(workload), listing, batch_size)
        counts = run.services[provider]
        n = listing.image_count
        measurement = Measurement(
            workload=workload, n=n, wall_seconds=run.outcome.wall_seconds,
            processing_seconds=run.outcome.processing_span(provider), limit_images_per_second=0.0, limit_note="",
            calls=calls_by_kind(provider, dict(counts.operations)), operations=dict(counts.operations),
            status_429=counts.status_codes.get("429", 0), failed_images=n - run.statuses.get("final", 0),
            statuses=run.statuses, credits_charged=counts.credits, airflow_cpu_seconds=run.airflow_cpu_seconds,
            cpu_by_role=run.cpu_by_role, processes=[asdict(p) for p in run.processes], run_state=run.outcome.state,
            s3_requests=asdict(run.s3), largest_xcom=asdict(run.largest_xcom) if run.largest_xcom else None,
            submission_floor=submission_floor(listing, provider),
            task_log_lines=run.task_logs.by_source, task_log_lines_at_info=run.task_logs.at_info(),
            extra={"tasks": task_spans(run.outcome), "retried_tasks": run.outcome.retried, "batch_size": batch_size,
                   "date": listing.date},
        )  # fmt: skip
        if provider == "carcutter":
            measurement.result_downloads = result_downloads(self.stack.carcutter_url)
            self._carcutter_limit(measurement, list(counts.charges))
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
        counts = ServiceCounts.read(self.stack.carcutter_url)
        return Measurement(
            workload="naive", n=n, wall_seconds=outcome.wall_seconds, processing_seconds=outcome.wall_seconds,
            limit_images_per_second=1 / processing_seconds,
            limit_note=f"one image at a time: at best P = {processing_seconds:g} s each",
            calls=calls_by_kind("carcutter", dict(counts.operations)), operations=dict(counts.operations),
            status_429=counts.status_codes.get("429", 0), failed_images=outcome.failed,
            statuses={"final": n - outcome.failed}, credits_charged=counts.credits,
            airflow_cpu_seconds=0.0, cpu_by_role={},
            processes=[asdict(p) for p in processes if p.role == "carcutter"],
            submission_floor=submission_floor(listing, "carcutter"),
        )  # fmt: skip

    # Helpers

    def _start_profilers(self, workload: str, date: str) -> list[subprocess.Popen]:
        """py-spy samples (collapsed stacks, for `flamegraph.pl` or speedscope) of the scheduler tree (task
        processes included), the triggerer and S3."""
        if self.profile_dir is None or (self.profiled is not None and workload not in self.profiled):
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
                [py_spy, "record", "--pid", str(pid), "--subprocesses", "--rate", "25", "--nonblocking",
                 "--format", "raw", "--output", str(self.profile_dir / f"{workload}-{date}-{role}.txt")],
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


def task_spans(outcome: RunOutcome) -> dict[str, float]:
    return {task: round(outcome.span(task), 2) for task in sorted({t.task_id for t in outcome.tasks})}
