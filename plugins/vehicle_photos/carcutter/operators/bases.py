"""What Car-Cutter's per-item operators share (register and delete vehicles, set features, set hotspots): a list
of items given inline, as JSON text or as an `s3://` URI, and one change on Car-Cutter per item, a few at a time
over one hook."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.sdk import BaseOperator, Context

from vehicle_photos.carcutter.hooks.carcutter import CarCutterHook
from vehicle_photos.image_common.items import load_list


class CarCutterItemsOperator(BaseOperator):
    """Base of the operators that make one change on Car-Cutter per item of a list.

    :param items: the items (inline, JSON text or the `s3://` URI of a JSON list; templated). Subclasses take
        them under the name of what they hold (`vehicles`, `images`).
    :param max_workers: items changed at once.
    :return: `summarize` of the items' answers; the log shows a count per outcome.
    """

    template_fields: Sequence[str] = ("items",)
    items_name = "items"  # what the items are called in errors

    def __init__(
        self,
        *,
        items: Any,
        carcutter_conn_id: str = CarCutterHook.default_conn_name,
        aws_conn_id: str | None = "aws_default",
        max_workers: int = 4,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.items = items
        self.carcutter_conn_id = carcutter_conn_id
        self.aws_conn_id = aws_conn_id
        self.max_workers = max_workers

    def execute(self, context: Context) -> dict[str, Any]:
        hook = CarCutterHook(self.carcutter_conn_id, pool_maxsize=self.max_workers)
        items = load_list(self.items, S3Hook(aws_conn_id=self.aws_conn_id), self.items_name)
        with ThreadPoolExecutor(self.max_workers) as pool:
            outcome = self.summarize(list(pool.map(lambda item: self.change_one(hook, item), items)))
        counts = {name: len(value) if isinstance(value, list) else value for name, value in outcome.items()}
        self.log.info("%s: %s", type(self).__name__, counts)
        return outcome

    def change_one(self, hook: CarCutterHook, item: Any) -> Any:
        """Make Car-Cutter match one item; the answer goes to `summarize`."""
        raise NotImplementedError

    def summarize(self, answers: list[Any]) -> dict[str, Any]:
        """The task's return value from the items' answers, in the items' order."""
        raise NotImplementedError
