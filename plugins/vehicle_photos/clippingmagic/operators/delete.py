"""`ClippingMagicDeleteOperator`: images deleted from Clipping Magic once their outputs are archived in S3."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import Context

from vehicle_photos.clippingmagic.exceptions import NotFoundError
from vehicle_photos.clippingmagic.hooks.clippingmagic import ClippingMagicHook
from vehicle_photos.clippingmagic.operators.bases import PROVIDER, ClippingMagicImagesOperator
from vehicle_photos.clippingmagic.utils.arguments import image_ids_of
from vehicle_photos.image_common.record_index import RecordIndex
from vehicle_photos.image_common.statuses import RecordStatus


class ClippingMagicDeleteOperator(ClippingMagicImagesOperator):
    """Delete images from Clipping Magic: the given `image_ids` (e.g. right after their results were stored;
    items the download operator reports as failed are kept), and/or, with `older_than_days`, every image on
    the account whose final record in the record index (`s3://<records_bucket>/<records_prefix>/_index/
    clippingmagic/`) holds stored outputs and was last updated more than that many days ago. Images without
    such a record, such as ones still waiting for a person's edit, are never deleted by age.

    An id that is already gone counts as deleted. Returns `{"deleted": [...], "already_gone": [...]}`.
    """

    template_fields: Sequence[str] = (*ClippingMagicImagesOperator.template_fields, "image_ids", "older_than_days")

    def __init__(self, *, image_ids: Any = None, older_than_days: int | str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.image_ids = image_ids
        self.older_than_days = older_than_days

    def execute(self, context: Context) -> dict[str, list[int]]:
        by_age = self.older_than_days not in (None, "")
        if self.image_ids is None and not by_age:
            raise ValueError("give image_ids, older_than_days, or both")
        if by_age and not self.records_bucket:
            raise ValueError("older_than_days needs records_bucket: only images archived in S3 are deleted by age")
        hook = ClippingMagicHook(self.clippingmagic_conn_id)
        wanted = image_ids_of([item for item in _listed(self.image_ids) if _stored(item)])
        if by_age:
            wanted += self._archived_before(hook, datetime.now(UTC) - timedelta(days=int(self.older_than_days)))
        deleted, already_gone = [], []
        for image_id in dict.fromkeys(wanted):
            try:
                hook.delete(image_id)
                deleted.append(image_id)
            except NotFoundError:
                already_gone.append(image_id)
        self.log.info("deleted %d images; %d were already gone", len(deleted), len(already_gone))
        return {"deleted": deleted, "already_gone": already_gone}

    def _archived_before(self, hook: ClippingMagicHook, cutoff: datetime) -> list[int]:
        """Images on the account whose outputs were archived before `cutoff`, by their indexed final records."""
        archived_at: dict[int, datetime] = {}
        for record in RecordIndex(self.record_store(), PROVIDER).load().values():
            image_id = record.provider_ref.get("image_id")
            if image_id is not None and record.outputs:
                updated = datetime.fromisoformat(record.updated_at)
                archived_at[int(image_id)] = min(updated, archived_at.get(int(image_id), updated))
        on_account = [image.id for image in hook.list_images()]
        old = [image_id for image_id in on_account if image_id in archived_at and archived_at[image_id] < cutoff]
        self.log.info(
            "%d images on the account, %d archived, %d archived before %s",
            len(on_account),
            len(archived_at),
            len(old),
            cutoff.isoformat(timespec="seconds"),
        )
        return old


def _listed(items: Any) -> list[Any]:
    if items is None:
        return []
    return list(items) if isinstance(items, list | tuple) else [items]


def _stored(item: Any) -> bool:
    """Rows of the download operator whose results were not stored are kept on the service."""
    return not (isinstance(item, dict) and item.get("status") not in (None, RecordStatus.FINAL))
