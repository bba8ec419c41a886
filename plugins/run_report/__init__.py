"""A "Run report" button on the task that publishes a run's report (Grid view, task details)."""

from run_report.links import REPORT_URL_XCOM_KEY, RunReportLink
from run_report.operators import RunReportOperator

__all__ = ["REPORT_URL_XCOM_KEY", "RunReportLink", "RunReportOperator"]
