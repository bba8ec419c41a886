"""Command line: generate sample data, optionally upload it to S3 or into the running local stack.

`make sample-data DATE=2026-11-02` is `python -m dev.sampledata --stack --listing-date 2026-11-02`: it writes
that date's listing files and their photos into the bucket of `make stack` (read from `.stack/env`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import tempfile
from pathlib import Path

from dev.sampledata.dealers import SAMPLE_DEALERS
from dev.sampledata.generator import DEFAULT_BUCKET, FORMATS, generate, upload


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m dev.sampledata", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", help="output directory (default with --stack: a temporary one)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--vehicles", type=int, default=3)
    parser.add_argument("--images-per-vehicle", type=int, default=4)
    parser.add_argument("--megapixels", type=float, default=0.5)
    parser.add_argument("--formats", default=",".join(FORMATS), help="comma-separated: csv,jsonl,parquet")
    parser.add_argument("--inject-bad-rows", action="store_true", help="append invalid rows for pipeline tests")
    parser.add_argument(
        "--dealers",
        default=",".join(SAMPLE_DEALERS),
        help="comma-separated dealer ids the vehicles are dealt to, with their profiles file (empty: no dealers)",
    )
    parser.add_argument("--stack", action="store_true", help="upload into the running local stack (make stack)")
    parser.add_argument("--stack-env", type=Path, help="the stack's env file (default .stack/env)")
    parser.add_argument("--s3-bucket", help="bucket named in image refs; given, the data is uploaded to it")
    parser.add_argument("--s3-endpoint", help="S3 endpoint URL, e.g. the local moto server")
    parser.add_argument("--http-base-url", help="base of http image refs (default: <s3-endpoint>/<bucket>)")
    parser.add_argument(
        "--listing-date",
        type=dt.date.fromisoformat,
        default=dt.datetime.now(dt.UTC).date(),
        help="upload under listings/dt=YYYY-MM-DD/ (default: today, UTC)",
    )
    args = parser.parse_args(argv)
    if args.stack:
        use_stack(args, parser)
    elif not args.out:
        parser.error("--out is required without --stack")

    bucket = args.s3_bucket or DEFAULT_BUCKET
    http_base_url = args.http_base_url or (f"{args.s3_endpoint.rstrip('/')}/{bucket}" if args.s3_endpoint else None)
    with tempfile.TemporaryDirectory(prefix="sampledata-") as scratch:
        sample = generate(
            args.out or scratch,
            seed=args.seed,
            vehicles=args.vehicles,
            images_per_vehicle=args.images_per_vehicle,
            megapixels=args.megapixels,
            bucket=bucket,
            http_base_url=http_base_url,
            formats=tuple(args.formats.split(",")),
            inject_bad_rows=args.inject_bad_rows,
            dealers=tuple(dealer for dealer in args.dealers.split(",") if dealer),
        )
        print(f"generated {len(sample.photos)} photos and masks, {len(sample.rows)} vehicles")
        if args.out:
            for name, path in sample.listing_files.items():
                print(f"  {name}: {path}")
        if args.s3_bucket:
            date = args.listing_date.isoformat()
            keys = upload(sample, bucket=args.s3_bucket, listing_date=date, endpoint_url=args.s3_endpoint)
            print(f"uploaded {len(keys)} objects to s3://{args.s3_bucket}/ (listings: listings/dt={date}/)")
    if args.stack:
        print(
            f"In the Airflow UI, trigger vehicle_listings with the logical date {args.listing_date} "
            "(or `make backfill` a range of dates)."
        )


def use_stack(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """Point the upload at the local stack: its endpoint, bucket (created if missing) and credentials."""
    import boto3

    from dev.local_airflow import STACK_ENV_FILE, read_stack_env

    env_file = args.stack_env or STACK_ENV_FILE
    if not env_file.exists():
        parser.error(f"{env_file} not found: start the local stack first (make stack, or make airflow)")
    stack_env = read_stack_env(env_file)
    os.environ.update({key: value for key, value in stack_env.items() if key.startswith("AWS_")})
    args.s3_endpoint = stack_env["STACK_S3_URL"]
    args.s3_bucket = stack_env["STACK_BUCKET"]
    client = boto3.client("s3", endpoint_url=args.s3_endpoint)
    if args.s3_bucket not in {bucket["Name"] for bucket in client.list_buckets().get("Buckets", [])}:
        client.create_bucket(Bucket=args.s3_bucket)


if __name__ == "__main__":
    main()
