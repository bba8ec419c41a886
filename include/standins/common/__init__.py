"""What both stand-ins share: knobs, fault injection, request counters, billing ledger, emulator endpoints."""

from include.standins.common.counters import RequestCounters
from include.standins.common.emulator import emulator_router
from include.standins.common.faults import FaultInjector
from include.standins.common.knobs import COMMON_KNOBS, Knob, Knobs, parse_knobs
from include.standins.common.ledger import BillingLedger, CreditsExhausted
from include.standins.common.runner import public_url, serve

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
