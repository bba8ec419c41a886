"""`python -m bench [--quick]` (`make bench`, `make bench QUICK=1`); see bench/__init__.py."""

from __future__ import annotations

import argparse
import platform
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import psutil

from bench import report, targets
from bench.airflow_cluster import AirflowCluster
from bench.photos import WORK_DIR, photo_pool
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

FULL = {"async": (120, 1200, 6000), "naive": 120, "clip": 600}
QUICK = {"async": (120,), "naive": 10, "clip": 48}


def commit() -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain"], cwd=REPO_ROOT, capture_output=True, text=True).stdout
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


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="the smallest size of each workload (~2 minutes)")
    parser.add_argument("--async-sizes", type=lambda text: [int(n) for n in text.split(",")],
                        help="workload 1 sizes, comma-separated (default 120,1200,6000)")  # fmt: skip
    parser.add_argument("--naive-size", type=int, help="workload 2 size (default 120)")
    parser.add_argument("--clip-size", type=int, help="workload 3 size (default 600; 0 skips it)")
    parser.add_argument(
        "--batch-size", type=int, default=BATCH_SIZE, help=f"workload 1: vehicles per mapped task ({BATCH_SIZE})"
    )
    parser.add_argument("--profile", action="store_true", help="py-spy samples into bench/work/profiles")
    parser.add_argument("--no-docs", action="store_true", help="do not copy the plot to docs/bench.png")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = dict(QUICK if args.quick else FULL)
    sizes["async"] = args.async_sizes or sizes["async"]
    sizes["naive"] = args.naive_size if args.naive_size is not None else sizes["naive"]
    sizes["clip"] = args.clip_size if args.clip_size is not None else sizes["clip"]
    started = time.monotonic()
    info = machine()
    pool = photo_pool()
    WORK_DIR.mkdir(exist_ok=True)
    stack = start_stack(
        StackSettings(
            s3_port=0, carcutter_port=0, clippingmagic_port=0, log_dir=WORK_DIR / "logs",
            carcutter_args=["--fast", "--processing-seconds", str(PROCESSING_SECONDS)],
            clippingmagic_args=["--fast", "--concurrency-cap", str(CLIP_CAP), "--latency-ms", str(CLIP_LATENCY_MS)],
        )
    )  # fmt: skip
    home = Path(tempfile.mkdtemp(prefix="airflow-", dir=WORK_DIR))
    cluster = AirflowCluster(home, stack)
    rows: list[Measurement] = []
    try:
        bench = Bench(stack, None, pool, WORK_DIR, profile_dir=WORK_DIR / "profiles" if args.profile else None)
        bench.watch()
        # The naive client only needs the stand-in: it runs while Airflow migrates its DB and starts.
        print(f"naive client: {sizes['naive']} images, one at a time, while Airflow starts ...", flush=True)
        naive: list[Measurement | BaseException] = []

        def run_naive() -> None:
            try:
                naive.append(bench.naive(sizes["naive"], PROCESSING_SECONDS))
            except BaseException as error:
                naive.append(error)

        thread = threading.Thread(target=run_naive)
        if sizes["naive"]:
            thread.start()
        cluster.start()
        if sizes["naive"]:
            thread.join()
            if isinstance(naive[0], BaseException):
                raise naive[0]
        rows += naive
        bench.cluster = cluster
        bench.watch()
        print(f"Airflow up in {home} after {time.monotonic() - started:.0f}s", flush=True)
        for n in sizes["async"]:
            print(f"workload 1: Car-Cutter async, N={n} ...", flush=True)
            rows.append(bench.pipeline("carcutter-async", "carcutter", n, IMAGES_PER_VEHICLE, args.batch_size))
            print(f"  DAG run {rows[-1].run_state} in {rows[-1].wall_seconds:.1f}s", flush=True)
        if sizes["clip"]:
            # Two mapped tasks of 12 vehicles, each with the operator's default concurrency of 5: 10 in flight.
            print(f"workload 3: Clipping Magic auto-clip, N={sizes['clip']} ...", flush=True)
            per_vehicle = max(1, sizes["clip"] // CLIP_VEHICLES)
            clip = bench.pipeline("clippingmagic-autoclip", "clippingmagic", sizes["clip"], per_vehicle, batch_size=12)
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
            rows.append(clip)
            print(f"  DAG run {clip.run_state} in {clip.wall_seconds:.1f}s", flush=True)
    finally:
        cluster.stop()
        stack.stop()

    results = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": commit(),
        "quick": args.quick,
        "machine": info,
        "processing_seconds": PROCESSING_SECONDS,
        "total_seconds": round(time.monotonic() - started, 1),
        "rows": [row.to_dict() for row in rows],
    }
    checks = targets.evaluate(results["rows"], PROCESSING_SECONDS)
    results["targets"] = [{"target": t, "measured": m, "met": met} for t, m, met in checks]
    stem = f"{datetime.now(UTC):%Y%m%d-%H%M}-{results['commit']}" + ("-quick" if args.quick else "")
    docs = None if (args.quick or args.no_docs) else REPO_ROOT / "docs" / "bench.png"
    json_path, png_path = report.write(results, REPO_ROOT / "bench" / "results", stem, docs)
    print()
    print(report.table(results["rows"], PROCESSING_SECONDS))
    print()
    print(report.process_table(results["rows"]))
    print()
    print(targets.render(checks))
    print(f"\n{json_path}\n{png_path}\ntotal {results['total_seconds']:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
