from __future__ import annotations

from airflow.providers.standard.operators.python import PythonOperator

from vehicle_photos.run_report.links import RunReportLink


class RunReportOperator(PythonOperator):
    """A PythonOperator whose callable publishes a report and pushes its S3 URI under `run_report_uri`;
    the task then shows a "Run report" link in the UI."""

    operator_extra_links = (RunReportLink(),)
