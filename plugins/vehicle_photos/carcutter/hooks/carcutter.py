"""`CarCutterHook`: one method per Car-Cutter operation, over a pooled `requests.Session`."""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cached_property
from typing import IO, Any

import requests
from airflow.sdk import BaseHook
from requests.adapters import HTTPAdapter
from tenacity import Retrying

from vehicle_photos.carcutter.exceptions import API, ApiError, NotFoundError, config_error, error_from_response
from vehicle_photos.carcutter.utils import paths
from vehicle_photos.carcutter.utils.connection import CarCutterSettings
from vehicle_photos.carcutter.utils.retries import may_have_arrived, retry_arguments
from vehicle_photos.carcutter.utils.statuses import (
    ApiStatus,
    ImageStatus,
    chunk_for_status,
    in_asked_order,
    lowered_url_limit,
    match_statuses,
    parse_status_response,
    status_query,
    unanswered_ambiguous,
)
from vehicle_photos.image_common.api_errors import RequestTooLongError, transport_error
from vehicle_photos.image_common.api_metrics import count_api_call
from vehicle_photos.image_common.registration import DEFAULT_REGISTRATION_GRACE_SECONDS
from vehicle_photos.image_common.urls import redact_url

CUT_TYPES = ("complete", "normal", "blur", "none")
PROCESSING_SPEEDS = ("normal", "lazy")
RETOUCHING_ACCURACIES = ("normal", "precise")
VEHICLE_FIELDS = (
    "vehicle_manufacturer", "vehicle_model", "vehicle_model_ext", "vehicle_color", "vehicle_location",
    "vehicle_lot", "custom_reference", "suggested_guideline_id",
)  # fmt: skip
DEFAULT_MAX_URL_LENGTH = 8000
_CONNECT_TIMEOUT = 10.0
_RESULT_CHUNK = 1024 * 1024
# What each kind of call accepts: a strict server answers 406 to an Accept header that excludes its answer.
ACCEPT_JSON = {"Accept": "application/json"}
ACCEPT_IMAGE = {"Accept": "image/*"}
ACCEPT_SYNC = {"Accept": "text/plain, image/*, application/json;q=0.5"}  # base64 text, or {} for cut_type none

FormValue = str | int | float | bool | Sequence[str] | None


