"""Response shapes of the HTTP API, for its OpenAPI document (and schemathesis, which checks
every answer against them). The handlers build plain dicts; these only describe them."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ProblemError(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    errors: list[ProblemError] | None = None


class ArticleRef(BaseModel):
    id: str
    title: str | None = None
    language: str | None = None
    url: str | None = None


class WebhookState(BaseModel):
    url: str
    status: str | None = None


class JobOut(BaseModel):
    id: str
    status: str = Field(description="queued, rendering, done, failed or cancelled")
    stage: str | None
    percent: float
    error: str | None
    attempts: int
    article: ArticleRef
    template: str
    voice: str | None
    tts: str | None
    priority: int
    content_key: str
    worker: str | None
    heartbeat_at: str | None
    created_at: str | None
    started_at: str | None
    finished_at: str | None
    duration: float | None
    render_seconds: float | None
    engine: str | None
    webhook: WebhookState | None
    links: dict[str, str]
    deduplicated: bool | None = Field(None, description="On enqueue: true when an existing job was returned.")


class BatchOut(BaseModel):
    jobs: list[JobOut]


class JobList(BaseModel):
    items: list[JobOut]
    next: str | None
    counts: dict[str, int]


class RunningJob(BaseModel):
    id: str
    article_id: str
    title: str | None
    worker: str | None = Field(description="host:pid of the render process")
    stage: str | None
    percent: float
    attempts: int
    started_at: str | None
    heartbeat_at: str | None
    heartbeat_age: float | None = Field(description="Seconds since the worker's last heartbeat")


class FailedJob(BaseModel):
    id: str
    article_id: str
    title: str | None
    error: str | None
    attempts: int
    worker: str | None
    finished_at: str | None


class WorkerStats(BaseModel):
    worker: str
    renders: int = Field(description="Renders finished (done) by this worker")
    render_seconds: float


class QueueOut(BaseModel):
    """The operator's view of the fleet (GET /v1/queue, `videogen queue --json`)."""

    broker_queue_depth: int | None = Field(description="Messages waiting in the broker's render queue (null: broker not reachable)")
    broker_error: str | None = None
    counts: dict[str, int] = Field(description="Jobs per status in the job store")
    stale_after: float = Field(description="Seconds of heartbeat silence after which a job is given to another worker")
    running: list[RunningJob]
    failed: list[FailedJob] = Field(description="Most recently failed jobs, newest first")
    workers: list[WorkerStats]
    generated_at: str


class JobEventOut(BaseModel):
    at: str
    event: str = Field(description="queued, rendering, done, failed, retry, requeued, cancelled or retried")
    worker: str | None
    detail: str | None


class JobEvents(BaseModel):
    id: str
    items: list[JobEventOut]


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


def problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for problem-JSON answers."""
    text = {400: "Not JSON", 401: "API key missing or wrong", 404: "Unknown job or file, or not done yet",
            409: "Not possible in the job's state", 413: "Body or batch too large", 416: "Range not satisfiable",
            422: "Invalid input; `errors` names each field", 429: "Rate limited; see Retry-After", 503: "A dependency is down"}
    return {c: {"model": Problem, "description": text.get(c, "Error"),
                "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
            for c in codes}
