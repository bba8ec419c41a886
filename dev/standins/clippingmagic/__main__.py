"""`python -m dev.standins.clippingmagic --host 127.0.0.1 --port P --api-id ID --api-key KEY [knobs]`."""

from __future__ import annotations

from dev.standins.clippingmagic.app import create_app
from dev.standins.clippingmagic.contract import CONTRACT_KNOBS
from dev.standins.clippingmagic.lag import LAG_KNOBS
from dev.standins.common import COMMON_KNOBS, Knob, parse_knobs, serve

KNOBS = (
    *COMMON_KNOBS,
    Knob("api_id", str, "123", "API id accepted as the basic-auth user", runtime=False),
    Knob("api_key", str, "", "API key accepted as the basic-auth password", runtime=False, secret=True),
    Knob(
        "rate_limit_next",
        int,
        0,
        "answer the next N API requests (not storage) with 429, then serve normally; counts down as it is used",
    ),
    *CONTRACT_KNOBS,
    *LAG_KNOBS,
)


def main() -> None:
    knobs = parse_knobs("python -m dev.standins.clippingmagic", "Clipping Magic API stand-in", KNOBS)
    if not knobs.api_key:
        raise SystemExit("an --api-key (or STANDIN_API_KEY) is required")
    serve(create_app(knobs), knobs)


if __name__ == "__main__":
    main()
