"""Registering vehicles on Car-Cutter (create or update, free of charge), shared by the register operator and the
image operator, which registers its batch's vehicles before it submits any of their images."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from vehicle_photos.carcutter.exceptions import NotFoundError
from vehicle_photos.carcutter.hooks.carcutter import VEHICLE_FIELDS, CarCutterHook

REGISTRATION_OUTCOMES = ("created", "updated", "unchanged")


def register_vehicle(hook: CarCutterHook, vehicle: dict[str, Any]) -> tuple[str, str]:
    """Make Car-Cutter know the vehicle with its fields; returns (outcome, vehicle id). Submitting a vehicle
    again sets its status back to `new` (onto the shot list), so one that exists with the same fields is left
    alone."""
    vehicle_id = str(vehicle["vehicle_id"])
    fields = {name: str(vehicle[name]) for name in VEHICLE_FIELDS if vehicle.get(name) not in (None, "")}
    try:
        existing = hook.get_vehicle(vehicle_id)
    except NotFoundError:
        existing = None
    if existing and existing.get("app_status") != "deleted":
        if all(existing.get(name) == value for name, value in fields.items()):
            return "unchanged", vehicle_id
        hook.submit_vehicle(vehicle_id, **fields)
        return "updated", vehicle_id
    hook.submit_vehicle(vehicle_id, **fields)
    return "created", vehicle_id


def register_vehicles(
    hook: CarCutterHook, vehicles: Sequence[dict[str, Any]], max_workers: int
) -> dict[str, list[str]]:
    """`register_vehicle` for each, a few at a time; the vehicle ids by outcome, in the vehicles' order."""
    outcome: dict[str, list[str]] = {name: [] for name in REGISTRATION_OUTCOMES}
    with ThreadPoolExecutor(max_workers) as pool:
        for name, vehicle_id in pool.map(lambda vehicle: register_vehicle(hook, vehicle), vehicles):
            outcome[name].append(vehicle_id)
    return outcome
