"""Deferrable sensor: wait until a human finished editing images (their resultRevision went up)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from airflow.sdk import BaseSensorOperator, Context, PokeReturnValue
from airflow.sdk.exceptions import AirflowException, AirflowSensorTimeout

from clippingmagic.hooks.clippingmagic import ClippingMagicHook
from clippingmagic.triggers.result import ClippingMagicResultTrigger


class ClippingMagicResultSensor(BaseSensorOperator):
    """
    Wait until every image's ``resultRevision`` is greater than the revision it had (default 0: no result).

    Returns (XCom) the images' JSON without secrets: ``[{"id", "resultRevision", "originalFilename", "test"}]``.

    :param image_ids: one id or a list (templated; an XComArg of the upload-for-review operator works too:
        items that are dicts are read for ``id`` and ``resultRevision``).
    :param after_revision: wait for a revision above this one. The default 0 means "any result", so a rerun
        whose images were edited already does not wait again; ``None`` takes each item's ``resultRevision``
        (for example to wait for a touch-up of an image that already had an Auto-Clip result).
    :param deferrable: wait in the triggerer (default) instead of occupying a worker slot.
    """

    template_fields: Sequence[str] = ("image_ids", "after_revision")

    def __init__(
        self,
        *,
        image_ids: int | str | list[Any],
        after_revision: int | None = 0,
        clippingmagic_conn_id: str = ClippingMagicHook.default_conn_name,
        deferrable: bool = True,
        rate_limit_base_wait: float = 5.0,
        poke_interval: float = 60,
        **kwargs: Any,
    ) -> None:
        super().__init__(poke_interval=poke_interval, **kwargs)
        self.image_ids = image_ids
        self.after_revision = after_revision
        self.clippingmagic_conn_id = clippingmagic_conn_id
        self.deferrable = deferrable
        self.rate_limit_base_wait = rate_limit_base_wait

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        done = self.poke(context)
        if done.is_done:
            return done.xcom_value
        self.defer(
            trigger=ClippingMagicResultTrigger(
                image_ids=list(self._after_revisions()),
                after_revisions={str(image_id): revision for image_id, revision in self._after_revisions().items()},
                clippingmagic_conn_id=self.clippingmagic_conn_id,
                poll_interval=self.poke_interval,
                end_time=time.time() + self.timeout,
                rate_limit_base_wait=self.rate_limit_base_wait,
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=self.timeout),
        )

    def poke(self, context: Context) -> PokeReturnValue:
        hook = ClippingMagicHook(self.clippingmagic_conn_id, rate_limit_base_wait=self.rate_limit_base_wait)
        images = [hook.get_image(image_id) for image_id in self._after_revisions()]
        pending = [image.id for image in images if image.result_revision <= self._after_revisions()[image.id]]
        if pending:
            self.log.info("waiting for a new result of image(s) %s", pending)
            return PokeReturnValue(is_done=False)
        return PokeReturnValue(is_done=True, xcom_value=[image.to_dict() for image in images])

    def execute_complete(self, context: Context, event: dict[str, Any]) -> list[dict[str, Any]]:
        if event["status"] == "success":
            return event["images"]
        if event["status"] == "timeout":
            raise AirflowSensorTimeout(f"images {event['pending']} got no new result within {self.timeout:.0f} s")
        raise AirflowException(f"waiting for Clipping Magic results failed: {event['message']}")

    def _after_revisions(self) -> dict[int, int]:
        items = self.image_ids if isinstance(self.image_ids, list | tuple) else [self.image_ids]
        revisions: dict[int, int] = {}
        for item in items:
            if isinstance(item, dict):
                image_id, current = int(item["id"]), int(item.get("resultRevision") or 0)
            else:
                image_id, current = int(item), 0
            revisions[image_id] = current if self.after_revision is None else int(self.after_revision)
        return revisions
