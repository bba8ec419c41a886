"""The record that keeps an image from being billed twice (see shared design: "Never bill an image twice").

One record per (provider, image identity, processing options), stored as JSON in S3 so it outlives
runs, dates, metadata-DB resets and deployments.
"""

from image_records.identity import (
    listed_s3_identities,
    s3_folder,
    s3_image_identity,
    split_s3_uri,
    url_image_identity,
)
from image_records.record import ImageRecord, options_digest
from image_records.store import ImageRecordStore

__all__ = [
    "ImageRecord",
    "ImageRecordStore",
    "listed_s3_identities",
    "options_digest",
    "s3_folder",
    "s3_image_identity",
    "split_s3_uri",
    "url_image_identity",
]
