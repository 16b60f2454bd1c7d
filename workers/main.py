"""``videogen worker``: a Celery worker that also sweeps for lost jobs."""

from __future__ import annotations

import logging
import os
import sys
import threading
import warnings
from typing import Any

from celery.signals import worker_ready, worker_shutdown

from videogen.settings import get_settings

from .celery_app import QUEUE, default_app

log = logging.getLogger(__name__)
_stop = threading.Event()
_one_line = False  # run_worker(banner=False): a single "ready" line instead of Celery's banner


@worker_ready.connect
def _start_sweeper(**_kwargs: Any) -> None:
    from .tasks import service

    service().start_sweeper(_stop)
    log.info("sweeper started (every %ss)", get_settings().sweep_interval)


@worker_ready.connect
def _say_ready(sender: Any = None, **_kwargs: Any) -> None:
    """``sender`` is the worker's consumer: its host name, its worker and its app."""
    if _one_line and sender is not None:
        # sys.__stderr__: Celery has redirected sys.stderr to its logger by now.
        print(ready_line(sender.hostname, sender.controller.concurrency, sender.app.conf.broker_url or ""),
              file=sys.__stderr__, flush=True)


@worker_shutdown.connect
def _stop_sweeper(**_kwargs: Any) -> None:
    _stop.set()


def ready_line(hostname: str, processes: int, broker_url: str) -> str:
    """What a worker started with ``banner=False`` says once it takes work, e.g.
    ``videogen: worker serve0-1234@host ready: 1 process, broker sqla+sqlite:///…``
    (passwords in the broker URL masked)."""
    from kombu.utils.url import maybe_sanitize_url

    root = " (running as root)" if hasattr(os, "geteuid") and os.geteuid() == 0 else ""
    return (f"videogen: worker {hostname} ready: {processes} process{'es' if processes != 1 else ''}, "
            f"broker {maybe_sanitize_url(broker_url)}{root}")


def run_beat(loglevel: str = "INFO") -> None:
    """Run Celery beat: it sends the feed-polling task every VIDEOGEN_FEED_TICK seconds (one beat
    per deployment; a second one is harmless: each feed's poll is claimed by one process)."""
    settings = get_settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    default_app().start(["beat", f"--loglevel={loglevel}", f"--schedule={settings.home / 'celerybeat-schedule'}"])


def run_worker(name: str | None = None, concurrency: int | None = None, loglevel: str = "INFO",
               banner: bool = True, beat: bool = False) -> None:
    """Run a Celery worker on the render queue until it is told to stop. ``banner=False`` (what
    ``videogen serve`` asks for) replaces Celery's start-up banner, and its warning about
    running as root, with one line once the worker is ready (the line says "running as root")."""
    global _one_line
    settings = get_settings()
    app = default_app()
    argv = [
        "worker", f"--loglevel={loglevel}", f"--queues={QUEUE}", "--pool=prefork",
        f"--concurrency={concurrency or settings.worker_concurrency}",
        f"--hostname={name or f'videogen-{os.getpid()}@%h'}", "--without-gossip", "--without-mingle",
    ]
    if beat:  # the beat inside this worker (one such worker per deployment)
        settings.home.mkdir(parents=True, exist_ok=True)
        argv += ["--beat", f"--schedule={settings.home / 'celerybeat-schedule'}"]
    if not banner:
        from celery.exceptions import SecurityWarning

        _one_line = True
        warnings.filterwarnings("ignore", category=SecurityWarning)
        argv.insert(0, "--quiet")  # Celery's global option: no banner
    app.worker_main(argv)
