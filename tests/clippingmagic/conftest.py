"""Clipping Magic test helpers on top of the shared stack fixtures (tests/conftest.py)."""

from __future__ import annotations

import io
import json
import struct
import threading
import time
import zlib
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
from PIL import Image

from tests.conftest import StandIn

FAST_RETRIES = {"retry_wait_min": 0.01, "retry_wait_max": 0.05, "rate_limit_wait": 0.01}


@pytest.fixture
def cm(clippingmagic_server: StandIn) -> StandIn:
    """The Clipping Magic stand-in in fast mode: these tests are about the client, not about pixels."""
    clippingmagic_server.configure(fast=True)
    return clippingmagic_server


@pytest.fixture(autouse=True)
def fernet_key(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A Fernet key for the task runner, so the encrypted hand-over of image secrets is exercised."""
    from airflow.sdk.crypto import get_fernet
    from cryptography.fernet import Fernet

    key = Fernet.generate_key().decode()
    monkeypatch.setenv("AIRFLOW__CORE__FERNET_KEY", key)
    get_fernet.cache_clear()
    yield key
    get_fernet.cache_clear()


def use_connection(monkeypatch: pytest.MonkeyPatch, conn_id: str, **fields: Any) -> str:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps({"conn_type": "clippingmagic", **fields}))
    return conn_id


@pytest.fixture
def fast_conn(cm: StandIn, monkeypatch: pytest.MonkeyPatch) -> Callable[..., str]:
    """A connection to the stand-in whose retry waits are tiny; `extra` overrides its retry rules."""

    def make(conn_id: str = "cm_fast", **extra: Any) -> str:
        return use_connection(
            monkeypatch, conn_id, host=cm.url, login=cm.api_id, password=cm.api_key, extra={**FAST_RETRIES, **extra}
        )

    return make


@pytest.fixture
def hook_factory(fast_conn: Callable[..., str]) -> Callable[..., Any]:
    """A hook on a fast connection; keyword arguments named like retry rules go to the connection's extra."""
    from vehicle_photos.clippingmagic.hooks.clippingmagic import ClippingMagicHook
    from vehicle_photos.clippingmagic.utils.retries import RetryRules

    def make(**kwargs: Any) -> ClippingMagicHook:
        rules = {name: kwargs.pop(name) for name in list(kwargs) if name in RetryRules.__dataclass_fields__}
        return ClippingMagicHook(fast_conn(**rules), **kwargs)

    return make


class SleepRecorder:
    """A hook's `sleep`: really waits, and remembers how long each thread was told to wait."""

    def __init__(self) -> None:
        self.waits: dict[str, list[float]] = defaultdict(list)
        self._lock = threading.Lock()

    def __call__(self, seconds: float) -> None:
        with self._lock:
            self.waits[threading.current_thread().name].append(round(seconds, 6))
        time.sleep(seconds)


def person_edits_when(server: StandIn, ready: Callable[[list[dict]], bool], settle: float = 0.0) -> threading.Thread:
    """A person saving an edit of every image in ClippingMagic.js, once `ready(the account's images)` holds
    (then `settle` seconds later); runs in a thread, which the test joins."""

    def edit() -> None:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            answer = requests.get(f"{server.url}/api/v1/images", auth=(server.api_id, server.api_key), timeout=10)
            images = answer.json()["images"]
            if ready(images):
                time.sleep(settle)
                for image in images:
                    requests.post(f"{server.url}/_emulator/images/{image['id']}/edit", timeout=10).raise_for_status()
                return
            time.sleep(0.05)

    editor = threading.Thread(target=edit, daemon=True)
    editor.start()
    return editor


# Images


def jpeg_bytes(width: int = 320, height: int = 200, colour: str = "navy") -> bytes:
    image = Image.new("RGB", (width, height), "white")
    image.paste(Image.new("RGB", (width // 2, height // 2), colour), (width // 4, height // 4))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def huge_canvas_png(width: int, height: int) -> bytes:
    """A valid 1-bit PNG of any canvas size, built row by row: 12000 x 12000 px is a few KB on disk and
    hundreds of MB once decoded."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    compressor = zlib.compressobj(9)
    row = b"\x00" * (1 + (width + 7) // 8)
    rows = (compressor.compress(row * min(500, height - start)) for start in range(0, height, 500))
    body = b"".join(rows) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


def put_images(s3_client: Any, bucket: str, keys: list[str], payloads: dict[str, bytes] | None = None) -> None:
    for key in keys:
        body = (payloads or {}).get(key) or jpeg_bytes(colour=["navy", "red", "green", "teal"][len(key) % 4])
        s3_client.put_object(Bucket=bucket, Key=key, Body=body)


def items(bucket: str, keys: list[str]) -> list[dict[str, str]]:
    """Batch entries for `photos/<vehicle>/<name>.jpg` keys."""
    return [{"source": f"s3://{bucket}/{key}", "vehicle_id": key.split("/")[1], "name": key.split("/")[2][:-4]}
            for key in keys]  # fmt: skip


@pytest.fixture
def auto_clip(fast_conn: Callable[..., str]) -> Callable[..., Any]:
    """Runs the operator's `execute` as a worker would (no DAG: a one-off claim holder), on a fast connection
    and with a short registration grace period."""
    from vehicle_photos.clippingmagic.operators.auto_clip import ClippingMagicAutoClipOperator

    conn_id = fast_conn()

    def run(bucket: str, images: Any, task_id: str = "auto_clip", **options: Any) -> Any:
        arguments = {"concurrency": 2, "clippingmagic_conn_id": conn_id, "registration_grace_seconds": 0.5, **options}
        operator = ClippingMagicAutoClipOperator(task_id=task_id, images=images, dest_bucket=bucket, **arguments)
        return operator.execute({})

    return run


def read_json(s3_client: Any, bucket: str, key: str) -> Any:
    return json.loads(s3_client.get_object(Bucket=bucket, Key=key)["Body"].read())


# A misbehaving image host on 127.0.0.1


@dataclass
class Answer:
    body: bytes
    content_type: str = "image/jpeg"
    drip_seconds: float = 0.0  # pause between single bytes: a slow-drip server
    headers: tuple[tuple[str, str], ...] = ()


class SourceServer:
    """Serves `routes` (path -> Answer) on 127.0.0.1 and counts the GETs per path."""

    def __init__(self) -> None:
        self.routes: dict[str, Answer] = {}
        self.gets: Counter[str] = Counter()
        routes, gets = self.routes, self.gets

        class Handler(BaseHTTPRequestHandler):
            def do_HEAD(self) -> None:
                self._answer(with_body=False)

            def do_GET(self) -> None:
                gets[self.path.split("?")[0]] += 1
                self._answer(with_body=True)

            def _answer(self, with_body: bool) -> None:
                answer = routes.get(self.path.split("?")[0], Answer(b"not found", "text/plain"))
                self.send_response(200)
                self.send_header("Content-Type", answer.content_type)
                self.send_header("Content-Length", str(len(answer.body)))
                for name, value in answer.headers:
                    self.send_header(name, value)
                self.end_headers()
                step = 1 if answer.drip_seconds else max(1, len(answer.body))
                try:
                    for start in range(0, len(answer.body) if with_body else 0, step):
                        self.wfile.write(answer.body[start : start + step])
                        self.wfile.flush()
                        time.sleep(answer.drip_seconds)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, path: str, query: str = "") -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}" + (f"?{query}" if query else "")


@pytest.fixture
def source_server() -> Iterator[SourceServer]:
    server = SourceServer()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()
