"""What a Car-Cutter connection means: base URL, token, timeouts and retry policy (both hooks read it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from vehicle_photos.carcutter.exceptions import config_error
from vehicle_photos.image_common.urls import api_base_url

DEFAULT_BASE_URL = "https://api.car-cutter.com"
DEFAULT_TIMEOUT = 60.0
DEFAULT_MAX_RETRIES = 4
DEFAULT_RETRY_WAIT_MIN = 0.5
DEFAULT_RETRY_WAIT_MAX = 30.0
# Where the feature and annotation GETs / DELETEs put their field: "form" (a multipart body, as documented) or
# "query" (for a service, or a proxy before it, that drops or ignores the body of a GET / DELETE).
FEATURE_PARAMS_IN = ("form", "query")


@dataclass(frozen=True)
class CarCutterSettings:
    base_url: str
    token: str = field(repr=False)
    timeout: float = DEFAULT_TIMEOUT
    max_retries: int = DEFAULT_MAX_RETRIES
    retry_wait_min: float = DEFAULT_RETRY_WAIT_MIN
    retry_wait_max: float = DEFAULT_RETRY_WAIT_MAX
    customer: str | None = None
    feature_params_in: str = FEATURE_PARAMS_IN[0]

    @classmethod
    def from_connection(cls, conn: Any) -> CarCutterSettings:
        """Token in the password, host (a URL or a host name, with the connection's port), options in the
        extra: `timeout`, `max_retries`, `retry_wait_min`, `retry_wait_max`, `customer`, `feature_params_in`."""
        if not conn.password:
            raise config_error(f"connection {conn.conn_id!r} has no API token in its password field")
        extra = conn.extra_dejson or {}

        def option(name: str, default: Any) -> Any:
            value = extra.get(name, extra.get(f"extra__carcutter__{name}"))  # older forms prefix their fields
            return default if value in (None, "") else value

        try:
            base_url = api_base_url(conn.host, conn.port, conn.schema, default=DEFAULT_BASE_URL, api="Car-Cutter")
        except ValueError as error:
            raise config_error(str(error)) from None
        feature_params_in = str(option("feature_params_in", FEATURE_PARAMS_IN[0])).strip().lower()
        if feature_params_in not in FEATURE_PARAMS_IN:
            raise config_error(
                f"connection {conn.conn_id!r}: feature_params_in must be one of {', '.join(FEATURE_PARAMS_IN)}"
            )
        return cls(
            base_url=base_url,
            token=conn.password,
            timeout=float(option("timeout", DEFAULT_TIMEOUT)),
            max_retries=int(option("max_retries", DEFAULT_MAX_RETRIES)),
            retry_wait_min=float(option("retry_wait_min", DEFAULT_RETRY_WAIT_MIN)),
            retry_wait_max=float(option("retry_wait_max", DEFAULT_RETRY_WAIT_MAX)),
            customer=option("customer", None),
            feature_params_in=feature_params_in,
        )

    @property
    def auth_header(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}
