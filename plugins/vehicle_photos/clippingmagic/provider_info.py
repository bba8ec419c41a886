"""The "Clipping Magic" connection type as Airflow 3 declares it: labelled form fields and field behaviour.

`vehicle_photos.provider.get_provider_info()` puts `CONNECTION_TYPE` into its "connection-types" list;
since Airflow 3.2 the connection form is declared there (`conn-fields`, `ui-field-behaviour`) instead of
through the deprecated hook methods `get_connection_form_widgets` / `get_ui_field_behaviour`.

The port is shown although the base URL may carry it: Airflow 3.3's Test button (Admin -> Connections)
sends port 0 for a connection stored without one and is refused ("Bad Request"), so a port must be
storable here.
"""

from typing import Any

CONNECTION_TYPE: dict[str, Any] = {
    "connection-type": "clippingmagic",
    "hook-class-name": "vehicle_photos.clippingmagic.hooks.clippingmagic.ClippingMagicHook",
    "hook-name": "Clipping Magic",
    "conn-fields": {
        "timeout": {
            "label": "Request timeout (seconds)",
            "description": "Per-request timeout; an Auto-Clip upload waits for the result, so keep it generous.",
            "schema": {"type": ["number", "null"], "default": 120},
        },
    },
    "ui-field-behaviour": {
        "hidden-fields": ["schema", "extra"],
        "relabeling": {"login": "API Id", "password": "API Key", "host": "API base URL"},
        "placeholders": {
            "login": "123",
            "password": "the API Key of your Clipping Magic account",
            "host": "https://clippingmagic.com (default; plain http only to 127.0.0.1 / localhost)",
            "port": "443 (fill it in: the Test button needs a stored port)",
        },
    },
}
