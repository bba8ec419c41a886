"""
### vehicle_manifest_consumer_example

An example of a downstream DAG: it runs whenever `vehicle_listings` publishes a date (asset alias
`vehicle_photos_manifest`), reads the event from `triggering_asset_events` (manifest key, date, counts,
credits), and loads the date's manifest from S3. Copy it as the start of your own consumer: replace
`load_manifest` with what your platform does with the manifest (load a table, notify a marketplace, ...).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task

from include.dag_defaults import task_defaults
from include.pipeline.assets import MANIFEST_ALIAS


@dag(
    schedule=[MANIFEST_ALIAS],
    start_date=pendulum.datetime(2026, 11, 1, tz="UTC"),
    catchup=False,
    tags=["vehicle-photos", "example", "consumer"],
    doc_md=__doc__,
    default_args=task_defaults(2, pendulum.duration(minutes=1), execution_timeout=pendulum.duration(minutes=10)),
)
def vehicle_manifest_consumer_example() -> None:
    @task
    def load_manifest(triggering_asset_events=None) -> list[dict]:
        """One entry per published date that triggered this run: the event's extra and the manifest's rows."""
        import json
        import logging

        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        s3, loaded = S3Hook(), []
        for event in triggering_asset_events[MANIFEST_ALIAS]:  # also listed under the asset it resolved to
            extra = event.extra
            rows = json.loads(s3.read_key(extra["manifest_key"], bucket_name=extra["bucket"]))
            logging.getLogger(__name__).info("%s: %s: %d images, %d credits this run", event.asset.uri,
                                             extra["date"], len(rows), extra["credits_this_run"])  # fmt: skip
            loaded.append({**extra, "rows": len(rows), "asset": event.asset.uri, "source_run_id": event.source_run_id})
        return loaded

    load_manifest()


vehicle_manifest_consumer_example()
