"""The emulator-only endpoints under `/_emulator/`: never part of a real API, no authentication."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Body, HTTPException

from dev.standins.common.counters import RequestCounters
from dev.standins.common.knobs import Knobs
from dev.standins.common.ledger import BillingLedger


def emulator_router(
    knobs: Knobs, counters: RequestCounters, ledger: BillingLedger, reset_state: Callable[[], None]
) -> APIRouter:
    """`reset_state` clears the server's own state (images, vehicles, jobs) and reseeds its random choices."""
    router = APIRouter(prefix="/_emulator", tags=["emulator"])

    @router.get("/health")
    async def health() -> dict[str, bool]:
        return {"ok": True}

    @router.get("/ledger")
    async def read_ledger() -> dict[str, Any]:
        return ledger.snapshot()

    @router.get("/requests")
    async def read_requests() -> dict[str, Any]:
        return counters.snapshot()

    @router.get("/config")
    async def read_config() -> dict[str, Any]:
        return {"knobs": knobs.public()}

    @router.post("/config")
    async def change_config(changes: dict[str, Any] = Body(...)) -> dict[str, Any]:  # noqa: B008
        try:
            changed = knobs.update(changes)
        except ValueError as error:
            raise HTTPException(status_code=400, detail=str(error)) from error
        if "credits" in changed:
            ledger.credits_left = changed["credits"]
        return {"knobs": knobs.public()}

    @router.post("/reset")
    async def reset() -> dict[str, bool]:
        knobs.restore()
        ledger.reset(knobs.credits)
        counters.reset()
        reset_state()
        return {"ok": True}

    return router
