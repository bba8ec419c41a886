"""The steady state: a dealer group exports its whole inventory every day, and almost all of it was processed
before.

It follows a workload-1 run of N images (the priming run, which really processed every image) on the same
stand-ins, without resetting them, and runs the DAG twice more:

- control: a later date listing only the about 1 % new images (k = N / 100, made larger so the unchanged
  images are whole vehicles: `new_image_count`; fresh keys, the same shape), so the DAG does for them what it
  would do for any new image. Its processing span is "the new images' own
  processing", and its S3 requests and API calls are what k new images cost by themselves;
- steady state: a later date listing N images, the priming run's first N - k (same keys and ETags: unchanged,
  whole vehicles, so no vehicle is half listed: a vehicle that lost photos changed, and is reconciled) and k new
  ones.

What the steady state costs beyond the control is what the unchanged images cost: S3 requests and API calls
per unchanged image are (steady - control) / (N - k); the goal is at most 0.05 S3 requests and no API call
per unchanged image, and a DAG wall of at most 60 s plus the new images' own processing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from bench.photos import BenchListing, PoolPhoto, put_listing_file, with_new_images
from bench.workloads import Bench, DagRun, Measurement, task_spans

NEW_SHARE = 0.01
WALL_BUDGET_SECONDS = 60.0


@dataclass
class SteadyState:
    n: int
    unchanged: int
    new: int
    priming_date: str
    priming_final: int  # images the priming run's manifest says are final
    wall_seconds: float
    control_wall_seconds: float
    own_processing_seconds: float  # the control run's processing span
    run_state: str
    failed_images: int
    s3_requests: dict[str, Any]
    control_s3_requests: dict[str, Any]
    api_calls: dict[str, dict[str, int]]  # provider -> operation -> calls
    control_api_calls: dict[str, dict[str, int]]
    credits: int
    control_credits: int
    airflow_cpu_seconds: float
    peak_rss_mb: float  # the largest of any Airflow process (task processes included)
    processes: list[dict[str, Any]]
    largest_xcom: dict[str, Any] | None
    control_largest_xcom: dict[str, Any] | None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        s3, control_s3 = self.s3_requests["total"], self.control_s3_requests["total"]
        calls, control_calls = _total(self.api_calls), _total(self.control_api_calls)
        data.update(
            s3_requests_per_listed_image=s3 / self.n,
            s3_requests_per_unchanged_image=(s3 - control_s3) / self.unchanged,
            api_calls_per_unchanged_image=(calls - control_calls) / self.unchanged,
            credits_per_unchanged_image=(self.credits - self.control_credits) / self.unchanged,
            wall_beyond_control_seconds=self.wall_seconds - self.control_wall_seconds,
            wall_goal_seconds=WALL_BUDGET_SECONDS + self.own_processing_seconds,
        )
        return data


def _total(calls: dict[str, dict[str, int]]) -> int:
    return sum(count for operations in calls.values() for count in operations.values())


def _calls(run: DagRun) -> dict[str, dict[str, int]]:
    return {provider: dict(counts.operations) for provider, counts in run.services.items()}


def new_image_count(n: int, per_vehicle: int) -> int:
    """About `NEW_SHARE` of `n`, at least 1, and enough more that the other images are whole vehicles of
    `per_vehicle` (the priming listing's first ones)."""
    unchanged_vehicles = (n - max(1, round(n * NEW_SHARE))) // per_vehicle
    return n - unchanged_vehicles * per_vehicle


def measure_steady_state(
    bench: Bench,
    priming: Measurement,
    priming_listing: BenchListing,
    *,
    batch_size: int,
    per_vehicle: int,
    pool: list[PoolPhoto],
) -> SteadyState:
    """Control and steady-state runs after `priming` (whose listing is `priming_listing`); see the module doc."""
    n = priming_listing.image_count
    new = new_image_count(n, per_vehicle)
    control = bench.listing(f"steady-control-{n}", new, "carcutter", per_vehicle, pool)
    print(f"  control: {new} new images alone ({control.date}) ...", flush=True)
    control_run = bench.run_dag("steady", control, batch_size)

    date = bench.next_date()
    fresh = bench.new_photos(f"steady-new-{n}", date, new, "carcutter", per_vehicle, pool)
    steady = with_new_images(priming_listing, fresh, date)
    put_listing_file(steady, bench.s3, bench.stack.bucket)
    print(f"  steady state: {n} images, {new} of them new ({date}) ...", flush=True)
    run = bench.run_dag("steady", steady, batch_size)
    return SteadyState(
        n=n, unchanged=n - new, new=new, priming_date=priming.extra["date"],
        priming_final=priming.statuses.get("final", 0), wall_seconds=run.outcome.wall_seconds,
        control_wall_seconds=control_run.outcome.wall_seconds,
        own_processing_seconds=control_run.outcome.processing_span("carcutter"), run_state=run.outcome.state,
        failed_images=n - run.statuses.get("final", 0), s3_requests=asdict(run.s3),
        control_s3_requests=asdict(control_run.s3), api_calls=_calls(run), control_api_calls=_calls(control_run),
        credits=run.credits, control_credits=control_run.credits, airflow_cpu_seconds=run.airflow_cpu_seconds,
        peak_rss_mb=run.airflow_peak_rss_mb, processes=[asdict(p) for p in run.processes],
        largest_xcom=asdict(run.largest_xcom) if run.largest_xcom else None,
        control_largest_xcom=asdict(control_run.largest_xcom) if control_run.largest_xcom else None,
        extra={"date": date, "control_date": control.date, "tasks": task_spans(run.outcome),
               "control_tasks": task_spans(control_run.outcome),
               "control_run_state": control_run.outcome.state, "retried_tasks": run.outcome.retried,
               "control_retried_tasks": control_run.outcome.retried},
    )  # fmt: skip
