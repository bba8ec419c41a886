"""Delete images from Clipping Magic once their outputs are archived in S3."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import BaseOperator, Context

from clippingmagic.exceptions import NotFoundError
from clippingmagic.hooks.clippingmagic import ClippingMagicHook
from clippingmagic.operators.common import PROVIDER, image_ids_of
from image_records import ImageRecord, ImageRecordStore


class ClippingMagicDeleteOperator(BaseOperator):
    """
    Delete images from Clipping Magic: the given ``image_ids`` (e.g. right after archiving their results),
    and/or, with ``older_than_days``, every image on the account whose outputs an image record in
    ``s3://<records_bucket>/<records_prefix>/clippingmagic/`` shows stored in S3 and whose record was last
    updated more than that many days ago. Images without such a record are never deleted by age.

    An id that is already gone counts as deleted. Returns ``{"deleted": [...], "already_gone": [...]}``.
    """

    template_fields: Sequence[str] = ("image_ids", "older_than_days", "records_bucket", "records_prefix")
    ui_color = "#c9e4f5"

    def __init__(
        self,
        *,
        image_ids: Any = None,
        older_than_days: int | str | None = None,
        records_bucket: str | None = None,
        records_prefix: str = "records",
        clippingmagic_conn_id: str = ClippingMagicHook.default_conn_name,
        aws_conn_id: str | None = "aws_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if image_ids is None and older_than_days is None:
            raise ValueError("give image_ids, older_than_days, or both")
        if older_than_days is not None and not records_bucket:
            raise ValueError("older_than_days needs records_bucket: only archived images are deleted")
        self.image_ids = image_ids
        self.older_than_days = older_than_days
        self.records_bucket = records_bucket
        self.records_prefix = records_prefix
        self.clippingmagic_conn_id = clippingmagic_conn_id
        self.aws_conn_id = aws_conn_id

    def execute(self, context: Context) -> dict[str, list[int]]:
        hook = ClippingMagicHook(self.clippingmagic_conn_id)
        wanted = image_ids_of(_archived_only(self.image_ids))
        if self.older_than_days is not None:
            wanted += self._archived_and_older(hook, int(self.older_than_days))
        deleted, already_gone = [], []
        for image_id in dict.fromkeys(wanted):
            try:
                hook.delete(image_id)
                deleted.append(image_id)
            except NotFoundError:
                already_gone.append(image_id)
        self.log.info("deleted %d image(s); %d were already gone", len(deleted), len(already_gone))
        return {"deleted": deleted, "already_gone": already_gone}

    def _archived_and_older(self, hook: ClippingMagicHook, days: int) -> list[int]:
        cutoff = datetime.now(UTC) - timedelta(days=days)
        store = ImageRecordStore(self.records_bucket or "", self.records_prefix, self.aws_conn_id)
        archived_at: dict[int, datetime] = {}
        for record in store.iter_records(PROVIDER):
            image_id = record.provider_ref.get("image_id")
            if image_id is not None and _is_archived(record):
                updated = datetime.fromisoformat(record.updated_at)
                archived_at[int(image_id)] = min(updated, archived_at.get(int(image_id), updated))
        on_account = [image.id for image in hook.list_images()]
        old = [image_id for image_id in on_account if image_id in archived_at and archived_at[image_id] < cutoff]
        self.log.info(
            "%d image(s) on the account, %d archived, %d archived more than %d day(s) ago",
            len(on_account), len(archived_at), len(old), days,
        )  # fmt: skip
        return old


def _is_archived(record: ImageRecord) -> bool:
    return record.is_final and bool(record.outputs)


def _archived_only(items: Any) -> Any:
    """Results of the download operator whose download failed are kept on the service, not deleted."""
    if isinstance(items, list | tuple):
        return [item for item in items if not (isinstance(item, dict) and item.get("status") == "error")]
    return items
