"""`python -m bench` (`make bench`, `make bench QUICK=1`, `make bench SCALE=1`); see bench/__init__.py."""

from __future__ import annotations

import argparse
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

from bench import report, targets
from bench.airflow_cluster import AirflowCluster
from bench.photos import MEGAPIXELS, WORK_DIR, downscaled, photo_pool
from bench.steady_state import measure_steady_state
from bench.workloads import Bench, Measurement
from dev.stack import StackSettings, start_stack

REPO_ROOT = Path(__file__).resolve().parents[1]
PROCESSING_SECONDS = 2.0
CLIP_CAP, CLIP_LATENCY_MS = 10, 500
CLIP_VEHICLES = 24
# The DAG's `batch_size` Param for workload 1: 6,000 images make 4 mapped tasks, one per carcutter_api pool slot
# (the DAG's default of 20 makes 13 tasks that queue for the 4 slots; see the README).
BATCH_SIZE = 63
IMAGES_PER_VEHICLE = 24
# Above this many images the photos are downscaled (see photos.downscaled): moto holds every object in memory.
FULL_SIZE_PHOTOS_UP_TO = 6000
SCALED_MEGAPIXELS = 0.2

FULL = {"async": (120, 1200, 6000), "steady": (6000,), "naive": 120, "clip": 600}
QUICK = {"async": (120,), "steady": (120,), "naive": 10, "clip": 48}
SCALE_N = 50_000  # `--scale` (make bench SCALE=1) adds workload 1 and the steady state at this size
WORKLOADS = ("async", "naive", "clip", "steady")
DAG_WORKLOADS = ("async", "clip", "steady")  # the naive client runs without Airflow


def commit() -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True)
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO_ROOT, capture_output=True, text=True
    ).stdout
    return (done.stdout.strip() or "unknown") + ("-dirty" if dirty.strip() else "")


def machine() -> dict[str, object]:
    return {
        "cpus": psutil.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 1e9, 1),
        "cpu_model": _cpu_model(),
        "python": platform.python_version(),
        "os": platform.platform(),
        "load_average_at_start": [round(x, 2) for x in psutil.getloadavg()],
    }


def _cpu_model() -> str:
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.processor()
    return next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), "")


def _sizes(text: str) -> list[int]:
    return [int(n) for n in text.split(",") if n]


def _workloads(text: str) -> set[str]:
    names = set(text.split(","))
    if unknown := names - set(WORKLOADS):
        raise argparse.ArgumentTypeError(f"unknown workloads {sorted(unknown)}; choose from {', '.join(WORKLOADS)}")
    return names


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    add = parser.add_argument
    add("--quick", action="store_true", help="the smallest size of each workload (< 3 minutes)")
    add("--scale", action="store_true", help=f"add N = {SCALE_N:,} to workload 1 and the steady state")
    add("--async-sizes", type=_sizes, help="workload 1 sizes, comma-separated (default 120,1200,6000)")
    add("--steady-sizes", type=_sizes, help="steady-state sizes (default 6000); each is primed by workload 1 at N")
    add("--naive-size", type=int, help="workload 2 size (default 120)")
    add("--clip-size", type=int, help="workload 3 size (default 600)")
    add("--batch-size", type=int, default=BATCH_SIZE, help=f"workload 1: vehicles per mapped task ({BATCH_SIZE})")
    add("--only", type=_workloads, help=f"only these workloads, comma-separated, of {', '.join(WORKLOADS)}")
    add("--profile", nargs="*", choices=DAG_WORKLOADS, help="py-spy samples of these workloads' DAG runs (default all)")
    add(
        "--database",
        choices=("sqlite", "postgres"),
        default="sqlite",
        help="Airflow's metadata DB: SQLite in the run's home, or a Postgres database of its own on this machine",
    )
    add("--unversioned", action="store_true", help="no S3 versioning on the bucket: Car-Cutter is sent source copies")
    add("--no-latest", action="store_true", help="leave latest.json and docs/bench.png alone (--quick always does)")
    return parser.parse_args(argv)


def plan_sizes(args: argparse.Namespace) -> dict[str, Any]:
    """Sizes of every workload to run; 0 or () skips one. The steady state needs workload 1 at its sizes."""
    sizes = dict(QUICK if args.quick else FULL)
    given = {"async": args.async_sizes, "steady": args.steady_sizes, "naive": args.naive_size, "clip": args.clip_size}
    sizes |= {name: value for name, value in given.items() if value is not None}
    if args.scale:
        sizes["async"], sizes["steady"] = (*sizes["async"], SCALE_N), (*sizes["steady"], SCALE_N)
    selected = args.only or set(WORKLOADS)
    steady = tuple(sorted(set(sizes["steady"]))) if "steady" in selected else ()
    return {
        "async": tuple(sorted(set(sizes["async"] if "async" in selected else ()) | set(steady))),
        "steady": steady,
        "naive": sizes["naive"] if "naive" in selected else 0,
        "clip": sizes["clip"] if "clip" in selected else 0,
    }


