"""`CarCutterSetAnnotationsOperator`: make each image's hotspot annotations on Car-Cutter exactly the given ones."""

from __future__ import annotations

from typing import Any

from vehicle_photos.carcutter.hooks.carcutter import CarCutterHook
from vehicle_photos.carcutter.operators.bases import CarCutterItemsOperator
from vehicle_photos.carcutter.utils.reconcile import Reconciliation, reconcile, reconciliation_totals


def annotation_key(annotation: dict[str, Any]) -> tuple[str, int, int, str]:
    x = annotation.get("position_x", annotation.get("x"))
    y = annotation.get("position_y", annotation.get("y"))
    return str(annotation["image_id"]), int(x), int(y), str(annotation.get("location") or "")


class CarCutterSetAnnotationsOperator(CarCutterItemsOperator):
    """Creates what is missing, deletes what is stale; an image with an empty list loses all its annotations.

    :param images: `[{"image_id": "...", "annotations": [{"x" | "position_x", "y" | "position_y",
        "location"}]}]` (inline, JSON text or the `s3://` URI of a JSON list).
    :return: `{"created": n, "deleted": n, "unchanged": n}`
    """

    items_name = "images"
    summarize = staticmethod(reconciliation_totals)

    def __init__(self, *, images: Any, **kwargs: Any) -> None:
        super().__init__(items=images, **kwargs)

    def change_one(self, hook: CarCutterHook, item: dict[str, Any]) -> Reconciliation:
        return set_image_annotations(hook, item)


def set_image_annotations(hook: CarCutterHook, item: dict[str, Any]) -> Reconciliation:
    """One `{"image_id", "annotations"}` item: its annotations on Car-Cutter made exactly the given ones."""
    image_id = str(item["image_id"])
    desired = [{**annotation, "image_id": image_id} for annotation in item.get("annotations") or []]
    plan = reconcile(desired, hook.get_annotations(image_id), annotation_key, "annotation_id")
    for annotation_id in plan.delete:
        hook.delete_annotation(annotation_id)
    for annotation in plan.create:
        _, x, y, location = annotation_key(annotation)
        hook.submit_annotation(image_id, x, y, location or None)
    return plan
