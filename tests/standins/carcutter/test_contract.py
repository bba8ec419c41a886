"""Contract tests of the Car-Cutter stand-in over real HTTP, against docs/car-cutter-api.md."""

from __future__ import annotations

import base64
import io
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from PIL import Image, ImageDraw

from dev.standins import guesses
from dev.standins.carcutter import paths
from tests.standins.carcutter.calls import error_of, multipart, statuses, submit, wait_until_settled


def png(mode: str) -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, (40, 20)).save(buffer, format="PNG")
    return buffer.getvalue()


def two_vehicles_photo() -> bytes:
    image = Image.linear_gradient("L").resize((480, 240)).convert("RGB")
    draw = ImageDraw.Draw(image)
    for left in (20, 260):
        draw.rectangle((left, 90, left + 200, 180), fill=(150, 20, 30))
        for centre in (left + 50, left + 150):
            draw.ellipse((centre - 20, 160, centre + 20, 200), fill=(10, 10, 10))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG")
    return buffer.getvalue()


def test_auth_errors_401_403_and_their_body_shapes(cc, api):
    url = f"{cc.url}{paths.VEHICLE_SHOTLIST}"
    assert error_of(requests.get(url, timeout=10), 401) == "submitted 'Bearer' token is unauthorized"
    assert error_of(requests.get(url, headers={"Authorization": "Bearer nope"}, timeout=10), 401)
    cc.configure(forbidden_token="blocked")
    assert error_of(requests.get(url, headers={"Authorization": "Bearer blocked"}, timeout=10), 403)
    cc.configure(nest_errors=False)
    flat = requests.get(url, timeout=10)
    assert flat.status_code == 401 and flat.json() == {
        "code": 401,
        "message": "submitted 'Bearer' token is unauthorized",
    }
    cc.configure(html_401=True)
    html = requests.get(url, timeout=10)
    assert html.status_code == 401 and html.headers["Content-Type"].startswith("text/html")
    assert api.get(url, timeout=10).json() == {"vehicles": []}


def test_vehicle_operations(cc, api):
    def register(vehicle_id: str, **fields) -> dict:
        response = api.post(f"{cc.url}{paths.VEHICLE_SUBMIT}", files={"vehicle_id": (None, vehicle_id), **{
            k: (None, v) for k, v in fields.items()}}, timeout=10)  # fmt: skip
        return response.json()["vehicle"]

    first = register("WVWZZZ1JZXW000001", vehicle_manufacturer="VW", vehicle_color="red")
    assert first["app_status"] == "new" and first["vehicle_color"] == "red"
    assert time.strptime(first["app_status_updated"], "%Y/%m/%d, %H:%M:%S")
    register("WVWZZZ1JZXW000002", vehicle_manufacturer="VW", vehicle_color="blue")
    register("WVWZZZ1JZXW000003", vehicle_manufacturer="BMW")
    assert error_of(api.post(f"{cc.url}{paths.VEHICLE_SUBMIT}", files={"vehicle_model": (None, "x")}, timeout=10), 400)

    def listing(**query) -> list[str]:
        response = api.post(f"{cc.url}{paths.VEHICLE_LIST}", json={"customer": "dealer", **query}, timeout=10)
        assert response.status_code == 200, response.text
        return [vehicle["vehicle_id"] for vehicle in response.json()]

    assert listing(sort_direction="ASC") == ["WVWZZZ1JZXW000001", "WVWZZZ1JZXW000002", "WVWZZZ1JZXW000003"]
    assert listing(filters=[{"column": "vehicle_manufacturer", "values": ["VW"]}], sort_direction="DESC", limit=1,
                   offset=1) == ["WVWZZZ1JZXW000001"]  # fmt: skip
    assert error_of(api.post(f"{cc.url}{paths.VEHICLE_LIST}", json={"limit": 1}, timeout=10), 400)
    assert error_of(api.post(f"{cc.url}{paths.VEHICLE_LIST}", json={"customer": "d", "limit": 0}, timeout=10), 400)
    assert error_of(api.post(f"{cc.url}{paths.VEHICLE_LIST}", json={"customer": "d", "sort_by": "x"}, timeout=10), 400)

    updated = register("WVWZZZ1JZXW000001", vehicle_color="green")
    assert (updated["vehicle_color"], updated["vehicle_manufacturer"]) == ("green", "VW")
    status = api.get(f"{cc.url}{paths.VEHICLE_STATUS}", params={"vehicle_id": "WVWZZZ1JZXW000002"}, timeout=10)
    assert status.json()["vehicle"]["vehicle_color"] == "blue"
    assert error_of(api.get(f"{cc.url}{paths.VEHICLE_STATUS}", params={"vehicle_id": "nope"}, timeout=10), 404)

    submit(api, cc, ["http://127.0.0.1:9/none.jpg"], vehicle_id="WVWZZZ1JZXW000002").raise_for_status()
    deleted = api.delete(f"{cc.url}{paths.VEHICLE_DELETE}", params={"vehicle_id": "WVWZZZ1JZXW000003"}, timeout=10)
    assert deleted.json()["vehicle"]["app_status"] == "deleted"
    assert error_of(api.delete(f"{cc.url}{paths.VEHICLE_DELETE}", params={"vehicle_id": "nope"}, timeout=10), 404)
    shotlist = api.get(f"{cc.url}{paths.VEHICLE_SHOTLIST}", timeout=10).json()["vehicles"]
    assert [vehicle["vehicle_id"] for vehicle in shotlist] == ["WVWZZZ1JZXW000001"]


