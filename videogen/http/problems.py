"""Problem details (RFC 9457): the one error type of the HTTP API. A handler raises
``Problem``; the handlers that ``install_problem_handlers`` adds answer it (and FastAPI's own
404/405 and validation errors) as ``application/problem+json``. ``ProblemDetails`` describes that
body in the OpenAPI document, and ``problems(*codes)`` lists it under a route's responses."""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from videogen.errors import JobNotFound, StoreUnavailable
from videogen.service.store import STORE_ERRORS, Job, PoolTimeout, store_failure
from videogen.service.videos import VideoService

log = logging.getLogger(__name__)

JOB_ID = r"^[a-f0-9]{32}$"
#: Seconds a client is asked to wait (Retry-After) when the job store cannot take a write.
STORE_RETRY_AFTER = 30
STORE_BUSY_RETRY_AFTER = 2  # seconds a client is told to wait when the job store's pool is drained
HTTP_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")  # sorted: the order of Allow


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


# --- the 404s of a job id ------------------------------------------------------------------------

def check_id(job_id: str) -> str:
    if not re.match(JOB_ID, job_id):
        raise Problem(404, "Not Found", f"no video {job_id[:40]!r}")
    return job_id


def job_or_404(service: VideoService, job_id: str) -> Job:
    try:
        return service.store.get(check_id(job_id))
    except JobNotFound:
        raise Problem(404, "Not Found", f"no video {job_id}") from None


# --- the exception handlers ------------------------------------------------------------------------

def install_problem_handlers(app: FastAPI) -> None:
    """Answer ``Problem``, Starlette's HTTP errors and request validation errors as problem JSON."""

    @app.exception_handler(Problem)
    async def _problem(_req: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(allowed_methods(app, request))
        title = {404: "Not Found", 405: "Method Not Allowed"}.get(exc.status_code, "Error")
        return problem_response(Problem(exc.status_code, title, str(exc.detail), headers=headers))

    @app.exception_handler(PoolTimeout)
    async def _store_busy(_req: Request, _exc: PoolTimeout) -> JSONResponse:
        return problem_response(Problem(503, "Service Unavailable", "the job store is busy: every connection stayed "
                                        "in use; try again shortly", headers={"Retry-After": str(STORE_BUSY_RETRY_AFTER)}))

    @app.exception_handler(RequestValidationError)
    async def _validation(_req: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"field": ".".join(str(p) for p in e["loc"] if p not in ("body", "query", "path")) or "body",
                   "message": e["msg"]} for e in exc.errors()]
        return problem_response(Problem(422, "Invalid request", errors[0]["message"] if errors else "", errors))

    async def _store(request: Request, exc: Exception) -> JSONResponse:
        failure = "unavailable" if isinstance(exc, StoreUnavailable) else store_failure(exc)
        if failure is None:
            log.error("%s %s: job store error", request.method, request.url.path, exc_info=exc)
            return problem_response(INTERNAL_ERROR)
        log.error("%s %s: the job store is %s: %s", request.method, request.url.path, failure, str(exc).splitlines()[0])
        return problem_response(store_unavailable(failure))

    for error_type in (*STORE_ERRORS, StoreUnavailable):
        app.add_exception_handler(error_type, _store)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # The last resort (Starlette still logs the exception): problem JSON without internals.
        log.error("%s %s failed: %s", request.method, request.url.path, type(exc).__name__)
        return problem_response(INTERNAL_ERROR)


INTERNAL_ERROR = Problem(500, "Internal Server Error", "the server failed to answer this request")


def store_unavailable(failure: str) -> Problem:
    """The 503 of a job store that cannot take the request (``failure``: full, read-only,
    unreachable…), with Retry-After."""
    return Problem(503, "Service Unavailable", f"the job store is {failure} and cannot take this request now; "
                   f"try again in {STORE_RETRY_AFTER} s", headers={"Retry-After": str(STORE_RETRY_AFTER)})


def allowed_methods(app: FastAPI, request: Request) -> list[str]:
    """Every method of the request's path, not just those of the route that matched first.
    Each method is tried against the app's routes (``route.matches``), because FastAPI keeps an
    included router as one route: its ``methods`` are not visible from ``app.routes``."""
    return [m for m in HTTP_METHODS
            if any(route.matches({**request.scope, "method": m})[0] == Match.FULL for route in app.routes)]


# --- the OpenAPI description -----------------------------------------------------------------------

class ProblemError(BaseModel):
    field: str
    message: str


class ProblemDetails(BaseModel):
    """RFC 9457 problem details."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    errors: list[ProblemError] | None = None


_DESCRIPTIONS = {400: "Not JSON", 401: "API key missing or wrong", 404: "Unknown job or file, or not done yet",
                 409: "Not possible in the job's state", 413: "Body or batch too large", 416: "Range not satisfiable",
                 422: "Invalid input; `errors` names each field", 429: "Rate limited; see Retry-After",
                 503: "A dependency is down, or the job store cannot write; see Retry-After"}


def problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for problem-JSON answers."""
    # FastAPI names the component after the model class: the $ref must follow the class name.
    ref = f"#/components/schemas/{ProblemDetails.__name__}"
    return {c: {"model": ProblemDetails, "description": _DESCRIPTIONS.get(c, "Error"),
                "content": {"application/problem+json": {"schema": {"$ref": ref}}}}
            for c in codes}
