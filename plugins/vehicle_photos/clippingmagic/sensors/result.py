"""`ClippingMagicResultSensor`: wait until a person finished editing images (their `resultRevision` went up)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from airflow.sdk import BaseSensorOperator, Context, PokeReturnValue, conf
from airflow.sdk.exceptions import AirflowException, AirflowSensorTimeout

from vehicle_photos.clippingmagic.hooks.clippingmagic import ClippingMagicHook
from vehicle_photos.clippingmagic.triggers.result import ClippingMagicResultTrigger
from vehicle_photos.image_common.statuses import WaitOutcome


class ClippingMagicResultSensor(BaseSensorOperator):
    """Succeeds when every image's `resultRevision` is above the revision it had; returns the images' JSON
    without secrets: `[{"id", "resultRevision", "originalFilename", "test"}]`.

    It pokes once, then (deferrable) waits in the triggerer, one trigger for all the images.

    :param image_ids: one id or a list (templated); items that are dicts (the upload-for-review operator's
        output) are read for `id` and `resultRevision`.
    :param after_revision: wait for a revision above this one. The default 0 means "any result", so a rerun
        whose images were edited already does not wait again; None takes each item's `resultRevision` (e.g.
        to wait for a touch-up of an image that already had an Auto-Clip result).
    """

    template_fields: Sequence[str] = ("image_ids", "after_revision")

    def __init__(
        self,
        *,
        image_ids: Any,
        after_revision: int | None = 0,
        clippingmagic_conn_id: str = ClippingMagicHook.default_conn_name,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.image_ids, self.after_revision = image_ids, after_revision
        self.clippingmagic_conn_id = clippingmagic_conn_id
        self.deferrable = deferrable

    def execute(self, context: Context) -> Any:
        poking_for = self.execution_timeout.total_seconds() if self.execution_timeout else None
        if not self.deferrable and poking_for is not None and self.timeout > poking_for:
            raise ValueError(
                f"timeout ({self.timeout:.0f} s) is longer than the execution_timeout ({poking_for:.0f} s) that would "
                "kill this sensor while it pokes in its worker: defer (deferrable=True) or shorten the timeout"
            )
        first = self.poke(context)
        if first.is_done:
            return first.xcom_value
        if not self.deferrable:  # poke again every poke_interval, in this worker
            return super().execute(context)
        revisions = self._after_revisions()
        self.defer(
            trigger=ClippingMagicResultTrigger(
                image_ids=list(revisions),
                deadline=time.time() + self.timeout,
                after_revisions={str(image_id): revision for image_id, revision in revisions.items()},
                clippingmagic_conn_id=self.clippingmagic_conn_id,
                poll_interval=self.poke_interval,
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=self.timeout),
        )

    def poke(self, context: Context) -> PokeReturnValue:
        hook = ClippingMagicHook(self.clippingmagic_conn_id)
        revisions = self._after_revisions()
        images = [hook.get_image(image_id) for image_id in revisions]
        pending = [image.id for image in images if image.result_revision <= revisions[image.id]]
        if pending:
            self.log.info("waiting for a new result of %d of %d images", len(pending), len(images))
            self.log.debug("images still without a new result: %s", pending)
            return PokeReturnValue(is_done=False)
        return PokeReturnValue(is_done=True, xcom_value=[image.to_dict() for image in images])

    def execute_complete(self, context: Context, event: dict[str, Any]) -> list[dict[str, Any]]:
        if event["status"] == WaitOutcome.SUCCESS:
            return event["images"]
        if event["status"] == WaitOutcome.TIMEOUT:
            raise AirflowSensorTimeout(f"images {event['pending']} got no new result within {self.timeout:.0f} s")
        raise AirflowException(f"waiting for Clipping Magic results failed: {event['message']}")

    def _after_revisions(self) -> dict[int, int]:
        """Each image id and the revision it must pass."""
        items = self.image_ids if isinstance(self.image_ids, list | tuple) else [self.image_ids]
        revisions: dict[int, int] = {}
        for item in items:
            if isinstance(item, dict):
                image_id, current = int(item["id"]), int(item.get("resultRevision") or 0)
            else:
                image_id, current = int(item), 0
            revisions[image_id] = current if self.after_revision is None else int(self.after_revision)
        return revisions
