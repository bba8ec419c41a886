"""Clipping Magic in test mode (free): list order and delay, the download redirect, its storage link and the
resultRevision header, whether SVG / alpha-mask downloads move the balance, errors and unknown fields.

Two test images are uploaded (one with Auto-Clip, one without) and deleted again at the end.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from urllib.parse import urljoin, urlsplit

import requests
from requests_toolbelt import MultipartEncoder

from vehicle_photos.clippingmagic.hooks.clippingmagic import LIST_PAGE_MAX, ClippingMagicHook
from vehicle_photos.clippingmagic.utils.models import ACCEPTED_MEDIA, ALPHA_MASK_PNG, CLIPPING_PATH_SVG, RESULT
from vehicle_photos.contract_probe.answers import error_body_kind, is_json_error, json_or_none
from vehicle_photos.contract_probe.checks import CLIPPINGMAGIC, Checks, Guess

LIST_ORDER = Guess(
    "clippingmagic.list_order", CLIPPINGMAGIC, "List order",
    "ascending image id (oldest first), as in the documented example",
    "none: the list window (clippingmagic/utils/list_window.py) recognises newest-first from the first page",
)  # fmt: skip
LIST_DELAY = Guess(
    "clippingmagic.list_delay", CLIPPINGMAGIC, "How soon an upload is listed",
    "listed at once",  # replaced by the run's grace period
    "registration_grace_seconds (how long a lost upload is looked for in the list before it is sent again)",
)  # fmt: skip
REDIRECT = Guess(
    "clippingmagic.download_redirect", CLIPPINGMAGIC, "Download redirect",
    "HTTP 302 to the result storage, whose file needs no credentials",
    "none: the client follows any 301-303 redirect without credentials",
)  # fmt: skip
RESULT_REVISION = Guess(
    "clippingmagic.result_revision_header", CLIPPINGMAGIC, "resultRevision header",
    "x-amz-meta-resultrevision on the stored file, equal to the image's resultRevision",
    "none: the client reads the header where present (tell the maintainers if it is missing)",
)  # fmt: skip
STORAGE_CREDENTIALS = Guess(
    "clippingmagic.storage_refuses_credentials", CLIPPINGMAGIC, "Storage link with credentials",
    "refused (S3 refuses a second authentication)",
    "none: the client never sends credentials to the storage",
)  # fmt: skip
STORAGE_LINK_LIFE = Guess(
    "clippingmagic.storage_link_seconds", CLIPPINGMAGIC, "Storage link lifetime",
    "still valid a few seconds after the redirect",
    "none: the client follows a link at once and asks the API again for a refused one",
)  # fmt: skip
TEST_EXTRA_OUTPUTS = Guess(
    "clippingmagic.test_extra_outputs_free", CLIPPINGMAGIC, "SVG / alpha-mask downloads in test mode",
    "the credit balance does not move",
    "clippingmagic_test_mode is not free for these outputs: leave clippingmagic_outputs at `result` for test runs",
)  # fmt: skip
NO_RESULT = Guess(
    "clippingmagic.no_result_status", CLIPPINGMAGIC, "Download before any result exists",
    "HTTP 400 (an error, not a redirect or an empty file)",
    "none: the client downloads only images with a result (tell the maintainers)",
)  # fmt: skip
UNKNOWN_FIELDS = Guess(
    "clippingmagic.unknown_fields", CLIPPINGMAGIC, "Upload with an undocumented field",
    "refused with HTTP 400",
    "none: the client sends documented fields only",
)  # fmt: skip
ERROR_BODY = Guess(
    "clippingmagic.error_body", CLIPPINGMAGIC, "Error answers (unknown image id)",
    "HTTP 404 with the Error JSON Object",
    "none: the client turns any body into a typed error with a short redacted message",
)  # fmt: skip

_TIMEOUT = (10.0, 60.0)
_LINK_AGE_SECONDS = 1.0


class ClippingMagicProbe:
    def __init__(
        self,
        hook: ClippingMagicHook,
        checks: Checks,
        run_id: str,
        photo: Callable[[int], bytes],
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.hook, self.checks, self.run_id, self.photo = hook, checks, run_id, photo
        self.sleep, self.clock = sleep, clock
        self.uploaded: list[int] = []
        self.list_seconds: float | None = None
        self.large_account = False

    def get(self, path: str, *, accept: str = "application/json", **params: str) -> requests.Response:
        """One API GET with credentials, redirects not followed."""
        response = self.hook.get_conn().get(
            f"{self.hook.settings.api_url}{path}", params=params or None, auth=self.hook.settings.auth,
            headers={"Accept": accept}, allow_redirects=False, timeout=_TIMEOUT,
        )  # fmt: skip
        response.close()
        return response

    def filename(self, name: str) -> str:
        return f"contract-probe-{self.run_id}-{name}.jpg"

    def run(self, grace_seconds: float) -> None:
        credits_before = self.hook.get_account().get("credits")
        clipped = self.hook.auto_clip(self.photo(1), io.BytesIO(), test=True, filename=self.filename("clipped"))
        self.uploaded.append(clipped.image_id)
        plain = self.hook.upload(self.photo(2), test=True, filename=self.filename("plain"))
        uploaded_at = self.clock()
        self.uploaded.append(plain.id)
        with self.checks.measuring(LIST_DELAY, LIST_ORDER):
            self.check_list(clipped.image_id, plain.id, uploaded_at, grace_seconds)
        with self.checks.measuring(REDIRECT, RESULT_REVISION, STORAGE_CREDENTIALS, STORAGE_LINK_LIFE):
            self.check_download(clipped.image_id)
        with self.checks.measuring(TEST_EXTRA_OUTPUTS):
            self.check_extra_outputs(clipped.image_id, credits_before)
        with self.checks.measuring(NO_RESULT):
            self.check_no_result(plain.id)
        with self.checks.measuring(UNKNOWN_FIELDS):
            self.check_unknown_fields()
        with self.checks.measuring(ERROR_BODY):
            self.check_error_body(max(self.uploaded) + 10**9)

    # List

    def check_list(self, older: int, newer: int, uploaded_at: float, grace_seconds: float) -> None:
        assumed = f"listed within {grace_seconds:g} s of the upload's answer (registration_grace_seconds)"
        positions = self._positions({older, newer})
        while newer not in positions and self.clock() - uploaded_at < max(60.0, 3 * grace_seconds):
            self.sleep(2.0 if self.large_account else 0.25)  # a large account costs ~20 requests per look
            positions = self._positions({older, newer})
        if newer not in positions:
            self.checks.record(
                LIST_DELAY,
                f"not listed {self.clock() - uploaded_at:.0f} s after the upload",
                as_assumed=False,
                assumed=assumed,
            )
            self.checks.not_measured(LIST_ORDER, "the upload never appeared in the list")
            return
        self.list_seconds = max(0.0, self.clock() - uploaded_at)
        observed = f"listed after {self.list_seconds:.1f} s"
        self.checks.record(LIST_DELAY, observed, self.list_seconds <= grace_seconds, assumed=assumed)
        if older not in positions:
            self.checks.not_measured(LIST_ORDER, "the first upload was not in the list")
            return
        ascending = positions[older] < positions[newer]
        order = "ascending image id (oldest first)" if ascending else "newest first"
        self.checks.record(LIST_ORDER, f"{order}; {positions[newer] + 1} images listed up to the newest", ascending)

    def _page(self, offset: int) -> list[int]:
        response = self.get("/images", limit=str(LIST_PAGE_MAX), offset=str(offset))
        payload = json_or_none(response) if response.ok else None
        images = payload.get("images") if isinstance(payload, dict) else None
        if not isinstance(images, list):
            raise ValueError(f"the list answered HTTP {response.status_code} without images")
        return [int(image["id"]) for image in images if isinstance(image, dict) and "id" in image]

    def _positions(self, wanted: set[int]) -> dict[int, int]:
        """Where the `wanted` ids are in the whole list: the first page, else the last pages (found by doubling
        the offset, then halving the gap), so an account of 100,000 images costs about 20 requests."""
        first = self._page(0)
        self.large_account = len(first) == LIST_PAGE_MAX
        found = {image_id: index for index, image_id in enumerate(first) if image_id in wanted}
        if len(found) == len(wanted) or len(first) < LIST_PAGE_MAX:
            return found
        low, high = 0, LIST_PAGE_MAX
        while self._page(high):
            low, high = high, high * 2
        while high - low > LIST_PAGE_MAX:
            middle = (low + high) // 2
            low, high = (middle, high) if self._page(middle) else (low, middle)
        for offset in (max(0, low - LIST_PAGE_MAX), low):
            page = self._page(offset)
            found |= {image_id: offset + index for index, image_id in enumerate(page) if image_id in wanted}
        return found

    # Downloads

    def check_download(self, image_id: int) -> None:
        redirect = self.get(f"/images/{image_id}", accept=ACCEPTED_MEDIA[RESULT])
        if not redirect.is_redirect:
            observed = f"HTTP {redirect.status_code} without a redirect"
            self.checks.record(REDIRECT, observed, as_assumed=False)
            for guess in (RESULT_REVISION, STORAGE_CREDENTIALS, STORAGE_LINK_LIFE):
                self.checks.not_measured(guess, "the download did not redirect")
            return
        link = urljoin(redirect.url, redirect.headers["Location"])
        linked_at = self.clock()
        where = "another host" if urlsplit(link).netloc != urlsplit(redirect.url).netloc else "the API's host"
        stored = self._fetch(link)
        self.checks.record(
            REDIRECT,
            f"HTTP {redirect.status_code} to {where}; the file answered HTTP {stored.status_code} "
            f"({stored.headers.get('Content-Type', 'no content type')}) without credentials",
            redirect.status_code == 302 and stored.ok,
        )
        revision = self.hook.get_image(image_id).result_revision
        header = stored.headers.get("x-amz-meta-resultrevision")
        if header is None:
            self.checks.record(RESULT_REVISION, "no x-amz-meta-resultrevision header", as_assumed=False)
        else:
            self.checks.record(
                RESULT_REVISION, f"header {header}, image resultRevision {revision}", header.strip() == str(revision)
            )
        with_credentials = self._fetch(link, auth=self.hook.settings.auth)
        refused = not with_credentials.ok
        self.checks.record(
            STORAGE_CREDENTIALS, f"{'refused' if refused else 'served'} (HTTP {with_credentials.status_code})", refused
        )
        self.sleep(max(0.0, _LINK_AGE_SECONDS - (self.clock() - linked_at)))
        later = self._fetch(link)
        age = self.clock() - linked_at
        observed = f"{'served' if later.ok else 'refused'} (HTTP {later.status_code}) {age:.1f} s after the redirect"
        self.checks.record(STORAGE_LINK_LIFE, observed, later.ok)

    def _fetch(self, link: str, auth: tuple[str, str] | None = None) -> requests.Response:
        """A storage GET; its URL is signed, so it is used here and never shown."""
        session = self.hook.get_conn()
        response = session.get(
            link, auth=auth, headers={"Accept": ACCEPTED_MEDIA[RESULT]}, timeout=_TIMEOUT, allow_redirects=True
        )
        response.close()
        return response

    def check_extra_outputs(self, image_id: int, credits_before: object) -> None:
        for result_format in (CLIPPING_PATH_SVG, ALPHA_MASK_PNG):
            self.hook.download(image_id, io.BytesIO(), result_format=result_format)
        credits_after = self.hook.get_account().get("credits")
        observed = f"credits {credits_before} before the test uploads, {credits_after} after SVG and mask downloads"
        self.checks.record(TEST_EXTRA_OUTPUTS, observed, credits_before == credits_after)

    def check_no_result(self, image_id: int) -> None:
        response = self.get(f"/images/{image_id}", accept=ACCEPTED_MEDIA[RESULT])
        kind = error_body_kind(response) if response.status_code >= 400 else "a result"
        observed = f"HTTP {response.status_code} with {kind}"
        self.checks.record(NO_RESULT, observed, response.status_code == 400)

    def check_unknown_fields(self) -> None:
        body = MultipartEncoder(
            {
                "image": (self.filename("field"), io.BytesIO(self.photo(3)), "image/jpeg"),
                "test": "true",
                "contract_probe_field": "1",
            }
        )
        response = self.hook.get_conn().post(
            f"{self.hook.settings.api_url}/images", data=body, auth=self.hook.settings.auth, timeout=_TIMEOUT,
            headers={"Content-Type": body.content_type, "Accept": "application/json"},
        )  # fmt: skip
        payload = json_or_none(response) if response.ok else None
        if isinstance(payload, dict) and isinstance(payload.get("image"), dict) and "id" in payload["image"]:
            self.uploaded.append(int(payload["image"]["id"]))
        accepted = response.ok
        self.checks.record(
            UNKNOWN_FIELDS, f"{'accepted' if accepted else 'refused'} (HTTP {response.status_code})", not accepted
        )

    def check_error_body(self, unknown_id: int) -> None:
        response = self.get(f"/images/{unknown_id}", format="json")
        kind = error_body_kind(response)
        self.checks.record(
            ERROR_BODY, f"HTTP {response.status_code} with {kind}", response.status_code == 404 and is_json_error(kind)
        )

    def cleanup(self) -> None:
        for image_id in self.uploaded:
            try:
                self.hook.delete(image_id)
            except Exception as error:  # cleanup must not hide the table
                self.hook.log.warning("contract probe cleanup: image %s: %s", image_id, type(error).__name__)