class CarCutterHook(BaseHook):
    """Talks to Car-Cutter with the bearer token kept in the connection password.

    :param carcutter_conn_id: the "carcutter" connection (host defaults to https://api.car-cutter.com;
        plain http is refused except on loopback).
    :param pool_maxsize: HTTP connections kept open; size it to the number of threads using the hook.
    """

    conn_name_attr = "carcutter_conn_id"
    default_conn_name = "carcutter_default"
    conn_type = "carcutter"
    hook_name = "Car-Cutter"

    def __init__(self, carcutter_conn_id: str = default_conn_name, pool_maxsize: int = 16) -> None:
        super().__init__()
        self.carcutter_conn_id = carcutter_conn_id
        self.pool_maxsize = pool_maxsize
        # once Car-Cutter refused a status request as too long (414): the longest URL asked from then on
        self.status_url_limit: int | None = None

    @cached_property
    def settings(self) -> CarCutterSettings:
        return CarCutterSettings.from_connection(self.get_connection(self.carcutter_conn_id))

    @cached_property
    def session(self) -> requests.Session:
        session = requests.Session()
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=self.pool_maxsize, max_retries=0)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        session.headers.update(self.settings.auth_header)
        return session

    def get_conn(self) -> requests.Session:
        return self.session

    def test_connection(self) -> tuple[bool, str]:
        """The connection form's "Test" button: a read-only call that costs nothing."""
        try:
            vehicles = self.get_shotlist()
        except ApiError as error:
            return False, str(error)
        return True, f"Car-Cutter accepted the token ({len(vehicles)} vehicles in the shot list)"

    # Vehicles

    def submit_vehicle(self, vehicle_id: str, **fields: str | None) -> dict[str, Any]:
        """Create or update a vehicle (an existing id is updated and set back to `new`).
        `fields` are the API's names: vehicle_manufacturer, vehicle_model, vehicle_color, ..."""
        unknown = set(fields) - set(VEHICLE_FIELDS)
        if unknown:
            raise config_error(f"unknown vehicle fields: {', '.join(sorted(unknown))}")
        answer = self._json("POST", paths.VEHICLE_SUBMIT, form={"vehicle_id": vehicle_id, **fields})
        return answer.get("vehicle", answer)

    def list_vehicles(
        self,
        customer: str | None = None,
        filters: Mapping[str, Sequence[str]] | None = None,
        sort_by: str = "last_update",
        sort_direction: str = "DESC",
        page_size: int = 100,
    ) -> Iterator[dict[str, Any]]:
        """Every vehicle matching all `filters` ({column: [values]}), fetched page by page."""
        customer = customer or self.settings.customer
        if not customer:
            raise config_error("listing vehicles needs a customer (argument or connection extra 'customer')")
        body: dict[str, Any] = {
            "customer": customer,
            "filters": [{"column": column, "values": list(values)} for column, values in (filters or {}).items()],
            "sort_by": sort_by,
            "sort_direction": sort_direction,
            "limit": page_size,
        }
        offset = 0
        while True:
            page = self._json("POST", paths.VEHICLE_LIST, json_body={**body, "offset": offset}, shape=(list, dict))
            vehicles = page if isinstance(page, list) else page.get("vehicles", [])
            yield from vehicles
            if len(vehicles) < page_size:
                return
            offset += len(vehicles)

    def get_vehicle(self, vehicle_id: str) -> dict[str, Any]:
        answer = self._json("GET", paths.VEHICLE_STATUS, params={"vehicle_id": vehicle_id})
        return answer.get("vehicle", answer)

    def delete_vehicle(self, vehicle_id: str) -> dict[str, Any]:
        answer = self._json("DELETE", paths.VEHICLE_DELETE, params={"vehicle_id": vehicle_id})
        return answer.get("vehicle", answer)

    def get_shotlist(self) -> list[dict[str, Any]]:
        return self._json("GET", paths.VEHICLE_SHOTLIST).get("vehicles", [])

    # Synchronous processing

    def process_sync(
        self,
        *,
        cut_type: str,
        image: bytes | None = None,
        image_url: str | None = None,
        background: bytes | None = None,
        license_plate: bytes | None = None,
        overlay: bytes | None = None,
        custom_json: str | Mapping[str, Any] | None = None,
        resolution: str | tuple[int, int] | None = None,
        **options: FormValue,
    ) -> bytes | None:
        """Cut one image now and return the result's bytes (None for `cut_type="none"`, which answers `{}`).

        `options` are the remaining form fields under their API names: location, guideline,
        processing_speed, scene_id, padding_id, padding_x, padding_y, padding_add_bottom/top/left/right,
        offset_background, blurring_license_plate, underground_3d, upload_only, from_manual_retouching,
        retouching_accuracy. The call is billed and Car-Cutter offers no way to ask about it afterwards, so
        it is never repeated once the request may have reached the service (not on a 5xx, a 429 or a lost
        answer): the caller records the attempt first and decides."""
        if (image is None) == (image_url is None):
            raise config_error("give exactly one of image (bytes) or image_url")
        _check_choice("cut_type", cut_type, CUT_TYPES)
        _check_choice("processing_speed", options.get("processing_speed"), PROCESSING_SPEEDS)
        _check_choice("retouching_accuracy", options.get("retouching_accuracy"), RETOUCHING_ACCURACIES)
        if isinstance(resolution, tuple):
            resolution = f"{resolution[0]}x{resolution[1]}"
        form = {
            "cut_type": cut_type,
            "image_url": image_url,
            "resolution": resolution,
            "custom_json": _json_text(custom_json),
            **options,
        }
        files = {
            "image": ("image.jpg", image, "application/octet-stream"),
            "background": ("background.jpg", background, "image/jpeg"),
            "license_plate": ("license_plate.png", license_plate, "image/png"),
            "overlay": ("overlay.png", overlay, "image/png"),
        }
        response = self._call(
            "POST", paths.SYNC_SINGLE_SEGMENT, form=form, files=files, idempotent=False, headers=ACCEPT_SYNC
        )
        return decode_sync_result(response.text)

    # Asynchronous processing

    def iter_submit_images(
        self,
        image_urls: Sequence[str],
        *,
        cut_type: str | None = None,
        vehicle_id: str | None = None,
        custom_json: str | Mapping[str, Any] | None = None,
        license_plate: bytes | None = None,
        overlay: bytes | None = None,
        registration_grace_seconds: float = DEFAULT_REGISTRATION_GRACE_SECONDS,
        **options: str | None,
    ) -> Iterator[tuple[list[str], list[ImageStatus]]]:
        """Submit any number of image URLs in requests of at most 60, yielding `(urls, statuses)` right
        after each request is answered (so the caller can record what was billed before going on).

        `options`: guideline_id, location_id, processing_speed, webhook_url, retouching_accuracy, scene_id.
        The submission has no idempotency key and every accepted URL is billed, so a failed request that may
        have reached Car-Cutter is settled by asking the status endpoint, again and again for
        `registration_grace_seconds` (Car-Cutter may file a submission late); only URLs it still does not know
        then are sent again."""
        _check_choice("cut_type", cut_type, CUT_TYPES)
        _check_choice("processing_speed", options.get("processing_speed"), PROCESSING_SPEEDS)
        _check_choice("retouching_accuracy", options.get("retouching_accuracy"), RETOUCHING_ACCURACIES)
        form = {"cut_type": cut_type, "vehicle_id": vehicle_id, "custom_json": _json_text(custom_json), **options}
        files = {
            "license_plate": ("license_plate.png", license_plate, "image/png"),
            "overlay": ("overlay.png", overlay, "image/png"),
        }
        urls = list(image_urls)
        for start in range(0, len(urls), paths.MAX_IMAGES_PER_SUBMISSION):
            chunk = urls[start : start + paths.MAX_IMAGES_PER_SUBMISSION]
            yield chunk, self._submit_chunk(chunk, form, files, float(registration_grace_seconds))

    def submit_images(self, image_urls: Sequence[str], **kwargs: Any) -> list[ImageStatus]:
        """`iter_submit_images` for callers that only need all the answers at the end."""
        return [status for _, statuses in self.iter_submit_images(image_urls, **kwargs) for status in statuses]

    def _submit_chunk(
        self, chunk: list[str], form: dict[str, FormValue], files: dict[str, Any], grace_seconds: float
    ) -> list[ImageStatus]:
        """One request of at most 60 URLs. After a failure that may have reached Car-Cutter (no answer, a timeout,
        a 5xx) its URLs are settled by asking for their status until `grace_seconds` after that POST; only the
        URLs still unknown then are sent again."""
        accepted: dict[str, ImageStatus] = {}
        posted_at: float | None = None  # monotonic time of the last POST that may have reached Car-Cutter
        for attempt in Retrying(**retry_arguments(self.settings, idempotent=True, log=self.log)):
            with attempt:
                to_send = [url for url in chunk if url not in accepted]
                if posted_at is not None:
                    accepted.update(self._registered(to_send, posted_at + grace_seconds))
                    to_send = [url for url in to_send if url not in accepted]
                if to_send:
                    sent_at = time.monotonic()
                    fields = {**form, "image_url": to_send}
                    try:
                        response = self._send("POST", paths.ASYNC_SUBMIT, form=fields, files=files, headers=ACCEPT_JSON)
                    except ApiError as error:
                        posted_at = sent_at if may_have_arrived(error) else posted_at
                        raise
                    accepted.update((s.image, s) for s in parse_status_response(_json_of(response)))
        return [accepted.get(url) or ImageStatus(image=url, status=None) for url in chunk]

    def _registered(self, image_urls: list[str], until: float) -> dict[str, ImageStatus]:
        """The statuses of those `image_urls` Car-Cutter knows, asked again and again until it knows all of them
        or the monotonic clock reaches `until`."""
        known: dict[str, ImageStatus] = {}
        wait = self.settings.retry_wait_min
        while True:
            asked = [url for url in image_urls if url not in known]
            known.update((s.image, s) for s in self._status_once(asked) if s.known_to_service)
            left = until - time.monotonic()
            if len(known) == len(set(image_urls)) or left <= 0:
                return known
            self.log.debug("Car-Cutter does not know %d submitted URLs yet; asking again", len(asked) - len(known))
            time.sleep(min(wait, left))
            wait = min(wait * 2, self.settings.retry_wait_max)

    def get_image_statuses(
        self, image_urls: Sequence[str], max_url_length: int = DEFAULT_MAX_URL_LENGTH
    ) -> list[ImageStatus]:
        """Statuses of many images, one per URL in the order asked, as few requests as the URL length limit
        allows (`max_url_length`, or less once Car-Cutter answered 414: the hook remembers). Each entry carries
        the URL exactly as asked, even where Car-Cutter echoes it normalised (`statuses.match_statuses`). A URL
        the service does not know comes back as status `unknown`, whether the service says so in the answer or
        with a 404; a URL it says nothing about (or that is too long to ask about at all) is left out."""

        def ask(query: str) -> Any:
            return self._json("GET", paths.ASYNC_STATUS, query=query, shape=(dict, list))

        limit = min(max_url_length, self.status_url_limit or max_url_length)
        statuses: list[ImageStatus] = []
        for chunk in chunk_for_status(self.settings.base_url, paths.ASYNC_STATUS, list(image_urls), limit):
            statuses.extend(self._statuses_of(chunk, ask))
        return statuses

    def _status_once(self, image_urls: list[str]) -> list[ImageStatus]:
        """One try, no retry: used between attempts of a submission."""
        return self._statuses_of(
            image_urls, lambda query: _json_of(self._send("GET", paths.ASYNC_STATUS, query=query, headers=ACCEPT_JSON))
        )

    def _statuses_of(self, image_urls: list[str], ask: Any) -> list[ImageStatus]:
        """One request, split when its answer cannot say: a 404 for several URLs does not say which are unknown,
        a 414 says the request is too long (so each half is asked), and URLs sharing a canonical form that the
        answer echoes normalised are asked about one by one."""
        if not image_urls:
            return []
        single = len(set(image_urls)) == 1
        try:
            matched = match_statuses(image_urls, parse_status_response(ask(status_query(image_urls))))
        except NotFoundError:
            if single:
                return [ImageStatus(image=url, status=ApiStatus.UNKNOWN) for url in image_urls]
            return self._statuses_in_halves(image_urls, ask)
        except RequestTooLongError:
            limit, base_url = self.status_url_limit, self.settings.base_url
            self.status_url_limit = lowered_url_limit(limit, base_url, paths.ASYNC_STATUS, image_urls)
            if single:
                self.log.warning("Car-Cutter refuses to be asked about %s: too long a URL", redact_url(image_urls[0]))
                return []
            return self._statuses_in_halves(image_urls, ask)
        if not single:
            for url in unanswered_ambiguous(image_urls, matched):
                matched.extend(self._statuses_of([url], ask))
        return in_asked_order(image_urls, matched)

    def _statuses_in_halves(self, image_urls: list[str], ask: Any) -> list[ImageStatus]:
        middle = len(image_urls) // 2
        return self._statuses_of(image_urls[:middle], ask) + self._statuses_of(image_urls[middle:], ask)

    @contextmanager
    def open_result(self, image_url: str) -> Iterator[requests.Response]:
        """The result as an open streaming response: read `response.raw` (a file object) or iterate it.
        Raises NotFoundError (404) or ExpiredError (410)."""
        response = self._call(
            "GET", paths.ASYNC_RESULT, query=status_query([image_url]), stream=True, headers=ACCEPT_IMAGE
        )
        response.raw.decode_content = True
        try:
            yield response
        finally:
            response.close()

    def download_result(self, image_url: str, fileobj: IO[bytes]) -> int:
        """Stream the result into `fileobj`; returns the number of bytes written."""
        written = 0
        with self.open_result(image_url) as response:
            for block in response.iter_content(_RESULT_CHUNK):
                fileobj.write(block)
                written += len(block)
        return written

    # Features

    def submit_feature(
        self,
        vehicle_id: str,
        title: str,
        icon: str,
        type: str,  # the API field name
        description: str | None = None,
        feature_rule_name: str | None = None,
        annotation_id: str | None = None,
        detail_image_id: str | None = None,
    ) -> str:
        form = {
            "vehicle_id": vehicle_id,
            "title": title,
            "icon": icon,
            "type": type,
            "description": description,
            "feature_rule_name": feature_rule_name,
            "annotation_id": annotation_id,
            "detail_image_id": detail_image_id,
        }
        return _required(self._json("POST", paths.FEATURE_SUBMIT, form=form, idempotent=False), "feature_id")

    def get_features(self, vehicle_id: str) -> list[dict[str, Any]]:
        return self._json("GET", paths.FEATURES_GET, **self._read_fields(vehicle_id=vehicle_id)).get("features", [])

    def get_feature(self, feature_id: str) -> dict[str, Any] | None:
        features = self._json("GET", paths.FEATURE_GET, **self._read_fields(feature_id=feature_id)).get("features", [])
        return features[0] if features else None

    def delete_features(self, vehicle_id: str) -> list[Any]:
        answer = self._json("DELETE", paths.FEATURES_DELETE, **self._read_fields(vehicle_id=vehicle_id))
        return answer.get("deleted_features", [])

    def delete_feature(self, feature_id: str) -> list[Any]:
        answer = self._json("DELETE", paths.FEATURE_DELETE, **self._read_fields(feature_id=feature_id))
        return answer.get("deleted_features", [])

    # Image feature annotations (paths not published by Car-Cutter: see utils/paths.py)

    def submit_annotation(self, image_id: str, position_x: int, position_y: int, location: str | None = None) -> str:
        form = {"image_id": image_id, "position_x": position_x, "position_y": position_y, "location": location}
        return _required(self._json("POST", paths.ANNOTATION_SUBMIT, form=form, idempotent=False), "annotation_id")

    def get_annotations(self, image_id: str) -> list[dict[str, Any]]:
        """All annotations of one image."""
        fields = self._read_fields(**{paths.ANNOTATIONS_IMAGE_FIELD: image_id})
        return self._json("GET", paths.ANNOTATIONS_GET, **fields).get("annotations", [])

    def get_annotation(self, annotation_id: str) -> dict[str, Any] | None:
        answer = self._json("GET", paths.ANNOTATION_GET, **self._read_fields(annotation_id=annotation_id))
        found = answer.get("annotations") or answer.get("features") or []
        return found[0] if found else None

    def delete_annotations(self, image_id: str) -> list[Any]:
        fields = self._read_fields(**{paths.ANNOTATIONS_IMAGE_FIELD: image_id})
        return self._json("DELETE", paths.ANNOTATIONS_DELETE, **fields).get("deleted_annotations", [])

    def delete_annotation(self, annotation_id: str) -> list[Any]:
        answer = self._json("DELETE", paths.ANNOTATION_DELETE, **self._read_fields(annotation_id=annotation_id))
        return answer.get("deleted_annotations", [])

    def _read_fields(self, **fields: str) -> dict[str, Any]:
        """The field of a feature / annotation GET or DELETE: documented as a multipart form field, or in the
        query where the connection's extra says `feature_params_in: query`."""
        if self.settings.feature_params_in == "query":
            return {"params": fields}
        return {"form": fields}

    # Transport

    def _json(self, method: str, path: str, shape: type | tuple[type, ...] = dict, **kwargs: Any) -> Any:
        """The JSON answer of a call, which must be of `shape` (a JSON object unless told), else an ApiError:
        a proxy's page or a changed answer is a typed error, never a crash further on."""
        answer = _json_of(self._call(method, path, headers=ACCEPT_JSON, **kwargs))
        if not isinstance(answer, shape):
            raise ApiError(API, f"unexpected answer from {path}: {type(answer).__name__}", status=200)
        return answer

    def _call(self, method: str, path: str, idempotent: bool = True, **kwargs: Any) -> requests.Response:
        retrying = Retrying(**retry_arguments(self.settings, idempotent=idempotent, log=self.log))
        return retrying(self._send, method, path, **kwargs)

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        query: str | None = None,
        form: Mapping[str, FormValue] | None = None,
        files: Mapping[str, tuple[str, bytes | None, str]] | None = None,
        json_body: Any = None,
        stream: bool = False,
        headers: dict[str, str] | None = None,
    ) -> requests.Response:
        """One request, no retry; a non-2xx answer becomes the matching error of `carcutter.exceptions`."""
        url = f"{self.settings.base_url}{path}" + (f"?{query}" if query else "")
        multipart = _multipart(form or {}, files or {}) if (form or files) else None
        try:
            response = self.session.request(
                method,
                url,
                params=params,
                files=multipart,
                json=json_body,
                stream=stream,
                headers=headers,
                timeout=(_CONNECT_TIMEOUT, self.settings.timeout),
            )
        except requests.RequestException as error:
            raise transport_error(API, error, path) from None
        count_api_call("carcutter", response.status_code)
        if response.status_code >= 400:
            body = response.text
            response.close()
            raise error_from_response(response.status_code, body, secret=self.settings.token)
        return response


