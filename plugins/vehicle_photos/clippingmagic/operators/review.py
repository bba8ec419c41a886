"""`ClippingMagicUploadForReviewOperator`: images uploaded for a person to touch up the clip in ClippingMagic.js."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

from airflow.sdk import Context
from airflow.sdk.exceptions import AirflowException

from vehicle_photos.clippingmagic.exceptions import ApiError, AuthError, BadRequestError, CreditsError, NotFoundError
from vehicle_photos.clippingmagic.operators.bases import ClippingMagicBatchOperator
from vehicle_photos.clippingmagic.utils.arguments import as_bool
from vehicle_photos.clippingmagic.utils.editor_secret import encrypt_image_secret
from vehicle_photos.clippingmagic.utils.files import SourceFile
from vehicle_photos.clippingmagic.utils.models import ClippingMagicImage
from vehicle_photos.clippingmagic.utils.upload_claims import ClaimNotSettled, HeldClaim, UploadClaims
from vehicle_photos.image_common.claims import ClaimLostError
from vehicle_photos.image_common.fetch import SourceFetchError
from vehicle_photos.image_common.inspection import UnusableImageError
from vehicle_photos.image_common.policy import SourceNotAllowedError
from vehicle_photos.image_common.records import ImageRecord, options_digest
from vehicle_photos.image_common.results import ImageResult
from vehicle_photos.image_common.sources import ImageItem
from vehicle_photos.image_common.statuses import RecordStatus, ResultStatus

_REFUSALS = (SourceFetchError, SourceNotAllowedError, UnusableImageError)
_NOT_UPLOADED = (BadRequestError, CreditsError, AuthError, *_REFUSALS)


class ClippingMagicUploadForReviewOperator(ClippingMagicBatchOperator):
    """Upload images without Auto-Clip (free), so that a person can clip them in ClippingMagic.js.

    Each image is read once and inspected first (unusable ones are refused and pushed as the XCom `refused`).
    Its upload is claimed like an auto-clip, so an upload whose answer was lost is found by its name rather
    than duplicated, and an image uploaded for review before (same identity, same test flag) that Clipping
    Magic still has is not uploaded again. A failed upload fails the task once the others are uploaded.

    Returns one dict per uploaded image: `source`, `vehicle_id`, `name`, `id`, `resultRevision`,
    `originalFilename`, `test` and `secret_encrypted`, the image secret ClippingMagic.js needs, encrypted with
    Airflow's Fernet key (`clippingmagic.utils.editor_secret`; None without a key). The secret itself is never
    returned or logged.

    :param images: as for every batch operator; plain keys are objects of `dest_bucket` (templated).
    :param dest_bucket: the bucket of plain keys and of the image records (nothing else is written).
    :param test: upload Clipping Magic test images: free, results watermarked (templated).
    """

    template_fields: Sequence[str] = (*ClippingMagicBatchOperator.template_fields, "test")

    def __init__(self, *, test: bool | str = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.test = test

    def execute(self, context: Context) -> list[dict[str, Any]]:
        self.check_arguments()
        test = as_bool(self.test)
        items, refused = self.read_batch(default_bucket=self.dest_bucket)
        items, unreadable = self.identify(items)
        with self.upload_claims(context) as claims, ThreadPoolExecutor(int(self.concurrency), "clippingmagic") as pool:
            outcomes = list(pool.map(lambda item: self._upload(item, claims, test), items))
        refused += unreadable + [o for o in outcomes if isinstance(o, ImageResult) and o.status != ResultStatus.FAILED]
        failed = [o for o in outcomes if isinstance(o, ImageResult) and o.status == ResultStatus.FAILED]
        self.log.info(
            "%d images on Clipping Magic for review, %d refused, %d failed",
            sum(isinstance(o, dict) for o in outcomes), len(refused), len(failed),
        )  # fmt: skip
        if refused and context and context.get("ti"):
            context["ti"].xcom_push(key="refused", value=[result.to_dict() for result in refused])
        if failed:
            lines = [f"{r.vehicle_id}/{r.name} ({r.source}): {r.error}" for r in failed]
            raise AirflowException(f"{len(failed)} of {len(outcomes)} uploads for review failed:\n" + "\n".join(lines))
        return [outcome for outcome in outcomes if isinstance(outcome, dict)]

    def _upload(self, item: ImageItem, claims: UploadClaims, test: bool) -> dict[str, Any] | ImageResult:
        with self.source_file(item) as source:
            try:
                image = self._uploaded(item, source, claims, test)
            except _REFUSALS as error:
                return self.refusal(item, str(error))
            except (ApiError, ClaimNotSettled) as error:
                self.log.warning("image %s of %s: %s", item.name, item.vehicle_id, error)
                return ImageResult(
                    self.provider, item.vehicle_id, item.name, str(item.source), ResultStatus.FAILED, error=str(error)
                )
        return {
            "source": str(item.source), "vehicle_id": item.vehicle_id, "name": item.name, **image.to_dict(),
            "secret_encrypted": encrypt_image_secret(image.secret),
        }  # fmt: skip

    def _uploaded(self, item: ImageItem, source: SourceFile, claims: UploadClaims, test: bool) -> ClippingMagicImage:
        """The image on Clipping Magic: uploaded before and still there, or uploaded now."""
        identity = item.identity or source.content_identity()
        options = {"review": True, "test": test}
        new_claim = partial(self.new_claim, claims, item, source, identity, options)
        while True:
            outcome = claims.acquire(self.provider, options_digest(identity, options), new_claim)
            if not isinstance(outcome, HeldClaim):
                image = self._still_there(outcome.record)
                if image is not None:
                    self.log.info("%s is already uploaded for review as image %s", item.source, image.id)
                    return image
                outcome = claims.reopen(outcome)
            if outcome is None:
                continue
            try:
                return self._upload_claimed(outcome, source, claims, test)
            except ClaimLostError as lost:  # another run holds it now: follow it
                self.log.warning("%s: %s; following its new holder", item.source, lost)

    def _upload_claimed(
        self, claim: HeldClaim, source: SourceFile, claims: UploadClaims, test: bool
    ) -> ClippingMagicImage:
        try:
            if claim.image_id is not None:  # found after a lost answer, or recorded by an earlier try
                image = self.hook.get_image(claim.image_id)
            else:
                source.inspect()
                claim.ensure_held()
                image = self.hook.upload(
                    source.file, test=test, filename=f"{claim.record.upload_name}{source.extension}",
                    max_pixels=self.policy.max_pixels,
                )  # fmt: skip
        except _NOT_UPLOADED:
            if claim.image_id is None:
                claims.give_back(claim)
            raise
        finally:
            claim.release()
        claim.save(status=RecordStatus.FINAL, provider_ref={"image_id": image.id}, last_error=None)
        return image

    def _still_there(self, record: ImageRecord) -> ClippingMagicImage | None:
        image_id = record.provider_ref.get("image_id")
        if record.status != RecordStatus.FINAL or image_id is None:
            return None
        try:
            return self.hook.get_image(image_id)
        except NotFoundError:
            return None
