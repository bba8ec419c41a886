"""Vehicle operators: register (create or update) and delete, for a batch of vehicles at a time."""

from __future__ import annotations

import json
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from airflow.sdk import BaseOperator, Context

from carcutter.exceptions import CarCutterNotFoundError
from carcutter.hooks.carcutter import VEHICLE_FIELDS, CarCutterHook


def _as_list(value: Any) -> list[Any]:
    return json.loads(value) if isinstance(value, str) else list(value or [])


class CarCutterRegisterVehiclesOperator(BaseOperator):
    """Make Car-Cutter know each vehicle with the given fields.

    Submitting a vehicle again sets its status back to `new` (onto the shot list), so a vehicle that
    already exists with the same fields is left alone: daily reruns change nothing.

    :param vehicles: `[{"vehicle_id": "...", "vehicle_manufacturer": ..., "vehicle_model": ...,
        "vehicle_color": ..., ...}]` with Car-Cutter's field names; other keys are ignored.
    :return: `{"created": [ids], "updated": [ids], "unchanged": [ids]}`
    """

    template_fields: Sequence[str] = ("vehicles",)

    def __init__(
        self,
        *,
        vehicles: list[dict[str, Any]] | str,
        carcutter_conn_id: str = CarCutterHook.default_conn_name,
        max_workers: int = 4,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.vehicles = vehicles
        self.carcutter_conn_id = carcutter_conn_id
        self.max_workers = max_workers

    def execute(self, context: Context) -> dict[str, list[str]]:
        hook = CarCutterHook(self.carcutter_conn_id, pool_maxsize=self.max_workers)
        outcome: dict[str, list[str]] = {"created": [], "updated": [], "unchanged": []}

        def register(vehicle: dict[str, Any]) -> tuple[str, str]:
            vehicle_id = str(vehicle["vehicle_id"])
            fields = {name: str(vehicle[name]) for name in VEHICLE_FIELDS if vehicle.get(name) not in (None, "")}
            try:
                existing = hook.get_vehicle(vehicle_id)
            except CarCutterNotFoundError:
                existing = None
            if existing and existing.get("app_status") != "deleted":
                if all(existing.get(name) == value for name, value in fields.items()):
                    return "unchanged", vehicle_id
                hook.submit_vehicle(vehicle_id, **fields)
                return "updated", vehicle_id
            hook.submit_vehicle(vehicle_id, **fields)
            return "created", vehicle_id

        with ThreadPoolExecutor(self.max_workers) as pool:
            for change, vehicle_id in pool.map(register, _as_list(self.vehicles)):
                outcome[change].append(vehicle_id)
        self.log.info("Vehicles: %s", {change: len(ids) for change, ids in outcome.items()})
        return outcome


class CarCutterDeleteVehiclesOperator(BaseOperator):
    """Delete vehicles from Car-Cutter with their features and their images' annotations.

    :param vehicles: `[{"vehicle_id": "...", "image_ids": ["...", ...]}]` (image_ids: the images whose
        annotations go too) or plain vehicle ids. Vehicles Car-Cutter does not know are skipped.
    :return: `{"deleted": [ids], "not_found": [ids]}`
    """

    template_fields: Sequence[str] = ("vehicles",)

    def __init__(
        self,
        *,
        vehicles: list[dict[str, Any] | str] | str,
        carcutter_conn_id: str = CarCutterHook.default_conn_name,
        max_workers: int = 4,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.vehicles = vehicles
        self.carcutter_conn_id = carcutter_conn_id
        self.max_workers = max_workers

    def execute(self, context: Context) -> dict[str, list[str]]:
        hook = CarCutterHook(self.carcutter_conn_id, pool_maxsize=self.max_workers)

        def delete(vehicle: dict[str, Any] | str) -> tuple[str, str]:
            entry = vehicle if isinstance(vehicle, dict) else {"vehicle_id": vehicle}
            vehicle_id = str(entry["vehicle_id"])
            hook.delete_features(vehicle_id)
            for image_id in entry.get("image_ids") or []:
                hook.delete_annotations(str(image_id))
            try:
                hook.delete_vehicle(vehicle_id)
            except CarCutterNotFoundError:
                return "not_found", vehicle_id
            return "deleted", vehicle_id

        outcome: dict[str, list[str]] = {"deleted": [], "not_found": []}
        with ThreadPoolExecutor(self.max_workers) as pool:
            for change, vehicle_id in pool.map(delete, _as_list(self.vehicles)):
                outcome[change].append(vehicle_id)
        self.log.info("Deleted %d vehicles (%d unknown)", len(outcome["deleted"]), len(outcome["not_found"]))
        return outcome
