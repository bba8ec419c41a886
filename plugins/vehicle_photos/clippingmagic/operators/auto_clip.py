"""`ClippingMagicAutoClipOperator`: a batch of images through Clipping Magic's Auto-Clip, never billed twice."""

from __future__ import annotations

import dataclasses
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import IO, Any

from airflow.sdk import Context
from airflow.sdk.exceptions import AirflowFailException

from vehicle_photos.clippingmagic.exceptions import (
    AuthError,
    BadRequestError,
    CreditsError,
    ExpiredError,
    NotFoundError,
)
from vehicle_photos.clippingmagic.operators.bases import ClippingMagicBatchOperator
from vehicle_photos.clippingmagic.utils.arguments import as_bool
from vehicle_photos.clippingmagic.utils.files import SourceFile
from vehicle_photos.clippingmagic.utils.images import SPOOL_MAX_BYTES, prepared_image
from vehicle_photos.clippingmagic.utils.models import RESULT, RESULT_FORMATS, DownloadedResult
from vehicle_photos.clippingmagic.utils.outputs import check_output, put_output
from vehicle_photos.clippingmagic.utils.upload_claims import ClaimNotSettled, HeldClaim, UploadClaims
from vehicle_photos.image_common.claims import ClaimLostError
from vehicle_photos.image_common.fetch import SourceFetchError
from vehicle_photos.image_common.inspection import UnusableImageError
from vehicle_photos.image_common.policy import SourceNotAllowedError
from vehicle_photos.image_common.records import ImageRecord, options_digest
from vehicle_photos.image_common.results import ImageResult
from vehicle_photos.image_common.sources import ImageItem
from vehicle_photos.image_common.statuses import RecordStatus, ResultStatus

# Workers that download, inspect and claim the next images and store outputs while `concurrency` requests
# are in flight to Clipping Magic.
PREPARING_THREADS = 4
OUTPUT_SUFFIXES = {RESULT: "", "clipping_path_svg": ".svg", "alpha_mask_png": ".mask.png"}
_STOPPING_ERRORS = (CreditsError, AuthError)  # every further upload would fail the same way
# Failures that leave no upload behind (refused answers, or nothing sent): the claim is given back.
_NOT_UPLOADED_ERRORS = (BadRequestError, CreditsError, AuthError, SourceFetchError, UnusableImageError)


class _NotStarted(Exception):
    """The batch was stopped (no credits, refused credentials) before this image was claimed."""


_Outcome = tuple[ImageResult, ImageRecord | None]


@dataclass
class _Run:
    """What the worker threads of one task share."""

    claims: UploadClaims
    options: dict[str, Any]
    test: bool
    outputs: tuple[str, ...]
    stopped_by: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    by_digest: dict[str, Future[_Outcome]] = field(default_factory=dict)

    def stop(self, reason: str) -> None:
        with self.lock:
            self.stopped_by = self.stopped_by or reason

    def work_on(self, digest: str) -> tuple[Future[_Outcome], bool]:
        """The outcome of one image of this task, and whether the calling thread is the one to make it: a photo
        several vehicles share is clipped once, the others' rows get its outcome."""
        with self.lock:
            if digest in self.by_digest:
                return self.by_digest[digest], False
            future = self.by_digest[digest] = Future()
            return future, True

    def check_time_left(self) -> None:
        """Stop starting images once the task's work deadline passed (its results must still be written)."""
        if self.claims.deadline is not None and time.monotonic() >= self.claims.deadline:
            raise _NotStarted("not started: the task's time (execution_timeout) is nearly up")


