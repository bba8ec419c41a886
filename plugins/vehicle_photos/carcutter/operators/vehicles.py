"""Vehicle operators: register (create or update) and delete, for a batch of vehicles at a time."""

from __future__ import annotations

from typing import Any

from vehicle_photos.carcutter.exceptions import NotFoundError
from vehicle_photos.carcutter.hooks.carcutter import CarCutterHook
from vehicle_photos.carcutter.operators.bases import CarCutterItemsOperator
from vehicle_photos.carcutter.utils.vehicle_registration import REGISTRATION_OUTCOMES, register_vehicle


class _VehiclesOperator(CarCutterItemsOperator):
    """Items are vehicles; each answers (outcome, vehicle id), and the task returns the vehicle ids by outcome."""

    items_name = "vehicles"
    outcomes: tuple[str, ...] = ()

    def __init__(self, *, vehicles: Any, **kwargs: Any) -> None:
        super().__init__(items=vehicles, **kwargs)

    def summarize(self, answers: list[tuple[str, str]]) -> dict[str, list[str]]:
        """(outcome, vehicle id) answers -> the vehicle ids of each outcome."""
        outcome: dict[str, list[str]] = {name: [] for name in self.outcomes}
        for name, vehicle_id in answers:
            outcome[name].append(vehicle_id)
        return outcome


class CarCutterRegisterVehiclesOperator(_VehiclesOperator):
    """Make Car-Cutter know each vehicle with the given fields (`CarCutterProcessImagesOperator` can do this for
    its batch's vehicles itself, before it submits their images: its `vehicles`).

    Submitting a vehicle again sets its status back to `new` (onto the shot list), so a vehicle that already
    exists with the same fields is left alone: daily reruns change nothing.

    :param vehicles: `[{"vehicle_id": "...", "vehicle_manufacturer": ..., "vehicle_model": ...,
        "vehicle_color": ..., ...}]` with Car-Cutter's field names (other keys are ignored); inline, JSON text
        or the `s3://` URI of a JSON list.
    :return: `{"created": [ids], "updated": [ids], "unchanged": [ids]}`
    """

    outcomes = REGISTRATION_OUTCOMES

    def change_one(self, hook: CarCutterHook, item: dict[str, Any]) -> tuple[str, str]:
        return register_vehicle(hook, item)


class CarCutterDeleteVehiclesOperator(_VehiclesOperator):
    """Delete vehicles from Car-Cutter with their features and their images' annotations.

    :param vehicles: `[{"vehicle_id": "...", "image_ids": ["...", ...]}]` (image_ids: the images whose
        annotations go too) or plain vehicle ids; inline, JSON text or an `s3://` URI. Vehicles Car-Cutter does
        not know are skipped.
    :return: `{"deleted": [ids], "not_found": [ids]}`
    """

    outcomes = ("deleted", "not_found")

    def change_one(self, hook: CarCutterHook, item: dict[str, Any] | str) -> tuple[str, str]:
        return _delete(hook, item)


def _delete(hook: CarCutterHook, vehicle: dict[str, Any] | str) -> tuple[str, str]:
    entry = vehicle if isinstance(vehicle, dict) else {"vehicle_id": vehicle}
    vehicle_id = str(entry["vehicle_id"])
    hook.delete_features(vehicle_id)
    for image_id in entry.get("image_ids") or []:
        hook.delete_annotations(str(image_id))
    try:
        hook.delete_vehicle(vehicle_id)
    except NotFoundError:
        return "not_found", vehicle_id
    return "deleted", vehicle_id
