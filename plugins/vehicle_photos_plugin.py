"""The project's Airflow plugin: registers the "Run report" extra link so the UI can show it."""

from airflow.plugins_manager import AirflowPlugin

from run_report import RunReportLink


class VehiclePhotosPlugin(AirflowPlugin):
    name = "vehicle_photos"
    operator_extra_links = [RunReportLink()]