class ClippingMagicAutoClipOperator(ClippingMagicBatchOperator):
    """Auto-Clip a batch of vehicle photos with Clipping Magic and store the outputs in S3.

    Every image is read once (within the byte cap and deadline) and inspected before anything is billed: an
    HTML page, an empty or truncated file or one above `max_pixels` is refused. Before its upload the image's
    record is created in S3 as a claim holding the upload's unique name; only the task that creates it
    uploads, anyone else waits for its outcome or resumes it (`clippingmagic.utils.upload_claims`), so two
    runs over the same images pay for each once. Outputs go to
    `s3://<dest_bucket>/<dest_prefix>/<vehicle_id>/clippingmagic/<name>-<digest>{.png|.jpeg, .svg, .mask.png}`:
    the digest covers the image's identity and the options (test mode included), so no run overwrites what
    another run's manifest points at. A 402 (no credits) or refused credentials stop new uploads; the task
    then fails without retry once the results are written.

    Returns `ImageBatchOperator.publish`'s value: counts and `results_uri`, or the `ImageResult` rows.

    :param outputs: which of `result`, `clipping_path_svg`, `alpha_mask_png` to store (templated).
    :param test: Clipping Magic test images: free and watermarked (templated; "true"/"false" accepted).
    :param concurrency: requests in flight to Clipping Magic at once; `PREPARING_THREADS` more threads read,
        inspect and claim the next images and store outputs meanwhile.
    """

    template_fields: Sequence[str] = (*ClippingMagicBatchOperator.template_fields, "outputs", "test")

    def __init__(
        self, *, outputs: Sequence[str] | str = RESULT_FORMATS, test: bool | str = False, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.outputs = outputs
        self.test = test

    @classmethod
    def record_options(cls, test: bool, outputs: Sequence[str]) -> dict[str, Any]:
        """The options an image's record is keyed by: the one place they are made (the pipeline's credit
        estimate and known-image lookup call this too). Their shape is the one the first release recorded, so
        images processed before an upgrade are found, not paid for again."""
        return {"format": RESULT, "test": bool(test), "outputs": sorted(cls._checked_outputs(outputs))}

    @classmethod
    def worst_case_credits_per_image(cls, outputs: Sequence[str], extra_outputs_cost_credits: bool = True) -> int:
        """Credits one production image may cost. The upload's own format is one credit; Clipping Magic's
        documentation does not say whether the other formats of the same result share it (the stand-in
        guesses they do), so by default each counts as one more."""
        wanted = cls._checked_outputs(outputs)
        return len(wanted) if extra_outputs_cost_credits else 1

    @staticmethod
    def _checked_outputs(outputs: Sequence[str] | str) -> tuple[str, ...]:
        """Known formats, each once, in the documented order (the first is what the upload fetches)."""
        wanted = {outputs} if isinstance(outputs, str) else set(outputs)
        unknown = wanted - set(RESULT_FORMATS)
        if unknown or not wanted:
            raise ValueError(f"outputs must be a non-empty subset of {RESULT_FORMATS}, got {sorted(wanted)}")
        return tuple(name for name in RESULT_FORMATS if name in wanted)

    def execute(self, context: Context) -> Any:
        self.check_arguments()
        test = as_bool(self.test)
        outputs = self._checked_outputs(self.outputs)
        items, refused = self.read_batch()
        items, unreadable = self.identify(items)
        self.log.info(
            "auto-clipping %d images (%d refused), %d requests at a time, test=%s",
            len(items), len(refused) + len(unreadable), self.concurrency, test,
        )  # fmt: skip
        with (
            self.upload_claims(context) as claims,
            ThreadPoolExecutor(int(self.concurrency) + PREPARING_THREADS, "clippingmagic") as pool,
        ):
            run = _Run(claims, self.record_options(test, outputs), test, outputs)
            outcomes = list(pool.map(lambda item: self._clip(item, run), items))
        results = refused + unreadable + [result for result, _ in outcomes]
        returned = self.publish(results, [record for _, record in outcomes if record is not None])
        if run.stopped_by:  # retrying cannot help until someone acts
            raise AirflowFailException(f"Clipping Magic auto-clip stopped: {run.stopped_by}; results were written")
        self.raise_for_failures(results)
        return returned

    # One image

    def _clip(self, item: ImageItem, run: _Run) -> _Outcome:
        """The image's result, and its record for the index: made final now, or found settled in place (an
        image a dead try finished may be missing from the index)."""
        with self.source_file(item) as source:
            try:
                identity = item.identity or source.content_identity()
            except (SourceFetchError, SourceNotAllowedError, UnusableImageError) as error:
                return self.refusal(item, str(error)), None
            digest = options_digest(identity, run.options)
            shared, mine = run.work_on(digest)
            if not mine:
                result, _ = shared.result()
                reused = dataclasses.replace(result, vehicle_id=item.vehicle_id, name=item.name,
                                             source=str(item.source), credits_this_run=0, reused=True)  # fmt: skip
                return reused, None
            try:
                outcome = self._clip_claimed(item, source, identity, digest, run)
            except BaseException as error:
                shared.set_exception(error)
                raise
            shared.set_result(outcome)
            return outcome

    def _clip_claimed(self, item: ImageItem, source: SourceFile, identity: str, digest: str, run: _Run) -> _Outcome:
        """Claim the image (or wait for its holder) and finish it. A claim lost to another run before the
        upload is followed: the record is read again and its new holder waited for. An upload made before the
        claim was lost is never lost: its image id goes with the next claim this task holds of the image."""
        new_claim = partial(self._new_claim, run, item, source, identity)
        uploaded: tuple[int, int, bool] | None = None  # an upload learnt under a claim lost since (unsaved_upload)
        while True:
            try:
                outcome = run.claims.acquire(self.provider, digest, new_claim)
            except (SourceFetchError, SourceNotAllowedError, UnusableImageError) as error:
                return self.refusal(item, str(error)), None
            except _NotStarted as error:
                shown = str(item.source)
                return ImageResult(
                    self.provider, item.vehicle_id, item.name, shown, ResultStatus.SKIPPED, error=str(error)
                ), None
            except ClaimNotSettled as error:
                reason = f"{error}; the claim stays and a rerun resumes it"
                shown = str(item.source)
                return ImageResult(
                    self.provider, item.vehicle_id, item.name, shown, ResultStatus.PENDING, error=reason
                ), None
            if not isinstance(outcome, HeldClaim):
                return self._result(item, outcome.record, reused=True), outcome.record
            if uploaded is not None and outcome.image_id is None:
                outcome.learn_image_id(*uploaded)
            try:
                return self._finish(item, outcome, source, run)
            except ClaimLostError as lost:
                self.log.warning("%s: %s; following its new holder", item.source, lost)
                uploaded = outcome.unsaved_upload() or uploaded
            finally:
                outcome.release()

    def _new_claim(self, run: _Run, item: ImageItem, source: SourceFile, identity: str) -> ImageRecord:
        run.check_time_left()
        claim = self.new_claim(run.claims, item, source, identity, run.options)
        if run.stopped_by:
            raise _NotStarted(f"not started: {run.stopped_by}")
        return claim

    def _finish(
        self, item: ImageItem, claim: HeldClaim, source: SourceFile, run: _Run
    ) -> tuple[ImageResult, ImageRecord | None]:
        """Upload (or resume the upload of) a claimed image, store its outputs and make its record final."""
        charge = 0 if run.test else 1
        try:
            with tempfile.SpooledTemporaryFile(SPOOL_MAX_BYTES) as first:
                fetched = self._first_output(item, claim, source, run, first, charge)
                outputs = {run.outputs[0]: self._store(item, claim, fetched, first)}
            for extra in run.outputs[1:]:
                with tempfile.SpooledTemporaryFile(SPOOL_MAX_BYTES) as file:
                    outputs[extra] = self._store(
                        item, claim, self.hook.download(fetched.image_id, file, result_format=extra), file
                    )
            final = claim.save(
                status=RecordStatus.FINAL, outputs=outputs, revision=fetched.result_revision, last_error=None
            )
        except ClaimLostError:
            raise
        except Exception as error:  # one image's failure never fails the others
            return self._failure(item, claim, error, run), None
        return self._result(item, final, reused=False, credits_this_run=claim.charged_this_run), final

    def _first_output(
        self, item: ImageItem, claim: HeldClaim, source: SourceFile, run: _Run, out: IO[bytes], charge: int
    ) -> DownloadedResult:
        """The file of the first output: downloaded when the claim's upload happened already, else uploaded."""
        if claim.image_id is not None:
            self.log.debug("%s was uploaded before as image %s; downloading it", item.source, claim.image_id)
            if claim.found_by_name:
                claim.learn_image_id(claim.image_id, charge, this_run=False)
            return self._send(run, partial(self.hook.download, claim.image_id, out, result_format=run.outputs[0]))
        source.inspect()  # a claim taken over from another task: this task has not read the image yet
        filename = f"{claim.record.upload_name}{source.extension}"
        with prepared_image(source.file, filename, self.policy.max_pixels) as upload:
            upload_call = partial(self.hook.auto_clip, upload, out, result_format=run.outputs[0], test=run.test,
                                  after=claim.list_anchor)  # fmt: skip
            clipped = self._send(run, upload_call, before=claim.ensure_held)
        claim.learn_image_id(clipped.image_id, charge, this_run=True)
        return clipped

    def _send(
        self, run: _Run, call: Callable[[], DownloadedResult], before: Callable[[], None] | None = None
    ) -> DownloadedResult:
        """`call()` once this thread may send, unless the batch stopped while it waited; `before()` (proving the
        claim is still held) runs right before it. A stopping error stops the batch before the place is given
        up, so no thread waiting for it sends after that."""
        with self.hook.request_place():
            if run.stopped_by:
                raise _NotStarted(f"not started: {run.stopped_by}")
            if before is not None:
                before()
            try:
                return call()
            except _STOPPING_ERRORS as error:
                run.stop(f"{type(error).__name__}: {error}")
                raise

    def _result(self, item: ImageItem, record: ImageRecord, **details: Any) -> ImageResult:
        return ImageResult.from_record(record, item.vehicle_id, item.name, str(item.source), **details)

    def _store(self, item: ImageItem, claim: HeldClaim, fetched: DownloadedResult, file: IO[bytes]) -> str:
        """Check the file is what its format says, then write it once to its immutable key."""
        check_output(file, fetched)
        extension = fetched.extension if fetched.format == RESULT else OUTPUT_SUFFIXES[fetched.format]
        key = self.output_key(item, claim.record.digest, extension)
        return put_output(self.s3_hook.conn, file, self.dest_bucket, key, fetched.content_type)

    def _failure(self, item: ImageItem, claim: HeldClaim, error: Exception, run: _Run) -> ImageResult:
        """Record what went wrong. A claim whose upload surely never happened is given back (nothing billed);
        one whose upload may have happened stays, so a rerun resumes it instead of paying again."""
        reason = str(error) if isinstance(error, _NotStarted) else f"{type(error).__name__}: {error}"
        # an image not started because the batch stopped is skipped, not failed: the stop's cause is logged
        (self.log.debug if isinstance(error, _NotStarted) else self.log.warning)(
            "image %s of %s: %s", item.name, item.vehicle_id, reason
        )
        if isinstance(error, _STOPPING_ERRORS):
            run.stop(reason)
        never_uploaded = claim.image_id is None and isinstance(error, (*_NOT_UPLOADED_ERRORS, _NotStarted))
        status = ResultStatus.SKIPPED if isinstance(error, CreditsError | _NotStarted) else ResultStatus.FAILED
        result = ImageResult(self.provider, item.vehicle_id, item.name, str(item.source), status, error=reason,
                             identity=claim.record.identity, credits_this_run=claim.charged_this_run)  # fmt: skip
        try:
            if never_uploaded:
                run.claims.give_back(claim)
            elif isinstance(error, NotFoundError | ExpiredError) and claim.image_id is not None:
                claim.save(
                    status=RecordStatus.FAILED,
                    last_error=f"image {claim.image_id} is gone from Clipping Magic: {reason}",
                )
            else:
                claim.save(last_error=reason)
                result.status = ResultStatus.PENDING
                result.error = f"{reason}; the claim stays and a rerun resumes it"
        except Exception as write_error:  # the image's outcome stays the original error
            self.log.error("could not record the failure of %s: %s", item.source, write_error)
        return result
