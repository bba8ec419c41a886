"""`ClippingMagicDownloadOperator`: the current results of images known by id (e.g. after a person's edit) into
S3, once per revision."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property
from typing import Any

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.sdk import Context
from airflow.sdk.exceptions import AirflowException

from vehicle_photos.clippingmagic.exceptions import API, ApiError, BadRequestError
from vehicle_photos.clippingmagic.hooks.clippingmagic import ClippingMagicHook
from vehicle_photos.clippingmagic.operators.bases import PROVIDER, START_CONCURRENCY, ClippingMagicImagesOperator
from vehicle_photos.clippingmagic.utils.arguments import image_ids_of
from vehicle_photos.clippingmagic.utils.images import SPOOL_MAX_BYTES
from vehicle_photos.clippingmagic.utils.models import JSON, RESULT, RESULT_FORMATS, ClippingMagicImage
from vehicle_photos.clippingmagic.utils.outputs import check_output, put_output
from vehicle_photos.image_common.record_index import RecordIndex
from vehicle_photos.image_common.record_store import ImageRecordStore, RecordChangedError, StoredRecord
from vehicle_photos.image_common.records import ImageRecord, options_digest
from vehicle_photos.image_common.statuses import RecordStatus

DOWNLOAD_FORMATS = (*RESULT_FORMATS, JSON)
SUFFIXES = {"clipping_path_svg": ".svg", "alpha_mask_png": ".mask.png", JSON: ".json"}


def image_identity(image_id: int) -> str:
    """The record identity of an image known only by its Clipping Magic id."""
    return f"clippingmagic:image/{image_id}"


class ClippingMagicDownloadOperator(ClippingMagicImagesOperator):
    """Store the current result of each image in S3 under `<dest_prefix>/<id>/r<revision>` + `.png` / `.jpeg`
    (result), `.svg`, `.mask.png`, `.json` (the Image JSON Object without its secret).

    A production result costs a credit on its first download per revision, so the revision stored is recorded
    (`<records_prefix>/clippingmagic/`, and in the record index, which `ClippingMagicDeleteOperator` reads) and
    a revision stored before is never downloaded again: reruns and backfills return the recorded outputs. The
    task fails, after trying every image, if any of them could not be stored.

    Returns one dict per image: `id`, `source`, `revision`, `test`, `credits_charged` (in this run), `reused`,
    `status` (final / failed), `outputs` (format -> s3 URI) and `error`.

    :param image_ids: ids, or dicts with an `id` (e.g. the output of the result sensor), templated.
    :param formats: any of `result`, `clipping_path_svg`, `alpha_mask_png`, `json`.
    :param records_bucket: default `dest_bucket`.
    """

    template_fields: Sequence[str] = (
        *ClippingMagicImagesOperator.template_fields,
        "image_ids",
        "dest_bucket",
        "dest_prefix",
    )

    def __init__(
        self,
        *,
        image_ids: Any,
        dest_bucket: str,
        dest_prefix: str = "clippingmagic/results",
        formats: Sequence[str] = (RESULT,),
        concurrency: int = START_CONCURRENCY,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.image_ids, self.formats = image_ids, formats
        self.dest_bucket, self.dest_prefix = dest_bucket, dest_prefix
        self.concurrency = concurrency

    @cached_property
    def hook(self) -> ClippingMagicHook:
        return ClippingMagicHook(self.clippingmagic_conn_id, max_in_flight=int(self.concurrency))

    @cached_property
    def records(self) -> ImageRecordStore:
        return self.record_store(default_bucket=self.dest_bucket)

    @cached_property
    def s3(self) -> Any:
        return S3Hook(aws_conn_id=self.aws_conn_id).conn

    def execute(self, context: Context) -> list[dict[str, Any]]:
        if not self.formats or set(self.formats) - set(DOWNLOAD_FORMATS):
            raise ValueError(f"formats must be a non-empty subset of {DOWNLOAD_FORMATS}, got {list(self.formats)}")
        items = self.image_ids if isinstance(self.image_ids, list | tuple) else [self.image_ids]
        sources = {
            image_id: str(item.get("source") or "") if isinstance(item, dict) else ""
            for image_id, item in zip(image_ids_of(items), items, strict=True)
        }
        with ThreadPoolExecutor(int(self.concurrency), "clippingmagic") as pool:
            outcomes = list(pool.map(lambda image_id: self._download_one(image_id, sources[image_id]), sources))
        RecordIndex(self.records, PROVIDER).append(record for _, record in outcomes if record is not None)
        results = [result for result, _ in outcomes]
        failed = [result for result in results if result["status"] != RecordStatus.FINAL]
        reused = sum(1 for result in results if result["status"] == RecordStatus.FINAL and result["reused"])
        self.log.info(
            "stored the results of %d images (%d were stored already), %d failed", len(results) - len(failed) - reused,
            reused, len(failed),
        )  # fmt: skip
        if failed:
            lines = [f"image {result['id']}: {result['error']}" for result in failed]
            raise AirflowException(f"{len(failed)} of {len(results)} results were not stored:\n" + "\n".join(lines))
        return results

    def _download_one(self, image_id: int, source: str) -> tuple[dict[str, Any], ImageRecord | None]:
        """The image's result row, and its record when this task stored a new revision."""
        try:
            return self._download(image_id, source)
        except ApiError as error:
            self.log.warning("image %s: %s", image_id, error)
            return {
                "id": image_id,
                "source": source,
                "status": RecordStatus.FAILED,
                "error": str(error),
                "outputs": {},
            }, None

    def _download(self, image_id: int, source: str) -> tuple[dict[str, Any], ImageRecord | None]:
        options = {"download": sorted(self.formats)}
        identity = image_identity(image_id)
        stored = self.records.get(PROVIDER, options_digest(identity, options))
        image = self.hook.get_image(image_id)  # free: tells the revision there is to download
        if stored is not None and stored.record.is_final and stored.record.revision == image.result_revision:
            self.log.debug("image %s revision %s is stored already", image_id, image.result_revision)
            return _result(stored.record, image, credits=0, reused=True), None
        if image.result_revision == 0:
            raise BadRequestError(API, f"image {image_id} has no result yet (resultRevision 0)")
        outputs = {name: self._store(image, name) for name in self.formats}
        charged = 0 if image.test or set(self.formats) == {JSON} else 1
        earlier = (
            stored.record
            if stored is not None
            else ImageRecord(PROVIDER, identity, options, RecordStatus.FINAL, source=source)
        )
        record = earlier.touched(
            status=RecordStatus.FINAL,
            source=source or earlier.source,
            provider_ref={"image_id": image_id},
            revision=image.result_revision,
            outputs=outputs,
            credits_charged=earlier.credits_charged + charged,
            attempts=earlier.attempts + 1,
            last_error=None,
        )
        self._save(stored, record)
        return _result(record, image, credits=charged, reused=False), record

    def _store(self, image: ClippingMagicImage, name: str) -> str:
        """One format of the image's current revision in S3 (a repeat download of a revision is free)."""
        stem = f"{self.dest_prefix.strip('/')}/{image.id}/r{image.result_revision}"
        with tempfile.SpooledTemporaryFile(SPOOL_MAX_BYTES) as file:
            if name == JSON:
                file.write(json.dumps(image.to_dict(), indent=1, sort_keys=True).encode())
                return put_output(self.s3, file, self.dest_bucket, f"{stem}{SUFFIXES[JSON]}", "application/json")
            fetched = self.hook.download(image.id, file, result_format=name)
            check_output(file, fetched)
            suffix = fetched.extension if name == RESULT else SUFFIXES[name]
            return put_output(self.s3, file, self.dest_bucket, f"{stem}{suffix}", fetched.content_type)

    def _save(self, stored: StoredRecord | None, record: ImageRecord) -> None:
        """Conditional, like every record write; losing the race only means another task stored this revision
        too (a repeat download costs nothing)."""
        if stored is None:
            self.records.create(record)
        else:
            try:
                self.records.replace(stored, record)
            except RecordChangedError:
                self.log.debug("the record of %s was written meanwhile; keeping it", record.identity)


def _result(record: ImageRecord, image: ClippingMagicImage, credits: int, reused: bool) -> dict[str, Any]:
    return {
        "id": image.id,
        "source": record.source,
        "revision": record.revision,
        "test": image.test,
        "credits_charged": credits,
        "reused": reused,
        "status": record.status,
        "outputs": dict(record.outputs),
        "error": None,
    }
