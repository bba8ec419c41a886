"""The "Run report" of a run: a link on the task that publishes the report, and the api-server app behind it.

The task pushes the report's S3 URI (`s3://<bucket>/reports/dt=<ds>/report.html`) to XCom under
`REPORT_URI_XCOM_KEY`; `RunReportLink` then shows a "Run report" button on that task (Grid view, task
instance, Details tab) that opens `run_report.app`, which the `vehicle_photos` plugin mounts in the api-server.
"""

from vehicle_photos.run_report.links import REPORT_URI_XCOM_KEY, RunReportLink
from vehicle_photos.run_report.operators import RunReportOperator

__all__ = ["REPORT_URI_XCOM_KEY", "RunReportLink", "RunReportOperator"]
