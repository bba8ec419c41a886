"""What inspecting an S3 source costs in requests, counted from moto's access log: one ranged GET for a photo
up to `HEAD_BYTES` (its whole body), a second one of the last bytes only for a larger object."""

from __future__ import annotations

import io
import time

import numpy as np
import pytest
from PIL import Image

from bench.s3_requests import S3RequestLog, S3Requests
from dev.stack import LocalStack
from vehicle_photos.image_common.inspection import HEAD_BYTES, UnusableImageError, inspect_s3_image
from vehicle_photos.image_common.sources import ImageSource

MAX_PIXELS = 50_000_000


def _noise_jpeg(side: int) -> bytes:
    pixels = np.random.default_rng(side).integers(0, 256, (side, side, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "JPEG", quality=95)
    return out.getvalue()


def _requests(log: S3RequestLog, start: int, expected: int) -> S3Requests:
    deadline = time.monotonic() + 5  # moto writes each line as it answers
    while log.count(start, log.mark()).total < expected and time.monotonic() < deadline:
        time.sleep(0.05)
    return log.count(start, log.mark())


@pytest.mark.parametrize(("side", "truncated", "gets"), [(500, False, 1), (1000, False, 2), (1000, True, 2)])
def test_one_get_for_a_photo_up_to_the_head_size_two_for_a_larger_one(
    local_stack: LocalStack, bucket: str, side: int, truncated: bool, gets: int
) -> None:
    body = _noise_jpeg(side)
    assert (len(body) <= HEAD_BYTES) == (gets == 1)
    body = body[: len(body) - 100] if truncated else body
    s3 = local_stack.s3_client()
    etag = s3.put_object(Bucket=bucket, Key="photos/V1/front.jpg", Body=body)["ETag"]
    log = S3RequestLog(local_stack.settings.log_dir / "s3.log", bucket)
    start = log.mark()
    source = ImageSource.parse(f"s3://{bucket}/photos/V1/front.jpg")

    if truncated:
        with pytest.raises(UnusableImageError, match="truncated JPEG"):
            inspect_s3_image(s3, source, MAX_PIXELS, etag.strip('"'))
    else:
        facts = inspect_s3_image(s3, source, MAX_PIXELS, etag.strip('"'))
        assert (facts.format, facts.width, facts.height, facts.size) == ("JPEG", side, side, len(body))

    assert _requests(log, start, gets).by_operation == {"GET": gets}
