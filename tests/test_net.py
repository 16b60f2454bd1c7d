"""Image fetching against a real HTTP server on 127.0.0.1: address checks (also after
redirects and against DNS answers that change), limits, content types and timeouts."""

from __future__ import annotations

import io
import socket
import sys
import threading
import time
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from PIL import Image

from videogen.errors import ImageError, TransientImageError
from videogen.net import is_public_address
from videogen.render.images import ImageLimits, fetch_image_bytes

LIMITS = ImageLimits(max_bytes=200_000, timeout=2.0)


def jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (32, 24), (200, 40, 40)).save(buf, "JPEG")
    return buf.getvalue()


class Handler(BaseHTTPRequestHandler):
    routes: dict = {}

    def do_GET(self) -> None:  # noqa: N802
        route = self.routes.get(self.path.split("?")[0])
        if route is None:
            self.send_response(404)
            self.end_headers()
            return
        route(self)

    def log_message(self, *args) -> None:  # type: ignore[no-untyped-def]
        pass


def reply(status=200, body=b"", ctype="image/jpeg", headers=None, length=True):  # type: ignore[no-untyped-def]
    def handle(h: BaseHTTPRequestHandler) -> None:
        h.send_response(status)
        h.send_header("Content-Type", ctype)
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        if length:
            h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)
    return handle


def hang(h: BaseHTTPRequestHandler) -> None:
    time.sleep(8)


def drip(h: BaseHTTPRequestHandler) -> None:
    h.send_response(200)
    h.send_header("Content-Type", "image/jpeg")
    h.end_headers()
    for _ in range(20):
        h.wfile.write(b"x" * 10)
        h.wfile.flush()
        time.sleep(0.5)


@pytest.fixture(scope="module")
def server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    port = srv.server_port
    base = f"http://127.0.0.1:{port}"
    Handler.routes = {
        "/ok.jpg": reply(body=jpeg()),
        "/page": reply(body=b"<html></html>", ctype="text/html"),
        "/vector.svg": reply(body=b"<svg xmlns='http://www.w3.org/2000/svg'/>", ctype="image/svg+xml"),
        "/huge": reply(body=b"x" * 300_000),
        "/huge-chunked": reply(body=b"x" * 300_000, length=False),
        "/to-metadata": reply(302, headers={"Location": "http://169.254.169.254/latest/meta-data/"}),
        "/to-ftp": reply(302, headers={"Location": "ftp://127.0.0.1/x.jpg"}),
        "/to-ok": reply(302, headers={"Location": "/ok.jpg"}),
        "/loop": reply(302, headers={"Location": "/loop"}),
        "/broken": reply(500, body=b"oops", ctype="text/plain"),
        "/hang": hang,
        "/drip": drip,
    }
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield base
    srv.shutdown()


@pytest.fixture()
def allow_local(monkeypatch):
    """The tests' own server is on 127.0.0.1: allow-list it (VIDEOGEN_IMAGE_HOSTS_ALLOW)."""
    monkeypatch.setattr(sys.modules[__name__], "LIMITS", replace(LIMITS, allowed_hosts=frozenset({"127.0.0.1", "rebind.test"})))


@pytest.mark.parametrize("url", [
    "http://127.0.0.1/x.jpg", "http://localhost/x.jpg", "http://[::1]/x.jpg", "http://10.1.2.3/x.jpg",
    "http://192.168.1.1/x.jpg", "http://169.254.169.254/latest/meta-data/", "http://[::ffff:127.0.0.1]/x.jpg",
    "http://2130706433/x.jpg", "http://0.0.0.0/x.jpg", "http://224.0.0.1/x.jpg", "http://100.64.0.1/x.jpg",
])
def test_non_public_addresses_are_refused_before_connecting(url):
    with pytest.raises(ImageError, match="non-public address"):
        fetch_image_bytes(url, LIMITS)


@pytest.mark.parametrize("url", ["ftp://example.org/x.jpg", "file:///etc/passwd", "gopher://x/", "http://user:pw@example.org/x.jpg"])
def test_only_plain_http_urls(url):
    with pytest.raises(ImageError):
        fetch_image_bytes(url, LIMITS)


def test_public_address_classification():
    assert is_public_address("93.184.216.34")
    for ip in ("127.0.0.1", "10.0.0.1", "172.16.0.1", "169.254.169.254", "::1", "fe80::1", "fc00::1", "::ffff:10.0.0.1"):
        assert not is_public_address(ip), ip


