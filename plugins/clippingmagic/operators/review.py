"""Upload S3 images for a human to touch up the clip in ClippingMagic.js."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import PurePosixPath
from typing import Any

import requests
from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.sdk import BaseOperator, Context
from airflow.sdk.exceptions import AirflowException

from clippingmagic.editor_secret import encrypt_image_secret
from clippingmagic.exceptions import ClippingMagicError, NotFoundError
from clippingmagic.hooks.clippingmagic import ClippingMagicHook
from clippingmagic.models import JSON, ClippingMagicImage
from clippingmagic.operators.common import PROVIDER, as_bool
from clippingmagic.s3_objects import SourceImage, downloaded, source_locations
from image_records import ImageRecord, ImageRecordStore
from image_records.record import SUBMITTED


class ClippingMagicUploadForReviewOperator(BaseOperator):
    """
    Upload images without Auto-Clip (free) so that a person can clip them in ClippingMagic.js.

    An image uploaded for review before (same S3 object, same test flag) is not uploaded again: its
    recorded id is reused while Clipping Magic still has it.

    Returns one dict per image: ``source``, ``id``, ``resultRevision``, ``originalFilename``, ``test`` and
    ``secret_encrypted`` (the image secret encrypted with Airflow's Fernet key, for the editor page;
    ``None`` if no Fernet key is configured). The secret itself is never returned or logged.
    """

    template_fields: Sequence[str] = (
        "source_bucket",
        "source_keys",
        "manifest_key",
        "records_bucket",
        "records_prefix",
        "test",
    )
    ui_color = "#c9e4f5"

    def __init__(
        self,
        *,
        source_bucket: str | None = None,
        source_keys: list[str] | str | None = None,
        manifest_key: str | None = None,
        test: bool | str = False,
        concurrency: int = 5,
        records_bucket: str | None = None,
        records_prefix: str = "records",
        clippingmagic_conn_id: str = ClippingMagicHook.default_conn_name,
        aws_conn_id: str | None = "aws_default",
        rate_limit_base_wait: float = 5.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.source_bucket = source_bucket
        self.source_keys = source_keys
        self.manifest_key = manifest_key
        self.test = test
        self.concurrency = concurrency
        self.records_bucket = records_bucket
        self.records_prefix = records_prefix
        self.clippingmagic_conn_id = clippingmagic_conn_id
        self.aws_conn_id = aws_conn_id
        self.rate_limit_base_wait = rate_limit_base_wait

    def execute(self, context: Context) -> list[dict[str, Any]]:
        s3 = S3Hook(aws_conn_id=self.aws_conn_id)
        client = s3.get_conn()
        web = requests.Session()
        sources = source_locations(client, self.source_keys, self.manifest_key, self.source_bucket)
        first_bucket = next((source.location.bucket for source in sources if not source.is_url), "")
        bucket = self.records_bucket or self.source_bucket or first_bucket
        store = ImageRecordStore(bucket, self.records_prefix, self.aws_conn_id)
        store.client  # noqa: B018 - create the S3 client before the threads share it
        hook = ClippingMagicHook(self.clippingmagic_conn_id, rate_limit_base_wait=self.rate_limit_base_wait)
        hook.settings  # noqa: B018 - read the connection once, not in every thread
        test = as_bool(self.test)
        options = {"format": JSON, "test": test}

        def upload_one(source: SourceImage) -> dict[str, Any]:
            identity = source.identity(s3, web)
            record = store.get(PROVIDER, identity, options)
            image = _still_there(hook, record)
            if image is None:
                with downloaded(client, source, web) as stream:
                    image = hook.upload(stream, test=test, filename=PurePosixPath(source.path).name)
                attempts = record.attempts + 1 if record else 1
                store.put(
                    ImageRecord(
                        PROVIDER, identity, options, SUBMITTED, source=source.uri,
                        provider_ref={"image_id": image.id}, attempts=attempts,
                    )
                )  # fmt: skip
            else:
                self.log.info("%s is already uploaded for review as image %s", source.uri, image.id)
            return {"source": source.uri, **image.to_dict(), "secret_encrypted": encrypt_image_secret(image.secret)}

        with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="clippingmagic") as pool:
            try:
                return list(pool.map(upload_one, sources))
            except ClippingMagicError as error:
                raise AirflowException(f"upload for review failed: {error}") from error


def _still_there(hook: ClippingMagicHook, record: ImageRecord | None) -> ClippingMagicImage | None:
    image_id = record.provider_ref.get("image_id") if record else None
    if image_id is None:
        return None
    try:
        return hook.get_image(image_id)
    except NotFoundError:
        return None
