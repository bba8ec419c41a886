"""Download results of images by id (for example after a human edit) into S3, once per revision."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.sdk import BaseOperator, Context
from airflow.sdk.exceptions import AirflowException

from clippingmagic.exceptions import ClippingMagicError
from clippingmagic.hooks.clippingmagic import ClippingMagicHook
from clippingmagic.models import JSON, RESULT, RESULT_FORMATS
from clippingmagic.operators.common import OUTPUT_NAMES, OUTPUT_SUFFIXES, PROVIDER, failure_summary
from clippingmagic.s3_objects import S3Location, put_json, spooled, upload
from image_records import ImageRecord, ImageRecordStore
from image_records.record import FINAL

DOWNLOAD_FORMATS = (*RESULT_FORMATS, JSON)


def image_identity(image_id: int) -> str:
    """Record identity of an image known only by its Clipping Magic id."""
    return f"clippingmagic:image/{image_id}"


class ClippingMagicDownloadOperator(BaseOperator):
    """
    Store the current result of each image in S3 under ``<dest_prefix>/<id>/r<revision>`` + ``.png`` /
    ``.jpeg`` (result), ``.svg``, ``.mask.png``, ``.json`` (the Image JSON Object without its secret).

    A production result costs a credit on its first download per revision, so the revision stored is
    recorded (``<records_prefix>/clippingmagic/``) and a revision already stored is never downloaded again:
    reruns and backfills return the recorded outputs.

    :param image_ids: ids, or dicts with an ``id`` (e.g. the output of the result sensor), templated.
    :param formats: any of ``result``, ``clipping_path_svg``, ``alpha_mask_png``, ``json``.
    """

    template_fields: Sequence[str] = ("image_ids", "dest_bucket", "dest_prefix", "records_bucket", "records_prefix")
    ui_color = "#c9e4f5"

    def __init__(
        self,
        *,
        image_ids: Any,
        dest_bucket: str,
        dest_prefix: str = "clippingmagic/results",
        formats: Sequence[str] = (RESULT,),
        concurrency: int = 5,
        records_bucket: str | None = None,
        records_prefix: str = "records",
        clippingmagic_conn_id: str = ClippingMagicHook.default_conn_name,
        aws_conn_id: str | None = "aws_default",
        rate_limit_base_wait: float = 5.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not formats or set(formats) - set(DOWNLOAD_FORMATS):
            raise ValueError(f"formats must be a non-empty subset of {DOWNLOAD_FORMATS}, got {list(formats)}")
        self.image_ids = image_ids
        self.dest_bucket = dest_bucket
        self.dest_prefix = dest_prefix
        self.formats = tuple(formats)
        self.concurrency = concurrency
        self.records_bucket = records_bucket
        self.records_prefix = records_prefix
        self.clippingmagic_conn_id = clippingmagic_conn_id
        self.aws_conn_id = aws_conn_id
        self.rate_limit_base_wait = rate_limit_base_wait

    def execute(self, context: Context) -> list[dict[str, Any]]:
        client = S3Hook(aws_conn_id=self.aws_conn_id).get_conn()
        store = ImageRecordStore(self.records_bucket or self.dest_bucket, self.records_prefix, self.aws_conn_id)
        store.client  # noqa: B018 - create the S3 client before the threads share it
        hook = ClippingMagicHook(self.clippingmagic_conn_id, rate_limit_base_wait=self.rate_limit_base_wait)
        hook.settings  # noqa: B018 - read the connection once, not in every thread
        options = {"download": sorted(self.formats)}

        def download_one(item: Any) -> dict[str, Any]:
            image_id = int(item["id"]) if isinstance(item, dict) else int(item)
            source = item.get("source", "") if isinstance(item, dict) else ""
            try:
                return self._download(hook, client, store, image_id, source, options)
            except ClippingMagicError as error:
                self.log.warning("image %s: %s", image_id, error)
                return {"id": image_id, "source": source, "status": "error", "error": str(error), "outputs": {}}

        items = self.image_ids if isinstance(self.image_ids, list | tuple) else [self.image_ids]
        with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="clippingmagic") as pool:
            results = list(pool.map(download_one, items))
        failed = [result for result in results if result["status"] != FINAL]
        if failed:
            raise AirflowException(failure_summary(failed, len(results), 0.0, None))
        return results

    def _download(
        self,
        hook: ClippingMagicHook,
        client: Any,
        store: ImageRecordStore,
        image_id: int,
        source: str,
        options: dict[str, Any],
    ) -> dict[str, Any]:
        identity = image_identity(image_id)
        record = store.get(PROVIDER, identity, options)
        image = hook.get_image(image_id)  # free: tells the revision there is to download
        if record is not None and record.is_final and record.revision == image.result_revision:
            self.log.info("image %s revision %s is stored already", image_id, image.result_revision)
            return _result(record, image.test, credits=0, reused=True)
        if image.result_revision == 0:
            raise ClippingMagicError(f"image {image_id} has no result yet (resultRevision 0)")
        stem = f"{self.dest_prefix.strip('/')}/{image_id}/r{image.result_revision}"
        outputs: dict[str, str] = {}
        revision = image.result_revision
        for result_format in (f for f in self.formats if f != JSON):
            with spooled() as stream:
                fetched = hook.download(image_id, stream, result_format=result_format)
                revision = fetched.result_revision or revision
                suffix = fetched.extension if result_format == RESULT else OUTPUT_SUFFIXES[result_format]
                location = S3Location(self.dest_bucket, f"{stem}{suffix}")
                outputs[OUTPUT_NAMES[result_format]] = upload(client, stream, location, fetched.content_type)
        if JSON in self.formats:
            outputs["json"] = put_json(client, S3Location(self.dest_bucket, f"{stem}.json"), image.to_dict())
        charged = 0 if image.test or set(self.formats) == {JSON} else 1
        base = record or ImageRecord(PROVIDER, identity, options, FINAL, source=source or identity)
        record = base.touched(
            status=FINAL,
            provider_ref={"image_id": image_id},
            revision=revision,
            outputs=outputs,
            credits_charged=base.credits_charged + charged,
            attempts=base.attempts + 1,
            last_error=None,
        )
        store.put(record)
        return _result(record, image.test, credits=charged, reused=False)


def _result(record: ImageRecord, test: bool, credits: int, reused: bool) -> dict[str, Any]:
    return {
        "id": record.provider_ref.get("image_id"),
        "source": record.source,
        "revision": record.revision,
        "test": test,
        "credits_charged": credits,
        "reused": reused,
        "status": record.status,
        "outputs": dict(record.outputs),
        "error": None,
    }
