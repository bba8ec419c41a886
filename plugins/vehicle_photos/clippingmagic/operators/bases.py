"""What the Clipping Magic operators share: the hook on their connection, and
- for the operators that send image sources (auto-clip, upload for review): the batch base of
  `image_common`, Clipping Magic's documented starting concurrency, sources read once, and upload claims;
- for the operators that work on images Clipping Magic has, by id (download, delete): where records are.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import Any

from airflow.sdk import BaseOperator, Context

from vehicle_photos.clippingmagic.hooks.clippingmagic import ClippingMagicHook
from vehicle_photos.clippingmagic.utils.connection import DEFAULT_CONN_ID
from vehicle_photos.clippingmagic.utils.files import SourceFile
from vehicle_photos.clippingmagic.utils.upload_claims import UploadClaims, upload_name
from vehicle_photos.image_common.batch_operator import ImageBatchOperator
from vehicle_photos.image_common.record_store import ImageRecordStore
from vehicle_photos.image_common.records import CLAIMED, ImageRecord
from vehicle_photos.image_common.sources import ImageItem

PROVIDER = "clippingmagic"
UI_COLOR = "#c9e4f5"
START_CONCURRENCY = 5  # documented: "start out with at most 5 threads"


class ClippingMagicBatchOperator(ImageBatchOperator):
    """Base of the operators that send a batch of image sources to Clipping Magic.

    :param concurrency: requests in flight to Clipping Magic at once (its documentation says: start with 5).
    """

    provider = PROVIDER
    ui_color = UI_COLOR

    def __init__(
        self,
        *,
        concurrency: int = START_CONCURRENCY,
        clippingmagic_conn_id: str = DEFAULT_CONN_ID,
        **kwargs: Any,
    ) -> None:
        super().__init__(concurrency=concurrency, **kwargs)
        self.clippingmagic_conn_id = clippingmagic_conn_id

    @cached_property
    def hook(self) -> ClippingMagicHook:
        return ClippingMagicHook(self.clippingmagic_conn_id, max_in_flight=int(self.concurrency))

    def source_file(self, item: ImageItem) -> SourceFile:
        return SourceFile(self.s3_hook.conn, self.web, self.policy, item)

    def upload_claims(self, context: Context) -> UploadClaims:
        return UploadClaims(self.records, self.hook, self.claim_holder(context), self.claim_lease_seconds)

    def new_claim(
        self, claims: UploadClaims, item: ImageItem, source: SourceFile, identity: str, options: dict[str, Any]
    ) -> ImageRecord:
        """The claim of an image about to be uploaded; refuses (raises) an image not worth uploading."""
        source.inspect()
        digest = ImageRecord(self.provider, identity, options, CLAIMED).digest
        return ImageRecord(
            self.provider, identity, options, CLAIMED, source=str(item.source), attempts=1,
            upload_name=upload_name(item.name, digest), **claims.stamp(),
        )  # fmt: skip


class ClippingMagicImagesOperator(BaseOperator):
    """Base of the operators that work on images Clipping Magic has, known by id.

    :param records_bucket / records_prefix: where the image records are.
    """

    template_fields: Sequence[str] = ("records_bucket", "records_prefix")
    ui_color = UI_COLOR

    def __init__(
        self,
        *,
        records_bucket: str | None = None,
        records_prefix: str = "records",
        clippingmagic_conn_id: str = DEFAULT_CONN_ID,
        aws_conn_id: str | None = "aws_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.records_bucket, self.records_prefix = records_bucket, records_prefix
        self.clippingmagic_conn_id, self.aws_conn_id = clippingmagic_conn_id, aws_conn_id

    def record_store(self, default_bucket: str | None = None) -> ImageRecordStore:
        return ImageRecordStore(self.records_bucket or default_bucket or "", self.records_prefix, self.aws_conn_id)
