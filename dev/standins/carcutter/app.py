"""The Car-Cutter API (docs/car-cutter-api.md) as a local server."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, Depends, FastAPI, Request

from dev.standins.carcutter.contract import RequestTargetLimit
from dev.standins.carcutter.counters import CarCutterCounters
from dev.standins.carcutter.errors import (
    UNAUTHORIZED_MESSAGE,
    CarCutterError,
    error_responder,
    install_error_handlers,
)
from dev.standins.carcutter.images import image_router
from dev.standins.carcutter.processing import Processor
from dev.standins.carcutter.timing import LostAnswers
from dev.standins.carcutter.vehicles import Catalog, catalog_router
from dev.standins.common import BillingLedger, FaultInjector, Knobs, emulator_router


def _bearer_auth(knobs: Knobs):
    def require_token(request: Request) -> None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise CarCutterError(401, UNAUTHORIZED_MESSAGE)
        if knobs.forbidden_token and secrets.compare_digest(token.encode(), knobs.forbidden_token.encode()):
            raise CarCutterError(403, "forbidden")
        if not secrets.compare_digest(token.encode(), knobs.token.encode()):
            raise CarCutterError(401, UNAUTHORIZED_MESSAGE)

    return require_token


def create_app(knobs: Knobs) -> FaultInjector:
    processor = Processor(knobs)
    catalog = Catalog(knobs.seed)
    ledger = BillingLedger(knobs.credits)
    counters = CarCutterCounters()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await processor.start()
        yield
        await processor.stop()

    app = FastAPI(
        title="Car-Cutter stand-in",
        docs_url="/_emulator/docs",
        openapi_url="/_emulator/openapi.json",
        lifespan=lifespan,
    )
    install_error_handlers(app, knobs)
    api = APIRouter(dependencies=[Depends(_bearer_auth(knobs))])
    api.include_router(catalog_router(catalog, knobs))
    api.include_router(image_router(processor, catalog, ledger, counters))
    app.include_router(api)
    app.add_middleware(LostAnswers, knobs=knobs, respond=error_responder(knobs))
    app.add_middleware(RequestTargetLimit, knobs=knobs, respond=error_responder(knobs))
    faults = FaultInjector(app, knobs, counters, error_responder(knobs))

    def reset_state() -> None:
        processor.reset()
        catalog.reset(knobs.seed)
        faults.reset()

    emulator = emulator_router(knobs, counters, ledger, reset_state)

    @emulator.get("/webhooks")
    async def webhook_deliveries() -> dict[str, int]:
        return dict(processor.webhooks)

    @emulator.get("/errors")
    async def image_errors() -> dict[str, dict[str, str]]:
        return processor.errors()

    app.include_router(emulator)
    return faults
