"""Celery tasks: load a job, let the service run it, retry transient failures with backoff."""

from __future__ import annotations

import functools
import logging
import os
import socket

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded

from videogen.jobs import Job
from videogen.service import VideoService, public_job
from videogen.settings import get_settings
from videogen.webhooks import WebhookError, WebhookRefused, deliver

from .celery_app import RENDER_TASK, WEBHOOK_TASK

log = logging.getLogger(__name__)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@functools.lru_cache(maxsize=1)
def service() -> VideoService:
    from .dispatch import make_service

    return make_service(get_settings())


@shared_task(name=RENDER_TASK, bind=True, max_retries=None, acks_late=True)
def render_article(self, job_id: str) -> str:
    svc = service()
    try:
        outcome = svc.run(job_id, worker_name())
    except SoftTimeLimitExceeded:
        job = svc.store.get(job_id)
        svc.store.fail(job_id, job.lease, f"render took longer than {svc.settings.task_soft_time_limit:g} s")
        return "failed"
    if outcome.status == "retry":
        job = svc.store.get(job_id)
        countdown = svc.settings.retry_backoff * 2 ** max(0, job.attempts - 1)
        log.warning("job %s: transient failure (%s); retrying in %.0f s", job_id, outcome.error, countdown)
        raise self.retry(countdown=countdown)
    return outcome.status


@shared_task(name=WEBHOOK_TASK, bind=True, max_retries=None, acks_late=True)
def send_webhook(self, job_id: str) -> str:
    svc = service()
    job: Job = svc.store.get(job_id)
    if not job.webhook_url:
        return "none"
    event = "video.done" if job.status == "done" else "video.failed"
    base = svc.settings.public_url.rstrip("/")
    try:
        code = deliver(job.webhook_url, event, public_job(job, base), job.webhook_secret, svc.settings.webhook_timeout)
    except WebhookRefused as e:
        svc.store.set_webhook_status(job_id, "refused")
        log.error("job %s: %s", job_id, e)
        return "refused"
    except WebhookError as e:
        attempt = self.request.retries + 1
        if attempt >= svc.settings.webhook_max_attempts:
            svc.store.set_webhook_status(job_id, f"failed after {attempt} attempts")
            return "failed"
        svc.store.set_webhook_status(job_id, f"retrying ({attempt})")
        raise self.retry(countdown=min(600, 5 * 3 ** (attempt - 1)), exc=e) from None
    svc.store.set_webhook_status(job_id, f"delivered ({code})")
    return "delivered"
