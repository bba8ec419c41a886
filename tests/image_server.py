"""A tiny HTTP server on 127.0.0.1 for image sources that misbehave: HTML pages, oversize bodies, slow drips,
answers that change between requests, pictures told apart only by their query string. Tests that use it allow
the loopback network explicitly."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass
class Answer:
    status: int = 200
    body: bytes = b""
    content_type: str = "image/jpeg"
    drip_seconds: float = 0.0  # pause between single bytes: a slow-drip server
    headers: tuple[tuple[str, str], ...] = ()


# A fixed answer, or one chosen by the request's number on that path (1, 2, ...) and the client's User-Agent.
Route = Answer | Callable[[int, str], Answer]


class ImageServer:
    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.hits: Counter[str] = Counter()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_HEAD(self) -> None:
                self._answer(send_body=False)

            def do_GET(self) -> None:
                self._answer(send_body=True)

            def _answer(self, send_body: bool) -> None:
                path = self.path.split("?", 1)[0]
                server.hits[path] += 1
                # a route for the exact path and query (`/img.aspx?id=1`) first, else one for the path
                route = server.routes.get(self.path) or server.routes.get(path, Answer(404, b"not found", "text/plain"))
                agent = self.headers.get("User-Agent", "")
                answer = route(server.hits[path], agent) if callable(route) else route
                self.send_response(answer.status)
                self.send_header("Content-Type", answer.content_type)
                self.send_header("Content-Length", str(len(answer.body)))
                for name, value in answer.headers:
                    self.send_header(name, value)
                self.end_headers()
                if not send_body:
                    return
                try:
                    if answer.drip_seconds:
                        for byte in answer.body:
                            self.wfile.write(bytes([byte]))
                            self.wfile.flush()
                            time.sleep(answer.drip_seconds)
                    else:
                        self.wfile.write(answer.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def image_server() -> Iterator[ImageServer]:
    server = ImageServer()
    yield server
    server.close()
