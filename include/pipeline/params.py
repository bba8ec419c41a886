"""The Params of the vehicle_listings DAG: what the trigger form shows.

Every type admits null, so the form marks no field as required; a field left empty (null) means "not given"
to `settings_for_run`: the Variable `vehicle_photos_<name>`, then the built-in default. The Variables are
not read here: the DAG file is parsed without lookups, so the form names them instead.
"""

from __future__ import annotations

from airflow.sdk import Param

from include.pipeline.settings import CUT_TYPES, DEFAULT_CLIPPINGMAGIC_ANGLES

PROCESSING_SECTION = "Processing options"

CUT_TYPE_LABELS = {
    None: "Deployment default",
    "complete": "complete: the vehicle on a studio background",
    "normal": "normal: ground kept, background replaced",
    "blur": "blur: background blurred",
    "none": "none: resized only",
}


def vehicle_listings_params() -> dict[str, Param]:
    """Params for `@dag(params=...)`, in the order the form shows them."""
    angles = ", ".join(DEFAULT_CLIPPINGMAGIC_ANGLES)
    return {
        "vehicle_ids": Param(
            [],
            type=["array", "null"],
            items={"type": "string"},
            title="Only these vehicles",
            description="Vehicle ids (VINs), one per line. Empty: every vehicle in the date's listings.",
        ),
        "dry_run": Param(
            False,
            type=["boolean", "null"],
            title="Dry run",
            description="Validate the listings, write the rejected rows and log the credits the run would "
            "spend; send nothing to Car-Cutter or Clipping Magic.",
        ),
        "confirm_dealers": Param(
            [],
            type=["array", "null"],
            items={"type": "string"},
            title="Confirm these dealers' changed profiles",
            description="Dealer ids, one per line (default: rows without a dealer). A dealer whose profile "
            "changed and would spend more than confirm_above_credits waits for this; a dry run shows the "
            "estimate per dealer.",
        ),
        "clippingmagic_test_mode": Param(
            False,
            type=["boolean", "null"],
            title="Clipping Magic test mode",
            description="Free, watermarked Clipping Magic results, for trying things out.",
        ),
        "cut_type": Param(
            None,
            type=["string", "null"],
            enum=[None, *CUT_TYPES],
            values_display=CUT_TYPE_LABELS,
            title="Car-Cutter cut type",
            description="How Car-Cutter presents the exterior shots, where the profiles file says nothing. "
            "Deployment default: the Variable vehicle_photos_cut_type, else complete.",
            section=PROCESSING_SECTION,
        ),
        "clippingmagic_angles": Param(
            list(DEFAULT_CLIPPINGMAGIC_ANGLES),
            type=["array", "null"],
            items={"type": "string"},
            title="Angles sent to Clipping Magic",
            description=f"Angles that go to Clipping Magic instead of Car-Cutter, one per line. Empty: {angles}.",
            section=PROCESSING_SECTION,
        ),
        "batch_size": Param(
            20,
            type=["integer", "null"],
            minimum=1,
            title="Vehicles per task",
            description="Vehicles per mapped processing task. Empty: 20.",
            section=PROCESSING_SECTION,
        ),
        "listing_date": Param(
            None,
            type=["string", "null"],
            format="date",
            title="Listing date",
            description="The date whose listings/dt=<date>/ files to process (YYYY-MM-DD). Empty: the run's "
            "logical date, else the day it is triggered. On-arrival runs set it.",
            section=PROCESSING_SECTION,
        ),
        "bucket": Param(
            None,
            type=["string", "null"],
            title="S3 bucket",
            description="The bucket with listings/, the photos and every output. "
            "Empty: the Variable vehicle_photos_bucket, else vehicle-photos.",
            section=PROCESSING_SECTION,
        ),
    }
