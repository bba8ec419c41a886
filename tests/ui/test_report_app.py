"""What the Run report app agrees to serve, and where the link points; the pages themselves are driven in a
real browser in test_local_airflow_ui.py."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi import HTTPException

from vehicle_photos.run_report.app import allowed_report_location
from vehicle_photos.run_report.links import report_page_url

RUN_ID = "manual__2026-11-02T00:00:00+00:00"


def test_an_html_report_under_the_reports_prefix_is_served():
    uri = "s3://vehicle-photos/reports/dt=2026-11-02/report.html"
    assert allowed_report_location(uri, "reports") == ("vehicle-photos", "reports/dt=2026-11-02/report.html")
    assert allowed_report_location("s3://b/daily/reports/dt=2026-11-02/report.html", "daily/reports")[1].startswith(
        "daily/reports/"
    )


@pytest.mark.parametrize(
    "uri",
    [
        "s3://vehicle-photos/records/carcutter/0a1b.json",  # another prefix
        "s3://vehicle-photos/reports/dt=2026-11-02/summary.json",  # not a page
        "s3://vehicle-photos/reports/../records/x.html",  # climbing out
        "s3://vehicle-photos/reports//x.html",
        "s3://vehicle-photos/reportsx/dt=2026-11-02/report.html",  # prefix as a string, not a folder
        "s3://vehicle-photos/reports/dt=2026-11-02/report.html?versionId=1",
        "https://vehicle-photos.s3.amazonaws.com/reports/dt=2026-11-02/report.html",
        "s3:///reports/dt=2026-11-02/report.html",
        "s3://vehicle-photos/reports/dt=2026-11-02/<script>.html",
    ],
)
def test_nothing_else_is_served(uri):
    with pytest.raises(HTTPException) as refused:
        allowed_report_location(uri, "reports")
    assert refused.value.status_code == 403


@pytest.mark.parametrize(
    ("base_url", "path_prefix"),
    [("", ""), ("http://127.0.0.1:8090", ""), ("https://airflow.example.com/airflow/", "/airflow")],
)
def test_the_link_is_a_path_of_the_api_server_under_its_base_url(monkeypatch, base_url, path_prefix):
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", base_url)
    link = urlsplit(report_page_url("vehicle_listings", "publish_run", RUN_ID))
    assert (link.scheme, link.netloc) == ("", "")  # the UI opens it on its own origin
    assert link.path == f"{path_prefix}/run-report/vehicle_listings/publish_run"
    assert parse_qs(link.query) == {"run_id": [RUN_ID]}
    assert parse_qs(urlsplit(report_page_url("d", "t", RUN_ID, map_index=3)).query)["map_index"] == ["3"]
