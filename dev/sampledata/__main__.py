"""Command line: generate sample data, optionally upload it to S3."""

from __future__ import annotations

import argparse
import datetime as dt

from dev.sampledata.generator import DEFAULT_BUCKET, FORMATS, generate, upload


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m dev.sampledata", description=__doc__)
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--vehicles", type=int, default=3)
    parser.add_argument("--images-per-vehicle", type=int, default=4)
    parser.add_argument("--megapixels", type=float, default=0.5)
    parser.add_argument("--formats", default=",".join(FORMATS), help="comma-separated: csv,jsonl,parquet")
    parser.add_argument("--inject-bad-rows", action="store_true", help="append invalid rows for pipeline tests")
    parser.add_argument("--s3-bucket", help="bucket named in image refs; given, the data is uploaded to it")
    parser.add_argument("--s3-endpoint", help="S3 endpoint URL, e.g. the local moto server")
    parser.add_argument("--http-base-url", help="base of http image refs (default: <s3-endpoint>/<bucket>)")
    parser.add_argument("--listing-date", default=dt.date.today().isoformat(), help="upload under listings/dt=")
    args = parser.parse_args(argv)

    bucket = args.s3_bucket or DEFAULT_BUCKET
    http_base_url = args.http_base_url or (f"{args.s3_endpoint.rstrip('/')}/{bucket}" if args.s3_endpoint else None)
    sample = generate(
        args.out,
        seed=args.seed,
        vehicles=args.vehicles,
        images_per_vehicle=args.images_per_vehicle,
        megapixels=args.megapixels,
        bucket=bucket,
        http_base_url=http_base_url,
        formats=tuple(args.formats.split(",")),
        inject_bad_rows=args.inject_bad_rows,
    )
    print(f"wrote {len(sample.photos)} photos and masks, {len(sample.rows)} vehicles to {sample.out_dir}")
    for name, path in sample.listing_files.items():
        print(f"  {name}: {path}")
    if args.s3_bucket:
        keys = upload(sample, bucket=args.s3_bucket, listing_date=args.listing_date, endpoint_url=args.s3_endpoint)
        print(f"uploaded {len(keys)} objects to s3://{args.s3_bucket}/ (listings: listings/dt={args.listing_date}/)")


if __name__ == "__main__":
    main()