def test_feature_operations_take_form_fields_on_get_and_delete(cc, api):
    def add(title: str) -> str:
        fields = multipart(vehicle_id="VIN1", title=title, icon="star", type="text", description="d")
        return api.post(f"{cc.url}{paths.FEATURE_SUBMIT}", files=fields).json()["feature_id"]

    first, second, third = add("Heated seats"), add("Sunroof"), add("Tow bar")
    missing_icon = multipart(vehicle_id="VIN1", title="t", type="text")
    assert error_of(api.post(f"{cc.url}{paths.FEATURE_SUBMIT}", files=missing_icon, timeout=10), 400)

    def get(path: str, **fields: str) -> requests.Response:
        return api.get(f"{cc.url}{path}", files=multipart(**fields), timeout=10)

    def delete(path: str, **fields: str) -> requests.Response:
        return api.delete(f"{cc.url}{path}", files=multipart(**fields), timeout=10)

    assert [f["feature_id"] for f in get(paths.FEATURES_GET, vehicle_id="VIN1").json()["features"]] == [
        first, second, third,
    ]  # fmt: skip
    one = get(paths.FEATURE_GET, feature_id=second).json()["features"]
    assert one[0]["title"] == "Sunroof" and one[0]["icon"] == "star"
    assert error_of(get(paths.FEATURE_GET, feature_id="ft_x"), 404)
    assert delete(paths.FEATURE_DELETE, feature_id=first).json() == {"deleted_features": [first]}
    assert delete(paths.FEATURES_DELETE, vehicle_id="VIN1").json() == {"deleted_features": [second, third]}
    assert get(paths.FEATURES_GET, vehicle_id="VIN1").json() == {"features": []}
    assert error_of(get(paths.FEATURES_GET, other="x"), 400)
    # documented as multipart form fields: the query is not read, nor a urlencoded body
    in_query = api.get(f"{cc.url}{paths.FEATURE_GET}", params={"feature_id": second}, timeout=10)
    assert error_of(in_query, 400) == "'feature_id' is not accepted in the query of this operation"
    urlencoded = api.get(f"{cc.url}{paths.FEATURES_GET}", data={"vehicle_id": "VIN1"}, timeout=10)
    assert error_of(urlencoded, 400) == "the request body must be multipart/form-data"


def test_annotation_operations_at_the_paths_kept_in_one_place(cc, api):
    def add(image_id: str, x: str) -> requests.Response:
        fields = multipart(image_id=image_id, position_x=x, position_y="20", location="wheel")
        return api.post(f"{cc.url}{paths.ANNOTATION_SUBMIT}", files=fields)

    def call(method: str, path: str, **fields: str) -> requests.Response:
        return api.request(method, f"{cc.url}{path}", files=multipart(**fields), timeout=10)

    first, second = add("img-1", "10").json()["annotation_id"], add("img-1", "30").json()["annotation_id"]
    other = add("img-2", "5").json()["annotation_id"]
    assert error_of(add("img-1", "left"), 400)
    listed = call("GET", paths.ANNOTATIONS_GET, vehicle_id="img-1").json()
    assert [(a["annotation_id"], a["position_x"]) for a in listed["annotations"]] == [(first, 10), (second, 30)]
    by_image_id = call("GET", paths.ANNOTATIONS_GET, image_id="img-2").json()
    assert [a["annotation_id"] for a in by_image_id["annotations"]] == [other]
    one = call("GET", paths.ANNOTATION_GET, annotation_id=second).json()
    assert one["features"][0]["location"] == "wheel"
    assert error_of(call("GET", paths.ANNOTATION_GET, annotation_id="an_x"), 404)
    assert call("DELETE", paths.ANNOTATION_DELETE, annotation_id=first).json() == {"deleted_annotations": [first]}
    assert call("DELETE", paths.ANNOTATIONS_DELETE, vehicle_id="img-1").json() == {"deleted_annotations": [second]}
    assert error_of(api.get(f"{cc.url}{paths.ANNOTATIONS_GET}", params={"image_id": "img-2"}, timeout=10), 400)


