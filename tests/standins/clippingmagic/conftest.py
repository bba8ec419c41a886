"""Fixtures of the Clipping Magic stand-in tests: the server and a session with its basic-auth credentials."""

from __future__ import annotations

import pytest
import requests


@pytest.fixture
def cm(clippingmagic_server):
    return clippingmagic_server


@pytest.fixture
def api(cm) -> requests.Session:
    session = requests.Session()
    session.auth = (cm.api_id, cm.api_key)
    return session
