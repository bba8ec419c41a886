"""Run a stand-in with uvicorn."""

from __future__ import annotations

import uvicorn
from starlette.types import ASGIApp

from dev.standins.common.knobs import Knobs


def public_url(knobs: Knobs) -> str:
    return (knobs.public_url or f"http://{knobs.host}:{knobs.port}").rstrip("/")


def serve(app: ASGIApp, knobs: Knobs) -> None:
    uvicorn.run(
        app,
        host=knobs.host,
        port=knobs.port,
        log_level="warning",
        access_log=False,
        backlog=4096,
        timeout_keep_alive=60,
    )
