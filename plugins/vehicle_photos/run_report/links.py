from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote, urlencode, urlsplit

from airflow.providers.common.compat.sdk import BaseOperatorLink, XCom, conf

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import TaskInstanceKey
    from airflow.sdk import BaseOperator

REPORT_URI_XCOM_KEY = "run_report_uri"
REPORT_APP_PREFIX = "/run-report"  # where the plugin mounts `vehicle_photos.run_report.app` in the api-server


class RunReportLink(BaseOperatorLink):
    """Opens the report whose S3 URI the task pushed to XCom under `run_report_uri`, through the report app
    of the api-server: no bucket has to be public, and Airflow's own login and permissions apply."""

    name = "Run report"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        if not XCom.get_value(key=REPORT_URI_XCOM_KEY, ti_key=ti_key):
            return ""
        return report_page_url(ti_key.dag_id, ti_key.task_id, ti_key.run_id, ti_key.map_index)


def report_page_url(dag_id: str, task_id: str, run_id: str, map_index: int = -1) -> str:
    """A path on the api-server, under `[api] base_url`'s path: the UI opens it on its own origin, so it works
    on 127.0.0.1:<port> and behind a proxy that serves Airflow under a sub-path alike."""
    base_path = urlsplit(conf.get("api", "base_url", fallback="") or "").path.rstrip("/")
    query = {"run_id": run_id, **({"map_index": map_index} if map_index >= 0 else {})}
    return f"{base_path}{REPORT_APP_PREFIX}/{quote(dag_id, safe='')}/{quote(task_id, safe='')}?{urlencode(query)}"
