"""The contract probe against the session's stand-ins (real sockets) and moto's S3 server: `probe(...)` runs it
in-process with the stack's connections (`carcutter_default`, `clippingmagic_default`, `aws_default`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import StandIn
from vehicle_photos.contract_probe import ProbeOptions, run_probe
from vehicle_photos.contract_probe.runner import ProbeRun

# The stand-in quick enough for tests: cheap pixel work but a real fetch of the image URL, short processing.
QUICK_CARCUTTER = {"fast": True, "fast_fetch": True, "processing_seconds": 0.6}


@pytest.fixture
def stand_ins(carcutter_server: StandIn, clippingmagic_server: StandIn) -> dict[str, StandIn]:
    carcutter_server.configure(**QUICK_CARCUTTER)
    return {"carcutter": carcutter_server, "clippingmagic": clippingmagic_server}


@pytest.fixture
def probe(stand_ins: dict[str, StandIn], bucket: str) -> Callable[..., ProbeRun]:
    """`probe(spend=True, services=("carcutter",), **options)`: one probe run; its output lines are kept."""

    def run(spend: bool = False, services: tuple[str, ...] = ("carcutter", "clippingmagic"), **options: Any):
        lines: list[str] = []
        options = {"bucket": bucket, "registration_grace_seconds": 1.0, "max_wait_seconds": 30.0, **options}
        result = run_probe(ProbeOptions(spend_one_credit=spend, services=services, **options), say=lines.append)
        run.said = lines
        return result

    return run


def charged(server: StandIn) -> int:
    return sum(server.ledger()["charges"].values())
