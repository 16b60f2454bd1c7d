"""A local HTTP server for the ingest tests and benchmark: serves the fixtures of
``tests/fixtures/ingest`` (``{base}`` replaced by the server's own URL) plus routes a test sets,
answers conditional GETs with 304, and counts requests per path. Never the internet."""

from __future__ import annotations

import hashlib
import threading
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures" / "ingest"
TYPES = {".rss": "application/rss+xml", ".xml": "application/atom+xml", ".json": "application/feed+json",
         ".html": "text/html; charset=utf-8", ".jpg": "image/jpeg", ".png": "image/png"}


@dataclass
class Route:
    body: bytes
    content_type: str
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    length: bool = True  # send Content-Length (False: the body ends when the connection closes)


def tiny_png() -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (320, 180), (40, 90, 160)).save(buf, "PNG")
    return buf.getvalue()


class FixtureServer:
    """``with FixtureServer() as srv:`` → ``srv.url("/feeds/wordpress.rss")``; ``srv.routes[path]
    = Route(...)`` adds or replaces a path; ``srv.hits[path]`` counts requests."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.hits: Counter[str] = Counter()
        self.bytes_sent: Counter[str] = Counter()
        srv = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - the http.server API
                try:
                    self._get()
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client stopped reading (a size limit)

            def _get(self) -> None:
                path = self.path.split("?")[0]
                srv.hits[path] += 1
                route = srv.route(path)
                if route is None:
                    return self._send(404, "text/html", b"<html><body><h1>Not found</h1></body></html>")
                etag = '"' + hashlib.sha256(route.body).hexdigest()[:16] + '"'
                if route.status == 200 and self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.end_headers()
                    return None
                headers = {"ETag": etag, **route.headers} if route.status == 200 else dict(route.headers)
                return self._send(route.status, route.content_type, route.body, headers, route.length)

            def _send(self, status: int, ctype: str, body: bytes, headers: dict[str, str] | None = None,
                      length: bool = True) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                if length:
                    self.send_header("Content-Length", str(len(body)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    return  # the client stopped reading (a size limit)
                srv.bytes_sent[self.path] += len(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return self.base + path

    def fixture(self, name: str) -> bytes:
        return (FIXTURES / name).read_bytes().replace(b"{base}", self.base.encode())

    def route(self, path: str) -> Route | None:
        if path in self.routes:
            return self.routes[path]
        for prefix in ("/feeds/", "/pages/"):
            if path.startswith(prefix) and (FIXTURES / path[len(prefix):]).is_file():
                name = path[len(prefix):]
                return Route(self.fixture(name), TYPES.get(Path(name).suffix, "application/octet-stream"))
        if path.startswith("/img/"):
            return Route(tiny_png(), "image/png")
        return None

    def __enter__(self) -> FixtureServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
