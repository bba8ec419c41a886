"""`CarCutterProcessImagesOperator`: a batch of images through Car-Cutter's asynchronous API, never billed twice."""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from functools import cached_property
from itertools import groupby
from typing import Any, NamedTuple

from airflow.sdk import Context, conf
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from vehicle_photos.carcutter.exceptions import ApiError, BadRequestError, CreditsError, ExpiredError, NotFoundError
from vehicle_photos.carcutter.hooks.carcutter import DEFAULT_MAX_URL_LENGTH, CarCutterHook
from vehicle_photos.carcutter.triggers.batch_status import CarCutterBatchStatusTrigger, read_statuses
from vehicle_photos.carcutter.utils import paths
from vehicle_photos.carcutter.utils.batch import Batch, BatchImage
from vehicle_photos.carcutter.utils.statuses import RETAKE, ImageStatus
from vehicle_photos.carcutter.utils.submission_claims import SubmissionClaims
from vehicle_photos.carcutter.utils.vehicle_registration import register_vehicles
from vehicle_photos.image_common.batch_operator import ImageBatchOperator
from vehicle_photos.image_common.claims import ClaimHolder
from vehicle_photos.image_common.fetch import SourceFetchError, fetch_url
from vehicle_photos.image_common.identity import content_identity, s3_identity_etag
from vehicle_photos.image_common.inspection import UnusableImageError, inspect_file, inspect_s3_image
from vehicle_photos.image_common.items import load_list, put_json
from vehicle_photos.image_common.policy import SourceNotAllowedError
from vehicle_photos.image_common.records import options_digest
from vehicle_photos.image_common.registration import DEFAULT_REGISTRATION_GRACE_SECONDS
from vehicle_photos.image_common.request_images import RequestImage, read_request_image
from vehicle_photos.image_common.results import ImageResult
from vehicle_photos.image_common.s3_objects import (
    copy_if_unchanged,
    create_object,
    delete_keys,
    read_object,
)
from vehicle_photos.image_common.sealed import unseal
from vehicle_photos.image_common.sources import ImageItem, ImageSource
from vehicle_photos.image_common.statuses import BatchState, RecordStatus, ResultStatus, WaitOutcome

SUBMIT_CONCURRENCY = 4  # submission requests in flight; few, so images are submitted roughly in order
# A trigger that fires within a few seconds of the deferral can have the resumed task failed by the scheduler
# (apache/airflow#72716, open in 3.3); the first status call of a deferred batch waits at least this long.
DEFERRAL_SETTLE_SECONDS = 5.0
# What stays of the task's execution_timeout for storing results after the wait: this share, at most this long.
STORE_RESERVE_SHARE = 0.1
MAX_STORE_RESERVE_SECONDS = 600.0
DEFAULT_MAX_PROCESSING_SECONDS = 24 * 3600  # Car-Cutter's lazy speed takes hours at worst; a day means stuck
RECHECK_UNKNOWN_POLLS = 5  # poll intervals a tracked URL may stay unknown to Car-Cutter before its record is reread
_EXTENSIONS = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp"}
RESULT_SPOOL_BYTES = 8 * 1024 * 1024  # results up to this size stay in memory while they are checked


class SourceChangedError(Exception):
    """An S3 source is no longer the version its identity names."""


class CheckedSource(NamedTuple):
    identity: str
    version_id: str | None = None  # the S3 version inspected (versioned buckets): what Car-Cutter is sent
    refusal: str | None = None  # why the image is refused, when it is


