"""Clipping Magic for Airflow: hook, operators, deferrable result sensor and trigger.

`CONNECTION_TYPE` is this package's entry for the provider info's `connection-types`: since Airflow 3.2
the connection form is declared there (`conn-fields`, `ui-field-behaviour`) instead of through the
deprecated hook methods `get_connection_form_widgets` / `get_ui_field_behaviour`.
"""

from typing import Any

CONNECTION_TYPE: dict[str, Any] = {
    "connection-type": "clippingmagic",
    "hook-class-name": "clippingmagic.hooks.clippingmagic.ClippingMagicHook",
    "hook-name": "Clipping Magic",
    "conn-fields": {
        "timeout": {
            "label": "Request timeout (seconds)",
            "description": "Per-request timeout; an Auto-Clip upload waits for the result, so keep it generous.",
            "schema": {"type": ["number", "null"], "default": 120},
        },
    },
    "ui-field-behaviour": {
        "hidden-fields": ["schema", "port", "extra"],
        "relabeling": {"login": "API Id", "password": "API Key", "host": "API base URL"},
        "placeholders": {
            "login": "123",
            "password": "the API Key of your Clipping Magic account",
            "host": "https://clippingmagic.com (default; plain http only to 127.0.0.1 / localhost)",
        },
    },
}
