"""Sending work to the broker: used by the API and the CLI to wake workers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from videogen.service.store import Job

from .celery_app import QUEUE, RENDER_TASK, WEBHOOK_TASK, default_app

if TYPE_CHECKING:
    from celery import Celery

    from videogen.service.videos import VideoService
    from videogen.settings import Settings


def broker_priority(priority: int, broker_url: str) -> int:
    """Our priority (0 lowest … 9 highest) as the broker's message priority. AMQP (RabbitMQ)
    serves higher numbers first; Celery's Redis transport does the opposite (0 first), so on
    Redis the scale is flipped — without this, urgent jobs waited behind everything else."""
    priority = max(0, min(9, priority))
    if broker_url.startswith(("redis://", "rediss://", "sentinel://")):
        return 9 - priority
    return priority


def dispatch_render(job: Job, app: Celery | None = None) -> None:
    """Publish the render message for ``job`` once, without retrying: if the broker is down,
    the job stays queued in the store and the sweeper sends it later."""
    app = app or default_app()
    app.send_task(RENDER_TASK, args=[job.id], queue=QUEUE, retry=False,
                  priority=broker_priority(job.priority, app.conf.broker_url or ""))


def dispatch_webhook(job: Job, webhook_id: int | None = None, app: Celery | None = None) -> None:
    """Publish the webhook message of ``job``: its legacy ``webhook_url`` (no id) or one
    caller's ``job_webhooks`` row; each is delivered and retried on its own."""
    app = app or default_app()
    args: list[object] = [job.id] if webhook_id is None else [job.id, webhook_id]
    app.send_task(WEBHOOK_TASK, args=args, queue=QUEUE, retry=False,
                  priority=broker_priority(9, app.conf.broker_url or ""))


def broker_queue_depth(app: Celery | None = None) -> int:
    """Messages waiting in the render queue (all priority levels), as the broker counts them."""
    app = app or default_app()
    queue = app.amqp.queues[QUEUE]  # declared exactly as the workers declare it
    with app.connection_for_read() as conn:
        conn.ensure_connection(max_retries=1, timeout=3)
        return int(queue(conn.default_channel).queue_declare().message_count)


def check_broker() -> None:
    """Raise if the broker cannot be reached within a few seconds (for /health)."""
    with default_app().connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=3)


def make_service(settings: Settings | None = None) -> VideoService:
    """The service wired to this Celery app: used by the API, the CLI and the workers."""
    from videogen.service.videos import VideoService
    from videogen.settings import get_settings

    svc = VideoService(settings or get_settings(), dispatch=dispatch_render, notify=dispatch_webhook)
    svc.migrate()
    return svc
