"""`CarCutterSyncProcessOperator`: one image through the synchronous API, for one-off jobs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import requests
from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.sdk import BaseOperator, Context

from carcutter.hooks.carcutter import CarCutterHook
from carcutter.hooks.images import redact_url
from carcutter.operators.image_batch import PROVIDER
from carcutter.operators.image_sources import SourceImage, image_identity, output_key
from image_records import ImageRecord, ImageRecordStore, options_digest, split_s3_uri

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class CarCutterSyncProcessOperator(BaseOperator):
    """Cut one image now (no polling) and store the result in S3; never billed twice for the same image
    and options, thanks to the image records.

    :param source: `s3://bucket/key` (uploaded as the image) or an http(s) URL (sent as image_url).
    :param options: further single-segment fields under their API names (resolution, padding_x, ...).
    :param background: / license_plate / overlay: `s3://` URIs of a JPG (RGB) / PNG (RGBA) / PNG (RGBA).
    :return: `{"source", "identity", "outputs", "reused"}`; `outputs` is empty for cut_type "none".
    """

    template_fields: Sequence[str] = (
        "source", "vehicle_id", "dest_bucket", "dest_prefix", "cut_type", "options", "background", "license_plate",
        "overlay",
    )  # fmt: skip

    def __init__(
        self,
        *,
        source: str,
        vehicle_id: str,
        dest_bucket: str,
        dest_prefix: str = "processed",
        cut_type: str = "complete",
        options: dict[str, Any] | None = None,
        background: str | None = None,
        license_plate: str | None = None,
        overlay: str | None = None,
        records_bucket: str | None = None,
        records_prefix: str = "records",
        carcutter_conn_id: str = CarCutterHook.default_conn_name,
        aws_conn_id: str | None = "aws_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.source = source
        self.vehicle_id = vehicle_id
        self.dest_bucket = dest_bucket
        self.dest_prefix = dest_prefix
        self.cut_type = cut_type
        self.options = options or {}
        self.background = background
        self.license_plate = license_plate
        self.overlay = overlay
        self.records_bucket = records_bucket
        self.records_prefix = records_prefix
        self.carcutter_conn_id = carcutter_conn_id
        self.aws_conn_id = aws_conn_id

    def execute(self, context: Context) -> dict[str, Any]:
        s3_hook = S3Hook(aws_conn_id=self.aws_conn_id)
        with requests.Session() as web:
            identity = image_identity(SourceImage(self.source, self.vehicle_id), s3_hook, web)
        record_options = {
            "api": "sync", "cut_type": self.cut_type, **self.options,
            "background": self.background, "license_plate": self.license_plate, "overlay": self.overlay,
        }  # fmt: skip
        store = ImageRecordStore(self.records_bucket or self.dest_bucket, self.records_prefix, self.aws_conn_id)
        record = store.get(PROVIDER, identity, record_options)
        if record is not None and record.is_final:
            self.log.info("Already processed: reusing %s", record.outputs or "(no output for cut_type none)")
            return self._summary(identity, record.outputs, reused=True)

        is_s3 = self.source.startswith("s3://")
        result = CarCutterHook(self.carcutter_conn_id).process_sync(
            cut_type=self.cut_type,
            image=_read(s3_hook, self.source) if is_s3 else None,
            image_url=None if is_s3 else self.source,
            background=_read(s3_hook, self.background),
            license_plate=_read(s3_hook, self.license_plate),
            overlay=_read(s3_hook, self.overlay),
            **self.options,
        )
        outputs = {}
        if result is not None:
            content_type = "image/png" if result.startswith(_PNG_SIGNATURE) else "image/jpeg"
            digest = options_digest(identity, record_options)
            key = output_key(self.dest_prefix, self.vehicle_id, self.source, None, digest, content_type)
            s3_hook.get_conn().put_object(Bucket=self.dest_bucket, Key=key, Body=result, ContentType=content_type)
            outputs = {"result": f"s3://{self.dest_bucket}/{key}"}
        store.put(
            ImageRecord(
                provider=PROVIDER, identity=identity, options=record_options, status="final", source=self.source,
                outputs=outputs, credits_charged=0 if result is None else 1, attempts=1,
            )
        )  # fmt: skip
        return self._summary(identity, outputs, reused=False)

    def _summary(self, identity: str, outputs: dict[str, str], reused: bool) -> dict[str, Any]:
        return {
            "source": redact_url(self.source),
            "identity": redact_url(identity),
            "outputs": outputs,
            "reused": reused,
        }


def _read(s3_hook: S3Hook, uri: str | None) -> bytes | None:
    if uri is None:
        return None
    bucket, key = split_s3_uri(uri)
    return s3_hook.get_conn().get_object(Bucket=bucket, Key=key)["Body"].read()
