"""The Params of the vehicle_listings DAG (the trigger form of a manual run)."""

from __future__ import annotations

from airflow.sdk import Param

from include.pipeline.settings import CUT_TYPES, DEFAULT_CLIPPINGMAGIC_ANGLES


def vehicle_listings_params() -> dict[str, Param]:
    return {
        "bucket": Param(None, type=["null", "string"], description="Default: Variable vehicle_photos_bucket"),
        "vehicle_ids": Param([], type="array", description="Only these vehicle ids (empty: every vehicle)"),
        "dry_run": Param(False, type="boolean", description="Validate and print the credits it would spend"),
        "clippingmagic_test_mode": Param(False, type="boolean", description="Free, watermarked test results"),
        "cut_type": Param(None, type=["null", "string"], enum=[None, *CUT_TYPES], description="Car-Cutter cut type"),
        "batch_size": Param(20, type="integer", minimum=1, description="Vehicles per mapped task"),
        "clippingmagic_angles": Param(
            list(DEFAULT_CLIPPINGMAGIC_ANGLES), type="array", description="Angles sent to Clipping Magic"
        ),
    }
