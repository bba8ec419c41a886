"""One probe run: both services' checks in order, the report printed and written to S3."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from botocore.exceptions import BotoCoreError, ClientError

from vehicle_photos.carcutter.hooks.carcutter import CarCutterHook
from vehicle_photos.clippingmagic.hooks.clippingmagic import ClippingMagicHook
from vehicle_photos.contract_probe import carcutter_probe as cc
from vehicle_photos.contract_probe import clippingmagic_probe as cm
from vehicle_photos.contract_probe.checks import Checks
from vehicle_photos.contract_probe.probe_image import SIZE, probe_photo
from vehicle_photos.contract_probe.report import ProbeReport, html_page, json_text, redacted, text_table
from vehicle_photos.image_common.registration import DEFAULT_REGISTRATION_GRACE_SECONDS
from vehicle_photos.image_common.s3_objects import write_object

CARCUTTER = "carcutter"
CLIPPINGMAGIC = "clippingmagic"
ORDER = (
    cc.REGISTRATION_DELAY,
    cc.URL_ECHO,
    cc.UNKNOWN_URL,
    cc.RESULT_BEFORE_FINAL,
    cc.FEATURE_FIELDS,
    cc.ANNOTATION_PATHS,
    cc.STATUS_VALUES,
    cc.REQUEST_TARGET,
    cc.ERROR_BODY,
    cm.LIST_ORDER,
    cm.LIST_DELAY,
    cm.REDIRECT,
    cm.RESULT_REVISION,
    cm.STORAGE_CREDENTIALS,
    cm.STORAGE_LINK_LIFE,
    cm.TEST_EXTRA_OUTPUTS,
    cm.NO_RESULT,
    cm.UNKNOWN_FIELDS,
    cm.ERROR_BODY,
)
SPEND_FLAG = "--spend-one-credit"


@dataclass(frozen=True)
class ProbeOptions:
    """What a run may do. `image_uri` (s3://bucket/key) submits the user's own small photo instead of the drawn
    one; `services` limits the run to one API."""

    bucket: str
    spend_one_credit: bool = False
    carcutter_conn_id: str = CarCutterHook.default_conn_name
    clippingmagic_conn_id: str = ClippingMagicHook.default_conn_name
    aws_conn_id: str = "aws_default"
    prefix: str = "probes"
    registration_grace_seconds: float = DEFAULT_REGISTRATION_GRACE_SECONDS  # the deployment's: what a lag must fit
    max_wait_seconds: float = 900.0
    services: tuple[str, ...] = (CARCUTTER, CLIPPINGMAGIC)
    image_uri: str | None = None


class ConnectionRefused(Exception):
    """A service refused the connection's credentials on a free call: nothing was probed or spent."""


def _check_connection(name: str, conn_id: str, test_connection: Callable[[], tuple[bool, str]]) -> None:
    works, message = test_connection()
    if not works:
        raise ConnectionRefused(f"{name} refused connection {conn_id!r}: {message}")


@dataclass(frozen=True)
class ProbeRun:
    report: ProbeReport
    table: str  # printed form, redacted
    stored: str  # where the JSON and HTML were written, or why not


def run_probe(options: ProbeOptions, say: Callable[[str], None] = print) -> ProbeRun:
    started = dt.datetime.now(dt.UTC)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    run_id = f"{stamp}-{uuid.uuid4().hex[:6]}"
    checks = Checks()
    s3 = S3Hook(aws_conn_id=options.aws_conn_id)
    secrets: set[str] = set()
    endpoints: dict[str, str] = {}
    observations: dict[str, float | str | None] = {}
    spent = 0
    if CARCUTTER in options.services:
        hook = CarCutterHook(options.carcutter_conn_id)
        secrets.add(hook.settings.token)
        _check_connection("Car-Cutter", options.carcutter_conn_id, hook.test_connection)
        endpoints["Car-Cutter"] = hook.settings.base_url
        say(f"Car-Cutter at {hook.settings.base_url} (connection {options.carcutter_conn_id}): free checks ...")
        probe = cc.CarCutterProbe(hook, checks, run_id)
        try:
            spent = _probe_carcutter(probe, options, s3, run_id, secrets, say)
        finally:
            probe.cleanup()
        observations.update(probe.submission.observations())
    if CLIPPINGMAGIC in options.services:
        observations["clippingmagic_list_seconds"] = _probe_clippingmagic(options, checks, run_id, secrets, say)
    ranks = {guess.key: index for index, guess in enumerate(ORDER)}
    ordered = sorted(checks, key=lambda check: ranks.get(check.key, len(ranks)))
    report = ProbeReport(started.isoformat(timespec="seconds"), endpoints, spent, ordered, observations)
    stored = _store_report(report, s3, options, stamp, secrets)
    return ProbeRun(report, redacted(text_table(report), secrets), stored)


def _probe_clippingmagic(
    options: ProbeOptions, checks: Checks, run_id: str, secrets: set[str], say: Callable[[str], None]
) -> float | None:
    """The Clipping Magic checks (test mode); returns how soon the upload was listed."""
    hook = ClippingMagicHook(
        options.clippingmagic_conn_id, registration_grace_seconds=options.registration_grace_seconds
    )
    secrets.add(hook.settings.api_key)
    _check_connection("Clipping Magic", options.clippingmagic_conn_id, hook.test_connection)
    say(f"Clipping Magic at {hook.settings.base_url} (connection {options.clippingmagic_conn_id}): test mode ...")
    probe = cm.ClippingMagicProbe(hook, checks, run_id, probe_photo)
    try:
        with checks.measuring(*[guess for guess in ORDER if guess.service == cm.CLIPPINGMAGIC]):
            probe.run(options.registration_grace_seconds)
    finally:
        probe.cleanup()
    return probe.list_seconds


def _store_report(report: ProbeReport, s3: S3Hook, options: ProbeOptions, stamp: str, secrets: set[str]) -> str:
    """Write the report as JSON and HTML; returns where, or why not (the printed table is the report then)."""
    keys = {"json": f"{options.prefix}/{stamp}.json", "html": f"{options.prefix}/{stamp}.html"}
    bodies = {
        "json": (json_text(report), "application/json"),
        "html": (html_page(report), "text/html; charset=utf-8"),
    }
    try:
        client = s3.get_conn()
        for kind, (body, content_type) in bodies.items():
            write_object(client, options.bucket, keys[kind], redacted(body, secrets).encode(), content_type)
    except (BotoCoreError, ClientError) as error:
        return f"not written to s3://{options.bucket}/{options.prefix}/ ({error})"
    return f"s3://{options.bucket}/{keys['json']} and s3://{options.bucket}/{keys['html']}"


def _probe_carcutter(
    probe: cc.CarCutterProbe,
    options: ProbeOptions,
    s3: S3Hook,
    run_id: str,
    secrets: set[str],
    say: Callable[[str], None],
) -> int:
    """The Car-Cutter checks; returns the credits spent (0 or 1)."""
    unknown_echo = probe.check_unknown_url()
    probe.check_request_target()
    probe.check_error_body()
    with probe.checks.measuring(cc.FEATURE_FIELDS, cc.ANNOTATION_PATHS):
        probe.register_vehicle()
        probe.check_feature_fields()
        probe.check_annotation_paths()
    submitted_echo = None
    spent = 0
    if options.spend_one_credit:
        try:
            uri, url = _stage_image(options, s3, run_id)
        except (BotoCoreError, ClientError) as error:
            for guess in cc.BILLABLE:
                probe.checks.not_measured(guess, f"the probe image could not be staged in S3 ({type(error).__name__})")
            probe.record_url_echo(unknown_echo, None)
            return 0
        secrets.update([url, *_signed_values(url)])
        say(
            f"Spending ONE Car-Cutter credit: submitting {uri} ({SIZE[0]}x{SIZE[1]} JPEG unless your own) once, "
            f"for vehicle {probe.vehicle_id}; waiting up to {options.max_wait_seconds:.0f} s for it ..."
        )
        submitted_echo = probe.check_submission(url, options.registration_grace_seconds, options.max_wait_seconds)
        spent = int(probe.submission.charged)
    else:
        for guess in cc.BILLABLE:
            probe.checks.not_measured(guess, f"needs one Car-Cutter credit: run with {SPEND_FLAG} (make probe SPEND=1)")
    probe.record_url_echo(unknown_echo, submitted_echo)
    return spent


def _signed_values(url: str) -> list[str]:
    """The long query values of a presigned URL (signature, credential), which escaping cannot hide from the
    redaction of the outputs."""
    return [value for _, value in parse_qsl(urlsplit(url).query) if len(value) >= 16]


def _stage_image(options: ProbeOptions, s3: S3Hook, run_id: str) -> tuple[str, str]:
    """The image Car-Cutter fetches: (s3 URI, presigned URL). The drawn one goes under the probe prefix, with a
    space and a plus in its key so its presigned URL carries percent-encoding for the echo check."""
    if options.image_uri:
        bucket, _, key = options.image_uri.removeprefix("s3://").partition("/")
    else:
        bucket, key = options.bucket, f"{options.prefix}/{run_id}/contract probe+car.jpg"
        s3.load_bytes(probe_photo(0), key=key, bucket_name=bucket, replace=True)
    url = s3.generate_presigned_url("get_object", params={"Bucket": bucket, "Key": key}, expires_in=3600)
    if not url:
        raise RuntimeError(f"could not presign s3://{bucket}/{key}")
    return f"s3://{bucket}/{key}", url
