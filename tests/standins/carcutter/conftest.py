"""Fixtures of the Car-Cutter stand-in tests: the server, an authorised session, presigned image URLs, a webhook."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests


@pytest.fixture
def cc(carcutter_server):
    carcutter_server.configure(processing_seconds=0.3)
    return carcutter_server


@pytest.fixture
def api(cc) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {cc.token}"
    return session


@pytest.fixture
def presign(s3_client, bucket):
    """Put bytes in the moto bucket and answer a presigned GET URL for them."""

    def put(key: str, body: bytes, content_type: str = "binary/octet-stream") -> str:
        s3_client.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)
        return s3_client.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=600)

    return put


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict]]]:
    received: list[dict] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/hook", received
    server.shutdown()