def test_sync_single_segment_validates_every_parameter(cc, api, photo, presign):
    url = f"{cc.url}{paths.SYNC_SINGLE_SEGMENT}"

    def sync(fields: dict, files: dict | None = None, image: bytes | None = None) -> requests.Response:
        form = {k: (None, v) for k, v in fields.items()} | (files or {})
        if image is not None:
            form["image"] = ("car.jpg", image)
        return api.post(url, files=form, timeout=60)

    for fields, files in (
        ({"cut_type": "sideways"}, None),
        ({"cut_type": "complete", "resolution": "1600*1200"}, None),
        ({"cut_type": "complete", "resolution": "0x100"}, None),
        ({"cut_type": "complete", "padding_x": "1.5"}, None),
        ({"cut_type": "complete", "padding_add_top": "-0.1"}, None),
        ({"cut_type": "complete", "processing_speed": "fast"}, None),
        ({"cut_type": "complete", "retouching_accuracy": "rough"}, None),
        ({"cut_type": "complete", "underground_3d": "perhaps"}, None),
        ({"cut_type": "complete", "custom_json": "{not json"}, None),
        ({"cut_type": "complete"}, {"background": ("bg.png", png("RGB"))}),
        ({"cut_type": "complete"}, {"license_plate": ("lp.png", png("RGB"))}),
        ({"cut_type": "complete"}, {"overlay": ("o.jpg", photo(fmt="JPEG"))}),
        ({}, None),
    ):
        assert error_of(sync(fields, files, image=photo()), 400)
    assert error_of(sync({"cut_type": "complete"}), 400)  # neither image nor image_url
    assert error_of(sync({"cut_type": "complete", "image_url": "http://x/a.jpg"}, image=photo()), 400)  # both
    assert error_of(sync({"cut_type": "complete"}, image=b"no image"), 400)

    assert sync({"cut_type": "none"}, image=photo()).json() == {}
    assert cc.ledger()["charges"] == {}

    fields = {"cut_type": "complete", "resolution": "400x300", "padding_x": "0.1", "padding_y": "0.2",
              "padding_add_bottom": "0.05", "offset_background": "true", "blurring_license_plate": "false",
              "processing_speed": "lazy", "retouching_accuracy": "precise", "custom_json": '{"stock": 7}',
              "location": "store-1", "guideline": "g", "scene_id": "s", "padding_id": "p"}  # fmt: skip
    files = {"background": ("bg.jpg", photo(fmt="JPEG")), "license_plate": ("lp.png", png("RGBA")),
             "overlay": ("o.png", png("RGBA"))}  # fmt: skip
    response = sync(fields, files, image=photo())
    assert response.status_code == 200, response.text
    result = Image.open(io.BytesIO(base64.b64decode(response.text)))
    assert (result.format, result.size) == ("JPEG", (400, 300))

    image_url = presign("sync/car.jpg", photo())
    by_url = sync({"cut_type": "blur", "image_url": image_url})
    assert Image.open(io.BytesIO(base64.b64decode(by_url.content))).format == "JPEG"
    assert cc.ledger()["charges"][image_url] == 1
    assert len(cc.ledger()["charges"]) == 2
    assert error_of(sync({"cut_type": "complete"}, image=two_vehicles_photo()), 413)
    assert len(cc.ledger()["charges"]) == 2
    cc.configure(credits=0)
    assert error_of(sync({"cut_type": "complete"}, image=photo()), 402) == "Credits exceeded. Please contact sales."


