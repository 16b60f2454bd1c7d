"""Request guards that run before any route (pure ASGI middleware over small pure checks):

- ``host_problem``: without ``VIDEOGEN_PUBLIC_URL`` the service builds absolute URLs (oEmbed,
  snippet, player) from the request's ``Host``; a Host not in ``VIDEOGEN_ALLOWED_HOSTS`` (default:
  loopback names, the public URL's host, a non-wildcard bind address) gets 400, so no cached
  answer can carry a URL an outsider chose.
- ``csrf_problem``: a browser's cross-site write is refused (403 for a foreign ``Origin`` or
  ``Sec-Fetch-Site: cross-site``), and so is a body that is not JSON (415): a form or
  ``text/plain`` POST from another site can no longer queue, cancel or re-render (no-key mode
  is otherwise open on 127.0.0.1). The image upload route (``UPLOADS``) also takes
  ``multipart/form-data``: a file stored by content, which changes no render by itself."""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from videogen.http.problems import Problem, problem_response

UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})

PUBLIC_WRITES = frozenset({"/beacon"})
"""Writes any site may send, with any body type: the player's beacons (``navigator.sendBeacon``
from an iframe on a newsroom's page, ``text/plain``). They change no stored content, only play
counters, and the route checks its body itself; the Host check still applies."""


UPLOADS = re.compile(r"^/v1/videos/[^/]+/pictures$")
"""Where a POST may carry ``multipart/form-data`` (an image upload) besides JSON."""


def host_name(host_header: str) -> str:
    """The name in a ``Host`` header, without port or IPv6 brackets, lower case."""
    h = host_header.strip().lower()
    if h.startswith("["):
        return h[1:h.find("]")] if "]" in h else h
    return h.rsplit(":", 1)[0] if h.count(":") == 1 else h


def host_problem(host_header: str | None, allowed: Sequence[str]) -> Problem | None:
    """400 naming the Host header when its name is not in ``allowed`` (``*`` allows any)."""
    if "*" in allowed:
        return None
    name = host_name(host_header or "")
    if name and name in allowed:
        return None
    return Problem(400, "Bad Request", f"the Host header {(host_header or '')[:100]!r} is not one this service answers "
                   "(set VIDEOGEN_ALLOWED_HOSTS or VIDEOGEN_PUBLIC_URL)",
                   [{"field": "Host", "message": "not an allowed host"}])


def _origin(url: str) -> str:
    parts = urlsplit(url.strip().lower())
    if not parts.scheme or not parts.hostname:
        return ""
    default = {"http": 80, "https": 443}.get(parts.scheme)
    port = parts.port if parts.port and parts.port != default else None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}" + (f":{port}" if port else "")


def csrf_problem(method: str, headers: Headers, scheme: str, public_url: str = "",
                 multipart: bool = False) -> Problem | None:
    """403 naming the header when an unsafe request comes from another site (its ``Origin``
    is neither this request's own origin nor the public URL's, or ``Sec-Fetch-Site`` says
    ``cross-site``); 415 naming Content-Type when an unsafe request has a body that is not
    JSON (or, with ``multipart``, multipart/form-data). ``None`` when the request may go on. Requests without ``Origin`` (curl, servers)
    pass: browsers send it on every cross-origin write."""
    if method.upper() not in UNSAFE:
        return None
    if headers.get("sec-fetch-site", "").lower() == "cross-site":
        return Problem(403, "Forbidden", "cross-site requests may not change anything (Sec-Fetch-Site: cross-site)",
                       [{"field": "Sec-Fetch-Site", "message": "cross-site writes are refused"}])
    origin = headers.get("origin")
    if origin is not None:
        own = {_origin(f"{scheme}://{headers.get('host', '')}")}
        if public_url:
            own.add(_origin(public_url))
        if _origin(origin) not in own - {""}:
            return Problem(403, "Forbidden", f"requests from origin {origin[:100]!r} may not change anything here",
                           [{"field": "Origin", "message": "not this service's origin"}])
    has_body = headers.get("transfer-encoding") is not None or headers.get("content-length", "0").strip() not in ("", "0")
    ctype = headers.get("content-type", "").split(";")[0].strip().lower()
    if has_body and not (ctype == "application/json" or ctype.endswith("+json")
                         or (multipart and ctype == "multipart/form-data")):
        return Problem(415, "Unsupported Media Type", f"the body must be application/json, not {ctype or 'untyped'!r}",
                       [{"field": "Content-Type", "message": "must be application/json"}])
    return None


class Guards:
    """ASGI middleware: ``host_problem`` (when no public URL is configured) and
    ``csrf_problem`` (except on ``PUBLIC_WRITES``) before the app sees the request."""

    def __init__(self, app: ASGIApp, allowed_hosts: Sequence[str], public_url: str = ""):
        self.app, self.allowed, self.public_url = app, list(allowed_hosts), public_url

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = Headers(scope=scope)
            problem = None if self.public_url else host_problem(headers.get("host"), self.allowed)
            if scope["path"] not in PUBLIC_WRITES:
                multipart = scope["method"] == "POST" and UPLOADS.match(scope["path"]) is not None
                problem = problem or csrf_problem(scope["method"], headers, scope.get("scheme", "http"), self.public_url,
                                                  multipart)
            if problem is not None:
                await problem_response(problem)(scope, receive, send)
                return
        await self.app(scope, receive, send)
