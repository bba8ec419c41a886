"""Every ClippingMagicHook operation against the stand-in, over real HTTP."""

from __future__ import annotations

import io
import json
import re
import threading
import time

import pytest
from PIL import Image

from tests.clippingmagic.conftest import huge_canvas_png, jpeg_bytes
from vehicle_photos.clippingmagic.utils.images import MAX_UPLOAD_PIXELS, PixelBudget, prepared_image, shrunk_size
from vehicle_photos.clippingmagic.utils.models import ALPHA_MASK_PNG, CLIPPING_PATH_SVG, RESULT
from vehicle_photos.image_common.inspection import UnusableImageError


def test_upload_accepts_a_path_bytes_and_a_stream(hook_factory, cm, tmp_path):
    hook = hook_factory()
    path = tmp_path / "from_path.jpg"
    path.write_bytes(jpeg_bytes())

    class NonSeekable(io.RawIOBase):  # like an S3 StreamingBody
        def __init__(self, data: bytes) -> None:
            self._data = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def readinto(self, buffer) -> int:
            chunk = self._data.read(len(buffer))
            buffer[: len(chunk)] = chunk
            return len(chunk)

    uploaded = [
        hook.upload(path, test=True),
        hook.upload(jpeg_bytes(), filename="from_bytes.jpg", test=True),
        hook.upload(NonSeekable(jpeg_bytes()), filename="from_stream.jpg"),
    ]

    assert [image.original_filename for image in uploaded] == ["from_path.jpg", "from_bytes.jpg", "from_stream.jpg"]
    assert [image.test for image in uploaded] == [True, True, False]
    assert all(image.result_revision == 0 and image.secret for image in uploaded)
    assert "secret" not in uploaded[0].to_dict() and uploaded[0].secret not in repr(uploaded[0])
    assert cm.ledger()["charges"] == {}, "uploads without a result format are free"


def test_auto_clip_returns_each_format_and_charges_production_once(hook_factory, cm):
    hook = hook_factory()
    result_file = io.BytesIO()

    result = hook.auto_clip(jpeg_bytes(), result_file, filename="car.jpg")

    assert hook.get_image(result.image_id).original_filename == "car.jpg"
    assert result.format == RESULT and result.result_revision == 1
    assert result.filename.endswith(".png") and result.extension == ".png"
    assert Image.open(io.BytesIO(result_file.getvalue())).mode == "RGBA"
    assert cm.ledger()["charges"] == {str(result.image_id): 1}

    svg, mask = io.BytesIO(), io.BytesIO()
    assert hook.download(result.image_id, svg, result_format=CLIPPING_PATH_SVG).extension == ".svg"
    assert svg.getvalue().lstrip().startswith(b"<svg")
    assert hook.download(result.image_id, mask, result_format=ALPHA_MASK_PNG).result_revision == 1
    assert Image.open(io.BytesIO(mask.getvalue())).mode in ("L", "1", "LA", "RGBA", "RGB")
    assert cm.ledger()["charges"] == {str(result.image_id): 1}, "other formats of the same revision are free"


def test_test_mode_auto_clip_is_free(hook_factory, cm):
    hook_factory().auto_clip(jpeg_bytes(), io.BytesIO(), filename="car.jpg", test=True)
    assert cm.ledger()["charges"] == {}


def test_download_follows_the_redirect_to_storage_and_streams_into_the_file(hook_factory, cm, tmp_path):
    hook = hook_factory()
    image = hook.upload(jpeg_bytes(), filename="car.jpg")
    cm._emulator("POST", f"images/{image.id}/edit", json={"background": "#ffffff"})
    before = cm.requests()["counts"]

    with (tmp_path / "result").open("w+b") as output:
        output.write(b"stale bytes that must be replaced")
        output.seek(0)
        result = hook.download(image.id, output)
        output.seek(0)
        body = output.read()

    after = cm.requests()["counts"]
    assert after.get("download", 0) - before.get("download", 0) == 1
    assert after.get("storage", 0) - before.get("storage", 0) == 1, "the 302 to the storage URL was followed"
    assert result.result_revision == 1 and result.size == len(body)
    assert result.extension == ".jpeg", "an opaque background gives a JPEG result, named so by Content-Disposition"
    assert Image.open(io.BytesIO(body)).format == "JPEG"


def test_get_image_list_delete_and_account(hook_factory, cm):
    hook = hook_factory()
    ids = [hook.upload(jpeg_bytes(), filename=f"car{n}.jpg", test=True).id for n in range(5)]
    before = cm.requests()["counts"].get("list", 0)

    listed = [image.id for image in hook.list_images(page_size=2)]

    assert listed == ids
    assert cm.requests()["counts"]["list"] - before == 3, "pages of 2, 2 and 1"
    assert hook.get_image(ids[0]).to_dict() == {
        "id": ids[0],
        "resultRevision": 0,
        "originalFilename": "car0.jpg",
        "test": True,
    }
    assert hook.delete(ids[0]).id == ids[0]
    assert [image.id for image in hook.list_images()] == ids[1:]
    assert hook.find_upload("car3").id == ids[3]
    assert hook.find_upload("car") is None
    account = hook.get_account()
    assert set(account) >= {"subscriptionPlan", "subscriptionState", "credits"}
    assert hook.test_connection() == (
        True,
        f"Connected: plan {account['subscriptionPlan']} ({account['subscriptionState']}), {account['credits']} credits",
    )


