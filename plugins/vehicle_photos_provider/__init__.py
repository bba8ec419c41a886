"""Airflow provider metadata for this project's two API packages.

Airflow discovers connection types through the `apache_airflow_provider` entry point declared in
pyproject.toml; this is what puts "Car-Cutter" and "Clipping Magic" into the connection form.
"""

from typing import Any


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "vehicle-photo-pipelines",
        "name": "Vehicle photo pipelines (Car-Cutter, Clipping Magic)",
        "description": "Hooks, operators, sensors and triggers for the Car-Cutter and Clipping Magic APIs.",
        "versions": ["0.1.0"],
        "connection-types": [
            {"connection-type": "carcutter", "hook-class-name": "carcutter.hooks.carcutter.CarCutterHook"},
            {
                "connection-type": "clippingmagic",
                "hook-class-name": "clippingmagic.hooks.clippingmagic.ClippingMagicHook",
            },
        ],
    }
