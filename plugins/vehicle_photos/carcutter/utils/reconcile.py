"""Making a set of things on Car-Cutter (a vehicle's features, an image's annotations) exactly the desired set:
read what exists, create what is missing, delete what is stale (and duplicates of the same item), so reruns
never duplicate anything."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any


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


def reconciliation_totals(plans: list[Reconciliation]) -> dict[str, int]:
    return {
        "created": sum(len(plan.create) for plan in plans),
        "deleted": sum(len(plan.delete) for plan in plans),
        "unchanged": sum(plan.unchanged for plan in plans),
    }
