"""The project's Airflow plugin: the "Run report" extra link, and the app in the api-server that serves it."""

from airflow.plugins_manager import AirflowPlugin

from run_report import RunReportLink
from run_report.app import app as run_report_app
from run_report.links import REPORT_APP_PREFIX


class VehiclePhotosPlugin(AirflowPlugin):
    name = "vehicle_photos"
    operator_extra_links = [RunReportLink()]
    fastapi_apps = [{"app": run_report_app, "url_prefix": REPORT_APP_PREFIX, "name": "Run report"}]
