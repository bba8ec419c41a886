"""Airflow provider metadata for this project's two API packages.

Airflow discovers connection types through the `apache_airflow_provider` entry point declared in
pyproject.toml; this is what puts "Car-Cutter" and "Clipping Magic" (labelled fields, Test button) into
the connection form. Each package declares its own form; this module only lists them.
"""

from typing import Any

from vehicle_photos.carcutter.provider_info import CONNECTION_TYPE as CARCUTTER_CONNECTION_TYPE
from vehicle_photos.clippingmagic.provider_info import CONNECTION_TYPE as CLIPPINGMAGIC_CONNECTION_TYPE


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "vehicle-photo-pipelines",
        "name": "Vehicle photo pipelines (Car-Cutter, Clipping Magic)",
        "description": "Hooks, operators, sensors and triggers for the Car-Cutter and Clipping Magic APIs.",
        "versions": ["0.1.0"],
        "connection-types": [CARCUTTER_CONNECTION_TYPE, CLIPPINGMAGIC_CONNECTION_TYPE],
    }
