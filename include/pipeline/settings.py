"""Settings of a vehicle_listings run: Params for manual runs, Airflow Variables for the defaults.

Every Param falls back to the Variable `vehicle_photos_<name>` and then to the default below, so a
deployment sets its bucket once (`AIRFLOW_VAR_VEHICLE_PHOTOS_BUCKET`) and a manual run can still
override anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

DEFAULT_CLIPPINGMAGIC_ANGLES = ("interior", "detail")
CUT_TYPES = ("complete", "normal", "blur", "none")


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
    batch_size: int = 20
    vehicle_ids: tuple[str, ...] = ()
    dry_run: bool = False
    clippingmagic_test_mode: bool = False
    clippingmagic_angles: tuple[str, ...] = DEFAULT_CLIPPINGMAGIC_ANGLES
    clippingmagic_outputs: tuple[str, ...] = ("result", "clipping_path_svg", "alpha_mask_png")
    cut_type: str = "complete"
    report_thumbnail_vehicles: int = 50
    carcutter_poll_interval: float = 30.0
    carcutter_first_poll_delay: float = 30.0
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> PipelineSettings:
        known = {f.name for f in fields(cls)} - {"extra"}
        values: dict[str, Any] = {}
        for name in known:
            value = params.get(name)
            if value is None or value == "":
                continue
            if name in {"vehicle_ids", "clippingmagic_angles", "clippingmagic_outputs"}:
                value = tuple(_as_list(value))
            values[name] = _coerce(value, getattr(cls, name))
        settings = cls(**values)
        if settings.cut_type not in CUT_TYPES:
            raise ValueError(f"param cut_type must be one of {CUT_TYPES}, got {settings.cut_type!r}")
        if settings.batch_size < 1:
            raise ValueError(f"param batch_size must be at least 1, got {settings.batch_size}")
        return settings

    def dated(self, prefix: str, ds: str) -> str:
        return f"{prefix}/dt={ds}/"

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}


VARIABLE_PREFIX = "vehicle_photos_"


def settings_for_run(params: dict[str, Any]) -> PipelineSettings:
    """Params of the run, else Airflow Variables `vehicle_photos_<name>`, else the defaults."""
    from airflow.sdk import Variable

    names = [f.name for f in fields(PipelineSettings) if f.name != "extra"]
    variables = {name: Variable.get(VARIABLE_PREFIX + name, default=None) for name in names}
    merged = {name: params.get(name) if params.get(name) not in (None, "") else variables[name] for name in names}
    return PipelineSettings.from_params(merged)


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
