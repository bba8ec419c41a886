"""Settings of a vehicle_listings run: Params for manual runs, Airflow Variables for the deployment's defaults.

Every Param falls back to the Variable `vehicle_photos_<name>` and then to the default below, so a deployment
sets its bucket once (`AIRFLOW_VAR_VEHICLE_PHOTOS_BUCKET`) and a manual run can still override anything. A value
of None or "" means "not given".
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field, fields
from datetime import date
from typing import Any

from vehicle_photos.image_common.claims import DEFAULT_CLAIM_LEASE_SECONDS
from vehicle_photos.image_common.identity import DEFAULT_VOLATILE_QUERY_PARAMS
from vehicle_photos.image_common.policy import DEFAULT_DEADLINE_SECONDS, DEFAULT_MAX_BYTES, DEFAULT_MAX_PIXELS
from vehicle_photos.image_common.registration import DEFAULT_REGISTRATION_GRACE_SECONDS

log = logging.getLogger(__name__)

DEFAULT_CLIPPINGMAGIC_ANGLES = ("interior", "detail")
CLIPPINGMAGIC_OUTPUTS = ("result", "clipping_path_svg", "alpha_mask_png")
CUT_TYPES = ("complete", "normal", "blur", "none")
VARIABLE_PREFIX = "vehicle_photos_"
_LIST_SETTINGS = {
    "vehicle_ids",
    "clippingmagic_angles",
    "clippingmagic_outputs",
    "allowed_buckets",
    "allowed_networks",
    "confirm_dealers",
    "volatile_query_params",
}


@dataclass(frozen=True)
class PipelineSettings:
    bucket: str = "vehicle-photos"
    listings_prefix: str = "listings"
    rejected_prefix: str = "rejected"
    processed_prefix: str = "processed"
    records_prefix: str = "records"
    manifests_prefix: str = "manifests"
    reports_prefix: str = "reports"
    archive_prefix: str = "archive"
    runs_prefix: str = "runs"  # the runs' working files (plans, batch inputs and results)
    batch_size: int = 20  # vehicles per mapped task
    max_batches: int = 128  # mapped tasks per operator at most; batch_size grows beyond that
    vehicle_ids: tuple[str, ...] = ()
    dry_run: bool = False
    clippingmagic_test_mode: bool = False
    clippingmagic_angles: tuple[str, ...] = DEFAULT_CLIPPINGMAGIC_ANGLES
    clippingmagic_outputs: tuple[str, ...] = CLIPPINGMAGIC_OUTPUTS
    # The Clipping Magic document does not say whether the SVG and mask downloads share the result's credit:
    # estimates and the balance check assume they each cost one unless this is switched off.
    clippingmagic_extra_outputs_cost_credits: bool = True
    cut_type: str = "complete"
    profiles_key: str = "config/profiles.yaml"  # the dealers' processing profiles (README "Dealer profiles")
    max_credits_per_run: int = 0  # per dealer and API, unless its profile says otherwise; 0: no cap
    confirm_above_credits: int = 200  # a changed profile that would spend more waits for confirm_dealers; 0: never
    confirm_dealers: tuple[str, ...] = ()  # dealers whose changed profile this run may bill ("default": no dealer)
    report_thumbnail_vehicles: int = 50
    carcutter_poll_interval: float = 30.0
    carcutter_first_poll_delay: float = 30.0
    carcutter_wait_in_task_seconds: float = 0.0  # polls in the batch task this long before deferring
    listings_quiet_seconds: float = 300.0  # the date's listing prefix must be unchanged this long
    listings_wait_hours: float = 20.0  # how long a run waits for its listing files
    listings_poll_seconds: float = 60.0
    max_listing_file_bytes: int = 256 * 1024 * 1024
    allowed_buckets: tuple[str, ...] = ()  # buckets image refs may name; empty: the listing bucket only
    allowed_networks: tuple[str, ...] = ()  # private networks image URLs may resolve to (local stack: loopback)
    max_source_bytes: int = DEFAULT_MAX_BYTES
    source_deadline_seconds: float = DEFAULT_DEADLINE_SECONDS
    max_pixels: int = DEFAULT_MAX_PIXELS
    claim_lease_seconds: float = DEFAULT_CLAIM_LEASE_SECONDS
    # query parameters of image URLs that are not part of an image's identity (they change on every signing)
    volatile_query_params: tuple[str, ...] = DEFAULT_VOLATILE_QUERY_PARAMS
    # how long a call that may have reached a service is settled by asking it (README: never billing twice)
    registration_grace_seconds: float = DEFAULT_REGISTRATION_GRACE_SECONDS
    listing_date: str = ""  # YYYY-MM-DD: the Param listing_date, else the run's logical date, else its trigger day
    run_key: str = ""  # the run, as a key-safe name for its working files
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> PipelineSettings:
        known = {f.name for f in fields(cls)} - {"extra"}
        values: dict[str, Any] = {}
        for name in known:
            value = params.get(name)
            if value is None or value == "":
                continue
            if name in _LIST_SETTINGS:
                value = tuple(_as_list(value))
            values[name] = _coerce(value, getattr(cls, name))
        settings = cls(**values)
        settings.check()
        return settings

    def check(self) -> None:
        if self.cut_type not in CUT_TYPES:
            raise ValueError(f"cut_type must be one of {', '.join(CUT_TYPES)}, got {self.cut_type!r}")
        if self.batch_size < 1 or self.max_batches < 1:
            raise ValueError(f"batch_size and max_batches must be >= 1, got {self.batch_size}, {self.max_batches}")
        unknown = set(self.clippingmagic_outputs) - set(CLIPPINGMAGIC_OUTPUTS)
        if unknown or "result" not in self.clippingmagic_outputs:
            raise ValueError(f"clippingmagic_outputs must include 'result' and only {CLIPPINGMAGIC_OUTPUTS}")
        if self.claim_lease_seconds < 3:
            resolution = "S3 dates have 1 s resolution"
            raise ValueError(f"claim_lease_seconds must be at least 3 ({resolution}), got {self.claim_lease_seconds}")
        if self.listing_date and not _is_date(self.listing_date):
            raise ValueError(f"listing_date must be a date YYYY-MM-DD, got {self.listing_date!r}")

    def dated(self, prefix: str, ds: str | None = None) -> str:
        return f"{prefix}/dt={ds or self.listing_date}/"

    @property
    def incoming_prefix(self) -> str:
        return self.dated(self.listings_prefix)

    @property
    def archived_prefix(self) -> str:
        return self.dated(self.archive_prefix)

    @property
    def run_prefix(self) -> str:
        """Where this run keeps its working files: `runs/dt=<date>/<run>/`."""
        return f"{self.dated(self.runs_prefix)}{self.run_key}/"

    @property
    def plan_uri(self) -> str:
        return f"s3://{self.bucket}/{self.run_prefix}plan.json.gz"

    @property
    def gone_vehicles_uri(self) -> str:
        return f"s3://{self.bucket}/{self.run_prefix}gone-vehicles.json"

    @property
    def image_buckets(self) -> tuple[str, ...]:
        return self.allowed_buckets or (self.bucket,)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}


def run_settings(
    params: dict[str, Any], dag_run: Any, logical_date: Any = None, run_id: str | None = None
) -> dict[str, Any]:
    """The run's settings (Params, else Variables, else defaults) and its listing date: the Param `listing_date`
    (on-arrival runs), else the logical date, else (a manual run without either) the day it was triggered; with
    what the listings wait and the tasks take."""
    params = dict(params or {})
    listing_date = params.get("listing_date") or None
    if listing_date is None:
        listing_date = (logical_date or dag_run.run_after).date().isoformat()
        if logical_date is None:
            log.info("no listing_date nor logical date: using the day the run was triggered, %s", listing_date)
    settings = settings_for_run(params, str(listing_date), run_id or dag_run.run_id)
    log.info(
        "listing date %s, bucket %s, run files under %s", settings.listing_date, settings.bucket, settings.run_prefix
    )
    return {
        **settings.to_dict(),
        "incoming_prefix": settings.incoming_prefix,
        "archived_prefix": settings.archived_prefix,
        "listings_wait_seconds": settings.listings_wait_hours * 3600,
        "gone_vehicles_uri": settings.gone_vehicles_uri,
    }


def settings_for_run(params: dict[str, Any], listing_date: str, run_id: str) -> PipelineSettings:
    """Params of the run, else Airflow Variables `vehicle_photos_<name>`, else the defaults."""
    from airflow.sdk import Variable

    names = [f.name for f in fields(PipelineSettings) if f.name not in ("extra", "listing_date", "run_key")]
    merged = {}
    for name in names:
        given = params.get(name)
        merged[name] = given if given not in (None, "", []) else Variable.get(VARIABLE_PREFIX + name, default=None)
    merged["listing_date"] = listing_date
    merged["run_key"] = re.sub(r"[^A-Za-z0-9._-]+", "-", run_id).strip("-")
    return PipelineSettings.from_params(merged)


def _is_date(text: str) -> bool:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return False
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _coerce(value: Any, default: Any) -> Any:
    """Variables arrive as text: give them the type of the setting's default."""
    if not isinstance(value, str) or isinstance(default, str):
        return value
    if isinstance(default, bool):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    return type(default)(value) if isinstance(default, int | float) else value


def _as_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [part.strip() for part in value.replace("\n", ",").split(",") if part.strip()]
    return [str(part) for part in value]
