"""``videogen worker``: a Celery worker that also sweeps for lost jobs."""

from __future__ import annotations

import logging
import os
import threading

from celery.signals import worker_ready, worker_shutdown

from videogen.settings import get_settings

from .celery_app import QUEUE, default_app

log = logging.getLogger(__name__)
_stop = threading.Event()


@worker_ready.connect
def _start_sweeper(**_kwargs) -> None:  # type: ignore[no-untyped-def]
    from .tasks import service

    service().start_sweeper(_stop)
    log.info("sweeper started (every %ss)", get_settings().sweep_interval)


@worker_shutdown.connect
def _stop_sweeper(**_kwargs) -> None:  # type: ignore[no-untyped-def]
    _stop.set()


def run_worker(name: str | None = None, concurrency: int | None = None, loglevel: str = "INFO") -> None:
    settings = get_settings()
    app = default_app()
    argv = [
        "worker", f"--loglevel={loglevel}", f"--queues={QUEUE}", "--pool=prefork",
        f"--concurrency={concurrency or settings.worker_concurrency}",
        f"--hostname={name or f'videogen-{os.getpid()}@%h'}", "--without-gossip", "--without-mingle",
    ]
    app.worker_main(argv)
