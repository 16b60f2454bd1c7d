"""Sending work to the broker: used by the API and the CLI to wake workers."""

from __future__ import annotations

from videogen.jobs import Job

from .celery_app import QUEUE, RENDER_TASK, WEBHOOK_TASK, default_app


def dispatch_render(job: Job) -> None:
    """Publish the render message for ``job`` once, without retrying: if the broker is down,
    the job stays queued in the store and the sweeper sends it later."""
    default_app().send_task(RENDER_TASK, args=[job.id], queue=QUEUE, priority=job.priority, retry=False)


def dispatch_webhook(job: Job) -> None:
    default_app().send_task(WEBHOOK_TASK, args=[job.id], queue=QUEUE, priority=9, retry=False)


def check_broker() -> None:
    """Raise if the broker cannot be reached within a few seconds (for /health)."""
    with default_app().connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=3)


def make_service(settings=None):  # type: ignore[no-untyped-def]
    """The service wired to this Celery app: used by the API, the CLI and the workers."""
    from videogen.service import VideoService
    from videogen.settings import get_settings

    svc = VideoService(settings or get_settings(), dispatch=dispatch_render, notify=dispatch_webhook)
    svc.migrate()
    return svc
