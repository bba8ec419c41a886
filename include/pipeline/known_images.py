"""Which planned images need no work at all: refused outright (a reference the pipeline may not or cannot
read) or already processed (a final record in the provider's record index). Only the rest go to the
processing tasks, so a daily run over an unchanged inventory costs a few listings and index reads, not a
request per image.

Identities come from bucket listings for `s3://` sources and from one HEAD per http(s) source (ETag /
Last-Modified); an http source whose server gives neither is identified by its content in the processing task.
The record options of each image come from its dealer's profile, which asks the provider's operator
(`record_options`), the one place they are made.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from airflow.providers.amazon.aws.hooks.s3 import S3Hook

from include.pipeline.planned_work import PlannedImage
from include.pipeline.settings import PipelineSettings
from vehicle_photos.image_common.fetch import SourceFetchError, guarded_session, head_url
from vehicle_photos.image_common.identity import http_identity, s3_identities
from vehicle_photos.image_common.policy import SourceNotAllowedError, SourcePolicy
from vehicle_photos.image_common.record_index import RecordIndex
from vehicle_photos.image_common.record_store import ImageRecordStore
from vehicle_photos.image_common.records import options_digest
from vehicle_photos.image_common.results import ImageResult
from vehicle_photos.image_common.sources import ImageSource, InvalidSourceError
from vehicle_photos.image_common.statuses import ResultStatus

HEAD_DEADLINE_SECONDS = 15.0


@dataclass
class KnownImages:
    results: dict[tuple[str, str, str], ImageResult] = field(default_factory=dict)  # reused or refused
    identities: dict[tuple[str, str, str], str | None] = field(default_factory=dict)  # the rest


def source_policy(settings: PipelineSettings) -> SourcePolicy:
    return SourcePolicy.build(
        allowed_buckets=settings.image_buckets,
        allowed_networks=settings.allowed_networks,
        max_bytes=settings.max_source_bytes,
        deadline_seconds=settings.source_deadline_seconds,
        max_pixels=settings.max_pixels,
    )


# The record options an image is processed with: its dealer profile's (`profiles.DealerProfile.record_options`)
RecordOptions = Callable[[PlannedImage], dict[str, Any]]


def find_known_images(
    s3_hook: S3Hook, settings: PipelineSettings, images: Sequence[PlannedImage], record_options: RecordOptions
) -> KnownImages:
    known = KnownImages()
    policy = source_policy(settings)
    readable: list[tuple[PlannedImage, ImageSource]] = []
    for image in images:
        try:
            source = ImageSource.parse(image.source)
            policy.check(source)
            readable.append((image, source))
        except (InvalidSourceError, SourceNotAllowedError) as error:
            known.results[image.key] = _refused(image, str(error))
    identities = _identities(s3_hook, policy, [source for _, source in readable], settings.volatile_query_params)
    store = ImageRecordStore(settings.bucket, settings.records_prefix)
    indexes = {provider: RecordIndex(store, provider).load() for provider in {image.provider for image in images}}
    for image, source in readable:
        identity, reason = identities[source.uri]
        if reason is not None:
            known.results[image.key] = _refused(image, reason)
            continue
        record = None
        if identity:
            record = indexes[image.provider].get(options_digest(identity, record_options(image)))
        if record is not None:
            known.results[image.key] = ImageResult.from_record(
                record, image.vehicle_id, image.name, image.shown_source, reused=True
            )
        else:
            known.identities[image.key] = identity or None
    return known


def _identities(
    s3_hook: S3Hook, policy: SourcePolicy, sources: list[ImageSource], volatile_params: Sequence[str]
) -> dict[str, tuple[str, str | None]]:
    """uri -> (identity or "" when only the content can tell, the reason it cannot be read or None)."""
    s3_sources = list({source.uri: source for source in sources if source.is_s3}.values())
    found, failed = s3_identities(s3_hook.conn, s3_sources) if s3_sources else ({}, {})
    outcome: dict[str, tuple[str, str | None]] = {uri: (identity, None) for uri, identity in found.items()}
    outcome.update((uri, ("", f"{ImageSource(uri)}: {reason}")) for uri, reason in failed.items())
    urls = list({source.uri for source in sources if not source.is_s3})
    head_policy = dataclasses.replace(policy, deadline_seconds=min(policy.deadline_seconds, HEAD_DEADLINE_SECONDS))
    with guarded_session(head_policy) as web, ThreadPoolExecutor(max_workers=16) as pool:

        def identify(url: str) -> tuple[str, str | None]:
            try:
                headers = head_url(web, url, head_policy)
                return http_identity(url, headers, volatile_params=volatile_params) or "", None
            except (SourceFetchError, SourceNotAllowedError) as error:
                return "", str(error)

        outcome.update(zip(urls, pool.map(identify, urls), strict=True))
    return outcome


def _refused(image: PlannedImage, reason: str) -> ImageResult:
    return ImageResult(
        image.provider, image.vehicle_id, image.name, image.shown_source, ResultStatus.REFUSED, error=reason
    )
