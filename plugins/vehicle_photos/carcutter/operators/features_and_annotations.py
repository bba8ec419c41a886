"""`CarCutterSetFeaturesAndAnnotationsOperator`: a batch's vehicle features and image annotations in one task."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.sdk import BaseOperator, Context

from vehicle_photos.carcutter.hooks.carcutter import CarCutterHook
from vehicle_photos.carcutter.operators.annotations import set_image_annotations
from vehicle_photos.carcutter.operators.features import set_vehicle_features
from vehicle_photos.carcutter.utils.reconcile import reconciliation_totals
from vehicle_photos.image_common.items import load_list


class CarCutterSetFeaturesAndAnnotationsOperator(BaseOperator):
    """What `CarCutterSetFeaturesOperator` and `CarCutterSetAnnotationsOperator` do, in one task (one start
    instead of two), over one hook and one thread pool: neither needs the other, nor a registered vehicle or
    image (dev/standins/guesses.py).

    :param vehicles: `CarCutterSetFeaturesOperator`'s `vehicles` (features per vehicle; templated).
    :param images: `CarCutterSetAnnotationsOperator`'s `images` (annotations per image; templated).
    :param max_workers: changes at once, features and annotations together.
    :return: `{"features": {"created": n, "deleted": n, "unchanged": n}, "annotations": {...}}`
    """

    template_fields: Sequence[str] = ("vehicles", "images")

    def __init__(
        self,
        *,
        vehicles: Any = None,
        images: Any = None,
        carcutter_conn_id: str = CarCutterHook.default_conn_name,
        aws_conn_id: str | None = "aws_default",
        max_workers: int = 8,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.vehicles = vehicles
        self.images = images
        self.carcutter_conn_id = carcutter_conn_id
        self.aws_conn_id = aws_conn_id
        self.max_workers = max_workers

    def execute(self, context: Context) -> dict[str, dict[str, int]]:
        s3_hook = S3Hook(aws_conn_id=self.aws_conn_id)
        vehicles = load_list(self.vehicles, s3_hook, "vehicles")
        images = load_list(self.images, s3_hook, "images")
        hook = CarCutterHook(self.carcutter_conn_id, pool_maxsize=self.max_workers)
        with ThreadPoolExecutor(self.max_workers) as pool:
            features = pool.map(lambda item: set_vehicle_features(hook, item), vehicles)
            annotations = pool.map(lambda item: set_image_annotations(hook, item), images)
            outcome = {
                "features": reconciliation_totals(list(features)),
                "annotations": reconciliation_totals(list(annotations)),
            }
        self.log.info("%s: %s", type(self).__name__, outcome)
        return outcome
