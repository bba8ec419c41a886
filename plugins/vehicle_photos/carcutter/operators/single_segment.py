"""`CarCutterSingleSegmentOperator`: one image through the synchronous single-segment call, for one-off jobs."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from typing import Any

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.sdk import BaseOperator, Context
from airflow.sdk.exceptions import AirflowFailException

from vehicle_photos.carcutter.exceptions import ApiError, AuthError, BadRequestError, CreditsError, TransportError
from vehicle_photos.carcutter.hooks.carcutter import CarCutterHook
from vehicle_photos.image_common.claims import ClaimHolder
from vehicle_photos.image_common.fetch import fetch_s3, fetch_url, guarded_session, head_url
from vehicle_photos.image_common.identity import (
    DEFAULT_VOLATILE_QUERY_PARAMS,
    content_identity,
    http_identity,
    s3_identity,
)
from vehicle_photos.image_common.inspection import TAIL_BYTES, UnusableImageError, inspect_file, inspect_image
from vehicle_photos.image_common.policy import DEFAULT_MAX_PIXELS, SourcePolicy
from vehicle_photos.image_common.record_store import ImageRecordStore, StoredRecord
from vehicle_photos.image_common.records import ImageRecord, output_key
from vehicle_photos.image_common.s3_objects import create_object, read_object
from vehicle_photos.image_common.sources import ImageSource
from vehicle_photos.image_common.statuses import RecordStatus

PROVIDER = "carcutter"
# Answers after which the call surely was not processed, so its claim is given back and a retry may call again.
_NOT_PROCESSED = (AuthError, BadRequestError, CreditsError)


class CarCutterSingleSegmentOperator(BaseOperator):
    """Cut one image now (no polling) and store the result in S3, never billed twice for the same image and
    options: a claim is written before the call, a final record after it.

    The synchronous call offers no way to ask about its outcome later, so it is made at most once per claim:
    if an earlier try claimed the image and its outcome is unknown (a 5xx, a lost answer), the task fails with
    the record to delete for a deliberate second, billed, try. Answers that surely mean "not processed"
    (401 / 403, 400, 402, a request that never left) give the claim back.

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
        allowed_buckets: Any = None,
        allowed_networks: Any = (),
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
        self.allowed_buckets = allowed_buckets
        self.allowed_networks = allowed_networks
        self.carcutter_conn_id = carcutter_conn_id
        self.aws_conn_id = aws_conn_id

    def execute(self, context: Context) -> dict[str, Any]:
        source = ImageSource.parse(self.source)
        policy = SourcePolicy.build(self.allowed_buckets or [self.dest_bucket], self.allowed_networks)
        policy.check(source)
        s3_hook = S3Hook(aws_conn_id=self.aws_conn_id)
        with tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024) as image, guarded_session(policy) as web:
            fetched = (fetch_s3(s3_hook.conn, source, policy, image) if source.is_s3
                       else fetch_url(web, source.uri, policy, image))  # fmt: skip
            inspect_file(image, fetched.size, fetched.content_type, policy.max_pixels, str(source))
            if source.is_s3:  # the version read, as its GET answered: the bytes sent are the bytes recorded
                identity = s3_identity(source.bucket, source.key, fetched.etag or "") if fetched.etag else None
            else:
                identity = http_identity(
                    source.uri, head_url(web, source.uri, policy), volatile_params=DEFAULT_VOLATILE_QUERY_PARAMS
                )
            identity = identity or content_identity(fetched.sha256)
            store = ImageRecordStore(self.records_bucket or self.dest_bucket, self.records_prefix, self.aws_conn_id)
            record = ImageRecord(PROVIDER, identity, self._record_options(), RecordStatus.CLAIMED, source=str(source),
                                 attempts=1, **ClaimHolder.of(context).stamp())  # fmt: skip
            claim = store.create(record)
            if claim is None:
                return self._existing(store, record)
            image.seek(0)
            result = self._call(store, claim, image.read() if source.is_s3 else None, source, s3_hook)
        outputs = {}
        if result is not None:
            key = self._store_result(result, source, record.digest, s3_hook, store, claim)
            outputs = {"result": f"s3://{self.dest_bucket}/{key}"}
        final = record.touched(status=RecordStatus.FINAL, outputs=outputs, credits_charged=0 if result is None else 1)
        store.replace(claim, final)
        return self._summary(final, reused=False)

    def _store_result(
        self,
        result: bytes,
        source: ImageSource,
        digest: str,
        s3_hook: S3Hook,
        store: ImageRecordStore,
        claim: StoredRecord,
    ) -> str:
        """Check the result is a whole image, then create its output (never overwriting one stored already for
        the same digest). A result that is not an image was billed and cannot be asked for again: the record
        says so (failed) and the task fails."""
        shown = f"Car-Cutter's result for {source}"
        try:
            facts = inspect_image(result, result[-TAIL_BYTES:], len(result), None, DEFAULT_MAX_PIXELS, shown)
        except UnusableImageError as error:
            store.replace(
                claim, claim.record.touched(status=RecordStatus.FAILED, credits_charged=1, last_error=str(error))
            )
            raise AirflowFailException(f"{error}; the call was billed and its record says so") from None
        extension = ".png" if facts.format == "PNG" else ".jpg"
        key = output_key(self.dest_prefix, self.vehicle_id, PROVIDER, source.stem, digest, extension)
        if create_object(s3_hook.conn, self.dest_bucket, key, result, facts.media_type) is None:
            self.log.debug("%s is stored already; keeping it", key)
        return key

    def _call(
        self, store: ImageRecordStore, claim: StoredRecord, image: bytes | None, source: ImageSource, s3_hook: S3Hook
    ) -> bytes | None:
        try:
            return CarCutterHook(self.carcutter_conn_id).process_sync(
                cut_type=self.cut_type,
                image=image,
                image_url=None if source.is_s3 else source.uri,
                background=_read(s3_hook, self.background),
                license_plate=_read(s3_hook, self.license_plate),
                overlay=_read(s3_hook, self.overlay),
                **self.options,
            )
        except ApiError as error:
            if isinstance(error, _NOT_PROCESSED) or (isinstance(error, TransportError) and not error.sent):
                store.delete(claim)
                raise
            store.replace(claim, claim.record.touched(last_error=f"outcome unknown: {error}"))
            raise AirflowFailException(
                f"Car-Cutter's synchronous call for {source} failed after it was sent ({error}); it may have been "
                f"billed and cannot be asked about. Not retried. To try again (possibly billed twice), delete "
                f"s3://{store.bucket}/{store.key(PROVIDER, claim.record.digest)}."
            ) from error

    def _existing(self, store: ImageRecordStore, wanted: ImageRecord) -> dict[str, Any]:
        stored = store.get(PROVIDER, wanted.digest)
        if stored is not None and stored.record.is_final:
            self.log.info("Already processed: reusing %s", stored.record.outputs or "(no output for cut_type none)")
            return self._summary(stored.record, reused=True)
        shown = f"s3://{store.bucket}/{store.key(PROVIDER, wanted.digest)}"
        state = stored.record.status if stored else "gone"
        raise AirflowFailException(
            f"{wanted.source} is already claimed ({state}, {shown}): another task is processing it, or an earlier "
            "synchronous call's outcome is unknown (it may have been billed). Not called again; delete the record "
            "to try once more."
        )

    def _record_options(self) -> dict[str, Any]:
        return {
            "api": "sync", "cut_type": self.cut_type, **self.options,
            "background": self.background, "license_plate": self.license_plate, "overlay": self.overlay,
        }  # fmt: skip

    def _summary(self, record: ImageRecord, reused: bool) -> dict[str, Any]:
        return {"source": record.source, "identity": record.identity, "outputs": record.outputs, "reused": reused}


def _read(s3_hook: S3Hook, uri: str | None) -> bytes | None:
    if uri is None:
        return None
    bucket, key = s3_hook.parse_s3_url(uri)
    return read_object(s3_hook.conn, bucket, key)
