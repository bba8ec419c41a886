"""Fixtures of the Clipping Magic stand-in tests: the server and a session with its basic-auth credentials."""

from __future__ import annotations

import pytest
import requests


@pytest.fixture
def cm(clippingmagic_server):
    return clippingmagic_server


class ApiSession(requests.Session):
    """Basic auth on API requests only: a redirect (to the result storage) drops it. The stand-in's storage
    shares the API's host, so requests would keep it; the real storage (S3) is another host, and refuses it."""

    def rebuild_auth(self, prepared_request: requests.PreparedRequest, response: requests.Response) -> None:
        prepared_request.headers.pop("Authorization", None)


@pytest.fixture
def api(cm) -> requests.Session:
    session = ApiSession()
    session.auth = (cm.api_id, cm.api_key)
    return session
