"""Auto-clip a batch of S3 images: result, SVG clipping path and alpha mask stored next to a per-image record."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property
from pathlib import PurePosixPath
from typing import Any

import requests
from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.sdk import BaseOperator, Context
from airflow.sdk.exceptions import AirflowException

from clippingmagic.exceptions import AuthenticationError, BillingError
from clippingmagic.hooks.clippingmagic import ClippingMagicHook
from clippingmagic.models import RESULT, RESULT_FORMATS, DownloadedResult
from clippingmagic.operators.common import OUTPUT_NAMES, OUTPUT_SUFFIXES, PROVIDER, as_bool, failure_summary
from clippingmagic.s3_objects import (
    S3Location,
    SourceImage,
    downloaded,
    output_stem,
    put_json,
    source_locations,
    spooled,
    upload,
)
from image_records import ImageRecord, ImageRecordStore
from image_records.record import ERROR, FINAL, SUBMITTED

# Errors that make every further image fail too: stop starting new ones.
BATCH_STOPPING_ERRORS = (BillingError, AuthenticationError)


class ClippingMagicAutoClipOperator(BaseOperator):
    """
    Auto-clip S3 images with Clipping Magic and store the outputs in S3.

    For ``photos/V123/1_front.jpg`` the outputs are ``<dest_prefix>/V123/clippingmagic/1_front.png`` (or
    ``.jpeg`` for an opaque result, as Clipping Magic names it), ``1_front.svg``, ``1_front.mask.png`` and
    the per-image record ``1_front.json``. The "never bill twice" record of each image is kept under
    ``<records_prefix>/clippingmagic/``: a finished image is never uploaded or downloaded again, an image
    whose upload was recorded is resumed by downloading its result by id (a repeat download is free).

    Returns one dict per image: ``source, id, revision, test, credits_charged`` (in this run), ``reused``,
    ``status`` (final / error / skipped), ``outputs`` (name -> s3 URI) and ``error``.

    :param source_keys: S3 keys in ``source_bucket``, ``s3://`` URIs or http(s) URLs, or dicts
        ``{"source": ..., "vehicle_id": ...}`` whose outputs go under ``<dest_prefix>/<vehicle_id>/`` (templated).
    :param manifest_key: key or URI of a JSON list of such keys, instead of or in addition to ``source_keys``.
    :param outputs: which of ``result``, ``clipping_path_svg``, ``alpha_mask_png`` to store.
    :param concurrency: images in flight at once (Clipping Magic's documented starting point is 5).
    :param max_failure_ratio: the task fails at the end only if more than this share of images failed.
    """

    template_fields: Sequence[str] = (
        "source_bucket",
        "source_keys",
        "manifest_key",
        "dest_bucket",
        "dest_prefix",
        "records_bucket",
        "records_prefix",
        "test",
        "outputs",
    )
    ui_color = "#c9e4f5"

    def __init__(
        self,
        *,
        source_bucket: str | None = None,
        source_keys: list[str | dict[str, Any]] | str | None = None,
        manifest_key: str | None = None,
        dest_bucket: str | None = None,
        dest_prefix: str = "processed",
        outputs: Sequence[str] | str = RESULT_FORMATS,
        test: bool | str = False,
        concurrency: int = 5,
        max_failure_ratio: float = 0.0,
        records_bucket: str | None = None,
        records_prefix: str = "records",
        clippingmagic_conn_id: str = ClippingMagicHook.default_conn_name,
        aws_conn_id: str | None = "aws_default",
        rate_limit_base_wait: float = 5.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not isinstance(outputs, str):  # a template is checked once rendered, in execute
            _check_outputs(outputs)
        if concurrency < 1 or not 0.0 <= max_failure_ratio <= 1.0:
            raise ValueError("concurrency must be >= 1 and max_failure_ratio within 0..1")
        self.source_bucket = source_bucket
        self.source_keys = source_keys
        self.manifest_key = manifest_key
        self.dest_bucket = dest_bucket
        self.dest_prefix = dest_prefix
        self.outputs = outputs
        self.test = test
        self.concurrency = concurrency
        self.max_failure_ratio = max_failure_ratio
        self.records_bucket = records_bucket
        self.records_prefix = records_prefix
        self.clippingmagic_conn_id = clippingmagic_conn_id
        self.aws_conn_id = aws_conn_id
        self.rate_limit_base_wait = rate_limit_base_wait

    @cached_property
    def hook(self) -> ClippingMagicHook:
        return ClippingMagicHook(self.clippingmagic_conn_id, rate_limit_base_wait=self.rate_limit_base_wait)

    def execute(self, context: Context) -> list[dict[str, Any]]:
        self.outputs = tuple(_check_outputs(self.outputs))
        s3 = S3Hook(aws_conn_id=self.aws_conn_id)
        sources = source_locations(s3.get_conn(), self.source_keys, self.manifest_key, self.source_bucket)
        first_bucket = next((source.location.bucket for source in sources if not source.is_url), None)
        dest_bucket = self.dest_bucket or self.source_bucket or first_bucket
        store = ImageRecordStore(self.records_bucket or dest_bucket or "", self.records_prefix, self.aws_conn_id)
        batch = _AutoClipBatch(self, s3, store, dest_bucket or "", as_bool(self.test))
        self.hook.settings  # noqa: B018 - read the connection once here, not in every worker thread
        self.log.info("auto-clipping %d image(s), %d at a time, test=%s", len(sources), self.concurrency, batch.test)
        with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="clippingmagic") as pool:
            results = list(pool.map(batch.clip, sources))
        failed = [result for result in results if result["status"] != FINAL]
        self.log.info(
            "auto-clip done: %d image(s), %d reused, %d failed, %d credit(s) charged",
            len(results), sum(r["reused"] for r in results), len(failed), sum(r["credits_charged"] for r in results),
        )  # fmt: skip
        if failed and (batch.stopped_by or len(failed) > self.max_failure_ratio * len(results)):
            context["ti"].xcom_push(key="image_results", value=results)
            raise AirflowException(failure_summary(failed, len(results), self.max_failure_ratio, batch.stopped_by))
        return results


class _AutoClipBatch:
    """The per-image work of one task run, shared by its worker threads."""

    def __init__(
        self, operator: ClippingMagicAutoClipOperator, s3: S3Hook, store: ImageRecordStore, bucket: str, test: bool
    ) -> None:
        self.operator = operator
        self.hook = operator.hook
        self.s3 = s3
        self.client = s3.get_conn()
        self.web = requests.Session()  # http(s) sources: identity and download
        self.store = store
        self.store.client  # noqa: B018 - create the S3 client before the threads share it
        self.bucket = bucket
        self.test = test
        self.options = {"format": RESULT, "test": test, "outputs": sorted(operator.outputs)}
        self.stopped_by: str | None = None
        self._stop = threading.Event()

    def clip(self, source: SourceImage) -> dict[str, Any]:
        try:
            identity = source.identity(self.s3, self.web)
            record = self.store.get(PROVIDER, identity, self.options)
        except Exception as error:  # the source or the record cannot be read: this image fails, others go on
            self.operator.log.warning("image %s: %s", source.uri, error)
            return _result(source.uri, None, self.test, status=ERROR, error=f"cannot read source or record: {error}")
        if record is not None and record.is_final:
            return _result_of(record, credits=0, reused=True)
        if self._stop.is_set():
            return _result(source.uri, None, self.test, status="skipped", error=f"not started: {self.stopped_by}")
        attempt = _Attempt(self.store, record or ImageRecord(PROVIDER, identity, dict(self.options), SUBMITTED))
        try:
            return self._clip_and_store(source, attempt)
        except Exception as error:  # one bad image must not fail the others: record it and go on
            return self._record_failure(source, attempt, error)

    def _clip_and_store(self, source: SourceImage, attempt: _Attempt) -> dict[str, Any]:
        upload_name = _upload_name(source.path, attempt.record)
        earlier_attempts = attempt.record.attempts
        attempt.save(attempts=earlier_attempts + 1, source=source.uri)  # written before any billable call
        image_id = attempt.record.provider_ref.get("image_id")
        if image_id is None and earlier_attempts:
            # An earlier attempt may have died after Clipping Magic took the upload but before it learnt the id.
            found = self.hook.find_image_by_filename(upload_name)
            if found is not None and found.result_revision > 0:
                image_id = found.id
                attempt.record_image_id(image_id, credits=0 if self.test else 1, charged_in_this_run=False)
        stem = output_stem(source, self.operator.dest_prefix)
        with spooled() as result_file:
            if image_id is None:
                with downloaded(self.client, source, self.web) as image:
                    result = self.hook.auto_clip(
                        image, result_file, test=self.test, filename=upload_name,
                        on_image_id=lambda new_id: attempt.record_image_id(new_id, credits=0 if self.test else 1),
                    )  # fmt: skip
            else:
                self.operator.log.info("%s was uploaded before as image %s; resuming", source.uri, image_id)
                result = self.hook.download(image_id, result_file)
            outputs = {"result": self._store_output(result_file, result, f"{stem}{result.extension}")}
        revision = result.result_revision or self.hook.get_image(result.image_id).result_revision
        for extra in (name for name in self.operator.outputs if name != RESULT):
            with spooled() as extra_file:
                fetched = self.hook.download(result.image_id, extra_file, result_format=extra)
                outputs[OUTPUT_NAMES[extra]] = self._store_output(
                    extra_file, fetched, f"{stem}{OUTPUT_SUFFIXES[extra]}"
                )
        final = _result_of(attempt.record.touched(status=FINAL, revision=revision, outputs=outputs), attempt.charged)
        put_json(self.client, S3Location(self.bucket, f"{stem}.json"), final)
        attempt.save(status=FINAL, revision=revision, outputs=outputs, last_error=None)
        return final

    def _store_output(self, stream: Any, result: DownloadedResult, key: str) -> str:
        return upload(self.client, stream, S3Location(self.bucket, key), result.content_type)

    def _record_failure(self, source: SourceImage, attempt: _Attempt, error: Exception) -> dict[str, Any]:
        if isinstance(error, BATCH_STOPPING_ERRORS) and not self._stop.is_set():
            self.stopped_by = f"{type(error).__name__}: {error}"
            self._stop.set()
            self.operator.log.error("stopping the batch: %s", self.stopped_by)
        self.operator.log.warning("image %s failed: %s", source.uri, error)
        message = f"{type(error).__name__} for {source.uri}: {error}"
        # An image with a known id stays "submitted": the next run downloads it instead of uploading again.
        status = SUBMITTED if attempt.record.provider_ref.get("image_id") is not None else ERROR
        failed = {**_result_of(attempt.record.touched(last_error=message), attempt.charged), "status": ERROR}
        try:
            attempt.save(status=status, source=source.uri, last_error=message)
            stem = output_stem(source, self.operator.dest_prefix)
            put_json(self.client, S3Location(self.bucket, f"{stem}.json"), failed)
        except Exception as write_error:  # keep the original error as the image's outcome
            self.operator.log.error("could not record the failure of %s: %s", source.uri, write_error)
        return failed


class _Attempt:
    """One image's record during this run. Each change is written to S3 at once, so that whatever happens
    next (a crash, a retry, a rerun), the record already knows the image id and what was charged."""

    def __init__(self, store: ImageRecordStore, record: ImageRecord) -> None:
        self.store = store
        self.record = record
        self.charged = 0  # credits charged in this run

    def save(self, **changes: Any) -> None:
        self.record = self.record.touched(**changes)
        self.store.put(self.record)

    def record_image_id(self, image_id: int, credits: int, charged_in_this_run: bool = True) -> None:
        if charged_in_this_run:
            self.charged += credits
        self.save(
            status=SUBMITTED,
            provider_ref={"image_id": image_id},
            credits_charged=self.record.credits_charged + credits,
        )


def _check_outputs(outputs: Sequence[str]) -> Sequence[str]:
    unknown = set(outputs) - set(RESULT_FORMATS)
    if unknown or RESULT not in outputs:
        raise ValueError(f"outputs must include {RESULT!r} and only {RESULT_FORMATS}, got {list(outputs)}")
    return outputs


def _upload_name(source_key: str, record: ImageRecord) -> str:
    """A file name unique to this image and options, so a lost upload answer can be found in the list."""
    path = PurePosixPath(source_key)
    return f"{path.stem}.{record.digest[:12]}{path.suffix}"


def _result_of(record: ImageRecord, credits: int, reused: bool = False) -> dict[str, Any]:
    return {
        **_result(
            record.source,
            record.provider_ref.get("image_id"),
            bool(record.options.get("test")),
            status=record.status,
            error=record.last_error,
        ),
        "revision": record.revision,
        "credits_charged": credits,
        "credits_this_run": credits,
        "credits_total": record.credits_charged,
        "reused": reused,
        "outputs": dict(record.outputs),
    }


def _result(source: str, image_id: int | None, test: bool, *, status: str, error: str | None) -> dict[str, Any]:
    return {
        "source": source,
        "id": image_id,
        "revision": None,
        "test": test,
        "credits_charged": 0,
        "reused": False,
        "status": status,
        "outputs": {},
        "error": error,
    }
