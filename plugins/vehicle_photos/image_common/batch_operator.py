"""`ImageBatchOperator`: what the operators that send a batch of images to a paid API share.

Car-Cutter's asynchronous processing and Clipping Magic's auto-clip differ in how they call their service and
how they find a call's outcome after a crash; everything around that is the same and lives here: reading the
batch (inline or from S3), refusing what may not or cannot be sent, identifying images, claiming them, naming
their outputs, and publishing one `ImageResult` per image (to S3 when `results_uri` is given, so XCom carries
only counts). One bad image never fails the others: it gets its own result with the reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property
from typing import Any, ClassVar

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.sdk import BaseOperator, Context
from airflow.sdk.exceptions import AirflowException

from vehicle_photos.image_common.claims import DEFAULT_CLAIM_LEASE_SECONDS, ClaimHolder
from vehicle_photos.image_common.fetch import SourceFetchError, guarded_session, head_url
from vehicle_photos.image_common.identity import DEFAULT_VOLATILE_QUERY_PARAMS, http_identity, s3_identities
from vehicle_photos.image_common.items import load_list, put_results
from vehicle_photos.image_common.policy import (
    DEFAULT_DEADLINE_SECONDS,
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_PIXELS,
    SourceNotAllowedError,
    SourcePolicy,
)
from vehicle_photos.image_common.record_index import RecordIndex
from vehicle_photos.image_common.record_store import ImageRecordStore
from vehicle_photos.image_common.records import ImageRecord, output_key
from vehicle_photos.image_common.results import ImageResult, summarize
from vehicle_photos.image_common.sources import ImageItem, InvalidSourceError
from vehicle_photos.image_common.statuses import ResultStatus

MAX_ERRORS_SHOWN = 10


class ImageBatchOperator(BaseOperator):
    """Base of the batch image operators; subclasses set `provider` and implement `execute`.

    :param images: `[{"source": "s3://bucket/key" | "http(s)://...", "vehicle_id": ..., "name": ...,
        "identity": optional}]`, as a list, JSON text or the `s3://` URI of a JSON document (templated).
    :param dest_bucket: where outputs go, under `<dest_prefix>/<vehicle_id>/<provider>/`.
    :param records_bucket / records_prefix: where the image records live (default: `dest_bucket`, `records`).
    :param results_uri: `s3://` object to write the per-image results to (JSON Lines); the task then returns
        only counts. Without it the results themselves are returned (fine for small batches).
    :param allowed_buckets: buckets `s3://` sources may be read from (default: `dest_bucket`; "*": any).
    :param allowed_networks: CIDR ranges http(s) sources may resolve to besides public addresses (e.g. the
        local stack's "127.0.0.1/32"); loopback, private and link-local addresses are refused otherwise.
    :param max_source_bytes / source_deadline_seconds / max_pixels: limits for every source.
    :param volatile_query_params: query parameters of http(s) sources that are not part of an image's identity
        (signatures, expiry times; `*` matches anything, case-insensitive); the rest count, as a digest.
    :param claim_lease_seconds: the lease of this task's claims: renewed at a third of it while the task works
        (`image_common.claims`); one lease after a claim's last renewal (S3's clock) another run may take it
        over if the service never received its call. Also the lease of claims found without one.
    :param max_failure_ratio: the task fails (after publishing its results) when more than this share of its
        images failed; refused images (bad input, nothing billed) never fail the task.
    """

    provider: ClassVar[str]
    template_fields: Sequence[str] = (
        "images", "dest_bucket", "dest_prefix", "records_bucket", "records_prefix", "results_uri",
        "allowed_buckets", "allowed_networks", "max_source_bytes", "source_deadline_seconds", "max_pixels",
        "claim_lease_seconds", "volatile_query_params",
    )  # fmt: skip

    def __init__(
        self,
        *,
        images: Any,
        dest_bucket: str,
        dest_prefix: str = "processed",
        records_bucket: str | None = None,
        records_prefix: str = "records",
        results_uri: str | None = None,
        allowed_buckets: Any = None,
        allowed_networks: Any = (),
        max_source_bytes: int = DEFAULT_MAX_BYTES,
        source_deadline_seconds: float = DEFAULT_DEADLINE_SECONDS,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        claim_lease_seconds: float = DEFAULT_CLAIM_LEASE_SECONDS,
        volatile_query_params: Any = DEFAULT_VOLATILE_QUERY_PARAMS,
        max_failure_ratio: float = 0.0,
        concurrency: int = 8,
        aws_conn_id: str | None = "aws_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.images = images
        self.dest_bucket = dest_bucket
        self.dest_prefix = dest_prefix
        self.records_bucket = records_bucket
        self.records_prefix = records_prefix
        self.results_uri = results_uri
        self.allowed_buckets = allowed_buckets
        self.allowed_networks = allowed_networks
        self.max_source_bytes = max_source_bytes
        self.source_deadline_seconds = source_deadline_seconds
        self.max_pixels = max_pixels
        self.claim_lease_seconds = claim_lease_seconds
        self.volatile_query_params = volatile_query_params
        self.max_failure_ratio = max_failure_ratio
        self.concurrency = concurrency
        self.aws_conn_id = aws_conn_id

    # Shared clients and settings (built once per task, before any worker thread uses them)

    @cached_property
    def s3_hook(self) -> S3Hook:
        return S3Hook(aws_conn_id=self.aws_conn_id, config={"max_pool_connections": max(10, self.concurrency + 4)})

    @cached_property
    def records(self) -> ImageRecordStore:
        return ImageRecordStore(
            self.records_bucket or self.dest_bucket, self.records_prefix, self.aws_conn_id, self.concurrency + 4
        )

    @cached_property
    def policy(self) -> SourcePolicy:
        return SourcePolicy.build(
            allowed_buckets=self.allowed_buckets if self.allowed_buckets else [self.dest_bucket],
            allowed_networks=self.allowed_networks,
            max_bytes=self.max_source_bytes,
            deadline_seconds=self.source_deadline_seconds,
            max_pixels=self.max_pixels,
        )

    @cached_property
    def web(self) -> Any:
        return guarded_session(self.policy, pool_size=self.concurrency + 4)

    def check_arguments(self) -> None:
        """Argument checks run in `execute`, once templates and XComArgs are resolved."""
        if not self.dest_bucket:
            raise ValueError("dest_bucket is required")
        if not 0.0 <= float(self.max_failure_ratio) <= 1.0:
            raise ValueError(f"max_failure_ratio must be within 0..1, got {self.max_failure_ratio}")
        if int(self.concurrency) < 1:
            raise ValueError(f"concurrency must be at least 1, got {self.concurrency}")
        if not self.policy.allowed_buckets:  # building the policy here makes a bad CIDR fail the task at once
            raise ValueError("allowed_buckets is empty: no s3:// source could be read")

    # The batch

    def read_batch(self, default_bucket: str | None = None) -> tuple[list[ImageItem], list[ImageResult]]:
        """The images to process and, for entries that are not even a valid source, their refusals. Plain keys
        are objects of `default_bucket` (without one, they are refused)."""
        items: list[ImageItem] = []
        refused: list[ImageResult] = []
        for position, entry in enumerate(load_list(self.images, self.s3_hook, "images")):
            try:
                items.append(ImageItem.parse(entry, position, default_bucket))
            except InvalidSourceError as error:
                vehicle_id = str(entry.get("vehicle_id") or "") if isinstance(entry, dict) else ""
                name = str(entry.get("name") or position) if isinstance(entry, dict) else str(position)
                self.log.warning("image %s of %s refused: %s", name, vehicle_id, error)
                refused.append(ImageResult(self.provider, vehicle_id, name, "", ResultStatus.REFUSED, error=str(error)))
        return items, refused

    def identify(self, items: Sequence[ImageItem]) -> tuple[list[ImageItem], list[ImageResult]]:
        """Items with their identity filled in where it can be known without downloading (S3 listings, http
        validators), and refusals for sources that may not or cannot be read. An http item whose server gives
        no validator keeps `identity=None`: it is identified by its content where it is downloaded."""
        allowed: list[ImageItem] = []
        refused: list[ImageResult] = []
        for item in items:
            try:
                self.policy.check(item.source)
                allowed.append(item)
            except SourceNotAllowedError as error:
                refused.append(self.refusal(item, str(error)))
        unknown_s3 = [item.source for item in allowed if item.source.is_s3 and not item.identity]
        found, failed = s3_identities(self.s3_hook.conn, unknown_s3) if unknown_s3 else ({}, {})

        def with_identity(item: ImageItem) -> ImageItem | ImageResult:
            if item.identity:
                return item
            if item.source.is_s3:
                if item.source.uri in failed:
                    return self.refusal(item, f"{item.source}: {failed[item.source.uri]}")
                return ImageItem(item.source, item.vehicle_id, item.name, found[item.source.uri])
            try:
                headers = head_url(self.web, item.source.uri, self.policy)
            except (SourceFetchError, SourceNotAllowedError) as error:
                return self.refusal(item, str(error))
            identity = http_identity(item.source.uri, headers, volatile_params=self.volatile_query_params)
            return ImageItem(item.source, item.vehicle_id, item.name, identity)

        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            outcomes = list(pool.map(with_identity, allowed))
        return [o for o in outcomes if isinstance(o, ImageItem)], refused + [
            o for o in outcomes if isinstance(o, ImageResult)
        ]

    def refusal(self, item: ImageItem, reason: str) -> ImageResult:
        """The result of an image that was never sent (nothing billed)."""
        self.log.warning("image %s of %s refused: %s", item.name, item.vehicle_id, reason)
        return ImageResult(
            self.provider, item.vehicle_id, item.name, str(item.source), ResultStatus.REFUSED, error=reason
        )

    def claim_holder(self, context: Context) -> ClaimHolder:
        return ClaimHolder.of(context)

    def output_key(self, item: ImageItem, digest: str, extension: str) -> str:
        return output_key(self.dest_prefix, item.vehicle_id, self.provider, item.name, digest, extension)

    # Publishing

    def publish(self, results: list[ImageResult], finished: Sequence[ImageRecord]) -> Any:
        """Index the final records among `finished` (made by this task or found in place) and write the
        results; returns what the task pushes to XCom (counts and `results_uri`, or the results themselves
        when there is no `results_uri`)."""
        if finished:
            RecordIndex(self.records, self.provider).append(finished)
        summary = summarize(results)
        self.log.info("%s: %s", type(self).__name__, summary)
        if not self.results_uri:
            return [result.to_dict() for result in results]
        put_results(self.s3_hook, self.results_uri, results)
        return {**summary, "results_uri": self.results_uri}

    def raise_for_failures(self, results: list[ImageResult]) -> None:
        """Fail the task (its results are written already) when more than `max_failure_ratio` failed."""
        failed = [result for result in results if result.status in (ResultStatus.FAILED, ResultStatus.PENDING)]
        if failed and len(failed) > float(self.max_failure_ratio) * len(results):
            raise AirflowException(_failure_message(failed, len(results), float(self.max_failure_ratio)))


def _failure_message(failed: list[ImageResult], total: int, max_ratio: float) -> str:
    lines = [f"{len(failed)} of {total} images failed (allowed share: {max_ratio:.0%}); results were written"]
    lines += [f"  {r.vehicle_id}/{r.name} ({r.source}): {r.status}: {r.error}" for r in failed[:MAX_ERRORS_SHOWN]]
    if len(failed) > MAX_ERRORS_SHOWN:
        lines.append(f"  ... and {len(failed) - MAX_ERRORS_SHOWN} more")
    return "\n".join(lines)
