"""Celery tasks: load a job, let the service run it, retry transient failures with backoff."""

from __future__ import annotations

import functools
import gc
import logging
import os
import socket
from typing import Any

from celery import Task, shared_task
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import worker_process_init

from videogen.render.memory import release_memory
from videogen.service.backoff import render_retry_delay, webhook_retry_delay
from videogen.service.store import Job
from videogen.service.videos import VideoService
from videogen.service.webhooks import WebhookError, WebhookRefused, deliver, event_for
from videogen.settings import get_settings

from .celery_app import GC_TASK, POLL_FEEDS_TASK, RENDER_TASK, WEBHOOK_TASK

log = logging.getLogger(__name__)


def worker_name() -> str:
    """``host:pid`` of this render process; the host is VIDEOGEN_WORKER_HOST when set (workers
    on several machines, or containers whose host names are random)."""
    return f"{get_settings().worker_host or socket.gethostname()}:{os.getpid()}"


@functools.lru_cache(maxsize=1)
def service() -> VideoService:
    from .dispatch import make_service

    return make_service(get_settings())


@worker_process_init.connect
def _fresh_connections_after_fork(**_kwargs: Any) -> None:
    """A prefork pool child starts with a copy of its parent's memory, including the job
    store's pooled database connections (the parent's sweeper uses them): sharing a psycopg
    connection across fork corrupts both sides' sessions. Drop the copies; the child opens
    its own. (The S3 client is per-process already.)"""
    if service.cache_info().currsize:
        service().store.dispose_after_fork()


@shared_task(name=RENDER_TASK, bind=True, max_retries=None, acks_late=True)
def render_article(self: Task, job_id: str) -> str:
    svc = service()
    outcome = None
    try:
        outcome = svc.run(job_id, worker_name())
    except SoftTimeLimitExceeded:
        # Only if this process still holds the job: a lost job belongs to another worker now.
        if svc.store.fail_if_worker(job_id, worker_name(),
                                    f"render took longer than {svc.settings.task_soft_time_limit:g} s"):
            svc.notify(svc.store.get(job_id))
            return "failed"
        return "lost"
    finally:
        # A render's buffers are garbage now (finished, failed or cancelled): hand them back
        # to the system so the pool process does not keep its largest render's peak. A message
        # dropped unrun (its job no longer queued: a duplicate) made none, and a full collection
        # would make its drop take ~0.2 s instead of milliseconds.
        if outcome is None or outcome.status != "skipped":
            gc.collect()
            release_memory()
    if outcome.status == "retry":
        job = svc.store.get(job_id)
        countdown = render_retry_delay(job.attempts, first=svc.settings.retry_backoff)
        log.warning("job %s: transient failure (%s); retrying in %.0f s", job_id, outcome.error, countdown)
        raise self.retry(countdown=countdown)
    return outcome.status


@shared_task(name=WEBHOOK_TASK, bind=True, max_retries=None, acks_late=True)
def send_webhook(self: Task, job_id: str, webhook_id: int | None = None, event: str | None = None) -> str:
    """Deliver one webhook of a finished job: the legacy ``jobs.webhook_url`` (no id; messages
    queued before per-caller webhooks carry only the job id) or one caller's ``job_webhooks``
    row. Each webhook has its own retries with backoff and its own status. ``event``: an
    editorial event (``video.published``, ``video.unpublished``); else the job's ending."""
    svc = service()
    job: Job = svc.store.get(job_id)
    if webhook_id is None:
        url, secret = job.webhook_url, job.webhook_secret

        def set_status(status: str) -> None:
            svc.store.set_webhook_status(job_id, status)
    else:
        hook = svc.store.webhook(webhook_id)
        if hook is None or hook.job_id != job_id:
            return "none"
        url, secret = hook.url, hook.secret

        def set_status(status: str) -> None:
            svc.store.set_hook_status(webhook_id, status)
    if not url:
        return "none"
    name = event_for(job.status, event)
    base = svc.settings.public_url.rstrip("/")
    try:
        code = deliver(url, name, svc.job_view(job, base), secret, svc.settings.webhook_timeout,
                       svc.settings.webhook_hosts)
    except WebhookRefused as e:
        set_status("refused")
        log.error("job %s: %s", job_id, e)
        return "refused"
    except WebhookError as e:
        attempt = self.request.retries + 1
        if attempt >= svc.settings.webhook_max_attempts:
            set_status(f"failed after {attempt} attempts")
            return "failed"
        set_status(f"retrying ({attempt})")
        raise self.retry(countdown=webhook_retry_delay(attempt), exc=e) from None
    set_status(f"delivered ({code})")
    return "delivered"


@shared_task(name=POLL_FEEDS_TASK, ignore_result=True)
def poll_feeds() -> dict[str, int]:
    """The beat's periodic task: poll the registered feeds that are due (each claimed by one
    process: several workers running it at once poll a feed once)."""
    from videogen.service.ingest.poller import FeedService

    results = FeedService(service()).poll_due()
    return {"polled": len(results), "jobs": sum(len(r.job_ids) for r in results),
            "failed": sum(r.status == "failed" for r in results)}


@shared_task(name=GC_TASK, ignore_result=True)
def collect_garbage() -> dict[str, object]:
    """The beat's retention run (``videogen gc``): what it reclaimed."""
    from videogen.service.retention import collect

    svc = service()
    return collect(svc.store, svc.storage, svc.settings).as_dict()
