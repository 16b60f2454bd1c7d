"""Request limits: ``BodyLimit``, an ASGI middleware that caps the size of request bodies, and
``json_depth``, the nesting of a JSON body measured before it is parsed."""

from __future__ import annotations

import re
from itertools import accumulate

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from videogen.http.problems import Problem, problem_response

#: A route whose bodies may be larger than the rest's: (method, path pattern, limit in bytes).
LargerBodies = tuple[tuple[str, "re.Pattern[str]", int], ...]


class BodyLimit:
    """Refuse request bodies over ``limit`` bytes (or a ``larger`` route's own limit: image
    uploads) with 413, whether or not they declare a Content-Length, before the application
    reads them."""

    def __init__(self, app: ASGIApp, limit: int, larger: LargerBodies = ()):
        self.app, self.default, self.larger = app, limit, larger

    def limit_for(self, scope: Scope) -> int:
        for method, path, limit in self.larger:
            if scope.get("method") == method and path.match(scope.get("path", "")):
                return limit
        return self.default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self.limit_for(scope)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        too_big = Problem(413, "Payload Too Large", f"request bodies are limited to {limit} bytes")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            return await problem_response(too_big)(scope, receive, send)
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _TooBig()
            return message

        try:
            return await self.app(scope, counted, send)
        except _TooBig:
            return await problem_response(too_big)(scope, receive, send)


class _TooBig(Exception):
    pass


#: The deepest nesting of arrays and objects a JSON body may have: an article and its options
#: need 4 levels; Python's JSON parser recurses once per level and fails near 1,000.
MAX_JSON_DEPTH = 64

_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")
_STEP = [1 if chr(b) in "[{" else -1 if chr(b) in "]}" else 0 for b in range(256)]


def json_depth(raw: bytes) -> int:
    """How deep the arrays and objects of the JSON text ``raw`` nest, without parsing it (no
    recursion, linear time): strings are cut out, then the brackets left are counted. Brackets
    inside an unterminated string count too (such a body is not JSON anyway)."""
    brackets = _JSON_STRING.sub(b"", raw).translate(None, _NOT_BRACKET)
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0)
