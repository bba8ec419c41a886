"""On-arrival settings, from Airflow's configuration section `[vehicle_photos]` (environment
`AIRFLOW__VEHICLE_PHOTOS__<NAME>`): they shape the DAGs (the asset's watcher, the daily schedule), so they are
read when the DAG files are parsed, which must not read Variables or connections.

- `listings_queue_url`: the SQS queue that receives the bucket's `s3:ObjectCreated:*` notifications for the
  listings prefix; empty (the default): no watcher, nothing starts on arrival.
- `listings_queue_aws_conn_id`: the AWS connection that reads the queue (default `aws_default`).
- `listings_queue_region`: the queue's region; empty: the connection's.
- `listings_queue_wait_seconds`: SQS long polling, seconds one receive waits for messages (default 20, the most
  SQS allows).
- `listings_queue_poll_seconds`: seconds between receives that found nothing (default 10).
- `daily_runs`: whether `vehicle_listings` also runs on its daily schedule (default true); false leaves the
  on-arrival starts, manual runs and backfills.
"""

from __future__ import annotations

from dataclasses import dataclass

from airflow.sdk import conf

SECTION = "vehicle_photos"
MAX_MESSAGES_PER_RECEIVE = 10  # SQS returns at most 10 messages per ReceiveMessage


@dataclass(frozen=True)
class ArrivalSettings:
    queue_url: str
    aws_conn_id: str
    region_name: str | None
    wait_seconds: int
    poll_seconds: int
    daily_runs: bool

    @classmethod
    def from_config(cls) -> ArrivalSettings:
        wait_seconds = conf.getint(SECTION, "listings_queue_wait_seconds", fallback=20)
        if not 0 <= wait_seconds <= 20:
            raise ValueError(f"[{SECTION}] listings_queue_wait_seconds must be 0..20 (SQS), got {wait_seconds}")
        return cls(
            queue_url=(conf.get(SECTION, "listings_queue_url", fallback="") or "").strip(),
            aws_conn_id=conf.get(SECTION, "listings_queue_aws_conn_id", fallback="aws_default") or "aws_default",
            region_name=conf.get(SECTION, "listings_queue_region", fallback="") or None,
            wait_seconds=wait_seconds,
            poll_seconds=max(0, conf.getint(SECTION, "listings_queue_poll_seconds", fallback=10)),
            daily_runs=conf.getboolean(SECTION, "daily_runs", fallback=True),
        )

    @property
    def watched(self) -> bool:
        return bool(self.queue_url)
