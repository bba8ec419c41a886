"""The "Car-Cutter" connection type as Airflow 3 declares it: labelled form fields and field behaviour.

`vehicle_photos.provider.get_provider_info()` puts `CONNECTION_TYPE` into its "connection-types" list;
Airflow builds the connection form from it without importing the hook. Airflow 3.3's Test button
(Admin -> Connections) sends port 0 for a connection stored without a port and is refused ("Bad Request"),
hence the port's placeholder.
"""

from typing import Any

CONNECTION_TYPE: dict[str, Any] = {
    "connection-type": "carcutter",
    "hook-class-name": "vehicle_photos.carcutter.hooks.carcutter.CarCutterHook",
    "hook-name": "Car-Cutter",
    "ui-field-behaviour": {
        "hidden-fields": ["schema", "login"],
        "relabeling": {"host": "API base URL", "password": "API token (Bearer)"},
        "placeholders": {
            "host": "https://api.car-cutter.com (http only for 127.0.0.1 / localhost)",
            "port": "443 (fill it in: the Test button needs a stored port)",
            "password": "token from the Car-Cutter customer portal",
        },
    },
    "conn-fields": {
        "customer": {
            "label": "Customer",
            "description": "Your Car-Cutter customer name; needed to list vehicles.",
            "schema": {"type": ["string", "null"]},
        },
        "timeout": {
            "label": "Read timeout (seconds)",
            "schema": {"type": ["number", "null"], "default": 60},
        },
        "max_retries": {
            "label": "Retries on 5xx, 429, timeouts and dropped connections",
            "schema": {"type": ["integer", "null"], "default": 4, "minimum": 0},
        },
        "retry_wait_min": {
            "label": "First retry wait (seconds)",
            "schema": {"type": ["number", "null"], "default": 0.5},
        },
        "retry_wait_max": {
            "label": "Longest retry wait (seconds)",
            "schema": {"type": ["number", "null"], "default": 30},
        },
    },
}
