"""Contract tests of the Clipping Magic stand-in over real HTTP, against docs/clipping-magic-api.md."""

from __future__ import annotations

import io
import json
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import requests
from PIL import Image

from dev.standins import guesses
from tests.standins.clippingmagic.calls import assert_error, upload


def test_every_failure_answers_the_error_json_object(cm, api, photo):
    assert_error(requests.get(f"{cm.url}/api/v1/account", timeout=10), 401)
    assert_error(requests.get(f"{cm.url}/api/v1/account", auth=(cm.api_id, "wrong"), timeout=10), 401)
    assert_error(api.get(f"{cm.url}/api/v1/images/999999", timeout=10), 404)
    assert_error(api.get(f"{cm.url}/api/v1/images/not-a-number", timeout=10), 404)
    assert_error(api.get(f"{cm.url}/api/v1/nowhere", timeout=10), 404)
    assert_error(api.post(f"{cm.url}/api/v1/images", data={"test": "true"}, timeout=10), 400)
    assert_error(upload(api, cm, b"GIF89a but not really an image"), 400, code=1006)
    assert_error(upload(api, cm, photo(), format="tiff"), 400)
    assert_error(upload(api, cm, photo(), test="maybe"), 400)
    image_id = upload(api, cm, photo()).json()["image"]["id"]
    assert_error(api.get(f"{cm.url}/api/v1/images/{image_id}", timeout=10), guesses.CM_STATUS_NO_RESULT)
    assert_error(api.get(f"{cm.url}/api/v1/images/{image_id}?format=pdf", timeout=10), 400)
    assert_error(api.get(f"{cm.url}/api/v1/images?limit=many", timeout=10), 400)


@pytest.mark.parametrize("fmt", ["BMP", "GIF", "JPEG", "PNG", "TIFF"])
def test_upload_recognises_the_format_by_content_not_name(cm, api, photo, fmt):
    response = upload(api, cm, photo(fmt=fmt), filename="misleading.webp")
    assert response.status_code == 200
    image = response.json()["image"]
    assert image == {
        "id": image["id"],
        "secret": image["secret"],
        "resultRevision": 0,
        "originalFilename": "misleading.webp",
        "test": False,
    }


def test_upload_refuses_other_formats_with_a_read_error(cm, api, photo):
    assert_error(upload(api, cm, photo(fmt="WEBP"), filename="car.jpg"), 400, code=1006)


def test_pixel_limits_refuse_above_16m_and_shrink_above_4m(cm, api):
    cm.configure(fast=True)
    huge = io.BytesIO()
    Image.new("RGB", (4097, 4096)).save(huge, format="PNG")
    assert_error(upload(api, cm, huge.getvalue(), "huge.png"), guesses.CM_STATUS_IMAGE_TOO_LARGE)

    big = io.BytesIO()
    Image.new("RGB", (3000, 2000), (200, 200, 200)).save(big, format="PNG")
    response = upload(api, cm, big.getvalue(), "big.png", format="alpha_mask_png", test="true")
    assert response.status_code == 200
    width, height = Image.open(io.BytesIO(response.content)).size
    assert width * height <= 4_194_404
    assert width * height > 4_194_404 * 0.99
    assert abs(width / height - 1.5) < 0.01


def test_result_formats_on_upload_carry_id_secret_and_file_name(cm, api, photo):
    result = upload(api, cm, photo(), "car.jpg", format="result")
    assert result.status_code == 200
    assert result.headers["Content-Type"] == "image/png"
    assert result.headers["x-amz-meta-resultrevision"] == "1"
    assert 'filename="car_clipped_rev1.png"' in result.headers["Content-Disposition"]
    image_id, secret = result.headers["x-amz-meta-id"], result.headers["x-amz-meta-secret"]
    png = Image.open(io.BytesIO(result.content))
    assert png.mode == "RGBA"
    alpha = np.asarray(png)[:, :, 3]
    assert alpha.min() == 0 and alpha.max() == 255  # a cut-out, not a copy

    svg = upload(api, cm, photo(), "car.jpg", format="clipping_path_svg")
    assert svg.headers["Content-Type"].startswith("image/svg+xml")
    assert svg.content.lstrip().startswith(b"<") and b"<svg" in svg.content and b"<path" in svg.content
    assert svg.headers["x-amz-meta-id"] and svg.headers["x-amz-meta-secret"]

    mask = upload(api, cm, photo(), "car.jpg", format="alpha_mask_png")
    assert Image.open(io.BytesIO(mask.content)).mode == "L"
    assert mask.headers["x-amz-meta-id"] and mask.headers["x-amz-meta-secret"]

    as_json = api.get(f"{cm.url}/api/v1/images/{image_id}", params={"format": "json"}, timeout=10).json()["image"]
    assert (str(as_json["id"]), as_json["secret"], as_json["resultRevision"]) == (image_id, secret, 1)