class CarCutterProcessImagesOperator(ImageBatchOperator):
    """Cut a batch of vehicle photos with Car-Cutter's asynchronous API and store the results in S3.

    The batch's `vehicles` are registered first (free; `CarCutterRegisterVehiclesOperator`'s rules), so every
    image is submitted under a vehicle Car-Cutter knows, without a task of its own before this one.

    Every image is inspected first (an HTML page, an empty or truncated file, too many pixels: refused, never
    billed). An S3 source is sent as a presigned copy of the version its identity names (made server side on
    condition of its ETag; a source uploaded again since it was identified is not sent). Before it is
    submitted, its record is created in S3 as a claim holding the exact URL about to be sent (sealed); only
    the writer that creates the claim submits. A claim found in place is resumed by asking Car-Cutter about
    its URL, never by submitting again; a final record is reused. Submissions carry up to 60 URLs of one
    vehicle. The task then defers to ONE trigger for the whole batch (its state in S3), streams every
    finished result, once checked to be a whole image, to
    `s3://<dest_bucket>/<dest_prefix>/<vehicle_id>/carcutter/<name>-<digest>.<ext>` (created with
    `If-None-Match`: never overwritten) and marks the record final. An expired result is submitted once more.
    A 402 (credits exceeded) stops submitting; what was submitted is still awaited and stored, then the task
    fails without retry.

    Returns `ImageBatchOperator.publish`'s value: counts and `results_uri`, or the `ImageResult` rows.

    :param vehicles: vehicles to register (create or update) before any image is submitted, with Car-Cutter's
        field names (`CarCutterRegisterVehiclesOperator`'s `vehicles`; inline, JSON text or an `s3://` URI;
        templated); registered again on a retry, which changes nothing when nothing changed.
    :param cut_type / guideline_id / location_id / processing_speed / retouching_accuracy / scene_id /
        custom_json / webhook_url: the submission's fields (docs/car-cutter-api.md).
    :param overlay / license_plate: the overlay and plate inlay (PNG with alpha) as an `s3://` URI, or as
        `{"uri", "sha256"}` when a planner checked it (bytes that changed since fail the task before any call).
        Their content digests are part of the record options: a new logo is a new result.
    :param group_by_vehicle: one vehicle per submission, so Car-Cutter files each image under its vehicle;
        False packs up to 60 images of any vehicles per request (fewer requests, no vehicle assignment).
    :param presign_expires: lifetime (s) of presigned source URLs; keep it above the expected processing time.
    :param poll_interval / max_poll_interval / first_poll_delay: status polling, in seconds (a deferred batch's
        first status call waits at least `DEFERRAL_SETTLE_SECONDS`).
    :param wait_in_task_seconds: when deferrable, poll in the task this long after the first submissions before
        deferring (default 0: defer at once). For a service that finishes a batch within seconds: the batch
        ends without a deferral's round trip (triggerer, settling wait, a second task start), holding its worker
        and pool slot at most this long.
    :param timeout: how long to wait for Car-Cutter in all, never longer than the task's `execution_timeout`
        allows (less a share kept for storing results); what is not finished by then stays claimed and a rerun
        resumes it.
    :param registration_grace_seconds: a submission that may have reached Car-Cutter (lost answer, timeout,
        5xx, 402 in the middle of a chunk, a claim found in place) is settled only by asking its status for this
        long after the POST; only then may its claim be given back, taken over or submitted again.
    :param max_processing_seconds: an image Car-Cutter still reports unfinished this long after its
        submission ends failed, with the reason in its record (nothing stays claimed forever).
    """

    provider = "carcutter"
    template_fields: Sequence[str] = (
        *ImageBatchOperator.template_fields, "vehicles", "cut_type", "guideline_id", "location_id", "scene_id",
        "custom_json", "webhook_url", "poll_interval", "first_poll_delay", "wait_in_task_seconds",
        "registration_grace_seconds",
    )  # fmt: skip

    def __init__(
        self,
        *,
        vehicles: Any = None,
        cut_type: str | None = None,
        guideline_id: str | None = None,
        location_id: str | None = None,
        processing_speed: str | None = None,
        retouching_accuracy: str | None = None,
        scene_id: str | None = None,
        custom_json: str | None = None,
        overlay: str | dict[str, str] | None = None,
        license_plate: str | dict[str, str] | None = None,
        webhook_url: str | None = None,
        group_by_vehicle: bool = True,
        presign_expires: int = 6 * 3600,
        poll_interval: float = 30.0,
        max_poll_interval: float = 300.0,
        first_poll_delay: float | None = None,
        wait_in_task_seconds: float = 0.0,
        timeout: float = 3 * 3600,
        registration_grace_seconds: float = DEFAULT_REGISTRATION_GRACE_SECONDS,
        max_processing_seconds: float = DEFAULT_MAX_PROCESSING_SECONDS,
        max_url_length: int = DEFAULT_MAX_URL_LENGTH,
        carcutter_conn_id: str = CarCutterHook.default_conn_name,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.vehicles = vehicles
        self.cut_type = cut_type
        self.guideline_id = guideline_id
        self.location_id = location_id
        self.processing_speed = processing_speed
        self.retouching_accuracy = retouching_accuracy
        self.scene_id = scene_id
        self.custom_json = custom_json
        self.overlay = overlay
        self.license_plate = license_plate
        self.webhook_url = webhook_url
        self.group_by_vehicle = group_by_vehicle
        self.presign_expires = presign_expires
        self.poll_interval = poll_interval
        self.max_poll_interval = max_poll_interval
        self.first_poll_delay = first_poll_delay
        self.wait_in_task_seconds = wait_in_task_seconds
        self.timeout = timeout
        self.registration_grace_seconds = registration_grace_seconds
        self.max_processing_seconds = max_processing_seconds
        self.max_url_length = max_url_length
        self.carcutter_conn_id = carcutter_conn_id
        self.deferrable = deferrable

    @staticmethod
    def record_options(
        cut_type: str | None = None,
        guideline_id: str | None = None,
        location_id: str | None = None,
        retouching_accuracy: str | None = None,
        scene_id: str | None = None,
        overlay_sha256: str | None = None,
        license_plate_sha256: str | None = None,
    ) -> dict[str, Any]:
        """The options that change the result and so belong to an image's record key. The one place they
        are decided: the pipeline's credit estimate calls this too. An option left out is not in the key, so
        records made before an option existed keep their key."""
        chosen = {"cut_type": cut_type, "guideline_id": guideline_id, "location_id": location_id,
                  "retouching_accuracy": retouching_accuracy, "scene_id": scene_id,
                  "overlay_sha256": overlay_sha256, "license_plate_sha256": license_plate_sha256}  # fmt: skip
        return {name: value for name, value in chosen.items() if value not in (None, "")}

    @property
    def options(self) -> dict[str, Any]:
        images = self.request_images
        return self.record_options(
            self.cut_type, self.guideline_id, self.location_id, self.retouching_accuracy, self.scene_id,
            overlay_sha256=images["overlay"][1].sha256 if "overlay" in images else None,
            license_plate_sha256=images["license_plate"][1].sha256 if "license_plate" in images else None,
        )  # fmt: skip

    @cached_property
    def request_images(self) -> dict[str, tuple[bytes, RequestImage]]:
        """The overlay and plate inlay, read once per task, checked as Car-Cutter requires (PNG with alpha)."""
        found = {}
        for name, given in (("overlay", self.overlay), ("license_plate", self.license_plate)):
            if not given:
                continue
            planned = RequestImage(**given) if isinstance(given, dict) else None
            try:
                body, image = read_request_image(
                    self.s3_hook.conn, planned.uri if planned else str(given), self.policy, "PNG", "RGBA"
                )
            except (UnusableImageError, SourceNotAllowedError, ValueError) as error:
                raise AirflowFailException(f"{name}: {error}; nothing was sent") from None
            if planned and image.sha256 != planned.sha256:
                raise AirflowFailException(f"{name} {image.uri} changed after the run was planned; nothing was sent")
            found[name] = (body, image)
        return found

    @cached_property
    def hook(self) -> CarCutterHook:
        return CarCutterHook(self.carcutter_conn_id, pool_maxsize=self.concurrency + 4)

    # Task life cycle

    def execute(self, context: Context) -> Any:
        self.check_arguments()
        wait_seconds = self._wait_seconds()
        if float(self.presign_expires) < wait_seconds:
            self.log.warning("presign_expires (%ss) is shorter than the wait (%ss)", self.presign_expires, wait_seconds)
        self._register_vehicles()
        items, refused = self.read_batch()
        items, unreadable = self.identify(items)
        batch = Batch(images={}, inputs=[], refused=refused + unreadable, deadline=time.time() + wait_seconds)
        self._inspect(batch, items)
        counts = {state: len(batch.in_state(state)) for state in (BatchState.NEW, BatchState.NOT_SENT)}
        self.log.info(
            "%d images: %d to claim, %d refused", len(batch.inputs) + len(batch.refused), counts[BatchState.NEW],
            counts[BatchState.NOT_SENT] + len(batch.refused),
        )  # fmt: skip
        return self._advance(self._claims(context), batch, wait_in_task=True)

    def execute_complete(self, context: Context, event: dict[str, Any]) -> Any:
        if event["status"] == WaitOutcome.ERROR:
            # The claims stay: a retry of this task resumes them by asking Car-Cutter, never by submitting again.
            raise AirflowException(f"Car-Cutter status polling failed: {event['message']}")
        batch, statuses = self._load_batch(event)
        claims = self._claims(context)
        self._apply_statuses(batch, statuses, claims)
        return self._advance(claims, batch)

    def _advance(self, claims: SubmissionClaims, batch: Batch, wait_in_task: bool = False) -> Any:
        """Store, claim, submit and wait until nothing is left to do; defers while images are processing (with
        `wait_in_task`, after polling `wait_in_task_seconds` in the task from the first wait on)."""
        in_task_until: float | None = None
        while True:
            self._store_results(batch, claims)
            with claims.keeper:  # renews the claims not posted yet
                self._claim(batch, claims)
                self._submit(batch, claims)
            if self._ask_about_resumed_claims(batch, claims):
                continue
            waiting = batch.in_state(BatchState.WAITING)
            if not waiting or time.time() >= batch.deadline:
                return self._finish(batch, claims)
            if in_task_until is None:
                in_task_until = time.time() + (float(self.wait_in_task_seconds or 0) if wait_in_task else 0.0)
            in_task_wait = self.deferrable and time.time() < in_task_until
            shown = f" (in the task until {time.ctime(in_task_until)})" if in_task_wait else ""
            self.log.info("Waiting while Car-Cutter processes %d images%s", len(waiting), shown)
            trigger = self._trigger(batch, self._save_batch(batch), until=in_task_until if in_task_wait else None)
            if self.deferrable and not in_task_wait:
                self.defer(
                    trigger=trigger,
                    method_name="execute_complete",
                    timeout=timedelta(seconds=max(60.0, batch.deadline - time.time() + 600)),
                )
            event = asyncio.run(_first_event(trigger))
            if event["status"] == WaitOutcome.ERROR:
                raise AirflowException(f"Car-Cutter status polling failed: {event['message']}")
            batch, statuses = self._load_batch(event)
            self._apply_statuses(batch, statuses, claims)

    # Steps

    def _register_vehicles(self) -> None:
        """Before any image of theirs is submitted: submitting a vehicle after its images would put it back
        onto the shot list."""
        vehicles = load_list(self.vehicles, self.s3_hook, "vehicles")
        if vehicles:
            outcome = register_vehicles(self.hook, vehicles, int(self.concurrency))
            self.log.info("Registered vehicles: %s", {name: len(ids) for name, ids in outcome.items()})

    def _inspect(self, batch: Batch, items: list[ImageItem]) -> None:
        """Identity (by content for http sources without validators) and a usable image, before any claim."""
        distinct = list({item.source.uri: item for item in items}.values())
        with ThreadPoolExecutor(self.concurrency) as pool:
            checked = dict(zip((item.source.uri for item in distinct), pool.map(self._check_source, distinct),
                               strict=True))  # fmt: skip
        for item in items:
            source = checked[item.source.uri]
            if source.refusal is not None:
                batch.refused.append(self.refusal(item, source.refusal))
                continue
            digest = options_digest(source.identity, self.options)
            batch.inputs.append((item.vehicle_id, item.name, str(item.source), digest))
            if digest not in batch.images:
                batch.images[digest] = BatchImage(
                    source=item.source.uri, shown_source=str(item.source), vehicle_id=item.vehicle_id,
                    name=item.name, identity=source.identity, digest=digest, source_version=source.version_id,
                )  # fmt: skip

    def _check_source(self, item: ImageItem) -> CheckedSource:
        """The identity of a usable image (and the S3 version inspected), or the reason it is refused."""
        try:
            if item.source.is_s3:
                etag = s3_identity_etag(item.identity or "")  # inspect the version the identity names
                facts = inspect_s3_image(self.s3_hook.conn, item.source, self.policy.max_pixels, etag)
                return CheckedSource(item.identity or "", facts.version_id if etag else None)
            with tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024) as spool:
                fetched = fetch_url(self.web, item.source.uri, self.policy, spool)
                inspect_file(spool, fetched.size, fetched.content_type, self.policy.max_pixels, str(item.source))
            return CheckedSource(item.identity or content_identity(fetched.sha256))
        except (UnusableImageError, SourceFetchError, SourceNotAllowedError) as error:
            return CheckedSource("", refusal=str(error))

    def _claim(self, batch: Batch, claims: SubmissionClaims) -> None:
        """Write a claim for every image to submit: a new record, or a conditional overwrite of the claim
        being taken over. Losing the race means following the winner's record instead."""
        todo = batch.in_state(BatchState.NEW)
        if not todo:
            return
        if batch.credits_exhausted:
            for image in todo:
                image.not_sent("not submitted: Car-Cutter credits are exhausted", ResultStatus.SKIPPED)
            return
        with ThreadPoolExecutor(self.concurrency) as pool:
            list(pool.map(lambda image: self._claim_one(image, claims), todo))
        claimed = sum(image.state == BatchState.CLAIMED for image in todo)
        not_sent = sum(image.state == BatchState.NOT_SENT for image in todo)
        self.log.info(
            "claimed %d of %d images, %d follow a record found in place, %d not sent", claimed, len(todo),
            len(todo) - claimed - not_sent, not_sent,
        )  # fmt: skip

    def _claim_one(self, image: BatchImage, claims: SubmissionClaims) -> None:
        try:
            url = self._submission_url(image)
        except SourceChangedError as error:  # nothing claimed, nothing sent
            image.not_sent(str(error))
            return
        claims.claim(image, url)

    def _submit(self, batch: Batch, claims: SubmissionClaims) -> None:
        """Submit every claimed image, a few requests at a time. A 402 stops everything not yet sent (its
        claims are given back); a refused request gives its claims back too (nothing was billed)."""
        claimed = sorted(batch.in_state(BatchState.CLAIMED), key=lambda image: image.vehicle_id)
        if self.group_by_vehicle:
            groups = [list(group) for _, group in groupby(claimed, key=lambda image: image.vehicle_id)]
        else:
            groups = [claimed] if claimed else []
        chunks = [group[start : start + paths.MAX_IMAGES_PER_SUBMISSION] for group in groups
                  for start in range(0, len(group), paths.MAX_IMAGES_PER_SUBMISSION)]  # fmt: skip

        def submit(chunk: list[BatchImage]) -> int:
            """The number of images Car-Cutter acknowledged."""
            if batch.credits_exhausted:
                claims.give_back(chunk, "not submitted: Car-Cutter credits are exhausted", ResultStatus.SKIPPED)
                return 0
            chunk = claims.still_held(chunk)
            if not chunk:
                return 0
            try:
                return self._submit_chunk(chunk, claims)
            except CreditsError as error:  # the credits may have covered part of the chunk: ask before giving back
                batch.credits_exhausted = True
                self.log.error("Stopping submissions: %s", error)
                claims.maybe_sent(chunk)
            except BadRequestError as error:
                claims.give_back(chunk, f"Car-Cutter refused the submission: {error}", ResultStatus.REFUSED)
            except ApiError as error:  # maybe sent: the claims stay and the status endpoint will tell
                self.log.warning("submission of %d images failed (%s); asking for their status", len(chunk), error)
                claims.maybe_sent(chunk)
            finally:  # posted (or given back): settled by status from now on, no renewal needed
                claims.release(chunk)
            return 0

        if not chunks:
            return
        with ThreadPoolExecutor(SUBMIT_CONCURRENCY) as pool:
            acknowledged = sum(pool.map(submit, chunks))
        self.log.info(
            "submission requests: %d for %d claimed images, %d acknowledged", len(chunks), len(claimed), acknowledged
        )

    def _submit_chunk(self, chunk: list[BatchImage], claims: SubmissionClaims) -> int:
        urls = [unseal(image.sealed_url or "") for image in chunk]
        vehicle_ids = {image.vehicle_id for image in chunk}
        statuses = self.hook.submit_images(
            urls,
            vehicle_id=vehicle_ids.pop() if len(vehicle_ids) == 1 else None,
            cut_type=self.cut_type, guideline_id=self.guideline_id, location_id=self.location_id,
            processing_speed=self.processing_speed, retouching_accuracy=self.retouching_accuracy,
            scene_id=self.scene_id, custom_json=self.custom_json, webhook_url=self.webhook_url,
            registration_grace_seconds=float(self.registration_grace_seconds),
            **{name: body for name, (body, _) in self.request_images.items()},
        )  # fmt: skip
        for image, status in zip(chunk, statuses, strict=True):
            if status.status is None:  # left out of the answer: maybe billed; the status endpoint will tell
                self.log.warning("Car-Cutter did not acknowledge %s; asking for its status", image.shown_url)
                claims.maybe_sent([image])
                continue
            image.submitted()
            # Car-Cutter took it: a status saying "unknown" soon after is lag, not a lost call; only a claim that
            # stays unknown for a whole lease is submitted again
            image.takeover_at = time.time() + float(self.claim_lease_seconds)
        return sum(status.status is not None for status in statuses)

    def _ask_about_resumed_claims(self, batch: Batch, claims: SubmissionClaims) -> bool:
        """Claims found in place (ours from an earlier try, or another run's) are asked about at once, so one
        Car-Cutter never received is taken over now when it may be, instead of after a whole wait. Returns
        whether anything changed."""
        resumed = [image for image in batch.in_state(BatchState.WAITING) if image.resumed]
        if not resumed:
            return False
        for image in resumed:
            image.resumed = False
        asked = [image for image in resumed if image.sealed_url]
        statuses = {s.image: s for s in self.hook.get_image_statuses([unseal(i.sealed_url or "") for i in asked])}
        entries = {image.digest: _entry_of(statuses.get(unseal(image.sealed_url or ""))) for image in asked}
        entries.update({image.digest: {"answered": True, "known": False} for image in resumed if not image.sealed_url})
        self._apply_statuses(batch, entries, claims, only=resumed)
        return any(image.state != BatchState.WAITING for image in resumed)

    def _apply_statuses(
        self,
        batch: Batch,
        statuses: dict[str, dict[str, Any]],
        claims: SubmissionClaims,
        only: list[BatchImage] | None = None,
    ) -> None:
        """What Car-Cutter said, image by image; a claim it never received is taken over once due."""
        now = time.time()
        for image in only if only is not None else batch.in_state(BatchState.WAITING):
            entry = statuses.get(image.digest) or {}
            if entry.get("known"):
                fields = {key: entry.get(key) for key in ("status", "phase", "angle", "quality")}
                image.apply_status(ImageStatus(image="", details=entry.get("details") or {}, **fields))
            elif entry.get("answered"):
                claims.recheck_unknown(image, due=now >= image.takeover_at, may_submit=not batch.credits_exhausted)
            if image.state == BatchState.WAITING and now - image.submitted_at >= float(self.max_processing_seconds):
                image.state = BatchState.BILLED_FAILURE
                image.error = (f"Car-Cutter still reports {image.status or 'unknown'!r} "
                               f"{now - image.submitted_at:.0f} s after its submission; given up")  # fmt: skip
        if time.time() >= batch.deadline:
            for image in batch.in_state(BatchState.WAITING):
                image.state = BatchState.TIMED_OUT
                image.error = f"not finished after {float(self.timeout):.0f} s; the claim stays and a rerun resumes it"

    def _store_results(self, batch: Batch, claims: SubmissionClaims) -> None:
        """Stream every finished result into S3 (bounded), then mark its record final."""
        ready = batch.in_state(BatchState.READY)
        if not ready:
            return
        with ThreadPoolExecutor(self.concurrency) as pool:
            list(pool.map(lambda image: self._store_one(image, claims), ready))
        self._drop_source_copies([image for image in ready if image.state == BatchState.DONE])
        self.log.info("Stored %d results under s3://%s/%s/", len(ready), self.dest_bucket, self.dest_prefix)

    def _store_one(self, image: BatchImage, claims: SubmissionClaims) -> None:
        if not image.mine:  # another task's claim: it may have stored the result already
            existing = self.records.get(self.provider, image.digest)
            if existing is not None and existing.record.is_final:
                claims.follow(image, existing)
                return
        try:
            key = self._store_checked_result(image)
        except UnusableImageError as error:  # a 200 that is not an image (an HTML page, nothing): never final
            image.state = BatchState.TIMED_OUT
            image.error = f"{error}; not stored, the claim stays and a rerun downloads it again"
            return
        except ExpiredError:
            image.expired()
            return
        except NotFoundError:  # final but not downloadable yet: ask again
            image.state = BatchState.WAITING
            return
        except Exception as error:  # the result stays at Car-Cutter: the claim stays and a rerun stores it
            image.state = BatchState.TIMED_OUT
            image.error = f"storing the result failed ({type(error).__name__}: {error}); a rerun stores it"
            return
        image.outputs = {"result": f"s3://{self.dest_bucket}/{key}"}
        claims.settle(image, image.final_record(self.options))
        image.state = BatchState.DONE

    def _store_checked_result(self, image: BatchImage) -> str:
        """Download the result, check it is a whole image (UnusableImageError otherwise) and create its output
        (`If-None-Match`: an output already there, stored by an earlier try or run for the same digest, is
        kept, never overwritten). Returns the output's key."""
        shown = f"Car-Cutter's result for {image.shown_source}"
        with (
            self.hook.open_result(unseal(image.sealed_url or "")) as response,
            tempfile.SpooledTemporaryFile(max_size=RESULT_SPOOL_BYTES) as spool,
        ):
            size = 0
            for block in response.iter_content(1 << 16):
                size += spool.write(block)
                if size > self.policy.max_bytes:
                    raise UnusableImageError(f"{shown} is larger than {self.policy.max_bytes} bytes")
            facts = inspect_file(spool, size, response.headers.get("Content-Type"), self.policy.max_pixels, shown)
            key = self.output_key(_item_of(image), image.digest, _EXTENSIONS.get(facts.media_type, ".jpg"))
            if create_object(self.s3_hook.conn, self.dest_bucket, key, spool, facts.media_type) is None:
                self.log.debug("%s is stored already; keeping it", key)
        return key

    def _finish(self, batch: Batch, claims: SubmissionClaims) -> Any:
        settled = [image for image in batch.in_state(BatchState.BILLED_FAILURE) if not image.reused]
        for image in settled:
            claims.settle(image, image.record(RecordStatus.FAILED, self.options))
        self._drop_source_copies(settled)
        results = batch.results()
        self._warn_about_failures(results[len(batch.refused) :])  # batch.refused were logged when refused
        _warn_about_retakes(self.log, results)
        # reused ones too: a record found final in place may be missing from the index (a try that died first)
        finished = [image.final_record(self.options) for image in batch.in_state(BatchState.DONE)]
        returned = self.publish(results, finished)
        if batch.credits_exhausted:
            done = sum(1 for result in results if result.status == ResultStatus.FINAL)
            raise AirflowFailException(
                f"Car-Cutter credits are exhausted (402): {done} images stored, the rest not submitted. Everything "
                "done so far is recorded in the results and the image records; buy credits and rerun to continue."
            )
        self.raise_for_failures(results)
        return returned

    # Helpers

    def _warn_about_failures(self, results: list[ImageResult]) -> None:
        """One line per image that failed, is left pending or was refused on the way; skipped images (credits
        exhausted, logged once when the submissions stopped) are only counted in the summary."""
        for result in results:
            if result.status in (ResultStatus.FAILED, ResultStatus.PENDING, ResultStatus.REFUSED):
                self.log.warning("image %s of %s %s: %s", result.name, result.vehicle_id, result.status, result.error)

    def _claims(self, context: Context) -> SubmissionClaims:
        return SubmissionClaims(
            self.records, ClaimHolder.of(context), self.options, float(self.claim_lease_seconds),
            float(self.registration_grace_seconds),
        )  # fmt: skip

    def _wait_seconds(self) -> float:
        """`timeout`, cut to fit the task's `execution_timeout` (which also runs while the task is deferred):
        a share of it stays for storing results, so the task is never killed with its results unwritten."""
        if self.execution_timeout is None:
            return float(self.timeout)
        allowed = self.execution_timeout.total_seconds()
        fitting = allowed - min(MAX_STORE_RESERVE_SECONDS, STORE_RESERVE_SHARE * allowed)
        if float(self.timeout) > fitting:
            self.log.info("waiting at most %.0f s for Car-Cutter: execution_timeout is %.0f s", fitting, allowed)
        return min(float(self.timeout), fitting)

    def _submission_url(self, image: BatchImage) -> str:
        """The URL Car-Cutter fetches: exactly the bytes the image's identity names. http(s) URLs pass through.
        An S3 object in a versioned bucket is presigned at the version inspected (`source_version`). Any other
        S3 object is first copied, server side, to a key of its own for this record (`_source_copy`), on
        condition that its ETag is still the one in the identity, and the copy is presigned. Either way a dealer
        re-uploading the key after it was identified changes neither what Car-Cutter fetches nor what the
        record says it processed."""
        if not image.source.startswith("s3://"):
            return image.source
        bucket, key = self.s3_hook.parse_s3_url(image.source)
        if image.source_version:
            return self._presigned(bucket, key, VersionId=image.source_version)
        etag = s3_identity_etag(image.identity)
        copy_bucket, copy_key = self._source_copy(image)
        if etag is None or not copy_if_unchanged(self.s3_hook.conn, bucket, key, etag, copy_bucket, copy_key):
            raise SourceChangedError(
                f"{image.shown_source} changed after it was identified (a new upload of the key); not sent, "
                "the next run processes the new version"
            )
        return self._presigned(copy_bucket, copy_key)

    def _presigned(self, bucket: str, key: str, **params: str) -> str:
        return self.s3_hook.generate_presigned_url(
            client_method="get_object", params={"Bucket": bucket, "Key": key, **params},
            expires_in=int(self.presign_expires),
        )  # fmt: skip

    def _drop_source_copies(self, settled: list[BatchImage]) -> None:
        """Once their records are settled nobody sends the copies again: removed 1000 per request."""
        copied = [image for image in settled if image.source.startswith("s3://") and not image.source_version]
        if copied:
            delete_keys(self.s3_hook.conn, self.records.bucket, [self._source_copy(image)[1] for image in copied])

    def _source_copy(self, image: BatchImage) -> tuple[str, str]:
        """Where the copy Car-Cutter fetches lives: beside the records, per record digest, under the source's
        file name (Car-Cutter sees the name, not the folder)."""
        name = image.source.rsplit("/", 1)[-1]
        return self.records.bucket, f"{self.records.prefix}/_sources/{self.provider}/{image.digest}/{name}"

    def _trigger(self, batch: Batch, batch_uri: str, until: float | None = None) -> CarCutterBatchStatusTrigger:
        """`until`: the end of a deferrable task's wait in the task (None: the trigger is deferred to, or the task
        is not deferrable and waits in the task throughout)."""
        now = time.time()
        first_poll_delay = float(self.poll_interval if self.first_poll_delay in (None, "") else self.first_poll_delay)
        if self.deferrable and until is None:
            first_poll_delay = max(first_poll_delay, DEFERRAL_SETTLE_SECONDS)
        return CarCutterBatchStatusTrigger(
            batch_uri=batch_uri,
            deadline=min(_next_takeover(batch), self._next_give_up(batch), batch.deadline, until or float("inf")),
            carcutter_conn_id=self.carcutter_conn_id,
            aws_conn_id=self.aws_conn_id,
            poll_interval=float(self.poll_interval),
            max_poll_interval=float(self.max_poll_interval),
            first_poll_at=now + first_poll_delay,
            max_url_length=int(self.max_url_length),
            recheck_unknown_after=RECHECK_UNKNOWN_POLLS * float(self.poll_interval),
        )

    def _next_give_up(self, batch: Batch) -> float:
        """When the first image still processing reaches `max_processing_seconds`."""
        submitted = [image.submitted_at for image in batch.in_state(BatchState.WAITING)]
        return min(submitted, default=float("inf")) + float(self.max_processing_seconds)

    def _save_batch(self, batch: Batch) -> str:
        """The batch is kept in S3 while deferred, not in the metadata DB: it can hold thousands of images."""
        uri = f"s3://{self.records.bucket}/{self.records.prefix}/_batches/{self.provider}/{uuid.uuid4().hex}.json"
        return put_json(self.s3_hook, uri, batch.to_dict())

    def _load_batch(self, event: dict[str, Any]) -> tuple[Batch, dict[str, dict[str, Any]]]:
        """The batch and what the trigger learnt about it; both objects are removed once read."""
        bucket, key = self.s3_hook.parse_s3_url(event["batch_uri"])
        batch = Batch.from_dict(json.loads(read_object(self.s3_hook.conn, bucket, key)))
        statuses = read_statuses(self.s3_hook.conn, event["statuses_uri"])
        delete_keys(self.s3_hook.conn, bucket, [key, f"{key}.statuses.json"])
        return batch, statuses


