"""`CarCutterSetFeaturesOperator`: make each vehicle's features on Car-Cutter exactly the given ones."""

from __future__ import annotations

from typing import Any

from vehicle_photos.carcutter.hooks.carcutter import CarCutterHook
from vehicle_photos.carcutter.operators.bases import CarCutterItemsOperator
from vehicle_photos.carcutter.utils.reconcile import Reconciliation, reconcile, reconciliation_totals

FEATURE_KEY_FIELDS = ("title", "type", "icon", "description", "feature_rule_name", "annotation_id", "detail_image_id")


def feature_key(feature: dict[str, Any]) -> tuple[str, ...]:
    return tuple(str(feature.get(name) or "") for name in FEATURE_KEY_FIELDS)


class CarCutterSetFeaturesOperator(CarCutterItemsOperator):
    """Creates what is missing, deletes what is stale; a vehicle with an empty list loses all its features.

    :param vehicles: `[{"vehicle_id": "...", "features": [{"title", "icon", "type", "description", ...}]}]`
        (inline, JSON text or the `s3://` URI of a JSON list).
    :return: `{"created": n, "deleted": n, "unchanged": n}`
    """

    items_name = "vehicles"
    summarize = staticmethod(reconciliation_totals)

    def __init__(self, *, vehicles: Any, **kwargs: Any) -> None:
        super().__init__(items=vehicles, **kwargs)

    def change_one(self, hook: CarCutterHook, item: dict[str, Any]) -> Reconciliation:
        return set_vehicle_features(hook, item)


def set_vehicle_features(hook: CarCutterHook, item: dict[str, Any]) -> Reconciliation:
    """One `{"vehicle_id", "features"}` item: its features on Car-Cutter made exactly the given ones."""
    vehicle_id = str(item["vehicle_id"])
    plan = reconcile(item.get("features") or [], hook.get_features(vehicle_id), feature_key, "feature_id")
    for feature_id in plan.delete:
        hook.delete_feature(feature_id)
    for feature in plan.create:
        hook.submit_feature(vehicle_id, **{name: feature.get(name) for name in FEATURE_KEY_FIELDS})
    return plan
