"""Making a set of things on Car-Cutter (a vehicle's features, an image's annotations) exactly the desired set:
read what exists, create what is missing, delete what is stale (and duplicates of the same item), so reruns
never duplicate anything. `CarCutterReconcileOperator` runs that for a list of items, a few at a time."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.sdk import BaseOperator, Context

from vehicle_photos.carcutter.hooks.carcutter import CarCutterHook
from vehicle_photos.image_common.items import load_list


@dataclass
class Reconciliation:
    create: list[dict[str, Any]] = field(default_factory=list)
    delete: list[str] = field(default_factory=list)
    unchanged: int = 0


def reconcile(
    desired: list[dict[str, Any]],
    existing: list[dict[str, Any]],
    key: Callable[[dict[str, Any]], Hashable],
    id_field: str,
) -> Reconciliation:
    """What to create and which ids to delete so `existing` matches `desired` (compared by `key`)."""
    wanted = {key(item): item for item in desired}
    plan = Reconciliation()
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


class CarCutterReconcileOperator(BaseOperator):
    """Base of the operators that make one kind of thing on Car-Cutter match a desired list, per item.

    :param items: the desired items (inline, JSON text or the `s3://` URI of a JSON list; templated).
    :return: `{"created": n, "deleted": n, "unchanged": n}`
    """

    template_fields: Sequence[str] = ("items",)

    def __init__(
        self,
        *,
        items: Any,
        carcutter_conn_id: str = CarCutterHook.default_conn_name,
        aws_conn_id: str | None = "aws_default",
        max_workers: int = 4,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.items = items
        self.carcutter_conn_id = carcutter_conn_id
        self.aws_conn_id = aws_conn_id
        self.max_workers = max_workers

    def execute(self, context: Context) -> dict[str, int]:
        hook = CarCutterHook(self.carcutter_conn_id, pool_maxsize=self.max_workers)
        items = load_list(self.items, S3Hook(aws_conn_id=self.aws_conn_id), "items")
        with ThreadPoolExecutor(self.max_workers) as pool:
            plans = list(pool.map(lambda item: self.reconcile_one(hook, item), items))
        totals = {
            "created": sum(len(p.create) for p in plans),
            "deleted": sum(len(p.delete) for p in plans),
            "unchanged": sum(p.unchanged for p in plans),
        }
        self.log.info("%s: %s", type(self).__name__, totals)
        return totals

    def reconcile_one(self, hook: CarCutterHook, item: dict[str, Any]) -> Reconciliation:
        raise NotImplementedError
