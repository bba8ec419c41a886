"""The asset `vehicle_listings_arrivals`: its events are batches of the listings queue's messages.

With `[vehicle_photos] listings_queue_url` set, an `AssetWatcher` runs the common-messaging provider's
`MessageQueueTrigger` (scheme `sqs`: the Amazon provider's `SqsSensorTrigger`) in the triggerer; each batch of
messages it receives (and deletes from the queue) becomes one event whose extra holds the messages under
`payload.message_batch`. Without a queue the asset has no watcher and nothing makes its events but a user
(the REST API's `POST /api/v2/assets/events` with the same extra).
"""

from __future__ import annotations

from airflow.sdk import Asset, AssetWatcher

from include.arrivals.settings import MAX_MESSAGES_PER_RECEIVE, ArrivalSettings

ARRIVALS_ASSET_NAME = "vehicle_listings_arrivals"
WATCHER_NAME = "listings_queue"


def listing_arrivals_asset(settings: ArrivalSettings) -> Asset:
    return Asset(name=ARRIVALS_ASSET_NAME, watchers=_watchers(settings))


def _watchers(settings: ArrivalSettings) -> list[AssetWatcher]:
    if not settings.watched:
        return []
    from airflow.providers.common.messaging.triggers.msg_queue import MessageQueueTrigger

    trigger = MessageQueueTrigger(
        scheme="sqs",
        sqs_queue=settings.queue_url,
        aws_conn_id=settings.aws_conn_id,
        region_name=settings.region_name,
        max_messages=MAX_MESSAGES_PER_RECEIVE,
        wait_time_seconds=settings.wait_seconds,
        waiter_delay=settings.poll_seconds,
        delete_message_on_reception=True,
    )
    return [AssetWatcher(name=WATCHER_NAME, trigger=trigger)]