def test_download_redirects_to_storage_with_revision_and_file_name(cm, api, photo):
    image_id = upload(api, cm, photo(), "car.jpg", format="result").headers["x-amz-meta-id"]
    redirect = api.get(f"{cm.url}/api/v1/images/{image_id}", allow_redirects=False, timeout=10)
    assert redirect.status_code == 302
    location = redirect.headers["Location"]
    assert location.startswith(cm.url + guesses.CM_STORAGE_PREFIX)

    stored = requests.get(location, timeout=10)  # storage needs no API credentials
    assert stored.status_code == 200
    assert stored.headers["x-amz-meta-resultrevision"] == "1"
    assert stored.headers["Content-Disposition"].endswith('.png"')

    for fmt, media_type in (("clipping_path_svg", "image/svg+xml"), ("alpha_mask_png", "image/png")):
        followed = api.get(f"{cm.url}/api/v1/images/{image_id}", params={"format": fmt}, timeout=10)
        assert followed.status_code == 200
        assert followed.headers["Content-Type"].startswith(media_type)
    counts = cm.requests()["counts"]
    assert counts["storage"] == 3
    assert counts["download"] == 3


def test_production_result_costs_one_credit_per_revision_and_test_images_are_free(cm, api, photo):
    cm.configure(credits=10)
    image_id = upload(api, cm, photo()).json()["image"]["id"]
    assert cm.ledger() == {"charges": {}, "credits_left": 10}
    url = f"{cm.url}/api/v1/images/{image_id}"
    api.post(f"{cm.url}/_emulator/images/{image_id}/edit", timeout=10).raise_for_status()

    for fmt in ("result", "result", "clipping_path_svg", "alpha_mask_png", "json"):
        assert api.get(url, params={"format": fmt}, timeout=30).status_code == 200
    assert cm.ledger() == {"charges": {str(image_id): 1}, "credits_left": 9}

    edited = api.post(f"{cm.url}/_emulator/images/{image_id}/edit", timeout=10).json()["image"]
    assert edited["resultRevision"] == 2
    second = api.get(url, timeout=30)
    assert second.headers["x-amz-meta-resultrevision"] == "2"
    api.get(url, timeout=30)
    assert cm.ledger() == {"charges": {str(image_id): 2}, "credits_left": 8}

    production = upload(api, cm, photo(), format="result")
    test = upload(api, cm, photo(), format="result", test="true")
    assert upload(api, cm, photo(), test="true").json()["image"]["test"] is True
    assert cm.ledger()["credits_left"] == 7  # the paid upload only
    production_pixels = np.asarray(Image.open(io.BytesIO(production.content)), dtype=int)
    test_pixels = np.asarray(Image.open(io.BytesIO(test.content)), dtype=int)
    assert np.abs(production_pixels - test_pixels).sum() > 0  # the test result carries a watermark
    account = api.get(f"{cm.url}/api/v1/account", timeout=10).json()
    assert account == {
        "subscriptionPlan": guesses.CM_SUBSCRIPTION_PLAN,
        "subscriptionState": guesses.CM_SUBSCRIPTION_STATE,
        "credits": 7,
    }


def test_credits_can_run_out(cm, api, photo):
    cm.configure(credits=1)
    first = upload(api, cm, photo()).json()["image"]["id"]
    second = upload(api, cm, photo()).json()["image"]["id"]
    for image_id in (first, second):
        api.post(f"{cm.url}/_emulator/images/{image_id}/edit", timeout=10).raise_for_status()
    assert api.get(f"{cm.url}/api/v1/images/{first}", timeout=30).status_code == 200
    assert_error(api.get(f"{cm.url}/api/v1/images/{second}", timeout=10), guesses.CM_STATUS_CREDITS_EXHAUSTED)
    assert api.get(f"{cm.url}/api/v1/images/{first}", timeout=30).status_code == 200  # repeats stay free
    assert_error(upload(api, cm, photo(), format="result"), guesses.CM_STATUS_CREDITS_EXHAUSTED)
    assert upload(api, cm, photo(), format="result", test="true").status_code == 200
    assert cm.ledger() == {"charges": {str(first): 1}, "credits_left": 0}


