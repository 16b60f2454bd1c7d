"""What the service shows of its data: the public shape of a job, its events and the
operator's queue view. ``public_job`` and ``VideoService.queue_overview`` build these; the HTTP
API names them in its OpenAPI document (and schemathesis checks every answer against them), and
the CLI's ``--json`` output is the same shape. One home, so the shape and its description cannot
drift apart. Never the webhook secret."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from pydantic import BaseModel, Field

# An absolute POSIX path of two or more parts not inside a URL (no word character, ``:`` or
# ``/`` right before it), or a file-like URL (file:, sqlite:, the embedded broker's sqla+sqlite:).
_PATH = re.compile(r"(?<![\w:/.~-])/(?:[\w.@+~-]+/)+([\w.@+~-]+)")
_FILE_URL = re.compile(r"\b(?:file|sqlite|sqla\+sqlite|filesystem)://[^\s'\"]*", re.IGNORECASE)


def scrub_paths(text: str | None) -> str | None:
    """``text`` without filesystem paths: an absolute path keeps only its last part
    (``/srv/videogen/media/ab/video.mp4`` → ``…/video.mp4``) and file or SQLite URLs become
    ``<path>``. For error texts shown to callers; URLs (``https://host/a/b``) are kept."""
    if not text:
        return text
    text = _FILE_URL.sub("<path>", text)
    return _PATH.sub(lambda m: "…/" + m.group(1), text)


def webhook_summary(statuses: Iterable[str | None]) -> str | None:
    """One status for a job's webhooks: the status when they all agree, else counts
    (``"1× delivered (204), 1× retrying (2)"``); ``None`` stands for pending."""
    counts = Counter(s or "pending" for s in statuses)
    if not counts:
        return None
    if len(counts) == 1:
        only = next(iter(counts))
        return None if only == "pending" else only
    return ", ".join(f"{n}× {s}" for s, n in sorted(counts.items()))


class ArticleRef(BaseModel):
    id: str
    title: str | None = None
    language: str | None = None
    url: str | None = None


class WebhookState(BaseModel):
    """A job's webhook(s): the URL is never shown (it may carry a token), only that one is set."""

    url: str = Field("set", description='Always "set": webhook URLs are never echoed.')
    status: str | None = None
    count: int = Field(1, description="Webhooks to call for this render (one per caller that asked for one).")


class Publication(BaseModel):
    state: str = Field(description='"published", "unpublished" (taken down by an editor) or "not published"')
    version: str | None = Field(description="The clip's published version (a job id) while it is published")


class ReviewOut(BaseModel):
    by: str | None = Field(description="The name of the API key that approved or rejected this version")
    at: str
    reason: str | None = Field(description="Why it was rejected (null when approved)")


class JobOut(BaseModel):
    id: str
    status: str = Field(description="queued, rendering, review (waiting for an editor), done, failed, rejected or cancelled")
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
    publish: str = Field("auto", description='"auto" or "review": how its render ends (options.publish)')
    publication: Publication | None = Field(None, description="Its clip's publication (one article, one template)")
    review: ReviewOut | None = Field(None, description="The editor's decision, once approved or rejected")
    deduplicated: bool | None = Field(None, description="On enqueue: true when an existing job was returned.")


class JobEventOut(BaseModel):
    at: str
    event: str = Field(description="queued, rendering, review, done, failed, retry, requeued, cancelled, retried; "
                                   "editorial: approved, rejected, published, unpublished, script corrected, pictures changed, "
                                   "preview link")
    worker: str | None
    detail: str | None
    by: str | None = Field(None, description="Who did an editorial action (the API key's name, cli)")


class JobEvents(BaseModel):
    id: str
    items: list[JobEventOut]


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
