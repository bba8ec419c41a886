"""The project's Airflow plugin: the "Run report" extra link, and the app in the api-server that serves it.

Registered by installing the distribution: its `airflow.plugins` entry point and the provider metadata's `plugins`
(`vehicle_photos.provider`) name this class, as Airflow's own providers do; nothing goes into a plugins folder."""

from typing import Any

from airflow.plugins_manager import AirflowPlugin

from vehicle_photos.run_report import RunReportLink
from vehicle_photos.run_report.links import REPORT_APP_PREFIX


class VehiclePhotosPlugin(AirflowPlugin):
    name = "vehicle_photos"
    operator_extra_links = [RunReportLink()]

    @property
    def fastapi_apps(self) -> list[dict[str, Any]]:
        """Imported when asked for, i.e. by the api-server: every task process loads the plugins as well, and
        importing Airflow's API modules there would cost each task more than a second."""
        from vehicle_photos.run_report.app import app

        return [{"app": app, "url_prefix": REPORT_APP_PREFIX, "name": "Run report"}]
