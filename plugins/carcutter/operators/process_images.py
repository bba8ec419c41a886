"""`CarCutterProcessImagesOperator`: a batch of images through the asynchronous API, never billed twice."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from functools import cached_property
from itertools import groupby
from typing import Any

import requests
from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.sdk import BaseOperator, Context
from airflow.sdk.exceptions import AirflowException, AirflowFailException
from botocore.exceptions import ClientError

from carcutter.exceptions import (
    CarCutterBadRequestError,
    CarCutterCreditsExceededError,
    CarCutterError,
    CarCutterExpiredError,
)
from carcutter.hooks import paths
from carcutter.hooks.carcutter import DEFAULT_MAX_URL_LENGTH, CarCutterHook
from carcutter.hooks.images import RETAKE, ImageStatus
from carcutter.operators.image_batch import (
    DONE,
    FAILED,
    NEW,
    PROVIDER,
    READY,
    RECORD_ERROR,
    RECORD_SUBMITTED,
    RESUBMIT,
    TIMED_OUT,
    WAITING,
    Batch,
    BatchImage,
)
from carcutter.operators.image_sources import (
    SourceImage,
    image_identity,
    output_key,
    parse_images,
    stream_result_to_s3,
    submission_url,
)
from carcutter.triggers.batch_status import COMPLETE, ERROR, CarCutterBatchStatusTrigger
from image_records import ImageRecordStore, listed_s3_identities, options_digest, s3_folder

UNREADABLE = "unreadable:"

SUBMIT_CONCURRENCY = 4  # submission requests in flight; few, so images are submitted roughly in order

# The options that change the result, and so belong to an image's record key.
RESULT_OPTIONS = ("cut_type", "guideline_id", "location_id", "retouching_accuracy", "scene_id")


class CarCutterProcessImagesOperator(BaseOperator):
    """Cut a batch of vehicle photos with Car-Cutter's asynchronous API and store the results in S3.

    Each image is looked up in the image records first: a final one is reused (no call at all), a
    submitted one is resumed by asking for the status of the exact URL that was sent, and only the
    rest is submitted (at most 60 URLs per request, one vehicle per request). The task then defers to
    ONE trigger for the whole batch and, when it fires, streams every result into
    `s3://<dest_bucket>/<dest_prefix>/<vehicle_id>/...`, writing a record per image. An expired result
    (410) is submitted once more. A 402 (credits exceeded) stops submitting; what was submitted is
    still awaited and stored, then the task fails with AirflowFailException.

    Returns one row per input image (see `BatchImage.summary`): source, vehicle_id, identity, status
    (final / error / timed_out), phase, angle, quality, attempts, credits_charged, credits_this_run,
    outputs, error, reused.

    :param images: `[{"source": "s3://bucket/key" | "http(s)://...", "vehicle_id": "...", "name": ...}]`
    :param presign_expires: lifetime (s) of presigned source URLs; keep it above the expected processing time.
    :param group_by_vehicle: one vehicle per submission so Car-Cutter files each image under its vehicle;
        False packs up to 60 images of any vehicles per request (fewer requests, no vehicle assignment).
    """

    template_fields: Sequence[str] = (
        "images", "dest_bucket", "dest_prefix", "records_bucket", "records_prefix", "cut_type", "guideline_id",
        "location_id", "scene_id", "custom_json", "webhook_url", "poll_interval", "first_poll_delay",
    )  # fmt: skip

    def __init__(
        self,
        *,
        images: list[dict[str, Any]] | str,
        dest_bucket: str,
        dest_prefix: str = "processed",
        records_bucket: str | None = None,
        records_prefix: str = "records",
        cut_type: str | None = None,
        guideline_id: str | None = None,
        location_id: str | None = None,
        processing_speed: str | None = None,
        retouching_accuracy: str | None = None,
        scene_id: str | None = None,
        custom_json: str | None = None,
        webhook_url: str | None = None,
        group_by_vehicle: bool = True,
        presign_expires: int = 6 * 3600,
        poll_interval: float = 30.0,
        max_poll_interval: float = 300.0,
        first_poll_delay: float | None = None,
        timeout: float = 3 * 3600,
        download_concurrency: int = 16,
        max_url_length: int = DEFAULT_MAX_URL_LENGTH,
        carcutter_conn_id: str = CarCutterHook.default_conn_name,
        aws_conn_id: str | None = "aws_default",
        deferrable: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.images = images
        self.dest_bucket = dest_bucket
        self.dest_prefix = dest_prefix
        self.records_bucket = records_bucket
        self.records_prefix = records_prefix
        self.cut_type = cut_type
        self.guideline_id = guideline_id
        self.location_id = location_id
        self.processing_speed = processing_speed
        self.retouching_accuracy = retouching_accuracy
        self.scene_id = scene_id
        self.custom_json = custom_json
        self.webhook_url = webhook_url
        self.group_by_vehicle = group_by_vehicle
        self.presign_expires = presign_expires
        self.poll_interval = poll_interval
        self.max_poll_interval = max_poll_interval
        self.first_poll_delay = poll_interval if first_poll_delay is None else first_poll_delay
        self.timeout = timeout
        self.download_concurrency = download_concurrency
        self.max_url_length = max_url_length
        self.carcutter_conn_id = carcutter_conn_id
        self.aws_conn_id = aws_conn_id
        self.deferrable = deferrable

    @cached_property
    def hook(self) -> CarCutterHook:
        return CarCutterHook(self.carcutter_conn_id, pool_maxsize=self.download_concurrency)

    @cached_property
    def s3_hook(self) -> S3Hook:
        return S3Hook(aws_conn_id=self.aws_conn_id, config={"max_pool_connections": self.download_concurrency + 4})

    @cached_property
    def s3_client(self) -> Any:
        return self.s3_hook.get_conn()

    @cached_property
    def records(self) -> ImageRecordStore:
        store = ImageRecordStore(
            bucket=self.records_bucket or self.dest_bucket,
            prefix=self.records_prefix,
            aws_conn_id=self.aws_conn_id,
            max_workers=self.download_concurrency,
        )
        return store

    @property
    def options(self) -> dict[str, Any]:
        """The record key's options: only what changes the result."""
        return {name: getattr(self, name) for name in RESULT_OPTIONS if getattr(self, name) is not None}

    # Task life cycle

    def execute(self, context: Context) -> list[dict[str, Any]]:
        if self.presign_expires < self.timeout:
            self.log.warning("presign_expires (%ss) is shorter than timeout (%ss)", self.presign_expires, self.timeout)
        try:
            sources = parse_images(self.images)
        except (ValueError, TypeError, AttributeError) as error:
            raise AirflowFailException(f"invalid images argument: {error}") from None
        batch = self._plan(sources)
        self._resume_submitted(batch)
        return self._advance(context, batch)

    def execute_complete(self, context: Context, event: dict[str, Any]) -> list[dict[str, Any]]:
        resumed = self._load_batch(event["batch_key"])
        self._apply_event(resumed, event)
        return self._advance(context, resumed)

    def _advance(self, context: Context, batch: Batch) -> list[dict[str, Any]]:
        """Submit, download and wait until nothing is left to do; defers while images are processing."""
        while True:
            self._download(batch)
            self._submit(batch)
            waiting = sorted(batch.in_state(WAITING), key=lambda image: image.submitted_at)
            if not waiting:
                return self._finish(context, batch)
            urls = [image.submitted_url or "" for image in waiting]
            if self.deferrable:
                self.log.info("Deferring while Car-Cutter processes %d images", len(waiting))
                self.defer(
                    trigger=self._trigger(urls, batch_key=self._save_batch(batch)),
                    method_name="execute_complete",
                    timeout=timedelta(seconds=self.timeout + 600),
                )
            trigger = self._trigger(urls)
            self._apply_event(batch, asyncio.run(_first_event(trigger)))

    # Steps

    def _plan(self, sources: Sequence[SourceImage]) -> Batch:
        """Identity and record of every image: what can be reused, resumed or must be submitted."""
        folders: dict[tuple[str, str], list[str]] = {}
        for source in sources:
            if source.is_s3:
                folders.setdefault(s3_folder(source.source), []).append(source.source)
        listed: dict[str, str] = {}
        with requests.Session() as web, ThreadPoolExecutor(self.download_concurrency) as pool:
            for found in pool.map(lambda uris: listed_s3_identities(self.s3_client, uris), folders.values()):
                listed.update(found)
            resolved = list(pool.map(lambda s: _identity(s, listed, self.s3_hook, web), sources))
        identities = [identity for identity, _ in resolved]
        wanted = [(identity, self.options) for identity, error in dict(resolved).items() if error is None]
        found = self.records.get_many(PROVIDER, wanted)
        images: dict[str, BatchImage] = {}
        for source, (identity, error) in zip(sources, resolved, strict=True):
            if identity in images:
                continue
            record = found.get((identity, options_digest(identity, self.options)))
            images[identity] = BatchImage.from_record(source.source, source.vehicle_id, source.name, identity, record)
            if error is not None:
                images[identity].fail(error, record_as=None)
        batch = Batch(
            images=images, inputs=[(s.source, s.vehicle_id, i) for s, i in zip(sources, identities, strict=True)]
        )
        counts = {state: len(batch.in_state(state)) for state in (DONE, WAITING, NEW)}
        self.log.info(
            "%d images: %d reused, %d to resume, %d to submit",
            len(sources), counts[DONE], counts[WAITING], counts[NEW],
        )  # fmt: skip
        return batch

    def _resume_submitted(self, batch: Batch) -> None:
        """Images recorded as submitted by an earlier run: ask the service about the exact URL that was sent.
        One the service no longer knows (or whose result expired) is submitted once more."""
        resumed = batch.in_state(WAITING)
        if not resumed:
            return
        statuses = {s.image: s for s in self.hook.get_image_statuses([i.submitted_url for i in resumed])}
        for image in resumed:
            status = statuses.get(image.submitted_url or "")
            if status is None or not status.known_to_service:
                image.expired()
            else:
                image.apply_status(status)
        self._save([image for image in resumed if image.state == FAILED])

    def _submit(self, batch: Batch) -> None:
        """Submit new and expired images, a few requests at a time, writing each request's records as soon
        as it is answered. A 402 stops everything not yet sent."""
        todo = batch.in_state(NEW, RESUBMIT)
        if self.group_by_vehicle:
            todo.sort(key=lambda image: image.vehicle_id)
            groups = [list(group) for _, group in groupby(todo, key=lambda image: image.vehicle_id)]
        else:
            groups = [todo] if todo else []
        chunks = [group[i : i + paths.MAX_IMAGES_PER_SUBMISSION] for group in groups
                  for i in range(0, len(group), paths.MAX_IMAGES_PER_SUBMISSION)]  # fmt: skip

        def submit(chunk: list[BatchImage]) -> None:
            if batch.credits_exhausted:
                self._give_up(chunk, "not submitted: Car-Cutter credits are exhausted")
                return
            try:
                self._submit_chunk(chunk)
            except CarCutterCreditsExceededError as error:
                batch.credits_exhausted = True
                self.log.error("Stopping submissions: %s", error)
                self._give_up(chunk, f"not submitted: {error}")
                return
            except CarCutterBadRequestError as error:
                self._give_up(chunk, f"submission refused: {error}")
            self._save(chunk)

        with ThreadPoolExecutor(SUBMIT_CONCURRENCY) as pool:
            list(pool.map(submit, chunks))

    def _submit_chunk(self, chunk: list[BatchImage]) -> None:
        """One request (one vehicle unless group_by_vehicle is off); URLs are presigned just before sending."""
        urls = [submission_url(image.source, self.s3_client, self.presign_expires) for image in chunk]
        vehicle_ids = {image.vehicle_id for image in chunk}
        statuses = self.hook.submit_images(
            urls,
            vehicle_id=vehicle_ids.pop() if len(vehicle_ids) == 1 else None,
            cut_type=self.cut_type, guideline_id=self.guideline_id, location_id=self.location_id,
            processing_speed=self.processing_speed, retouching_accuracy=self.retouching_accuracy,
            scene_id=self.scene_id, custom_json=self.custom_json, webhook_url=self.webhook_url,
        )  # fmt: skip
        for image, url, status in zip(chunk, urls, statuses, strict=True):
            if status.status is None:
                image.submitted_url = url  # maybe billed: a later run asks about it before sending it again
                image.fail("Car-Cutter did not acknowledge the submission", record_as=RECORD_SUBMITTED)
            else:
                image.submitted(url)

    def _apply_event(self, batch: Batch, event: dict[str, Any]) -> None:
        waiting = sorted(batch.in_state(WAITING), key=lambda image: image.submitted_at)
        entries = event.get("images", [])
        if event.get("status") == ERROR or len(entries) != len(waiting):
            self._save(waiting, error=event.get("message", "status polling failed"))
            raise AirflowException(f"Car-Cutter status polling failed: {event.get('message')}")
        for image, entry in zip(waiting, entries, strict=True):
            fields = {key: entry.get(key) for key in ("status", "phase", "angle", "quality")}
            image.apply_status(
                ImageStatus(image=image.submitted_url or "", details=entry.get("details") or {}, **fields)
            )
            if event.get("status") != COMPLETE and image.state == WAITING:
                image.state, image.error = (
                    TIMED_OUT,
                    f"not finished after {self.timeout:.0f}s (record kept: a rerun resumes it)",
                )
        self._save([image for image in waiting if image.state in (FAILED, TIMED_OUT)])

    def _download(self, batch: Batch) -> None:
        """Stream every ready result into S3 at once (bounded), then write its final record."""
        ready = batch.in_state(READY)
        if not ready:
            return
        with ThreadPoolExecutor(self.download_concurrency) as pool:
            errors = list(pool.map(self._download_one, ready))
        if any(isinstance(error, CarCutterCreditsExceededError) for error in errors):
            batch.credits_exhausted = True
        self.log.info("Stored %d results under s3://%s/%s/", len(ready), self.dest_bucket, self.dest_prefix)

    def _download_one(self, image: BatchImage) -> CarCutterError | None:
        digest = options_digest(image.identity, self.options)

        def key_for(content_type: str) -> str:
            return output_key(self.dest_prefix, image.vehicle_id, image.source, image.name, digest, content_type)

        try:
            uri = stream_result_to_s3(self.hook, self.s3_client, image.submitted_url or "", self.dest_bucket, key_for)
        except CarCutterExpiredError:
            image.expired()
            return None
        except CarCutterError as error:
            image.fail(
                f"result download failed: {error}", record_as=RECORD_SUBMITTED if error.retryable else RECORD_ERROR
            )
            self.records.put(image.record(self.options))
            return error
        except Exception as error:  # S3 failures: the result is still at Car-Cutter, a rerun fetches it
            image.fail(f"storing the result failed: {type(error).__name__}: {error}", record_as=RECORD_SUBMITTED)
            self.records.put(image.record(self.options))
            return None
        image.state, image.outputs = DONE, {"result": uri}
        self.records.put(image.record(self.options))
        return None

    def _finish(self, context: Context, batch: Batch) -> list[dict[str, Any]]:
        summary = batch.summaries()
        retakes = sorted({row["vehicle_id"] for row in summary if row["quality"] == RETAKE})
        if retakes:
            count = sum(row["quality"] == RETAKE for row in summary)
            shown = ", ".join(retakes[:10]) + (f" and {len(retakes) - 10} more" if len(retakes) > 10 else "")
            self.log.warning("%d images need a retake (vehicles: %s)", count, shown)
        outcome = {state: sum(row["status"] == state for row in summary) for state in ("final", "error", "timed_out")}
        self.log.info("Done: %(final)d final, %(error)d failed, %(timed_out)d timed out", outcome)
        if batch.credits_exhausted:
            if ti := context.get("ti"):
                ti.xcom_push(key="return_value", value=summary)  # what was done, for the manifest
            raise AirflowFailException(
                "Car-Cutter credits are exhausted (402): "
                f"{outcome['final']} images stored, {outcome['error']} not processed. "
                "Everything done so far is recorded; buy credits and rerun to continue."
            )
        return summary

    # Helpers

    def _trigger(self, urls: list[str], batch_key: str | None = None) -> CarCutterBatchStatusTrigger:
        now = time.time()
        return CarCutterBatchStatusTrigger(
            image_urls=urls,
            batch_key=batch_key,
            deadline=now + self.timeout,
            carcutter_conn_id=self.carcutter_conn_id,
            poll_interval=float(self.poll_interval),
            max_poll_interval=self.max_poll_interval,
            first_poll_at=now + float(self.first_poll_delay),
            max_url_length=self.max_url_length,
        )

    def _save_batch(self, batch: Batch) -> str:
        """Keep the batch in S3 while deferred (not in the metadata DB: it can hold thousands of images)."""
        key = f"{self.records.prefix}/batches/{PROVIDER}/{uuid.uuid4().hex}.json"
        self.s3_client.put_object(Bucket=self.records.bucket, Key=key, Body=json.dumps(batch.to_dict()).encode())
        return key

    def _load_batch(self, key: str) -> Batch:
        body = self.s3_client.get_object(Bucket=self.records.bucket, Key=key)["Body"].read()
        self.s3_client.delete_object(Bucket=self.records.bucket, Key=key)
        return Batch.from_dict(json.loads(body))

    def _give_up(self, images: Iterable[BatchImage], error: str) -> None:
        """Not submitted, so not billed: no record, the next run tries again."""
        for image in images:
            image.fail(error, record_as=None)

    def _save(self, images: list[BatchImage], error: str | None = None) -> None:
        for image in images:
            image.error = error or image.error
        recordable = [image.record(self.options) for image in images if image.recordable]
        if recordable:
            self.records.put_many(recordable)


def _identity(
    source: SourceImage, listed: dict[str, str], s3_hook: S3Hook, web: requests.Session
) -> tuple[str, str | None]:
    """(identity, None), or (a stand-in key, the reason) when the source cannot be read."""
    if source.source in listed:
        return listed[source.source], None
    try:
        return image_identity(source, s3_hook, web), None
    except (OSError, ClientError) as error:
        return f"{UNREADABLE}{source.source}", f"cannot read the source: {type(error).__name__}"


async def _first_event(trigger: CarCutterBatchStatusTrigger) -> dict[str, Any]:
    async for event in trigger.run():
        return event.payload
    raise AirflowException("the status trigger ended without an event")
