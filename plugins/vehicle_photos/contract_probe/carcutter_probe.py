"""Car-Cutter: the guesses the project depends on, measured over the connection's own session.

Free: a status call for a URL never submitted, the request-target limit, an error body, feature GET / DELETE
with form fields (a probe vehicle and two features, deleted again) and the five annotation paths. With one
credit (`spend`): one small image submitted once, never again (a lost answer is settled by status polling),
to measure the registration delay, the URL echo, the result endpoint before the image is final and the status
values on the way.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import requests

from vehicle_photos.carcutter.hooks.carcutter import ACCEPT_IMAGE, DEFAULT_MAX_URL_LENGTH, CarCutterHook
from vehicle_photos.carcutter.utils import paths
from vehicle_photos.carcutter.utils.statuses import (
    KNOWN_PHASES,
    KNOWN_QUALITIES,
    KNOWN_STATUSES,
    TERMINAL_STATUSES,
    ApiStatus,
    ImageStatus,
    parse_status_response,
    status_query,
)
from vehicle_photos.contract_probe.answers import error_body_kind, is_json_error, json_or_none, url_difference
from vehicle_photos.contract_probe.checks import CARCUTTER, Checks, Guess, describe_error

UNKNOWN_URL = Guess(
    key="carcutter.unknown_url_status",
    service=CARCUTTER,
    title="Status of a URL never submitted",
    assumed="an entry with status `unknown` (HTTP 200)",
    setting="none: the client takes a 404 as `unknown` too (asking about fewer URLs at once)",
)
URL_ECHO = Guess(
    key="carcutter.status_url_echo",
    service=CARCUTTER,
    title="Status echoes the submitted URL",
    assumed="byte for byte, as submitted",
    setting="none: the client matches entries by canonical URL (statuses.match_statuses)",
)
REQUEST_TARGET = Guess(
    key="carcutter.request_target_limit",
    service=CARCUTTER,
    title="Longest status request",
    assumed=f"a status request URL of {DEFAULT_MAX_URL_LENGTH} characters is answered (no 414)",
    setting="CarCutterProcessImagesOperator(max_url_length=...) below the limit found (the client also halves its "
    "requests after a 414 on its own)",
)
ERROR_BODY = Guess(
    key="carcutter.error_body",
    service=CARCUTTER,
    title="Error answers (unknown vehicle)",
    assumed='HTTP 404 with the JSON error object (nested under "error" or flat)',
    setting="none: the client turns any body into a typed error with a short redacted message",
)
FEATURE_FIELDS = Guess(
    key="carcutter.feature_params_in",
    service=CARCUTTER,
    title="Feature GET / DELETE fields",
    assumed="multipart form fields, as documented",
    setting="carcutter connection extra `feature_params_in` (form or query)",
)
ANNOTATION_PATHS = Guess(
    key="carcutter.annotation_paths",
    service=CARCUTTER,
    title="The five annotation paths",
    assumed="the feature operations' pattern (carcutter/utils/paths.py) exists",
    setting="code: the ANNOTATION_* paths in vehicle_photos/carcutter/utils/paths.py (tell the maintainers)",
)
REGISTRATION_DELAY = Guess(
    key="carcutter.registration_delay",
    service=CARCUTTER,
    title="Registration delay of a submission",
    assumed="known to status at once",
    setting="registration_grace_seconds",
)
RESULT_BEFORE_FINAL = Guess(
    key="carcutter.result_before_final",
    service=CARCUTTER,
    title="Result endpoint before the image is final",
    assumed="HTTP 404, as for an unknown image",
    setting="none: the client asks for a result only once status says `final` (tell the maintainers)",
)
STATUS_VALUES = Guess(
    key="carcutter.status_values",
    service=CARCUTTER,
    title="Status, phase and quality values",
    assumed="only the documented values",
    setting="none: unknown values count as not finished (tell the maintainers which ones appeared)",
)
BILLABLE = (REGISTRATION_DELAY, RESULT_BEFORE_FINAL, STATUS_VALUES)

_TIMEOUT = (10.0, 60.0)
_LONGEST_TARGET_TRIED = 32_768
_TARGET_RESOLUTION = 64


@dataclass
class Submission:
    """What the one billable submission showed; `charged` is False only when the service refused it."""

    charged: bool = False
    answer_seconds: float | None = None
    registration_seconds: float | None = None
    processing_seconds: float | None = None
    final_status: str | None = None
    statuses_seen: list[str] = field(default_factory=list)
    phases_seen: list[str] = field(default_factory=list)
    qualities_seen: list[str] = field(default_factory=list)

    def observations(self) -> dict[str, float | str | None]:
        return {
            "carcutter_submission_answer_seconds": self.answer_seconds,
            "carcutter_registration_seconds": self.registration_seconds,
            "carcutter_processing_seconds": self.processing_seconds,
            "carcutter_final_status": self.final_status,
        }


class CarCutterProbe:
    """Each `check_*` records its guesses in `checks`; nothing here raises for what the service answers."""

    def __init__(
        self,
        hook: CarCutterHook,
        checks: Checks,
        run_id: str,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.hook, self.checks, self.run_id = hook, checks, run_id
        self.sleep, self.clock = sleep, clock
        self.vehicle_id = f"CONTRACT-PROBE-{run_id}"
        self.fields_in = hook.settings.feature_params_in
        self.never_submitted = (
            f"https://example.com/vehicle-photos-contract-probe/{run_id}/never%20submitted.jpg?b=2&a=%2F1"
        )
        self.submission = Submission()

    # Transport: one request, no retry, the answer whatever it is

    def send(
        self,
        method: str,
        path: str,
        *,
        query: str | None = None,
        form: dict[str, Any] | None = None,
        accept: str = "application/json",
    ) -> requests.Response:
        url = f"{self.hook.settings.base_url}{path}" + (f"?{query}" if query else "")
        parts = [
            (name, (None, str(value)))
            for name, values in (form or {}).items()
            for value in (values if isinstance(values, list) else [values])
        ]
        response = self.hook.session.request(
            method, url, files=parts or None, timeout=_TIMEOUT, headers={"Accept": accept}
        )
        response.close()
        return response

    def send_fields(self, method: str, path: str, fields: dict[str, str], place: str) -> requests.Response:
        """A feature / annotation GET or DELETE with its field in a multipart body ("form") or the query."""
        if place == "form":
            return self.send(method, path, form=fields)
        return self.send(method, path, query=urlencode(fields))

    # Free checks

    def check_unknown_url(self) -> str | None:
        """Status of a URL never submitted; returns the URL the entry echoes, if there is one."""
        with self.checks.measuring(UNKNOWN_URL):
            response = self.send("GET", paths.ASYNC_STATUS, query=status_query([self.never_submitted]))
            entries = parse_status_response(json_or_none(response)) if response.ok else []
            if response.status_code == 404:
                self.checks.record(UNKNOWN_URL, "HTTP 404 for the whole request", as_assumed=False)
            elif response.ok and entries:
                status = entries[0].status
                self.checks.record(
                    UNKNOWN_URL, f"HTTP 200, an entry with status `{status}`", status == ApiStatus.UNKNOWN
                )
                return entries[0].image
            else:
                self.checks.record(UNKNOWN_URL, f"HTTP {response.status_code}, no entry", as_assumed=False)
        return None

    def record_url_echo(self, unknown_echo: str | None, submitted_echo: tuple[str, str] | None) -> None:
        """The echo of the submitted image (asked, echoed) where there was a submission, else the never-submitted
        URL's entry."""
        if submitted_echo is not None:
            difference = url_difference(*submitted_echo)
            observed = f"the submitted (presigned) URL came back {difference}"
        elif unknown_echo is not None:
            difference = url_difference(self.never_submitted, unknown_echo)
            observed = f"a never-submitted URL came back {difference} (no submission: --spend-one-credit)"
        else:
            self.checks.not_measured(URL_ECHO, "no entry echoed a URL (no submission, and unknown URLs answer 404)")
            return
        self.checks.record(URL_ECHO, observed, difference == "byte for byte")

    def check_request_target(self) -> None:
        with self.checks.measuring(REQUEST_TARGET):
            baseline = self._status_of_length(0)
            fits = self._status_of_length(DEFAULT_MAX_URL_LENGTH)
            accepted = fits == baseline
            limit = self._longest_accepted(DEFAULT_MAX_URL_LENGTH if accepted else 0, baseline)
            base = len(self.hook.settings.base_url)
            if limit is None:
                observed = f"no refusal up to {_LONGEST_TARGET_TRIED} characters"
            else:
                observed = f"refused from about {limit + 1} characters ({limit + 1 - base} of path and query)"
            verb = "answered" if accepted else f"refused ({fits})"
            self.checks.record(REQUEST_TARGET, f"{DEFAULT_MAX_URL_LENGTH} characters {verb}; {observed}", accepted)

    def _status_of_length(self, length: int) -> str:
        """The answer to a status request whose whole URL is `length` characters long (0: unpadded)."""
        query = status_query([self.never_submitted])
        url_length = len(self.hook.settings.base_url) + len(paths.ASYNC_STATUS) + 1 + len(query)
        if length:
            query += "&probe_padding=" + "x" * max(0, length - url_length - len("&probe_padding="))
        try:
            response = self.send("GET", paths.ASYNC_STATUS, query=query)
        except requests.RequestException as error:
            return describe_error(error)
        return f"HTTP {response.status_code}"

    def _longest_accepted(self, accepted: int, baseline: str) -> int | None:
        """The longest URL length answered like a short one, to `_TARGET_RESOLUTION` (None: no refusal seen)."""
        low, high = accepted, None
        probe = max(2 * accepted, 1024)
        while high is None:
            if probe > _LONGEST_TARGET_TRIED:
                return None
            if self._status_of_length(probe) == baseline:
                low, probe = probe, probe * 2
            else:
                high = probe
        while high - low > _TARGET_RESOLUTION:
            middle = (low + high) // 2
            if self._status_of_length(middle) == baseline:
                low = middle
            else:
                high = middle
        return low

    def check_error_body(self) -> None:
        with self.checks.measuring(ERROR_BODY):
            response = self.send("GET", paths.VEHICLE_STATUS, query=f"vehicle_id={self.vehicle_id}-never")
            kind = error_body_kind(response)
            as_assumed = response.status_code == 404 and is_json_error(kind)
            self.checks.record(ERROR_BODY, f"HTTP {response.status_code} with {kind}", as_assumed)

    def register_vehicle(self) -> None:
        """The probe's vehicle (free), which its features and its one image belong to; `cleanup` deletes it."""
        self.hook.submit_vehicle(self.vehicle_id, custom_reference="vehicle-photos contract probe")

    def check_feature_fields(self) -> None:
        with self.checks.measuring(FEATURE_FIELDS):
            first = self.hook.submit_feature(self.vehicle_id, "contract probe", "info", "text")
            second = self.hook.submit_feature(self.vehicle_id, "contract probe 2", "info", "text")
            works: dict[str, bool] = {}
            words = []
            for place, feature_id in (("form", first), ("query", second)):
                by_vehicle = {"vehicle_id": self.vehicle_id}
                listed, list_words = _holds(
                    self.send_fields("GET", paths.FEATURES_GET, by_vehicle, place), "features", feature_id
                )
                deleted, delete_words = _holds(
                    self.send_fields("DELETE", paths.FEATURE_DELETE, {"feature_id": feature_id}, place),
                    "deleted_features",
                    feature_id,
                )
                works[place] = listed and deleted
                words.append(
                    f"{place}: GET {'lists the feature' if listed else list_words}, "
                    f"DELETE {'deletes it' if deleted else delete_words}"
                )
            mode = self.fields_in
            other = "query" if mode == "form" else "form"
            advice = "" if works[mode] else (f"; set feature_params_in: {other}" if works[other] else "; neither works")
            assumed = f"{mode} fields work (the connection's feature_params_in)"
            self.checks.record(FEATURE_FIELDS, "; ".join(words) + advice, works[mode], assumed=assumed)
            if works[other] and not works[mode]:
                self.fields_in = other

    def check_annotation_paths(self) -> None:
        with self.checks.measuring(ANNOTATION_PATHS):
            image_id = f"contract-probe-{self.run_id}"
            submitted = self.send(
                "POST", paths.ANNOTATION_SUBMIT, form={"image_id": image_id, "position_x": 10, "position_y": 10}
            )
            payload = json_or_none(submitted) if submitted.ok else None
            annotation_id = str((payload or {}).get("annotation_id") or f"an_contract_probe_{self.run_id}")
            by_image = {paths.ANNOTATIONS_IMAGE_FIELD: image_id}
            answers = {
                ("POST", paths.ANNOTATION_SUBMIT): submitted,
                ("GET", paths.ANNOTATIONS_GET): self.send_fields(
                    "GET", paths.ANNOTATIONS_GET, by_image, self.fields_in
                ),
                ("GET", paths.ANNOTATION_GET): self.send_fields(
                    "GET", paths.ANNOTATION_GET, {"annotation_id": annotation_id}, self.fields_in
                ),
                ("DELETE", paths.ANNOTATION_DELETE): self.send_fields(
                    "DELETE", paths.ANNOTATION_DELETE, {"annotation_id": annotation_id}, self.fields_in
                ),
                ("DELETE", paths.ANNOTATIONS_DELETE): self.send_fields(
                    "DELETE", paths.ANNOTATIONS_DELETE, by_image, self.fields_in
                ),
            }
            missing = [
                f"{method} {path} answers like an unknown path (HTTP {answer.status_code})"
                for (method, path), answer in answers.items()
                if not self._path_exists(method, path, answer)
            ]
            answered = ", ".join(sorted({f"HTTP {answer.status_code}" for answer in answers.values()}))
            observed = "; ".join(missing) if missing else f"all five exist (answers: {answered})"
            got = answers[("GET", paths.ANNOTATION_GET)]
            keys = [key for key in ("features", "annotations") if isinstance((json_or_none(got) or {}).get(key), list)]
            if got.ok and keys:  # the document shows `features`; the client reads either
                observed += f"; get-one answers under {' and '.join(f'`{key}`' for key in keys)}"
            self.checks.record(ANNOTATION_PATHS, observed, not missing)

    def _path_exists(self, method: str, path: str, answer: requests.Response) -> bool:
        """A 2xx answer, or one unlike the answer to a path that surely does not exist (same method)."""
        if answer.ok:
            return True
        control_path = f"{path}-contract-probe-no-such-path"
        control = self.send(method, control_path)
        same_body = control.content.replace(control_path.encode(), path.encode()) == answer.content
        return not (control.status_code == answer.status_code and same_body)

    # The one billable check

    def check_submission(self, image_url: str, grace_seconds: float, max_wait_seconds: float) -> tuple[str, str] | None:
        """Submit `image_url` once and measure what BILLABLE names; returns (asked, echoed) for the URL echo."""
        assumed = f"known to status within {grace_seconds:g} s of sending the submission (registration_grace_seconds)"
        sent_at = self.clock()
        response, lost = self._submit_once(image_url)
        self.submission.answer_seconds = self.clock() - sent_at
        if lost is None and not response.ok:
            self.submission.charged = False
            why = f"the submission was refused (HTTP {response.status_code}, {error_body_kind(response)})"
            for guess in BILLABLE:
                self.checks.not_measured(guess, why, assumed=assumed if guess is REGISTRATION_DELAY else None)
            return None
        self.submission.charged = True  # until status says otherwise: a lost answer may have been billed
        entries = parse_status_response(json_or_none(response)) if lost is None else []
        echoed = (image_url, entries[0].image) if entries else None
        start = sent_at  # the hooks' grace period runs from sending too: a held submission's wait counts
        result_early = self._result_answer(image_url)
        with self.checks.measuring(*BILLABLE):
            status = self._poll_until_known(image_url, start, max(120.0, 3 * grace_seconds))
            if status is None:
                waited = self.clock() - start
                observed = f"still unknown {waited:.0f} s after the submission"
                self.checks.record(REGISTRATION_DELAY, observed, as_assumed=False, assumed=assumed)
                self.checks.not_measured(RESULT_BEFORE_FINAL, "the image never became known to status")
                self.checks.not_measured(STATUS_VALUES, "the image never became known to status")
                self.submission.charged = lost is None  # a lost submission the service never knew was not billed
                return echoed
            delay = self.submission.registration_seconds or 0.0
            lost_note = f" (the submission's answer was lost: {lost})" if lost else ""
            recommended = _recommended_grace(delay)
            answered = self.submission.answer_seconds
            observed = f"unknown for {delay:.1f} s after sending (answered after {answered:.1f} s){lost_note}"
            if delay > grace_seconds:
                observed += f"; set registration_grace_seconds to at least {recommended}"
            self.checks.record(REGISTRATION_DELAY, observed, delay <= grace_seconds, assumed=assumed)
            result_processing = None if status.status in TERMINAL_STATUSES else self._result_answer(image_url)
            final = self._poll_until_terminal(image_url, status, start, max_wait_seconds)
            self._record_result_before_final(result_processing, result_early, final)
            if echoed is None:
                echoed = (image_url, final.image)
        return echoed

    def _submit_once(self, image_url: str) -> tuple[requests.Response | None, str | None]:
        """The one submission, never repeated: (its answer, None), or (None / a 5xx, why the answer was lost)
        when it may have reached the service, which status polling then settles."""
        try:
            response = self.send(
                "POST", paths.ASYNC_SUBMIT, form={"image_url": [image_url], "vehicle_id": self.vehicle_id}
            )
        except requests.RequestException as error:
            return None, describe_error(error)
        if response.status_code >= 500:
            return response, f"HTTP {response.status_code}"
        return response, None

    def _result_answer(self, image_url: str) -> str:
        try:
            query = status_query([image_url])
            response = self.send("GET", paths.ASYNC_RESULT, query=query, accept=ACCEPT_IMAGE["Accept"])
            return f"HTTP {response.status_code}"
        except requests.RequestException as error:
            return describe_error(error)

    def _record_result_before_final(self, processing: str | None, early: str, final: ImageStatus) -> None:
        if processing is not None:
            observed = f"{processing} while the image was processing"
        elif final.status in TERMINAL_STATUSES:
            observed = f"{early} right after the submission (the image was already final at the first status call)"
        else:
            self.checks.not_measured(RESULT_BEFORE_FINAL, "the image did not become final in time")
            return
        self.checks.record(RESULT_BEFORE_FINAL, observed, observed.startswith("HTTP 404"))

    def _status(self, image_url: str) -> ImageStatus:
        response = self.send("GET", paths.ASYNC_STATUS, query=status_query([image_url]))
        entries = parse_status_response(json_or_none(response)) if response.ok else []
        if response.status_code == 404 or not entries:
            return ImageStatus(image=image_url, status=ApiStatus.UNKNOWN)
        status = entries[0]
        for value, seen in (
            (status.status, self.submission.statuses_seen),
            (status.phase, self.submission.phases_seen),
            (status.quality, self.submission.qualities_seen),
        ):
            if value is not None and value not in seen:
                seen.append(value)
        return status

    def _poll_until_known(self, image_url: str, start: float, wait_seconds: float) -> ImageStatus | None:
        while True:
            status = self._status(image_url)
            now = self.clock()
            if status.known_to_service:
                self.submission.registration_seconds = now - start
                return status
            if now - start > wait_seconds:
                return None
            self.sleep(0.2 if now - start < 10 else 1.0)

    def _poll_until_terminal(
        self, image_url: str, status: ImageStatus, start: float, max_wait_seconds: float
    ) -> ImageStatus:
        while status.status not in TERMINAL_STATUSES and self.clock() - start < max_wait_seconds:
            self.sleep(0.25 if self.clock() - start < 10 else 5.0)
            status = self._status(image_url)
        self.submission.final_status = status.status
        if status.status in TERMINAL_STATUSES:
            self.submission.processing_seconds = self.clock() - start
        seen = self.submission
        odd = [f"status {value!r}" for value in seen.statuses_seen if value not in KNOWN_STATUSES]
        odd += [f"phase {value!r}" for value in seen.phases_seen if value not in KNOWN_PHASES]
        odd += [f"quality {value!r}" for value in seen.qualities_seen if value not in KNOWN_QUALITIES]
        observed = (
            f"statuses {', '.join(seen.statuses_seen)}; phases {', '.join(seen.phases_seen) or '-'}; "
            f"qualities {', '.join(seen.qualities_seen) or '-'}"
        )
        if odd:
            observed = f"undocumented {', '.join(odd)}; {observed}"
        if status.status not in TERMINAL_STATUSES:
            observed += f" (not final after {max_wait_seconds:.0f} s)"
        self.checks.record(STATUS_VALUES, observed, not odd)
        return status

    def cleanup(self) -> None:
        """Delete what the probe made: the vehicle's features and the vehicle."""
        for step in (
            lambda: self.send_fields("DELETE", paths.FEATURES_DELETE, {"vehicle_id": self.vehicle_id}, self.fields_in),
            lambda: self.hook.delete_vehicle(self.vehicle_id),
        ):
            try:
                step()
            except Exception as error:  # cleanup must not hide the table
                self.hook.log.warning("contract probe cleanup: %s", describe_error(error))


def _holds(response: requests.Response, key: str, wanted: str) -> tuple[bool, str]:
    """Whether the answer's `key` list names `wanted` (a feature, or its id), and if not, why in words."""
    if not response.ok:
        return False, f"refused (HTTP {response.status_code})"
    payload = json_or_none(response)
    entries = payload.get(key) if isinstance(payload, dict) else None
    if not isinstance(entries, list):
        return False, f"answered without `{key}`"
    ids = [str(entry.get("feature_id") if isinstance(entry, dict) else entry) for entry in entries]
    return (True, "") if wanted in ids else (False, "answered without it (field ignored?)")


def _recommended_grace(delay: float) -> int:
    """Three times the one delay measured, rounded up to 10 s: one sample says little about the worst case."""
    return max(10, math.ceil(3 * delay / 10.0) * 10)
