"""Airflow pools that hold API concurrency: how many tasks may call each service at once.

Created by `make airflow`, the demo and the benchmark (`airflow pools set`), and by the deployment's
airflow-init (`python -m include.pools > pools.json; airflow pools import pools.json`).
Threads inside a task are bounded separately by each operator's `concurrency` parameter.
"""

CARCUTTER_POOL = "carcutter_api"
CLIPPINGMAGIC_POOL = "clippingmagic_api"
# publish_run of two dates at once can both be the first to register the deployment's manifest asset (the alias's
# target is created on its first event) and the api-server fails one of them on the asset table's unique key: one
# publish at a time. Publishing takes seconds to a minute, so dates wait little.
PUBLISH_POOL = "vehicle_photos_publish"

POOLS: dict[str, tuple[int, str]] = {
    CARCUTTER_POOL: (4, "Tasks calling the Car-Cutter API at once (each batches up to 60 images per call)"),
    CLIPPINGMAGIC_POOL: (2, "Tasks calling Clipping Magic at once (each runs its own bounded thread pool)"),
    PUBLISH_POOL: (1, "publish_run, one date at a time (asset events: see include/pools.py)"),
}


def pools_file() -> dict[str, dict[str, object]]:
    """The pools in the format of `airflow pools import` (the deployment's airflow-init uses it)."""
    return {name: {"slots": slots, "description": description} for name, (slots, description) in POOLS.items()}


if __name__ == "__main__":
    import json

    print(json.dumps(pools_file(), indent=1))
