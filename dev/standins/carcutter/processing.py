"""Asynchronous image processing: fetch each image_url, cut it, walk the documented phases, call the webhook.

Scales to thousands of images in flight: an image's status is derived from its timestamps when asked (no timer
per image), one asyncio task runs each submission, fetches share a bounded number of slots, and pixel work
runs in a small thread pool.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import yarl
from PIL import Image

from dev.standins import guesses
from dev.standins.carcutter.contract import echoed_url
from dev.standins.common import pixels
from dev.standins.common.draws import share_draw, url_path
from dev.standins.common.knobs import Knobs

log = logging.getLogger(__name__)

ACCEPTED_FORMATS = ("JPEG", "PNG", "BMP", "GIF", "TIFF", "WEBP")


class FetchError(Exception):
    """image_url could not be downloaded."""


class TooManyVehicles(ValueError):
    """The image shows more than one vehicle."""


@dataclass(eq=False)
class Job:
    url: str
    cut_type: str
    options: dict[str, Any]
    submitted_at: float
    duration: float
    angle: list[str]
    quality: str
    fetched_at: float | None = None
    ready_at: float | None = None
    error: str | None = None
    error_phase: str = guesses.CC_FETCH_ERROR_PHASE
    result: bytes | None = None
    media_type: str = "image/jpeg"

    def state(self, now: float, expiry_seconds: float) -> tuple[str, str]:
        """(status, phase) at time `now`."""
        if self.error is not None:
            return "error", self.error_phase
        if self.fetched_at is None:
            return "processing", "downloading"
        if self.result is None or now < self.ready_at:
            span = max(self.ready_at - self.fetched_at, 1e-9)
            step = int((now - self.fetched_at) / span * len(guesses.CC_WORK_PHASES))
            return "processing", guesses.CC_WORK_PHASES[min(max(step, 0), len(guesses.CC_WORK_PHASES) - 1)]
        if now >= self.ready_at + expiry_seconds:
            return "expired", "ready"
        return "final", "ready"

    def as_status(self, now: float, expiry_seconds: float) -> dict[str, Any]:
        status, phase = self.state(now, expiry_seconds)
        return {
            "image": self.url,
            "angle": self.angle,
            "status": status,
            "phase": phase,
            "quality": self.quality if status in ("final", "expired") else None,
        }


@dataclass(eq=False)
class Submission:
    jobs: list[Job]
    webhook_url: str | None


def unknown_status(url: str) -> dict[str, Any]:
    return {
        "image": url,
        "angle": [],
        "status": guesses.CC_UNKNOWN_STATUS,
        "phase": guesses.CC_UNKNOWN_STATUS,
        "quality": None,
    }


def classify(url: str, seed: int) -> tuple[list[str], str]:
    """Angle and quality, deterministic from seed + url path (not the query: presigned URLs change)."""
    path = urlsplit(url).path.lower()
    digest = int.from_bytes(hashlib.sha256(f"{seed}:{path}".encode()).digest()[:8], "big")
    name = path.rsplit("/", 1)[-1]
    views = sorted(guesses.CC_EXTERIOR_ANGLES + guesses.CC_OTHER_ANGLES, key=len, reverse=True)
    view = next((view for view in views if view in name), None)
    if view is None:
        view = guesses.CC_EXTERIOR_ANGLES[digest % len(guesses.CC_EXTERIOR_ANGLES)]
    angle = [view] if view in guesses.CC_OTHER_ANGLES else ["exterior", view]
    quality = "retake" if (digest >> 16) % 10_000 < guesses.CC_RETAKE_RATIO * 10_000 else "ok"
    return angle, quality


@functools.cache
def placeholder_result() -> bytes:
    """The result of every image that fast mode did not download: one small grey JPEG."""
    return pixels.encode(Image.new("RGB", (160, 120), (128, 128, 128)), "JPEG")


def cut(data: bytes | None, cut_type: str, fast: bool, options: dict[str, Any]) -> tuple[bytes, str]:
    """Cut one image; fast mode checks the image header and returns the bytes unchanged (or the placeholder).

    Raises ValueError (UnreadableImage, ImageTooLarge, TooManyVehicles) for an image that cannot be processed.
    """
    if data is None:
        return placeholder_result(), "image/jpeg"
    image = pixels.open_image(data, ACCEPTED_FORMATS, guesses.CC_MAX_IMAGE_PIXELS)
    if fast:
        return data, Image.MIME.get(image.format, "application/octet-stream")
    try:
        rgb = pixels.decode(image)
    except pixels.UnreadableImage as error:
        raise ValueError(str(error)) from error
    mask = pixels.vehicle_mask(rgb, fast=False)
    if pixels.count_vehicles(mask) > 1:
        raise TooManyVehicles("too many vehicles in the image")
    result = pixels.compose_car_cutter(rgb, mask, cut_type, fast=False, **options)
    return pixels.encode(result.convert("RGB"), "JPEG", quality=guesses.CC_JPEG_QUALITY), "image/jpeg"


class Processor:
    def __init__(self, knobs: Knobs):
        self.knobs = knobs
        self.jobs: dict[str, Job] = {}
        self.tasks: set[asyncio.Task] = set()
        self.webhooks = {"sent": 0, "failed": 0}
        self.pixel_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="cut")
        self.session: aiohttp.ClientSession | None = None
        self.fetch_slots: asyncio.Semaphore | None = None

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(limit=guesses.CC_FETCH_CONCURRENCY)
        # no session-wide timeout: `fetch` has its own total deadline, the webhook its own timeout
        self.session = aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout())
        self.fetch_slots = asyncio.Semaphore(guesses.CC_FETCH_CONCURRENCY)

    async def stop(self) -> None:
        self.reset()
        if self.session:
            await self.session.close()
        self.pixel_pool.shutdown(wait=False, cancel_futures=True)

    def reset(self) -> None:
        for task in self.tasks:
            task.cancel()
        self.tasks.clear()
        self.jobs.clear()
        self.webhooks = {"sent": 0, "failed": 0}

    @property
    def now(self) -> float:
        return asyncio.get_running_loop().time()

    def registered(self, url: str) -> Job | None:
        """The job of `url` once the service has filed it (`--registration-delay-seconds` after submission)."""
        job = self.jobs.get(url)
        if job is None or self.now < job.submitted_at + self.knobs.registration_delay_seconds:
            return None
        return job

    def status(self, url: str) -> dict[str, Any]:
        job = self.registered(url)
        return self._describe(job) if job else unknown_status(echoed_url(url, self.knobs))

    def _describe(self, job: Job) -> dict[str, Any]:
        """The job's ImageStatus, with the undocumented quality / phase values and the URL echo the knobs ask
        for."""
        status = job.as_status(self.now, self.knobs.result_expiry_seconds)
        status["image"] = echoed_url(job.url, self.knobs)
        seed, key = self.knobs.seed, url_path(job.url)
        if status["quality"] is not None and share_draw(seed, "quality", key) < self.knobs.unknown_quality_ratio:
            status["quality"] = guesses.CC_UNDOCUMENTED_QUALITY
        worked_on = status["status"] != "error" and status["phase"] != "downloading"
        if worked_on and share_draw(seed, "phase", key) < self.knobs.unknown_phase_ratio:
            status["phase"] = guesses.CC_UNDOCUMENTED_PHASE
        return status

    def errors(self) -> dict[str, dict[str, str]]:
        """Why each image that ended in `error` failed (emulator-only: the API's ImageStatus has no reason)."""
        return {
            url: {"phase": job.error_phase, "reason": job.error}
            for url, job in self.jobs.items()
            if job.error is not None
        }

    def submit(
        self, urls: list[str], cut_type: str, lazy: bool, webhook_url: str | None, options: dict[str, Any]
    ) -> Submission:
        """Start processing; a url submitted again replaces its earlier job (and is processed again)."""
        duration = self.knobs.processing_seconds * (guesses.CC_LAZY_SPEED_FACTOR if lazy else 1.0)
        now = self.now
        jobs = []
        for url in urls:
            angle, quality = classify(url, self.knobs.seed)
            job = Job(url, cut_type, options, now, duration, angle, quality)
            self.jobs[url] = job
            jobs.append(job)
        submission = Submission(jobs, webhook_url)
        task = asyncio.create_task(self._run(submission))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return submission

    async def _run(self, submission: Submission) -> None:
        await asyncio.gather(*(self._process(job) for job in submission.jobs))
        ready = [job.ready_at for job in submission.jobs if job.error is None]
        # timers may fire a hair early against `self.now`: wait until the statuses really are settled
        while ready and max(ready) > self.now:
            await asyncio.sleep(max(0.001, max(ready) - self.now))
        if submission.webhook_url:
            await self._call_webhook(submission)

    async def _process(self, job: Job) -> None:
        try:
            data = await self.obtain(job.url)
        except FetchError as error:
            job.error = str(error)
            return
        job.fetched_at = self.now
        job.ready_at = max(job.submitted_at + job.duration, job.fetched_at)
        try:
            if self.knobs.fast:
                job.result, job.media_type = cut(data, job.cut_type, True, job.options)
            else:
                loop = asyncio.get_running_loop()
                job.result, job.media_type = await loop.run_in_executor(
                    self.pixel_pool, cut, data, job.cut_type, False, job.options
                )
        except ValueError as error:
            job.error, job.error_phase = str(error), guesses.CC_DECODE_ERROR_PHASE
            return
        job.ready_at = max(job.ready_at, self.now)

    async def obtain(self, url: str) -> bytes | None:
        """The image behind url, or None in fast mode without `fast_fetch` (the S3 stand-in's throughput
        would otherwise dominate a benchmark of the client)."""
        if self.knobs.fast and not self.knobs.fast_fetch:
            return None
        return await self.fetch(url)

    async def fetch(self, url: str) -> bytes:
        """GET url within one total deadline (a server dripping bytes cannot hold it longer) and a size limit;
        presigned URLs are sent exactly as given."""
        limit, deadline = self.knobs.max_image_bytes, self.knobs.fetch_timeout_seconds
        target = yarl.URL(url, encoded="%" in url)
        async with self.fetch_slots:
            try:
                async with (
                    asyncio.timeout(deadline),
                    self.session.get(target, allow_redirects=True) as response,
                ):
                    if response.status != 200:
                        raise FetchError(f"image download answered HTTP {response.status}")
                    if (response.content_length or 0) > limit:
                        raise FetchError(f"image is larger than {limit} bytes")
                    body = bytearray()
                    async for chunk in response.content.iter_chunked(1 << 16):
                        body += chunk
                        if len(body) > limit:
                            raise FetchError(f"image is larger than {limit} bytes")
                    return bytes(body)
            except TimeoutError:
                raise FetchError(f"image download took longer than {deadline:g} s") from None
            except (aiohttp.ClientError, ValueError) as error:
                raise FetchError(f"image download failed: {type(error).__name__}") from error

    async def _call_webhook(self, submission: Submission) -> None:
        payload = {"data": {"images": [self._describe(job) for job in submission.jobs]}}
        timeout = aiohttp.ClientTimeout(total=10)
        for attempt in range(1, guesses.CC_WEBHOOK_ATTEMPTS + 1):
            try:
                async with self.session.post(submission.webhook_url, json=payload, timeout=timeout) as response:
                    if response.status < 400:
                        self.webhooks["sent"] += 1
                        return
            except (aiohttp.ClientError, TimeoutError):
                pass
            if attempt < guesses.CC_WEBHOOK_ATTEMPTS:
                await asyncio.sleep(guesses.CC_WEBHOOK_RETRY_SECONDS)
        self.webhooks["failed"] += 1
        log.warning("webhook for %d images failed after %d attempts", len(submission.jobs), attempt)
