"""Airflow provider metadata for this project's two API packages.

Airflow discovers providers through the `apache_airflow_provider` entry point declared in pyproject.toml;
this is what puts "Car-Cutter" and "Clipping Magic" (labelled fields, Test button) into the connection form,
lists the "Run report" extra link (`airflow providers links`) and the vehicle_photos plugin (`airflow providers
plugins`). Each package declares its own form; this module only lists them.
"""

from typing import Any

from vehicle_photos.carcutter.provider_info import CONNECTION_TYPE as CARCUTTER_CONNECTION_TYPE
from vehicle_photos.clippingmagic.provider_info import CONNECTION_TYPE as CLIPPINGMAGIC_CONNECTION_TYPE

PACKAGE_NAME = "vehicle-photo-pipelines"
VERSION = "0.1.0"  # pyproject.toml's; tests/test_provider.py checks that they agree


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": PACKAGE_NAME,
        "name": "Vehicle photo pipelines (Car-Cutter, Clipping Magic)",
        "description": "Hooks, operators, sensors and triggers for the Car-Cutter and Clipping Magic APIs.",
        "versions": [VERSION],
        "connection-types": [CARCUTTER_CONNECTION_TYPE, CLIPPINGMAGIC_CONNECTION_TYPE],
        "extra-links": ["vehicle_photos.run_report.links.RunReportLink"],
        "plugins": [{"name": "vehicle_photos", "plugin-class": "vehicle_photos.run_report.plugin.VehiclePhotosPlugin"}],
    }
