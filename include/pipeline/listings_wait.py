"""Deciding a run's settings and waiting for its date's listing files: `ListingFilesSensor` and its trigger.

A date is ready when it has listing files (incoming or already archived) and its incoming prefix has been
quiet: no object newer than `quiet_seconds`. Dealers' exports arrive as several files, sometimes minutes
apart; waiting for quiet instead of the first object means one run sees them all, and a file that still
arrives later is picked up by a rerun, which plans over the whole date again. Files that are already old when
the sensor starts (a backfill, a rerun) are ready at once, without deferring.

Why not the Amazon provider's `S3KeysUnchangedSensor`: it learns "unchanged" by watching for a whole
inactivity period, so every run would wait that long even for files uploaded yesterday, and it knows nothing
of the archive, where a rerun's files are.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.sdk import BaseSensorOperator, Context, PokeReturnValue, conf
from airflow.sdk.bases.xcom import BaseXCom
from airflow.sdk.exceptions import AirflowSensorTimeout
from airflow.triggers.base import BaseTrigger, TriggerEvent

from include.pipeline.settings import run_settings
from vehicle_photos.image_common.s3_objects import list_objects, list_objects_async
from vehicle_photos.image_common.statuses import WaitOutcome


def describe(incoming: list[datetime], archived: int, quiet_seconds: float, now: float) -> tuple[bool, str]:
    """Whether the date is ready, and a sentence saying why not (or what is there)."""
    if not incoming and not archived:
        return False, "no listing files yet"
    newest = max(incoming, default=None)
    quiet_for = now - newest.timestamp() if newest else float("inf")
    there = f"{len(incoming)} incoming and {archived} archived listing files"
    if quiet_for < quiet_seconds:
        return False, f"{there}; the newest came {quiet_for:.0f} s ago, waiting until it is {quiet_seconds:.0f} s old"
    return True, there


@dataclass(frozen=True)
class ListingWait:
    """What is waited for: a date's two prefixes in a bucket, quiet for `quiet_seconds`, until `deadline`."""

    bucket: str
    incoming_prefix: str
    archive_prefix: str
    quiet_seconds: float
    deadline: float
    poll_interval: float = 60.0
    aws_conn_id: str | None = "aws_default"

    @property
    def where(self) -> str:
        return f"s3://{self.bucket}/{self.incoming_prefix}"


class ListingFilesTrigger(BaseTrigger):
    """Polls the date's two prefixes until the date is ready (`describe`) or the wait's deadline; its keyword
    arguments are those of `ListingWait`."""

    def __init__(self, **wait: Any) -> None:
        super().__init__()
        self.wait = ListingWait(**wait)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return f"{type(self).__module__}.{type(self).__qualname__}", asdict(self.wait)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        wait = self.wait
        async with await S3Hook(aws_conn_id=wait.aws_conn_id).get_async_conn() as client:
            while True:
                incoming = await self._last_modified(client, wait.incoming_prefix)
                archived = len(await self._last_modified(client, wait.archive_prefix))
                ready, state = describe(incoming, archived, wait.quiet_seconds, time.time())
                if ready:
                    yield TriggerEvent({"status": WaitOutcome.READY.value, "message": state})
                    return
                if time.time() >= wait.deadline:
                    yield TriggerEvent({"status": WaitOutcome.TIMEOUT.value, "message": state})
                    return
                self.log.info("%s: %s", wait.where, state)
                await asyncio.sleep(max(0.0, min(wait.poll_interval, wait.deadline - time.time())))

    async def _last_modified(self, client: Any, prefix: str) -> list[datetime]:
        return [
            listed.last_modified
            async for listed in list_objects_async(client, self.wait.bucket, prefix)
            if not listed.key.endswith("/")
        ]