def test_images_above_the_documented_size_are_shrunk_before_upload(hook_factory, cm):
    # 20 MP is above the 16,777,216 px the service accepts at all: only a client-side shrink lets it through.
    big = Image.new("RGB", (5000, 4000), "white")
    big.paste(Image.new("RGB", (2000, 1500), "darkred"), (1500, 1200))
    buffer = io.BytesIO()
    big.save(buffer, "JPEG", quality=70)

    with prepared_image(buffer.getvalue(), "big.jpg") as prepared:
        assert prepared.reencoded_from == ("JPEG", 5000, 4000) and prepared.filename == "big.jpg"
        assert prepared.width * prepared.height <= MAX_UPLOAD_PIXELS
        assert abs(prepared.width / prepared.height - 5000 / 4000) < 0.002
        assert Image.open(prepared.stream).size == (prepared.width, prepared.height)

    output = io.BytesIO()
    hook_factory().auto_clip(buffer.getvalue(), output, filename="big.jpg", test=True)
    assert Image.open(io.BytesIO(output.getvalue())).size == shrunk_size(5000, 4000)


def test_small_images_are_sent_unchanged():
    original = jpeg_bytes()
    with prepared_image(original, "small.jpg") as prepared:
        assert prepared.reencoded_from is None and prepared.stream.read() == original


@pytest.mark.parametrize(("width", "height"), [(5000, 4000), (4096, 1025), (2049, 2049), (1, 5_000_000)])
def test_shrunk_size_keeps_aspect_and_limit(width, height):
    new_width, new_height = shrunk_size(width, height)
    assert new_width * new_height <= MAX_UPLOAD_PIXELS
    assert new_width * new_height > MAX_UPLOAD_PIXELS * 0.99 or min(new_width, new_height) == 1
    assert abs(new_width / new_height - width / height) <= max(width / height, height / width) * 0.01


def test_unreadable_input_fails_before_any_call_naming_the_file(hook_factory, cm, tmp_path):
    broken = tmp_path / "not_a_photo.jpg"
    broken.write_text("this is text")

    with pytest.raises(UnusableImageError, match=re.escape(str(broken))):
        hook_factory().upload(broken)
    with pytest.raises(UnusableImageError, match=re.escape("missing.jpg")):
        hook_factory().upload(tmp_path / "missing.jpg")
    assert "upload" not in cm.requests()["counts"]


def test_a_huge_canvas_is_refused_from_its_header_before_any_pixel_is_decoded(hook_factory, cm):
    bomb = huge_canvas_png(12000, 12000)
    assert len(bomb) < 100_000

    with pytest.raises(UnusableImageError, match="12000x12000 = 144,000,000 pixels, over the 64,000,000 pixel limit"):
        hook_factory().auto_clip(bomb, io.BytesIO(), filename="bomb.png")
    with pytest.raises(UnusableImageError, match="over the 1,000,000 pixel limit"):
        hook_factory().upload(huge_canvas_png(1200, 1000), filename="big.png", max_pixels=1_000_000)
    assert "upload" not in cm.requests()["counts"]


def test_webp_is_reencoded_for_clipping_magic(hook_factory, cm):
    buffer = io.BytesIO()
    Image.new("RGB", (300, 200), "teal").save(buffer, "WEBP")

    with prepared_image(buffer.getvalue(), "car.webp") as prepared:
        assert prepared.filename == "car.jpg" and prepared.content_type == "image/jpeg"
        assert prepared.reencoded_from == ("WEBP", 300, 200)
    image = hook_factory().upload(buffer.getvalue(), filename="car.webp", test=True)
    assert image.original_filename == "car.jpg"


def test_decoding_threads_share_one_pixel_budget():
    budget = PixelBudget(100)
    order: list[str] = []
    first_holds = threading.Event()

    def decode(name: str, pixels: int, hold: float) -> None:
        with budget.hold(pixels):
            order.append(f"{name} starts")
            first_holds.set()
            time.sleep(hold)
            order.append(f"{name} ends")

    first = threading.Thread(target=decode, args=("first", 70, 0.3))
    first.start()
    first_holds.wait()
    second = threading.Thread(target=decode, args=("second", 70, 0))
    second.start()
    for thread in (first, second):
        thread.join()
    with budget.hold(500):  # alone, an image over the whole budget still goes
        pass

    assert order == ["first starts", "first ends", "second starts", "second ends"]
    assert budget.in_use == 0


def test_non_json_answers_of_the_account_are_parsed(hook_factory, cm):
    assert json.loads(json.dumps(hook_factory().get_account()))["credits"] == cm.ledger()["credits_left"]