def decode_sync_result(text: str) -> bytes | None:
    """The synchronous answer: base64 text of the image, or `{}` when there is nothing (cut_type none)."""
    text = text.strip()
    try:
        if text.startswith("{"):
            if json.loads(text):
                raise ApiError(API, "unexpected JSON answer from the synchronous API", status=200)
            return None
        if text.startswith('"'):
            text = str(json.loads(text))
    except ValueError:
        raise ApiError(API, "the synchronous answer is neither base64 nor JSON", status=200) from None
    if text.startswith("data:"):
        text = text.partition(",")[2]
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError) as error:
        raise ApiError(API, f"the synchronous answer is not base64 ({error})", status=200) from None


def _required(answer: dict[str, Any], name: str) -> str:
    if answer.get(name) in (None, ""):
        raise ApiError(API, f"the answer has no {name}", status=200)
    return str(answer[name])


def _json_of(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        raise ApiError(API, "the answer is not JSON", status=response.status_code) from None


def _multipart(form: Mapping[str, FormValue], files: Mapping[str, tuple[str, bytes | None, str]]) -> list[tuple]:
    """multipart/form-data parts; None values are left out, lists repeat the field, bools are true/false."""
    parts: list[tuple] = []
    for name, value in form.items():
        values = value if isinstance(value, list | tuple) else [value]
        parts.extend((name, (None, _form_text(item))) for item in values if item is not None)
    parts.extend((name, spec) for name, spec in files.items() if spec[1] is not None)
    return parts


def _form_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _json_text(value: str | Mapping[str, Any] | None) -> str | None:
    return value if value is None or isinstance(value, str) else json.dumps(value, sort_keys=True)


def _check_choice(name: str, value: Any, choices: Sequence[str]) -> None:
    if value is not None and value not in choices:
        raise config_error(f"{name} must be one of {', '.join(choices)}; got {value!r}")