def test_an_opaque_edit_downloads_as_jpeg(cm, api, photo):
    image_id = upload(api, cm, photo(), "lot.png").json()["image"]["id"]
    api.post(f"{cm.url}/_emulator/images/{image_id}/edit", json={"background": "#ffffff"}, timeout=10)
    result = api.get(f"{cm.url}/api/v1/images/{image_id}", timeout=30)
    assert result.headers["Content-Type"] == "image/jpeg"
    assert 'filename="lot_clipped_rev1.jpeg"' in result.headers["Content-Disposition"]
    assert Image.open(io.BytesIO(result.content)).format == "JPEG"
    bad = api.post(f"{cm.url}/_emulator/images/{image_id}/edit", json={"background": "no-colour"}, timeout=10)
    assert_error(bad, 400)


def test_list_pages_with_clamped_limit_and_echoed_values(cm, api, photo):
    cm.configure(fast=True)
    ids = [upload(api, cm, photo(size=(32, 24))).json()["image"]["id"] for _ in range(23)]

    def page(**params):
        return api.get(f"{cm.url}/api/v1/images", params=params, timeout=10).json()

    default = page()
    assert (default["limit"], default["offset"], len(default["images"])) == (20, 0, 20)
    assert [image["id"] for image in default["images"]] == ids[:20]
    assert [image["id"] for image in page(limit=2, offset=21)["images"]] == ids[21:]
    assert (page(limit=0)["limit"], page(limit=500)["limit"], page(offset=-3)["offset"]) == (1, 100, 0)
    assert len(page(limit=500)["images"]) == 23


def test_delete_answers_the_deleted_image_and_forgets_it(cm, api, photo):
    image = upload(api, cm, photo()).json()["image"]
    deleted = api.post(f"{cm.url}/api/v1/images/{image['id']}/delete", timeout=10)
    assert deleted.json() == {"image": image}
    assert_error(api.get(f"{cm.url}/api/v1/images/{image['id']}?format=json", timeout=10), 404)
    assert_error(api.post(f"{cm.url}/api/v1/images/{image['id']}/delete", timeout=10), 404)
    assert api.get(f"{cm.url}/api/v1/images", timeout=10).json()["images"] == []


def test_curl_examples_of_the_documentation_work_with_only_the_host_changed(cm, photo, tmp_path: Path):
    (tmp_path / "example.jpg").write_bytes(photo())
    credentials = f"{cm.api_id}:{cm.api_key}"

    def curl(*args: str) -> bytes:
        return subprocess.run(["curl", "-sS", *args], cwd=tmp_path, check=True, capture_output=True).stdout

    uploaded = json.loads(curl(f"{cm.url}/api/v1/images", "-u", credentials, "-F", "image=@example.jpg"))["image"]
    assert uploaded["originalFilename"] == "example.jpg"
    image_id = uploaded["id"]
    requests.post(f"{cm.url}/_emulator/images/{image_id}/edit", timeout=10).raise_for_status()

    # the storage link is on the stand-in's own host (127.0.0.1); asked as localhost, curl sees another host, as
    # S3 is for real, and sends it no credentials (the storage refuses them)
    curl(f"{cm.url.replace('127.0.0.1', 'localhost')}/api/v1/images/{image_id}", "-u", credentials, "-LOJ")
    downloaded = tmp_path / "example_clipped_rev1.png"
    assert Image.open(downloaded).mode == "RGBA"

    listed = json.loads(curl(f"{cm.url}/api/v1/images?limit=2&offset=0", "-u", credentials))
    assert (listed["limit"], listed["offset"], [i["id"] for i in listed["images"]]) == (2, 0, [image_id])
    account = json.loads(curl(f"{cm.url}/api/v1/account", "-u", credentials))
    assert set(account) == {"subscriptionPlan", "subscriptionState", "credits"}
    deleted = json.loads(curl(f"{cm.url}/api/v1/images/{image_id}/delete", "-u", credentials, "-X", "POST"))
    assert deleted["image"]["id"] == image_id
    assert cm.ledger()["charges"] == {str(image_id): 1}


def test_concurrency_cap_answers_429_error_objects(cm, api):
    cm.configure(concurrency_cap=2, latency_ms=400)
    with ThreadPoolExecutor(6) as pool:
        responses = list(
            pool.map(lambda _: requests.get(f"{cm.url}/api/v1/account", auth=api.auth, timeout=10), range(6))
        )
    refused = [r for r in responses if r.status_code == 429]
    assert refused and len(refused) <= 4
    assert_error(refused[0], 429)
    assert cm.requests()["status_codes"]["429"] == len(refused)
    assert cm.requests()["counts"]["account"] == 6


