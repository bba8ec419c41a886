"""Airflow pools that hold API concurrency: how many tasks may call each service at once.

Created by `make airflow`, the demo and the benchmark (`airflow pools set`), and by the deployment.
Threads inside a task are bounded separately by each operator's `concurrency` parameter.
"""

CARCUTTER_POOL = "carcutter_api"
CLIPPINGMAGIC_POOL = "clippingmagic_api"

POOLS: dict[str, tuple[int, str]] = {
    CARCUTTER_POOL: (4, "Tasks calling the Car-Cutter API at once (each batches up to 60 images per call)"),
    CLIPPINGMAGIC_POOL: (2, "Tasks calling Clipping Magic at once (each runs its own bounded thread pool)"),
}