def test_async_life_cycle_phases_webhook_result_and_errors(cc, api, photo, presign, webhook):
    hook_url, received = webhook
    cc.configure(webhooks_enabled=True)  # an account setting ("if your account has a webhook target enabled")
    good = presign("photos/VIN1/1_front-left.jpg", photo())
    undecodable = presign("photos/VIN1/2_rear.jpg", b"this is no image")
    unreachable = "http://127.0.0.1:9/gone.jpg"
    two_vehicles = presign("photos/VIN1/3_side-left.jpg", two_vehicles_photo())
    urls = [good, undecodable, unreachable, two_vehicles]
    submitted = submit(api, cc, urls, cut_type="complete", vehicle_id="VIN1", webhook_url=hook_url,
                       custom_json='{"a": 1}', processing_speed="normal", retouching_accuracy="normal")  # fmt: skip
    assert submitted.status_code == 200, submitted.text
    first = submitted.json()["data"]["images"]
    assert [image["image"] for image in first] == urls
    assert {image["status"] for image in first} == {"processing"}

    phases = {image["phase"] for image in first}
    settled = wait_until_settled(api, cc, urls, phases)
    assert {"downloading", "ready"} <= phases
    assert phases <= {"downloading", "analyzing", "cutting", "qa-ing", "retouching", "ready"}
    assert settled[good]["status"] == "final" and settled[good]["angle"] == ["exterior", "front-left"]
    assert settled[good]["quality"] in ("ok", "retake")
    assert (settled[undecodable]["status"], settled[undecodable]["phase"]) == ("error", "analyzing")
    assert (settled[unreachable]["status"], settled[unreachable]["phase"]) == ("error", "downloading")
    assert settled[two_vehicles]["status"] == "error"

    result = api.get(f"{cc.url}{paths.ASYNC_RESULT}", params={"image_url": good}, timeout=10)
    assert result.status_code == 200 and result.headers["Content-Type"] == "image/jpeg"
    assert Image.open(io.BytesIO(result.content)).format == "JPEG"
    assert error_of(api.get(f"{cc.url}{paths.ASYNC_RESULT}", params={"image_url": unreachable}, timeout=10), 404)
    message = error_of(
        api.get(f"{cc.url}{paths.ASYNC_RESULT}", params={"image_url": "http://x/y.jpg"}, timeout=10), 404
    )
    assert message == "no such image"

    deadline = time.monotonic() + 10
    while not received and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [image["image"] for image in received[0]["data"]["images"]] == urls
    assert [image["status"] for image in received[0]["data"]["images"]] == ["final", "error", "error", "error"]

    cc.configure(result_expiry_seconds=0)
    assert statuses(api, cc, [good])[0]["status"] == "expired"
    expired = api.get(f"{cc.url}{paths.ASYNC_RESULT}", params={"image_url": good}, timeout=10)
    assert error_of(expired, 410) == "file does not exist anymore."


def test_async_submission_validation(cc, api, presign, photo):
    assert error_of(submit(api, cc, []), 400)
    assert error_of(submit(api, cc, [f"http://127.0.0.1:9/{n}.jpg" for n in range(61)]), 400)
    assert error_of(submit(api, cc, ["ftp://127.0.0.1/a.jpg"]), 400)
    assert error_of(submit(api, cc, ["http://127.0.0.1:9/a.jpg"], cut_type="sideways"), 400)
    assert error_of(submit(api, cc, ["http://127.0.0.1:9/a.jpg"], processing_speed="fast"), 400)
    assert error_of(submit(api, cc, ["http://127.0.0.1:9/a.jpg"], custom_json="{"), 400)
    overlay = [("image_url", (None, "http://127.0.0.1:9/a.jpg")), ("overlay", ("o.png", png("RGB")))]
    assert error_of(api.post(f"{cc.url}{paths.ASYNC_SUBMIT}", files=overlay, timeout=10), 400)
    assert error_of(api.get(f"{cc.url}{paths.ASYNC_STATUS}", timeout=10), 400)
    assert cc.ledger()["charges"] == {}
    assert submit(api, cc, [f"http://127.0.0.1:9/{n}.jpg" for n in range(60)]).status_code == 200

    cc.configure(max_image_bytes=100)
    too_big = presign("big/car.jpg", photo())
    submit(api, cc, [too_big]).raise_for_status()
    assert wait_until_settled(api, cc, [too_big])[too_big]["status"] == "error"


