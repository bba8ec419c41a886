"""What both stand-ins share: knobs, fault injection, request counters, billing ledger, emulator endpoints."""

from dev.standins.common.counters import RequestCounters
from dev.standins.common.emulator import emulator_router
from dev.standins.common.faults import FaultInjector
from dev.standins.common.knobs import COMMON_KNOBS, Knob, Knobs, parse_knobs
from dev.standins.common.ledger import BillingLedger, CreditsExhausted
from dev.standins.common.runner import public_url, serve

__all__ = [
    "COMMON_KNOBS",
    "BillingLedger",
    "CreditsExhausted",
    "FaultInjector",
    "Knob",
    "Knobs",
    "RequestCounters",
    "emulator_router",
    "parse_knobs",
    "public_url",
    "serve",
]
