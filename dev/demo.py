"""`make demo`: the main job on the embedded local stack, start to finish, twice.

1. start moto's S3 server and both API stand-ins on free ports;
2. generate sample vehicles (photos with good and bad listing rows) into the local S3 for one date;
3. run the `vehicle_listings` DAG for that date with `airflow dags test`;
4. print what it did and where the outputs are, and keep a local copy of the HTML report;
5. run the same date again and show, from the stand-ins' own billing ledgers, that it charged nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

from dev.local_airflow import REPO_ROOT, airflow_environment, prepare
from dev.sampledata import generate, upload
from dev.sampledata.dealers import SAMPLE_DEALERS
from dev.stack import LocalStack, StackSettings, start_stack

DEMO_DIR = REPO_ROOT / ".demo"
DEMO_DATE = "2026-11-01"
DAG_ID = "vehicle_listings"
VEHICLES = 6  # two for each sample dealer
IMAGES_PER_VEHICLE = 5


def charges(stack: LocalStack) -> dict[str, int]:
    """Total credits charged so far, per service, read from the stand-ins' emulator-only ledgers."""
    totals = {}
    for name, url in (("carcutter", stack.carcutter_url), ("clippingmagic", stack.clippingmagic_url)):
        ledger = requests.get(f"{url}/_emulator/ledger", timeout=10).json()
        totals[name] = sum(ledger["charges"].values())
    return totals


def run_dag(env: dict[str, str], log_file: Path) -> float:
    started = time.monotonic()
    with log_file.open("w") as log:
        completed = subprocess.run(
            [sys.executable, "-m", "airflow", "dags", "test", DAG_ID, DEMO_DATE],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            check=False,
        )
    if completed.returncode != 0:
        print(log_file.read_text()[-6000:])
        sys.exit(f"`airflow dags test {DAG_ID} {DEMO_DATE}` failed; full log: {log_file}")
    return time.monotonic() - started


def read_json(stack: LocalStack, key: str) -> Any:
    return json.loads(stack.s3_client().get_object(Bucket=stack.bucket, Key=key)["Body"].read())


def print_summary(stack: LocalStack, run: int, seconds: float, charged: dict[str, int]) -> None:
    summary = read_json(stack, f"reports/dt={DEMO_DATE}/summary.json")
    print(f"\n== run {run} of {DAG_ID} for {DEMO_DATE}: {seconds:.0f} s")
    print(
        f"   vehicles {summary['vehicles']}, images {summary['images']} "
        f"({', '.join(f'{k} {v}' for k, v in summary['by_provider'].items())})"
    )
    print(f"   status: {', '.join(f'{k} {v}' for k, v in summary['by_status'].items())}; retakes {summary['retakes']}")
    print(f"   rejected rows {summary['rejected_rows']}, sold vehicles removed {summary['sold_vehicles_deleted']}")
    print(
        f"   credits charged by this run: {summary['credits_this_run']} "
        f"(stand-in ledgers: Car-Cutter {charged['carcutter']}, Clipping Magic {charged['clippingmagic']})"
    )
    for line in summary.get("dealers", []):
        print(
            f"   dealer {line['dealer']:<15} vehicles {line['vehicles']}, images {line['images']} "
            f"(final {line['final']}), credits {line['credits_this_run']}, rejected rows {line['rejected_rows']}, "
            f"{line['budget']}; page reports/dt={DEMO_DATE}/dealers/{line['dealer']}.html"
        )


def main() -> None:
    DEMO_DIR.mkdir(exist_ok=True)
    print("starting the local stack (moto S3, Car-Cutter and Clipping Magic stand-ins) ...")
    stack = start_stack(StackSettings(s3_port=0, carcutter_port=0, clippingmagic_port=0, log_dir=DEMO_DIR / "logs"))
    try:
        os.environ.update(stack.environment())
        with tempfile.TemporaryDirectory() as scratch:
            sample = generate(
                scratch, seed=7, vehicles=VEHICLES, images_per_vehicle=IMAGES_PER_VEHICLE, megapixels=0.3,
                bucket=stack.bucket, http_base_url=f"{stack.s3_url}/{stack.bucket}", inject_bad_rows=True,
                dealers=SAMPLE_DEALERS,
            )  # fmt: skip
            upload(sample, bucket=stack.bucket, listing_date=DEMO_DATE, endpoint_url=stack.s3_url)
        print(
            f"generated {len(sample.rows)} vehicles, {len(sample.photos)} photos, {len(sample.injected)} bad rows "
            f"into s3://{stack.bucket}/listings/dt={DEMO_DATE}/ ({', '.join(sorted(sample.listing_files))})"
        )
        env = airflow_environment(DEMO_DIR / "airflow", stack.environment())
        prepare(env)

        before = charges(stack)
        seconds = run_dag(env, DEMO_DIR / "run-1.log")
        first = charges(stack)
        print_summary(stack, 1, seconds, {k: first[k] - before[k] for k in first})

        report = DEMO_DIR / f"report-{DEMO_DATE}.html"
        report_key = f"reports/dt={DEMO_DATE}/report.html"
        report.write_bytes(stack.s3_client().get_object(Bucket=stack.bucket, Key=report_key)["Body"].read())
        print("\n   outputs in the local S3 (moto), bucket", stack.bucket)
        for prefix in ("processed/", "records/", f"manifests/dt={DEMO_DATE}/", f"reports/dt={DEMO_DATE}/",
                       f"rejected/dt={DEMO_DATE}/", f"archive/dt={DEMO_DATE}/"):  # fmt: skip
            listed = stack.s3_client().list_objects_v2(Bucket=stack.bucket, Prefix=prefix)
            print(f"     s3://{stack.bucket}/{prefix:<28} {listed.get('KeyCount', 0)} objects")
        print(f"   local copy of the HTML report: {report}")

        seconds = run_dag(env, DEMO_DIR / "run-2.log")
        second = charges(stack)
        print_summary(stack, 2, seconds, {k: second[k] - first[k] for k in second})
        if second != first:
            sys.exit("the second run was billed: this is a bug, please report it")
        print("   the rerun of the same date charged nothing: every image was already processed.")
        print(f"\nlogs: {DEMO_DIR}/run-1.log, {DEMO_DIR}/run-2.log, stand-in logs in {DEMO_DIR}/logs/")
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
