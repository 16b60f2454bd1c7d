"""Problem details (RFC 9457): the one error type of the HTTP API. A handler raises
``Problem``; the app's exception handler answers it as ``application/problem+json``."""

from __future__ import annotations

import re
from typing import Any

from fastapi.responses import JSONResponse

JOB_ID = r"^[a-f0-9]{32}$"


class Problem(Exception):
    def __init__(self, status: int, title: str, detail: str = "", errors: list[dict[str, str]] | None = None,
                 headers: dict[str, str] | None = None):
        self.status, self.title, self.detail, self.errors, self.headers = status, title, detail, errors, headers or {}


def problem_response(p: Problem) -> JSONResponse:
    body: dict[str, Any] = {"type": "about:blank", "title": p.title, "status": p.status}
    if p.detail:
        body["detail"] = p.detail
    if p.errors:
        body["errors"] = p.errors
    return JSONResponse(body, status_code=p.status, headers=p.headers, media_type="application/problem+json")


def check_id(job_id: str) -> str:
    if not re.match(JOB_ID, job_id):
        raise Problem(404, "Not Found", f"no video {job_id[:40]!r}")
    return job_id


