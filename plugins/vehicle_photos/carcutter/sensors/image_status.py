"""`CarCutterImageStatusSensor`: wait for images submitted elsewhere (a script, another DAG, a webhook setup)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseSensorOperator, Context, PokeReturnValue, conf
from airflow.sdk.exceptions import AirflowException, AirflowSensorTimeout

from vehicle_photos.carcutter.hooks.carcutter import DEFAULT_MAX_URL_LENGTH, CarCutterHook
from vehicle_photos.carcutter.triggers.batch_status import CarCutterBatchStatusTrigger
from vehicle_photos.image_common.statuses import WaitOutcome
from vehicle_photos.image_common.urls import redact_url

_STATUS_FIELDS = ("status", "phase", "angle", "quality")


class CarCutterImageStatusSensor(BaseSensorOperator):
    """Succeeds when every image is finished (final, error or expired); returns their statuses.

    It asks once right away; while images are still processing it waits in the triggerer (deferrable, one
    trigger for all `image_urls`, batched status calls) or pokes (`deferrable=False`).

    :param image_urls: the exact URLs that were submitted.
    :return: `[{"image": URL without its query, "status", "phase", "angle", "quality"}]`
    """

    template_fields: Sequence[str] = ("image_urls",)

    def __init__(
        self,
        *,
        image_urls: list[str],
        carcutter_conn_id: str = CarCutterHook.default_conn_name,
        max_url_length: int = DEFAULT_MAX_URL_LENGTH,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.image_urls = image_urls
        self.carcutter_conn_id = carcutter_conn_id
        self.max_url_length = max_url_length
        self.deferrable = deferrable

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        answer = self.poke(context)
        if answer.is_done:
            return answer.xcom_value
        trigger = CarCutterBatchStatusTrigger(
            image_urls=list(self.image_urls),
            deadline=time.time() + self.timeout,
            carcutter_conn_id=self.carcutter_conn_id,
            poll_interval=self.poke_interval,
            max_poll_interval=max(self.poke_interval, 300.0),
            max_url_length=self.max_url_length,
        )
        self.defer(trigger=trigger, method_name="execute_complete")

    def poke(self, context: Context) -> PokeReturnValue:
        hook = CarCutterHook(self.carcutter_conn_id)
        statuses = {s.image: s for s in hook.get_image_statuses(list(self.image_urls), self.max_url_length)}
        done = all(url in statuses and statuses[url].finished for url in self.image_urls)
        rows = [
            {"image": redact_url(url), **{name: getattr(statuses.get(url), name, None) for name in _STATUS_FIELDS}}
            for url in self.image_urls
        ]
        if not done:
            pending = sum(1 for url in self.image_urls if not (url in statuses and statuses[url].finished))
            self.log.info("%d of %d images still processing", pending, len(self.image_urls))
        return PokeReturnValue(is_done=done, xcom_value=rows)

    def execute_complete(self, context: Context, event: dict[str, Any]) -> list[dict[str, Any]]:
        if event["status"] == WaitOutcome.TIMEOUT:
            raise AirflowSensorTimeout(f"Car-Cutter images not finished: {event['message']}")
        if event["status"] != WaitOutcome.COMPLETE:
            raise AirflowException(event["message"])
        return [
            {"image": redact_url(url), **{name: entry.get(name) for name in _STATUS_FIELDS}}
            for url, entry in zip(self.image_urls, event["images"], strict=True)
        ]
