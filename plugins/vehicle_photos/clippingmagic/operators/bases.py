"""What the Clipping Magic operators share: the hook on their connection, and
- for the operators that send image sources (auto-clip, upload for review): the batch base of
  `image_common`, Clipping Magic's documented starting concurrency, sources read once, and upload claims;
- for the operators that work on images Clipping Magic has, by id (download, delete): where records are.
"""

from __future__ import annotations

import time
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
from vehicle_photos.image_common.records import ImageRecord
from vehicle_photos.image_common.registration import DEFAULT_REGISTRATION_GRACE_SECONDS
from vehicle_photos.image_common.sources import ImageItem
from vehicle_photos.image_common.statuses import RecordStatus

PROVIDER = "clippingmagic"
UI_COLOR = "#c9e4f5"
START_CONCURRENCY = 5  # documented: "start out with at most 5 threads"
# Of the task's execution_timeout, what is kept for writing the results once the work stops.
PUBLISH_SHARE = 0.1


class ClippingMagicBatchOperator(ImageBatchOperator):
    """Base of the operators that send a batch of image sources to Clipping Magic.

    :param concurrency: requests in flight to Clipping Magic at once (its documentation says: start with 5).
    :param registration_grace_seconds: an upload that may have reached Clipping Magic (answer lost, server
        error, an earlier try that died) is asked for over this long before it counts as never made (templated).
        One call's worst case (timeouts, retries, grace) must be under half the task's `execution_timeout`; the
        work stops short of that timeout, leaving what is not done claimed for a later run, so the results are
        always written.
    """

    provider = PROVIDER
    ui_color = UI_COLOR
    template_fields: Sequence[str] = (*ImageBatchOperator.template_fields, "registration_grace_seconds")

    def __init__(
        self,
        *,
        concurrency: int = START_CONCURRENCY,
        clippingmagic_conn_id: str = DEFAULT_CONN_ID,
        registration_grace_seconds: float = DEFAULT_REGISTRATION_GRACE_SECONDS,
        **kwargs: Any,
    ) -> None:
        super().__init__(concurrency=concurrency, **kwargs)
        self.clippingmagic_conn_id = clippingmagic_conn_id
        self.registration_grace_seconds = registration_grace_seconds

    @cached_property
    def hook(self) -> ClippingMagicHook:
        return ClippingMagicHook(
            self.clippingmagic_conn_id,
            max_in_flight=int(self.concurrency),
            registration_grace_seconds=float(self.registration_grace_seconds),
        )

    def check_arguments(self) -> None:
        super().check_arguments()
        if float(self.registration_grace_seconds) < 0:
            raise ValueError(f"registration_grace_seconds must not be negative, got {self.registration_grace_seconds}")
        timeout = self.execution_timeout.total_seconds() if self.execution_timeout else None
        if timeout is not None and self.hook.longest_call_seconds() >= timeout / 2:
            raise ValueError(
                f"with registration_grace_seconds {self.registration_grace_seconds} and connection "
                f"{self.clippingmagic_conn_id!r}'s timeout and retries, one call may take "
                f"{self.hook.longest_call_seconds():.0f} s: more than half the task's execution_timeout "
                f"({timeout:.0f} s), which would kill the task before it writes its results"
            )

    def work_deadline(self) -> float | None:
        """When the work stops starting anything new (time.monotonic()): early enough that a call in flight
        then, and the writing of the results, end before execution_timeout."""
        if not self.execution_timeout:
            return None
        timeout = self.execution_timeout.total_seconds()
        return time.monotonic() + timeout - max(timeout * PUBLISH_SHARE, self.hook.longest_call_seconds())

    def source_file(self, item: ImageItem) -> SourceFile:
        return SourceFile(self.s3_hook.conn, self.web, self.policy, item)

    def upload_claims(self, context: Context) -> UploadClaims:
        return UploadClaims(
            self.records, self.hook, self.claim_holder(context), float(self.claim_lease_seconds),
            registration_grace_seconds=float(self.registration_grace_seconds), deadline=self.work_deadline(),
        )  # fmt: skip

    def new_claim(
        self, claims: UploadClaims, item: ImageItem, source: SourceFile, identity: str, options: dict[str, Any]
    ) -> ImageRecord:
        """The claim of an image about to be uploaded; refuses (raises) an image not worth uploading."""
        source.inspect()
        digest = ImageRecord(self.provider, identity, options, RecordStatus.CLAIMED).digest
        return ImageRecord(
            self.provider, identity, options, RecordStatus.CLAIMED, source=str(item.source), attempts=1,
            upload_name=upload_name(item.name, digest), **claims.claim_fields(),
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