def test_injected_faults_and_reset(cm, api, photo):
    cm.configure(error_5xx_ratio=1.0)
    assert_error(api.get(f"{cm.url}/api/v1/account", timeout=10), 500)

    cm.configure(error_5xx_ratio=0.0, drop_ratio=1.0)
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{cm.url}/api/v1/account", auth=api.auth, timeout=10)

    cm.configure(drop_ratio=0.0, lost_response_ratio=1.0)
    with pytest.raises(requests.ConnectionError):
        upload(api, cm, photo())
    cm.configure(lost_response_ratio=0.0)
    assert len(api.get(f"{cm.url}/api/v1/images", timeout=10).json()["images"]) == 1  # processed, answer lost
    assert cm.requests()["dropped"] == 1 and cm.requests()["lost_responses"] == 1

    assert requests.post(f"{cm.url}/_emulator/config", json={"no_such_knob": 1}, timeout=10).status_code == 400
    assert requests.post(f"{cm.url}/_emulator/config", json={"drop_ratio": 2}, timeout=10).status_code == 400
    cm.configure(error_5xx_ratio=1.0, credits=3)
    cm.reset()
    assert api.get(f"{cm.url}/api/v1/account", timeout=10).json()["credits"] == guesses.DEFAULT_CREDITS
    assert api.get(f"{cm.url}/api/v1/images", timeout=10).json()["images"] == []
    assert cm.requests()["counts"] == {"account": 1, "list": 1}


def test_storage_is_s3_not_the_api_so_the_api_cap_and_faults_never_apply(cm, api, photo):
    cm.configure(fast=True)
    image_id = upload(api, cm, photo(), "car.jpg", format="result").headers["x-amz-meta-id"]
    location = api.get(f"{cm.url}/api/v1/images/{image_id}", allow_redirects=False, timeout=10).headers["Location"]
    cm.configure(concurrency_cap=1, latency_ms=3000)

    def cap_is_full() -> bool:
        return requests.get(f"{cm.url}/api/v1/account", auth=api.auth, timeout=10).status_code == 429

    with ThreadPoolExecutor(1) as pool:
        in_flight = pool.submit(requests.get, f"{cm.url}/api/v1/account", auth=api.auth, timeout=10)
        while cm.requests()["counts"].get("account", 0) == 0:  # counted in the same step as it takes the slot
            time.sleep(0.01)
        assert cap_is_full()
        stored = requests.get(location, timeout=10)
        assert cap_is_full()  # the slot was held all along the storage fetch
        assert in_flight.result().status_code == 200
    assert stored.status_code == 200
    assert stored.headers["x-amz-meta-resultrevision"] == "1"

    cm.configure(concurrency_cap=0, latency_ms=0, error_5xx_ratio=1.0)
    assert requests.get(location, timeout=10).status_code == 200
    cm.configure(error_5xx_ratio=0.0, drop_ratio=1.0)
    assert requests.get(location, timeout=10).status_code == 200
    assert cm.requests()["counts"]["storage"] == 3


def test_fast_mode_reads_only_the_header_but_keeps_every_rule(cm, api, photo):
    cm.configure(fast=True)
    assert_error(upload(api, cm, b"GIF89a but not really an image"), 400, code=1006)
    assert_error(upload(api, cm, photo(fmt="WEBP")), 400, code=1006)
    huge = io.BytesIO()
    Image.new("1", (4097, 4096)).save(huge, format="PNG")
    assert_error(upload(api, cm, huge.getvalue(), "huge.png"), guesses.CM_STATUS_IMAGE_TOO_LARGE)

    result = upload(api, cm, photo(size=(400, 300), fmt="PNG"), "car.png", format="result")
    assert result.status_code == 200
    assert result.headers["x-amz-meta-resultrevision"] == "1"
    assert 'filename="car_clipped_rev1.png"' in result.headers["Content-Disposition"]
    cutout = Image.open(io.BytesIO(result.content))
    assert (cutout.mode, cutout.size) == ("RGBA", (400, 300))
    image_id = result.headers["x-amz-meta-id"]
    as_json = api.get(f"{cm.url}/api/v1/images/{image_id}", params={"format": "json"}, timeout=10).json()["image"]
    assert (str(as_json["id"]), as_json["secret"]) == (image_id, result.headers["x-amz-meta-secret"])

    requests.post(f"{cm.url}/_emulator/images/{image_id}/edit", json={"background": "#ffffff"}, timeout=10)
    opaque = api.get(f"{cm.url}/api/v1/images/{image_id}", timeout=10)
    assert opaque.headers["Content-Type"] == "image/jpeg"
    assert opaque.headers["x-amz-meta-resultrevision"] == "2"
    mask = api.get(f"{cm.url}/api/v1/images/{image_id}", params={"format": "alpha_mask_png"}, timeout=10)
    assert Image.open(io.BytesIO(mask.content)).mode == "L"
    assert cm.ledger()["charges"] == {image_id: 2}  # one credit per revision, as in normal mode
