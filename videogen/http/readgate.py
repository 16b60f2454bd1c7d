"""``ReadGate``: an ASGI middleware that lets at most ``limit`` heavy reads run at once in this
process. The operator's views and the job list make several queries over every job each; a
burst of them could otherwise take every worker thread and job-store connection, and the
write path and single-job reads would wait behind them. A heavy read that waits longer than
``wait`` seconds for its turn is answered 503 with Retry-After."""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Receive, Scope, Send

from videogen.http.problems import Problem, problem_response

HEAVY_READS = 4
"""Heavy reads served at once per API process (the job store's pool holds 5 + 10 connections)."""

HEAVY_WAIT = 10.0
"""Seconds a heavy read may wait for its turn before it is answered 503."""

HEAVY_PATHS = frozenset({"/v1/queue", "/metrics", "/v1/videos"})


class ReadGate:
    def __init__(self, app: ASGIApp, limit: int = HEAVY_READS, wait: float = HEAVY_WAIT):
        self.app, self.wait = app, wait
        self._slots = asyncio.Semaphore(limit)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD") or scope["path"] not in HEAVY_PATHS:
            return await self.app(scope, receive, send)
        try:
            await asyncio.wait_for(self._slots.acquire(), self.wait)
        except TimeoutError:
            busy = Problem(503, "Service Unavailable", f"too many reads of {scope['path']} at once; try again shortly",
                           headers={"Retry-After": "2"})
            return await problem_response(busy)(scope, receive, send)
        try:
            return await self.app(scope, receive, send)
        finally:
            self._slots.release()
