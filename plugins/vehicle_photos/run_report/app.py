"""The report pages: a FastAPI app that the `vehicle_photos` plugin mounts in Airflow's api-server.

`GET <base_url>/run-report/<dag_id>/<task_id>?run_id=<run id>[&map_index=<n>]` answers the HTML report that this
task instance published (by a redirect to `.../runs/<run id>/<map index>/report.html`, so the report's relative
links to its dealers' pages, `dealers/<dealer>.html`, are served by the same app). The S3 URI comes from the task's
XCom (`run_report_uri`), never from the request, and must name a `.html` object under the reports prefix, so the app
cannot be made to read anything else. The object is read with the deployment's S3 connection (`[vehicle_photos]
aws_conn_id`, default `aws_default`): no bucket has to be public. The caller must be an Airflow user allowed to read
the DAG's XComs; a browser without a session is sent to the login page and back. The page gets a Content-Security-
Policy that allows its inline styles and `data:` thumbnails and nothing else: no scripts, no requests.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Annotated
from urllib.parse import quote, urlsplit

from airflow.api_fastapi.app import get_auth_manager
from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity
from airflow.api_fastapi.common.db.common import SessionDep
from airflow.api_fastapi.core_api.security import requires_access_dag
from airflow.configuration import conf
from airflow.models.xcom import XComModel
from fastapi import Depends, FastAPI, HTTPException, Query, Request, status
from fastapi.responses import JSONResponse, RedirectResponse, Response, StreamingResponse

from vehicle_photos.image_common.s3_objects import error_code, get_if_exists
from vehicle_photos.run_report.links import REPORT_URI_XCOM_KEY

log = logging.getLogger(__name__)

MAX_REPORT_BYTES = 256 * 1024 * 1024
CHUNK_BYTES = 1024 * 1024
REPORTS_PREFIX_VARIABLE = "vehicle_photos_reports_prefix"
DEFAULT_REPORTS_PREFIX = "reports"
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'self'; sandbox"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "private, no-store",
}
_SAFE_KEY = re.compile(r"^[\w./=+@-]+\.html$")
_DEALER_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")  # include.listings.schema.DEALER_ID_PATTERN

app = FastAPI(title="Run report", docs_url=None, redoc_url=None, openapi_url=None)


@app.exception_handler(HTTPException)
async def login_or_error(request: Request, error: HTTPException) -> Response:
    """A browser with no (or an expired) session goes to the login page and comes back; others get the error."""
    wants_html = "text/html" in request.headers.get("accept", "")
    if error.status_code == status.HTTP_401_UNAUTHORIZED and wants_html:
        return RedirectResponse(get_auth_manager().get_url_login(next_url=str(request.url)))
    return JSONResponse({"detail": error.detail}, status_code=error.status_code, headers=error.headers)


@app.get(
    "/{dag_id}/{task_id}",
    dependencies=[Depends(requires_access_dag(method="GET", access_entity=DagAccessEntity.XCOM))],
    response_class=RedirectResponse,
)
def run_report(
    dag_id: str,
    task_id: str,
    run_id: Annotated[str, Query(min_length=1)],
    request: Request,
    map_index: Annotated[int, Query(ge=-1)] = -1,
) -> RedirectResponse:
    page = f"{quote(task_id, safe='')}/runs/{quote(run_id, safe='')}/{map_index}/report.html"
    return RedirectResponse(f"{request.url.path.rsplit('/', 1)[0]}/{page}", status_code=status.HTTP_302_FOUND)


@app.get(
    "/{dag_id}/{task_id}/runs/{run_id}/{map_index}/report.html",
    dependencies=[Depends(requires_access_dag(method="GET", access_entity=DagAccessEntity.XCOM))],
    response_class=StreamingResponse,
)
def run_report_page(dag_id: str, task_id: str, run_id: str, map_index: int, session: SessionDep) -> StreamingResponse:
    uri = published_report_uri(session, dag_id, task_id, run_id, map_index)
    return report_response(*allowed_report_location(uri, reports_prefix()))


@app.get(
    "/{dag_id}/{task_id}/runs/{run_id}/{map_index}/dealers/{dealer}.html",
    dependencies=[Depends(requires_access_dag(method="GET", access_entity=DagAccessEntity.XCOM))],
    response_class=StreamingResponse,
)
def dealer_page(
    dag_id: str, task_id: str, run_id: str, map_index: int, dealer: str, session: SessionDep
) -> StreamingResponse:
    """The page of one dealer, beside the report the task published."""
    if not _DEALER_ID.match(dealer):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such dealer page")
    uri = published_report_uri(session, dag_id, task_id, run_id, map_index)
    return report_response(*allowed_report_location(f"{uri.rsplit('/', 1)[0]}/dealers/{dealer}.html", reports_prefix()))


def report_response(bucket: str, key: str) -> StreamingResponse:
    body, length = open_report(bucket, key)
    filename = key.replace("/", "_").replace("=", "-")
    headers = {
        **SECURITY_HEADERS,
        "Content-Length": str(length),
        "Content-Disposition": f'inline; filename="{filename}"',
    }
    return StreamingResponse(body, media_type="text/html; charset=utf-8", headers=headers)


def published_report_uri(session: SessionDep, dag_id: str, task_id: str, run_id: str, map_index: int) -> str:
    query = XComModel.get_many(
        run_id=run_id, key=REPORT_URI_XCOM_KEY, task_ids=task_id, dag_ids=dag_id, map_indexes=map_index, limit=1
    )
    row = session.scalars(query).first()
    uri = XComModel.deserialize_value(row) if row is not None else None
    if not isinstance(uri, str) or not uri:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"{task_id} of run {run_id} published no report")
    return uri


def reports_prefix() -> str:
    """The deployment's reports prefix: the pipeline's Variable, else `reports`."""
    from airflow.models.variable import Variable

    prefix = Variable.get(REPORTS_PREFIX_VARIABLE, default_var=None) or DEFAULT_REPORTS_PREFIX
    return prefix.strip("/")


def allowed_report_location(uri: str, prefix: str) -> tuple[str, str]:
    """(bucket, key) of `s3://bucket/<prefix>/....html`; anything else is refused."""
    parts = urlsplit(uri)
    key = parts.path.lstrip("/")
    segments = key.split("/")
    if (
        parts.scheme != "s3"
        or not parts.netloc
        or parts.query
        or parts.fragment
        or not key.startswith(f"{prefix}/")
        or ".." in segments
        or "" in segments
        or not _SAFE_KEY.match(key)
    ):
        log.warning("refusing to serve %s: not an .html object under %s/", uri, prefix)
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"only .html reports under {prefix}/ are served")
    return parts.netloc, key


def open_report(bucket: str, key: str) -> tuple[Iterator[bytes], int]:
    """The object's body as chunks, and its length; 404 if it is gone, 502 if S3 fails."""
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook
    from botocore.exceptions import BotoCoreError, ClientError

    hook = S3Hook(aws_conn_id=conf.get("vehicle_photos", "aws_conn_id", fallback="aws_default"))
    try:
        response = get_if_exists(hook.conn, bucket, key)
    except ClientError as error:
        log.warning("reading s3://%s/%s failed: %s", bucket, key, error_code(error))
        raise HTTPException(status.HTTP_502_BAD_GATEWAY, f"S3 refused to read s3://{bucket}/{key}") from None
    except BotoCoreError as error:
        log.warning("reading s3://%s/%s failed: %s", bucket, key, type(error).__name__)
        raise HTTPException(status.HTTP_502_BAD_GATEWAY, f"S3 could not be reached for s3://{bucket}/{key}") from None
    if response is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"s3://{bucket}/{key} does not exist")
    length = int(response["ContentLength"])
    if length > MAX_REPORT_BYTES:
        response["Body"].close()
        raise HTTPException(status.HTTP_502_BAD_GATEWAY, f"s3://{bucket}/{key} is larger than {MAX_REPORT_BYTES} bytes")
    return response["Body"].iter_chunks(CHUNK_BYTES), length
