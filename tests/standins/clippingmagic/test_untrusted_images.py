"""Uploads the Clipping Magic stand-in must refuse without decoding: bombs, broken and empty files."""

from __future__ import annotations

from dev.standins import guesses
from tests.standins.clippingmagic.calls import assert_error, upload
from tests.standins.conftest import blank_png


def test_uploads_over_16_megapixels_are_refused_from_their_header(cm, api, photo, peak_memory):
    with peak_memory("clippingmagic") as memory:
        bomb = upload(api, cm, blank_png(30_000, 30_000), "bomb.png", format="result")
        just_over = upload(api, cm, blank_png(4_096, 4_097), "over.png")
        truncated = upload(api, cm, photo(size=(640, 480))[:4000], "truncated.jpg")
        empty = upload(api, cm, b"", "empty.jpg")
    assert memory.peak_mib < 600, f"the stand-in reached {memory.peak_mib:.0f} MiB"
    assert_error(bomb, guesses.CM_STATUS_IMAGE_TOO_LARGE, guesses.CM_CODE_IMAGE_TOO_LARGE)
    assert_error(just_over, guesses.CM_STATUS_IMAGE_TOO_LARGE, guesses.CM_CODE_IMAGE_TOO_LARGE)
    assert "16781312 pixels" in just_over.json()["error"]["message"]
    assert_error(truncated, 400, guesses.CM_CODE_IMAGE_UNREADABLE)
    assert_error(empty, 400, guesses.CM_CODE_IMAGE_UNREADABLE)
    assert api.get(f"{cm.url}/api/v1/images", timeout=10).json()["images"] == []
    assert cm.ledger()["charges"] == {}