def test_every_processed_image_is_billed_and_resubmission_bills_again(cc, api, photo, presign):
    cc.configure(credits=5)
    first, second = presign("bill/1_side-left.jpg", photo()), presign("bill/2_side-right.jpg", photo())
    submit(api, cc, [first, second, first]).raise_for_status()
    assert cc.ledger() == {"charges": {first: 1, second: 1}, "credits_left": 3}
    wait_until_settled(api, cc, [first, second])
    cc.configure(processing_seconds=30)
    submit(api, cc, [first]).raise_for_status()
    assert statuses(api, cc, [first])[0]["status"] == "processing"
    assert cc.ledger() == {"charges": {first: 2, second: 1}, "credits_left": 2}
    third, fourth, fifth = (presign(f"bill/{n}.jpg", photo()) for n in (3, 4, 5))
    assert error_of(submit(api, cc, [third, fourth, fifth]), 402) == "Credits exceeded. Please contact sales."
    assert cc.ledger()["credits_left"] == 2
    assert statuses(api, cc, [third])[0]["status"] == guesses.CC_UNKNOWN_STATUS


def test_angle_and_quality_are_deterministic_per_url_path(cc, api):
    base = [f"http://127.0.0.1:9/photos/car-{n}.jpg" for n in range(40)]
    submit(api, cc, [f"{url}?signature=a" for url in base]).raise_for_status()
    submit(api, cc, [f"{url}?signature=b" for url in base]).raise_for_status()
    first = statuses(api, cc, [f"{url}?signature=a" for url in base])
    again = statuses(api, cc, [f"{url}?signature=b" for url in base])
    assert [image["angle"] for image in first] == [image["angle"] for image in again]
    assert all(image["angle"][0] == "exterior" and len(image["angle"]) == 2 for image in first)
    assert len({image["angle"][1] for image in first}) > 2
    named = "http://127.0.0.1:9/photos/VIN/3_interior.jpg"
    submit(api, cc, [named]).raise_for_status()
    assert statuses(api, cc, [named])[0]["angle"] == ["interior"]


def test_retake_quality_for_some_images(cc, api, photo, presign):
    cc.configure(fast=True, fast_fetch=True, processing_seconds=0)
    urls = [presign(f"quality/{n}.jpg", photo(size=(16, 12))) for n in range(60)]
    submit(api, cc, urls).raise_for_status()
    qualities = [image["quality"] for image in wait_until_settled(api, cc, urls).values()]
    assert set(qualities) == {"ok", "retake"}
    assert qualities.count("retake") < 20


def test_concurrency_cap_and_injected_faults(cc, api):
    cc.configure(concurrency_cap=2, latency_ms=400)
    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda _: api.get(f"{cc.url}{paths.VEHICLE_SHOTLIST}", timeout=10), range(6)))
    refused = [answer for answer in answers if answer.status_code == 429]
    assert refused and len(refused) <= 4
    error_of(refused[0], 429)
    assert cc.requests()["status_codes"]["429"] == len(refused)

    cc.configure(concurrency_cap=0, latency_ms=0, error_5xx_ratio=1.0)
    error_of(api.get(f"{cc.url}{paths.VEHICLE_SHOTLIST}", timeout=10), 500)
    cc.configure(error_5xx_ratio=0.0, drop_ratio=1.0)
    with pytest.raises(requests.ConnectionError):
        api.get(f"{cc.url}{paths.VEHICLE_SHOTLIST}", timeout=10)
    cc.configure(drop_ratio=0.0, lost_response_ratio=1.0)
    with pytest.raises(requests.ConnectionError):
        submit(api, cc, ["http://127.0.0.1:9/lost.jpg"])
    cc.configure(lost_response_ratio=0.0)
    assert cc.ledger()["charges"] == {"http://127.0.0.1:9/lost.jpg": 1}  # processed and billed, answer lost
    assert statuses(api, cc, ["http://127.0.0.1:9/lost.jpg"])[0]["status"] != guesses.CC_UNKNOWN_STATUS
    counts = cc.requests()["counts"]
    assert counts["vehicleShotlist"] == 8 and counts["asyncSubmit"] == 1 and counts["asyncStatus"] == 1


def test_thousands_of_images_in_flight_in_fast_mode(cc, api):
    cc.configure(fast=True, processing_seconds=0.5)
    urls = [f"http://127.0.0.1:9/bench/{n}.jpg" for n in range(3000)]
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda i: submit(api, cc, urls[i : i + 60]).raise_for_status(), range(0, len(urls), 60)))
    settled = {}
    for start in range(0, len(urls), 100):
        settled |= wait_until_settled(api, cc, urls[start : start + 100])
    assert {image["status"] for image in settled.values()} == {"final"}
    assert cc.requests()["counts"]["asyncSubmit"] == 50
