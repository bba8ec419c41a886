"""Features and annotations operators: make Car-Cutter match the desired set, and change nothing when it does.

Each reads what exists, creates what is missing, deletes what is stale (and duplicates of the same
item), so reruns never duplicate anything.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from airflow.sdk import BaseOperator, Context

from carcutter.hooks.carcutter import CarCutterHook

FEATURE_KEY_FIELDS = ("title", "type", "icon", "description", "feature_rule_name", "annotation_id", "detail_image_id")


@dataclass
class SyncPlan:
    create: list[dict[str, Any]] = field(default_factory=list)
    delete: list[str] = field(default_factory=list)
    unchanged: int = 0


def plan_sync(
    desired: list[dict[str, Any]],
    existing: list[dict[str, Any]],
    key: Callable[[dict[str, Any]], Hashable],
    id_field: str,
) -> SyncPlan:
    """What to create and which ids to delete so `existing` matches `desired` (compared by `key`)."""
    wanted = {key(item): item for item in desired}
    plan = SyncPlan()
    kept: set[Hashable] = set()
    for item in existing:
        item_key = key(item)
        if item_key in wanted and item_key not in kept:
            kept.add(item_key)
            plan.unchanged += 1
        else:
            plan.delete.append(str(item[id_field]))
    plan.create = [item for item_key, item in wanted.items() if item_key not in kept]
    return plan


def feature_key(feature: dict[str, Any]) -> tuple[str, ...]:
    return tuple(str(feature.get(name) or "") for name in FEATURE_KEY_FIELDS)


def annotation_key(annotation: dict[str, Any]) -> tuple[str, int, int, str]:
    x = annotation.get("position_x", annotation.get("x"))
    y = annotation.get("position_y", annotation.get("y"))
    return str(annotation["image_id"]), int(x), int(y), str(annotation.get("location") or "")


class _SyncOperator(BaseOperator):
    template_fields: Sequence[str] = ("items",)

    def __init__(
        self,
        *,
        items: list[dict[str, Any]] | str,
        carcutter_conn_id: str = CarCutterHook.default_conn_name,
        max_workers: int = 4,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.items = items
        self.carcutter_conn_id = carcutter_conn_id
        self.max_workers = max_workers

    def execute(self, context: Context) -> dict[str, int]:
        hook = CarCutterHook(self.carcutter_conn_id, pool_maxsize=self.max_workers)
        items = json.loads(self.items) if isinstance(self.items, str) else list(self.items or [])
        with ThreadPoolExecutor(self.max_workers) as pool:
            plans = list(pool.map(lambda item: self.sync_one(hook, item), items))
        totals = {
            "created": sum(len(p.create) for p in plans),
            "deleted": sum(len(p.delete) for p in plans),
            "unchanged": sum(p.unchanged for p in plans),
        }
        self.log.info("%s: %s", type(self).__name__, totals)
        return totals

    def sync_one(self, hook: CarCutterHook, item: dict[str, Any]) -> SyncPlan:
        raise NotImplementedError


class CarCutterSyncFeaturesOperator(_SyncOperator):
    """Make each vehicle's features on Car-Cutter exactly the given ones.

    :param vehicles: `[{"vehicle_id": "...", "features": [{"title", "icon", "type", "description", ...}]}]`
    :return: `{"created": n, "deleted": n, "unchanged": n}`
    """

    def __init__(self, *, vehicles: list[dict[str, Any]] | str, **kwargs: Any) -> None:
        super().__init__(items=vehicles, **kwargs)

    def sync_one(self, hook: CarCutterHook, item: dict[str, Any]) -> SyncPlan:
        vehicle_id = str(item["vehicle_id"])
        plan = plan_sync(item.get("features") or [], hook.get_features(vehicle_id), feature_key, "feature_id")
        for feature_id in plan.delete:
            hook.delete_feature(feature_id)
        for feature in plan.create:
            fields = {name: feature.get(name) for name in FEATURE_KEY_FIELDS}
            hook.submit_feature(vehicle_id, **fields)
        return plan


class CarCutterSyncAnnotationsOperator(_SyncOperator):
    """Make each image's hotspot annotations on Car-Cutter exactly the given ones.

    :param images: `[{"image_id": "...", "annotations": [{"x" | "position_x", "y" | "position_y",
        "location"}]}]`; an image with an empty list loses all its annotations.
    :return: `{"created": n, "deleted": n, "unchanged": n}`
    """

    def __init__(self, *, images: list[dict[str, Any]] | str, **kwargs: Any) -> None:
        super().__init__(items=images, **kwargs)

    def sync_one(self, hook: CarCutterHook, item: dict[str, Any]) -> SyncPlan:
        image_id = str(item["image_id"])
        desired = [{**annotation, "image_id": image_id} for annotation in item.get("annotations") or []]
        plan = plan_sync(desired, hook.get_annotations(image_id), annotation_key, "annotation_id")
        for annotation_id in plan.delete:
            hook.delete_annotation(annotation_id)
        for annotation in plan.create:
            _, x, y, location = annotation_key(annotation)
            hook.submit_annotation(image_id, x, y, location or None)
        return plan