@pytest.mark.parametrize(("ip", "public"), [
    ("93.184.216.34", True),
    ("2606:4700::6810:85e5", True),
    ("::ffff:93.184.216.34", True),  # IPv4-mapped: judged by its IPv4 address
    ("::ffff:127.0.0.1", False),
    ("::ffff:10.0.0.1", False),
    ("2002:5db8:d822::1", True),  # 6to4 of 93.184.216.34
    ("2002:7f00:1::", False),  # 6to4 of 127.0.0.1
    ("2002:a00:1::1", False),  # 6to4 of 10.0.0.1
    ("2002:a9fe:a9fe::", False),  # 6to4 of 169.254.169.254
    ("2002:c0a8:101::1", False),  # 6to4 of 192.168.1.1
    ("2001:0:4136:e378:8000:63bf:3fff:fdd2", False),  # Teredo
    ("2001::7f00:1", False),  # Teredo
    ("64:ff9b::a00:1", False),  # NAT64 of 10.0.0.1
    ("64:ff9b::7f00:1", False),  # NAT64 of 127.0.0.1
    ("64:ff9b:1::a00:1", False),  # NAT64 local use (RFC 8215)
    ("::127.0.0.1", False),  # IPv4-compatible
    ("::a9fe:a9fe", False),  # IPv4-compatible 169.254.169.254
    ("fec0::1", False),  # site-local
    ("feff::1", False),  # site-local
    ("fc00::1", False),
    ("fd12:3456::1", False),
    ("fe80::1", False),
    ("ff02::1", False),
    ("::", False),
    ("::1", False),
    ("100::1", False),  # discard-only
    ("2001:db8::1", False),  # documentation
])
def test_ipv6_encodings_of_private_addresses_are_not_public(ip, public):
    assert is_public_address(ip) is public


@pytest.mark.parametrize("url", ["http://[2002:7f00:1::]/x.jpg", "http://[fec0::1]/x.jpg", "http://[64:ff9b::7f00:1]/x.jpg"])
def test_images_at_encoded_private_addresses_are_refused(url):
    with pytest.raises(ImageError, match="non-public"):
        fetch_image_bytes(url, LIMITS)


def test_allow_listed_host_is_fetched(server, allow_local):
    assert fetch_image_bytes(f"{server}/ok.jpg", LIMITS) == jpeg()
    assert fetch_image_bytes(f"{server}/to-ok", LIMITS) == jpeg()


@pytest.mark.parametrize(("path", "error", "words"), [
    ("/page", ImageError, "not a raster image"),
    ("/vector.svg", ImageError, "not a raster image"),
    ("/huge", ImageError, "limit"),
    ("/huge-chunked", ImageError, "larger than"),
    ("/to-metadata", ImageError, "non-public address"),
    ("/to-ftp", ImageError, "only http"),
    ("/loop", ImageError, "redirects"),
    ("/missing.jpg", ImageError, "404"),
    ("/broken", TransientImageError, "500"),
])
def test_bad_answers_are_refused(server, allow_local, path, error, words):
    with pytest.raises(error, match=words):
        fetch_image_bytes(f"{server}{path}", LIMITS)


def test_hanging_and_dripping_hosts_are_bounded(server, allow_local):
    for path in ("/hang", "/drip"):
        t0 = time.monotonic()
        with pytest.raises(TransientImageError):
            fetch_image_bytes(f"{server}{path}", LIMITS)
        assert time.monotonic() - t0 < LIMITS.timeout * 2 + 2, path


def test_connection_goes_to_the_checked_address(server, allow_local, monkeypatch):
    """A DNS answer that changes between the check and the connection (rebinding) has no
    effect: the host is resolved once per hop and the checked address is the one used."""
    port = int(server.rsplit(":", 1)[1])
    calls = []
    real = socket.getaddrinfo

    def rebinding(host, *args, **kwargs):  # type: ignore[no-untyped-def]
        if host != "rebind.test":
            return real(host, *args, **kwargs)
        calls.append(host)
        ip = "127.0.0.1" if len(calls) == 1 else "10.255.255.1"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    assert fetch_image_bytes(f"http://rebind.test:{port}/ok.jpg", LIMITS) == jpeg()
    assert calls == ["rebind.test"]
