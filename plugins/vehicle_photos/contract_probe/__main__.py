"""`python -m vehicle_photos.contract_probe [--spend-one-credit]` (`make probe [SPEND=1]`).

Connections are read as Airflow components read them (environment variables, the secrets backend, the metadata
database), so run it where the DAGs run: `docker compose exec airflow-scheduler python -m
vehicle_photos.contract_probe`, or `kubectl exec` into the scheduler. Exit status 1 when a guess differs, 2 when
a connection is missing or refused.
"""

from __future__ import annotations

import argparse
import os
import sys

# As Airflow's own `connections` commands do: the metadata database is a secrets backend here too.
os.environ.setdefault("_AIRFLOW_PROCESS_CONTEXT", "server")

from airflow.sdk.exceptions import AirflowNotFoundException

from vehicle_photos.contract_probe.checks import DIFFERS
from vehicle_photos.contract_probe.runner import (
    CARCUTTER,
    CLIPPINGMAGIC,
    SPEND_FLAG,
    ConnectionRefused,
    ProbeOptions,
    run_probe,
)
from vehicle_photos.image_common.api_errors import ApiError
from vehicle_photos.image_common.registration import DEFAULT_REGISTRATION_GRACE_SECONDS

BUCKET_VARIABLE = "vehicle_photos_bucket"
DEFAULT_BUCKET = "vehicle-photos"
GRACE_VARIABLE = "vehicle_photos_registration_grace_seconds"  # as the DAGs read their settings


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m vehicle_photos.contract_probe", description=__doc__.split("\n")[0])
    parser.add_argument(
        SPEND_FLAG,
        action="store_true",
        dest="spend",
        help="submit one small image to Car-Cutter (one credit) for the checks that need it",
    )
    parser.add_argument("--carcutter-conn-id", default=ProbeOptions.carcutter_conn_id)
    parser.add_argument("--clippingmagic-conn-id", default=ProbeOptions.clippingmagic_conn_id)
    parser.add_argument("--aws-conn-id", default=ProbeOptions.aws_conn_id)
    parser.add_argument("--bucket", help=f"where the report goes (default: Variable {BUCKET_VARIABLE})")
    parser.add_argument("--prefix", default=ProbeOptions.prefix, help="key prefix of the report (default probes)")
    parser.add_argument("--image-uri", help="s3://bucket/key of your own small vehicle photo to submit instead")
    parser.add_argument(
        "--registration-grace-seconds", type=float,
        help=f"the deployment's grace period the delays must fit in (default: Variable {GRACE_VARIABLE}, else "
        f"{DEFAULT_REGISTRATION_GRACE_SECONDS:g})",
    )  # fmt: skip
    parser.add_argument(
        "--max-wait-seconds",
        type=float,
        default=ProbeOptions.max_wait_seconds,
        help="how long to wait for the submitted image to become final",
    )
    parser.add_argument("--only", choices=(CARCUTTER, CLIPPINGMAGIC), help="probe one service only")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    bucket = args.bucket or _variable(BUCKET_VARIABLE) or DEFAULT_BUCKET
    grace = args.registration_grace_seconds
    if grace is None:
        grace = float(_variable(GRACE_VARIABLE) or DEFAULT_REGISTRATION_GRACE_SECONDS)
    options = ProbeOptions(
        bucket=bucket, spend_one_credit=args.spend, carcutter_conn_id=args.carcutter_conn_id,
        clippingmagic_conn_id=args.clippingmagic_conn_id, aws_conn_id=args.aws_conn_id, prefix=args.prefix,
        registration_grace_seconds=grace,
        max_wait_seconds=args.max_wait_seconds, services=(args.only,) if args.only else (CARCUTTER, CLIPPINGMAGIC),
        image_uri=args.image_uri,
    )  # fmt: skip
    if not args.spend:
        print(f"No Car-Cutter credit will be spent ({SPEND_FLAG} measures the checks that need one).")
    try:
        run = run_probe(options, say=lambda line: print(line, flush=True))
    except (AirflowNotFoundException, ApiError, ConnectionRefused) as error:
        print(f'contract probe: {error} (README "First run against the real services")', file=sys.stderr)
        return 2
    print()
    print(run.table)
    print()
    print(f"Report: {run.stored}")
    return 1 if DIFFERS in run.report.verdicts().values() else 0


def _variable(name: str) -> str | None:
    from airflow.sdk import Variable

    try:
        return Variable.get(name, default=None) or None
    except Exception:  # no metadata database here: the defaults
        return None


if __name__ == "__main__":
    sys.exit(main())
