"""`python -m dev.standins.carcutter --host 127.0.0.1 --port P --token TOKEN [knobs]`."""

from __future__ import annotations

from dev.standins import guesses
from dev.standins.carcutter.account import ACCOUNT_KNOBS
from dev.standins.carcutter.app import create_app
from dev.standins.carcutter.contract import CONTRACT_KNOBS
from dev.standins.carcutter.timing import TIMING_KNOBS
from dev.standins.common import COMMON_KNOBS, Knob, parse_knobs, serve

KNOBS = (
    *COMMON_KNOBS,
    Knob("token", str, "", "bearer token accepted by the API", runtime=False, secret=True),
    Knob("forbidden_token", str, "", "a bearer token answered with 403 Forbidden", secret=True),
    Knob("processing_seconds", float, 2.0, "processing time of one async image (lazy speed: twice that)"),
    Knob(
        "result_expiry_seconds",
        float,
        guesses.CC_DEFAULT_RESULT_EXPIRY_SECONDS,
        "results answer 410 this long after they became final",
    ),
    Knob("nest_errors", bool, True, 'nest error bodies under "error" as seen in practice (--no-nest-errors: flat)'),
    Knob("html_401", bool, False, "answer 401 with an HTML body, as seen in practice"),
    Knob(
        "fetch_timeout_seconds",
        float,
        guesses.CC_FETCH_TIMEOUT_SECONDS,
        "total deadline of fetching one image_url (connecting, headers and the whole body)",
    ),
    Knob("fast_fetch", bool, False, "in fast mode still download every image_url (and return it unchanged)"),
    Knob("max_image_bytes", int, guesses.CC_MAX_IMAGE_BYTES, "largest image_url body accepted"),
    Knob(
        "unknown_url_status",
        str,
        "unknown",
        'status call naming a URL never submitted: "unknown" entry, or "404" for the whole request',
        choices=("unknown", "404"),
    ),
    Knob("unknown_quality_ratio", float, 0.0, "share of final images whose quality is not a documented value"),
    Knob("unknown_phase_ratio", float, 0.0, "share of images whose phase after download is not a documented value"),
    Knob(
        "sync_error_after_processing_ratio",
        float,
        0.0,
        "share of synchronous calls that process and bill the image, then answer 500",
    ),
    *CONTRACT_KNOBS,
    *TIMING_KNOBS,
    *ACCOUNT_KNOBS,
)


def main() -> None:
    knobs = parse_knobs("python -m dev.standins.carcutter", "Car-Cutter API stand-in", KNOBS)
    if not knobs.token:
        raise SystemExit("a --token (or STANDIN_TOKEN) is required")
    serve(create_app(knobs), knobs)


if __name__ == "__main__":
    main()
