"""Request limits: ``BodyLimit``, an ASGI middleware that caps the size of request bodies."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from videogen.http.problems import Problem, problem_response


class BodyLimit:
    """Refuse request bodies over ``limit`` bytes with 413, whether or not they declare a
    Content-Length, before the application reads them."""

    def __init__(self, app: ASGIApp, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        too_big = Problem(413, "Payload Too Large", f"request bodies are limited to {self.limit} bytes")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            return await problem_response(too_big)(scope, receive, send)
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooBig()
            return message

        try:
            return await self.app(scope, counted, send)
        except _TooBig:
            return await problem_response(too_big)(scope, receive, send)


class _TooBig(Exception):
    pass
