"""`python -m dev.stack.moto_s3 -H HOST -p PORT`: moto's S3 server, plus the one documented S3 condition the
pipeline relies on that moto 5.2 does not check: CopyObject's `x-amz-copy-source-if-match`, answered by S3
with 412 PreconditionFailed when the source's ETag is another one (Car-Cutter's source copies depend on it)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

from moto.s3.exceptions import PreconditionFailed
from moto.s3.responses import S3Response
from moto.server import main

_copy_object = S3Response.copy_object


def copy_object_if_match(self: S3Response) -> Any:
    wanted = self.headers.get("x-amz-copy-source-if-match")
    if wanted:
        source = urlparse(str(self.headers.get("x-amz-copy-source")))
        bucket, key = unquote(source.path).lstrip("/").split("/", 1)
        version_id = parse_qs(source.query).get("versionId", [None])[0]
        current = self.backend.get_object(bucket, key, version_id=version_id)
        if current is not None and current.etag.strip('"') != wanted.strip('"'):
            raise PreconditionFailed(failed_condition="x-amz-copy-source-If-Match")
    return _copy_object(self)


S3Response.copy_object = copy_object_if_match

if __name__ == "__main__":
    main()