class ListingFilesSensor(BaseSensorOperator):
    """Decides the run's settings (`run_settings`), then waits until the date's listing files are there and
    quiet: deferred, in the triggerer, or (not `deferrable`, the default of `[operators] default_deferrable`) by
    pokes in reschedule mode. The run's first task: one task start for both.

    The settings are its XComs from the start, before any wait: the whole dict as its return value and each
    setting under its own key (as `multiple_outputs` would), which the other tasks take.

    Its log says what it waits for and until when; at the deadline it fails with what it saw. To stop a date
    that waits for listings that will never come, mark this task failed (or success, to publish an empty run).
    """

    template_fields: Sequence[str] = ()

    def __init__(
        self,
        *,
        aws_conn_id: str | None = "aws_default",
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        if not deferrable:  # a wait of hours must not hold a worker slot: each poke is a short try
            kwargs.setdefault("mode", "reschedule")
        kwargs.setdefault("do_xcom_push", False)  # the settings are pushed when the task starts
        super().__init__(**kwargs)
        self.settings: dict[str, Any] = {}
        self.aws_conn_id = aws_conn_id
        self.deferrable = deferrable

    def execute(self, context: Context) -> str:
        self.settings = run_settings(
            context["params"], context["dag_run"], context.get("logical_date"), context.get("run_id")
        )
        ti = context["ti"]
        ti.xcom_push(BaseXCom.XCOM_RETURN_KEY, self.settings)
        for name, value in self.settings.items():
            ti.xcom_push(name, value)
        wait_seconds = float(self.settings["listings_wait_seconds"])
        if not self.deferrable:
            self.timeout = wait_seconds
            self.poke_interval = float(self.settings["listings_poll_seconds"])
            return super().execute(context)
        wait = self._wait(deadline=time.time() + wait_seconds)
        ready, state = self._check(wait)
        if ready:
            self.log.info("Listing files ready under %s: %s", wait.where, state)
            return state
        self.log.info(
            "Waiting for listing files under %s (or already archived under s3://%s/%s), unchanged for %.0f s, "
            "until %s: %s. To stop waiting, mark this task failed.",
            wait.where,
            wait.bucket,
            wait.archive_prefix,
            wait.quiet_seconds,
            datetime.fromtimestamp(wait.deadline, UTC).isoformat(timespec="minutes"),
            state,
        )
        self.defer(
            trigger=ListingFilesTrigger(**asdict(wait)),
            method_name="execute_complete",
            timeout=timedelta(seconds=wait_seconds + 600),
        )

    def execute_complete(self, context: Context, event: dict[str, Any]) -> str:
        if event["status"] != WaitOutcome.READY:
            raise AirflowSensorTimeout(
                f"No usable listing files under s3://{self.settings['bucket']}/{self.settings['incoming_prefix']} "
                f"within {float(self.settings['listings_wait_seconds']) / 3600:.1f} h ({event['message']})"
            )
        self.log.info("Listing files ready: %s", event["message"])
        return event["message"]

    def poke(self, context: Context) -> PokeReturnValue:
        """One look at the date's prefixes (when not deferrable)."""
        ready, state = self._check(self._wait(deadline=float("inf")))
        self.log.info(
            "Listing files under s3://%s/%s: %s", self.settings["bucket"], self.settings["incoming_prefix"], state
        )
        return PokeReturnValue(is_done=ready, xcom_value=state)

    def _wait(self, deadline: float) -> ListingWait:
        return ListingWait(
            bucket=self.settings["bucket"],
            incoming_prefix=self.settings["incoming_prefix"],
            archive_prefix=self.settings["archived_prefix"],
            quiet_seconds=float(self.settings["listings_quiet_seconds"]),
            deadline=deadline,
            poll_interval=float(self.settings["listings_poll_seconds"]),
            aws_conn_id=self.aws_conn_id,
        )

    def _check(self, wait: ListingWait) -> tuple[bool, str]:
        client = S3Hook(aws_conn_id=wait.aws_conn_id).conn

        def listed(prefix: str) -> list[datetime]:
            objects = list_objects(client, wait.bucket, prefix)
            return [obj.last_modified for obj in objects if not obj.key.endswith("/")]

        incoming, archived = listed(wait.incoming_prefix), len(listed(wait.archive_prefix))
        return describe(incoming, archived, wait.quiet_seconds, time.time())
