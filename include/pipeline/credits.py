"""What a run would spend: images of the plan with no finished image record are the ones that get billed.

The record options must be exactly those the two operators key their records with; the end-to-end test
checks that a dry run after a real run estimates zero, which fails if they drift apart.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests
from airflow.providers.amazon.aws.hooks.s3 import S3Hook

from image_records import (
    ImageRecordStore,
    listed_s3_identities,
    options_digest,
    s3_folder,
    s3_image_identity,
    split_s3_uri,
    url_image_identity,
)
from include.pipeline.settings import PipelineSettings

log = logging.getLogger(__name__)



def record_options(provider: str, settings: PipelineSettings) -> dict[str, Any]:
    if provider == "carcutter":
        return {"cut_type": settings.cut_type}
    outputs = sorted(settings.clippingmagic_outputs)
    return {"format": "result", "test": settings.clippingmagic_test_mode, "outputs": outputs}


def estimate_credits(
    plan: dict[str, Any], settings: PipelineSettings, aws_conn_id: str | None = "aws_default"
) -> dict[str, int]:
    """Credits per provider that processing the plan would cost now: images with no record, or whose record
    ended in an error. Submitted ones are already paid for; test images of Clipping Magic are free."""
    s3_hook = S3Hook(aws_conn_id=aws_conn_id)
    store = ImageRecordStore(settings.bucket, settings.records_prefix, aws_conn_id)
    session = requests.Session()
    # Both clients are built on first use; build them once here rather than once per worker thread.
    s3_client, _ = s3_hook.get_conn(), store.client
    listed: dict[str, str] = {}

    def identity(source: str) -> str | None:
        try:
            if source in listed:
                return listed[source]
            if source.startswith("s3://"):
                return s3_image_identity(s3_hook, *split_s3_uri(source))
            return url_image_identity(source, session)
        except Exception as error:  # the processing task records it as a failed image; here it only costs nothing
            log.warning("cannot identify %s: %s", source, error)
            return None

    estimate = {}
    for provider in ("carcutter", "clippingmagic"):
        sources = [image["source"] for batch in plan["batches"] for image in batch[f"{provider}_images"]]
        options = record_options(provider, settings)
        folders: dict[tuple[str, str], list[str]] = {}
        for source in sources:
            if source.startswith("s3://"):
                folders.setdefault(s3_folder(source), []).append(source)
        with ThreadPoolExecutor(max_workers=16) as pool:
            # A folder listing gives the ETags of up to 1,000 objects per request, instead of a HEAD per image.
            for found in pool.map(lambda uris: listed_s3_identities(s3_client, uris), folders.values()):
                listed.update(found)
            identities = list(pool.map(identity, sources))
        known = [ident for ident in identities if ident is not None]
        found = store.get_many(provider, [(ident, options) for ident in known])
        records = [found.get((ident, options_digest(ident, options))) for ident in known]
        unfinished = sum(1 for record in records if record is None or not (record.is_final or record.is_submitted))
        free = provider == "clippingmagic" and settings.clippingmagic_test_mode
        estimate[provider] = 0 if free else unfinished
    return estimate