def _item_of(image: BatchImage) -> ImageItem:
    return ImageItem(ImageSource(image.source), image.vehicle_id, image.name, image.identity)


def _next_takeover(batch: Batch) -> float:
    """When the trigger should hand back to the operator at the latest: the earliest claim that may be taken
    over (if Car-Cutter does not know its URL), else never."""
    waiting = [image.takeover_at for image in batch.in_state(BatchState.WAITING) if image.takeover_at > time.time()]
    return min(waiting, default=float("inf"))


def _warn_about_retakes(log: Any, results: list[ImageResult]) -> None:
    retakes = sorted({result.vehicle_id for result in results if result.quality == RETAKE})
    if retakes:
        shown = ", ".join(retakes[:10]) + (f" and {len(retakes) - 10} more" if len(retakes) > 10 else "")
        log.warning("%d images need a retake (vehicles: %s)", sum(r.quality == RETAKE for r in results), shown)


async def _first_event(trigger: CarCutterBatchStatusTrigger) -> dict[str, Any]:
    async for event in trigger.run():
        return event.payload
    raise AirflowException("the status trigger ended without an event")


def _entry_of(status: ImageStatus | None) -> dict[str, Any]:
    """A status from the sync hook in the shape the trigger writes (see `batch_status._entry`)."""
    if status is None or not status.known_to_service:
        return {"answered": status is not None, "known": False}
    return {**status.to_dict(), "answered": True, "known": True}
