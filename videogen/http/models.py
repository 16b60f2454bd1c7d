"""Response shapes of the HTTP API, for its OpenAPI document (and schemathesis, which checks
every answer against them). The handlers build plain dicts; these only describe them. The
shapes of the service's own data (a job, its events, the queue view) live with the service, in
``videogen.service.views``; problem JSON is ``videogen.http.problems.ProblemDetails``."""

from __future__ import annotations

from pydantic import BaseModel

from videogen.service.views import JobOut


class BatchOut(BaseModel):
    jobs: list[JobOut]


class JobList(BaseModel):
    items: list[JobOut]
    next: str | None
    counts: dict[str, int]
    counts_exact: bool = True  # per-status counts of the whole store, from maintained counters


class TemplateOut(BaseModel):
    name: str
    width: int
    height: int
    fps: float
    aspect: str
    description: str


class Health(BaseModel):
    status: str
    checks: dict[str, str]
    version: str
