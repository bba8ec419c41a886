from __future__ import annotations

from typing import TYPE_CHECKING

from airflow.providers.common.compat.sdk import BaseOperatorLink, XCom

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import TaskInstanceKey
    from airflow.sdk import BaseOperator

REPORT_URL_XCOM_KEY = "run_report_url"


class RunReportLink(BaseOperatorLink):
    """Opens the HTML report that the task pushed to XCom under `run_report_url`."""

    name = "Run report"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        return XCom.get_value(key=REPORT_URL_XCOM_KEY, ti_key=ti_key) or ""