def run_async(bench: Bench, sizes: dict[str, Any], batch_size: int) -> tuple[list[Measurement], list[dict]]:
    """Workload 1 at every size, each followed by the steady state it primes when that size has one."""
    pool = bench.pool
    scaled = downscaled(pool, SCALED_MEGAPIXELS) if max(sizes["async"], default=0) > FULL_SIZE_PHOTOS_UP_TO else []
    rows, steady_states = [], []
    for n in sizes["async"]:
        photos = scaled if n > FULL_SIZE_PHOTOS_UP_TO else pool
        print(f"workload 1: Car-Cutter async, N={n} ...", flush=True)
        listing = bench.listing(f"carcutter-async-{n}", n, "carcutter", IMAGES_PER_VEHICLE, photos)
        row = bench.pipeline("carcutter-async", "carcutter", listing, batch_size)
        row.extra["photo_megapixels"] = SCALED_MEGAPIXELS if photos is scaled else MEGAPIXELS
        rows.append(row)
        print(f"  DAG run {row.run_state} in {row.wall_seconds:.1f}s", flush=True)
        if n not in sizes["steady"]:
            continue
        if row.statuses.get("final", 0) != n:
            print(f"  warning: the priming run left {n - row.statuses.get('final', 0)} of {n} images not final")
        steady = measure_steady_state(
            bench, row, listing, batch_size=batch_size, per_vehicle=IMAGES_PER_VEHICLE, pool=photos
        )
        steady_states.append(steady.to_dict())
        print(f"  steady state {steady.run_state} in {steady.wall_seconds:.1f}s, "
              f"control run {steady.control_wall_seconds:.1f}s", flush=True)  # fmt: skip
    return rows, steady_states


def run_clip(bench: Bench, n: int) -> Measurement:
    """Workload 3: two mapped tasks of 12 vehicles, each with the operator's default concurrency of 5: 10 requests
    in flight, the stand-in's cap."""
    print(f"workload 3: Clipping Magic auto-clip, N={n} ...", flush=True)
    listing = bench.listing(f"clippingmagic-autoclip-{n}", n, "clippingmagic", max(1, n // CLIP_VEHICLES))
    clip = bench.pipeline("clippingmagic-autoclip", "clippingmagic", listing, batch_size=12)
    clip.limit_images_per_second = CLIP_CAP / (CLIP_LATENCY_MS / 1000)
    clip.limit_note = f"cap {CLIP_CAP} / latency {CLIP_LATENCY_MS} ms, one request per image"
    # Every request (storage redirects too) holds one of the cap's slots for the latency.
    requests_per_image = sum(clip.operations.values()) / clip.n
    clip.extra["requests_per_image"] = requests_per_image
    clip.extra["request_limit_images_per_second"] = clip.limit_images_per_second / requests_per_image
    if clip.processing_seconds:
        rate = sum(clip.operations.values()) / clip.processing_seconds
        clip.extra["requests_per_second"] = rate
        clip.extra["request_ratio"] = rate / clip.limit_images_per_second
    print(f"  DAG run {clip.run_state} in {clip.wall_seconds:.1f}s", flush=True)
    return clip


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = plan_sizes(args)
    started = time.monotonic()
    info = machine()
    pool = photo_pool()
    WORK_DIR.mkdir(exist_ok=True)
    shutil.rmtree(WORK_DIR / "logs", ignore_errors=True)  # the stack appends to its logs: keep this run's only
    stack = start_stack(
        StackSettings(
            s3_port=0, carcutter_port=0, clippingmagic_port=0, log_dir=WORK_DIR / "logs",
            versioned_bucket=not args.unversioned,
            carcutter_args=["--fast", "--processing-seconds", str(PROCESSING_SECONDS)],
            clippingmagic_args=["--fast", "--concurrency-cap", str(CLIP_CAP), "--latency-ms", str(CLIP_LATENCY_MS)],
        )
    )  # fmt: skip
    home = Path(tempfile.mkdtemp(prefix="airflow-", dir=WORK_DIR))
    cluster = AirflowCluster(home, stack, postgres=args.database == "postgres")
    rows: list[Measurement] = []
    profile_dir = WORK_DIR / "profiles" if args.profile is not None else None
    try:
        bench = Bench(stack, None, pool, WORK_DIR, profile_dir, set(args.profile) if args.profile else None)
        bench.watch()
        # The naive client only needs the stand-in: it runs while Airflow migrates its DB and starts.
        naive: list[Measurement | BaseException] = []

        def run_naive() -> None:
            try:
                naive.append(bench.naive(sizes["naive"], PROCESSING_SECONDS))
            except BaseException as error:
                naive.append(error)

        thread = threading.Thread(target=run_naive)
        if sizes["naive"]:
            print(f"naive client: {sizes['naive']} images, one at a time, while Airflow starts ...", flush=True)
            thread.start()
        if sizes["async"] or sizes["clip"]:
            cluster.start()
        if sizes["naive"]:
            thread.join()
            if isinstance(naive[0], BaseException):
                raise naive[0]
        rows += naive
        bench.cluster = cluster
        bench.watch()
        print(f"Airflow up in {home} after {time.monotonic() - started:.0f}s", flush=True)
        async_rows, steady_states = run_async(bench, sizes, args.batch_size)
        rows += async_rows
        if sizes["clip"]:
            rows.append(run_clip(bench, sizes["clip"]))
    finally:
        cluster.stop()
        stack.stop()

    results = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": commit(),
        "quick": args.quick,
        "scale": args.scale,
        "machine": info,
        "processing_seconds": PROCESSING_SECONDS,
        "versioned_bucket": not args.unversioned,
        "metadata_database": args.database,
        "total_seconds": round(time.monotonic() - started, 1),
        "rows": [row.to_dict() for row in rows],
        "steady_state": steady_states,
    }
    results["targets"] = targets.evaluate(results)
    stem = f"{datetime.now(UTC):%Y%m%d-%H%M}-{results['commit']}" + ("-quick" if args.quick else "")
    latest = not (args.quick or args.only or args.no_latest)
    json_path, png_path = report.write(results, stem, latest, REPO_ROOT / "docs" / "bench.png")
    print()
    print(report.markdown(results))
    print(f"\n{json_path}\n{png_path}" + (f"\n{report.LATEST}" if latest else ""))
    print(f"total {results['total_seconds']:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
