"""The Celery app. Broker from ``VIDEOGEN_BROKER_URL`` (Redis in production); by default an
embedded SQLite broker in the home folder, so one machine needs no Redis.

Reliability settings: late acks, one message prefetched at a time, rejected-on-worker-lost
messages requeued; the job store (not the broker) decides whether a delivered message still
has work to do, and a sweeper in every worker and API process recovers jobs whose worker died
(see ``videogen.service.videos``)."""

from __future__ import annotations

import functools

from celery import Celery

from videogen.settings import Settings, get_settings

RENDER_TASK = "videogen.render"
WEBHOOK_TASK = "videogen.webhook"
POLL_FEEDS_TASK = "videogen.poll_feeds"
QUEUE = "videogen"


def make_app(settings: Settings) -> Celery:
    app = Celery("videogen", broker=settings.broker, include=["workers.tasks"])
    transport: dict[str, object] = {}
    if settings.broker.startswith(("redis://", "rediss://")):
        # Crash recovery is the sweeper's job (heartbeats), so Redis's own redelivery of
        # unacknowledged messages only needs to catch what the sweeper could not: keep it long
        # so a long render is not delivered to a second worker while it runs.
        transport = {"visibility_timeout": 3600, "priority_steps": list(range(10)), "sep": ":",
                     "queue_order_strategy": "priority", "socket_connect_timeout": 3, "socket_timeout": 10}
    if settings.broker.startswith("sqla+"):
        # The SQL transport polls; 0.1 s gives ~50 ms latency (kombu's default is 1 s). It must
        # be set on the class: transport options go to create_engine and break it.
        from kombu.transport import sqlalchemy as kombu_sql

        kombu_sql.Transport.polling_interval = 0.1
        settings.home.mkdir(parents=True, exist_ok=True)
        prepare_sql_broker(settings.broker, [QUEUE])
    if settings.broker.startswith(("amqp://", "pyamqp://", "amqps://")):
        # RabbitMQ honours message priorities only on a queue declared with x-max-priority.
        app.conf.task_queue_max_priority = 10
        app.conf.task_default_priority = 5
    app.conf.update(
        task_default_queue=QUEUE,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        task_soft_time_limit=settings.task_soft_time_limit,
        task_time_limit=settings.task_time_limit,
        broker_transport_options=transport,
        broker_connection_timeout=3,
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,
        worker_max_tasks_per_child=settings.worker_max_tasks,
        worker_concurrency=settings.worker_concurrency,
        worker_hijack_root_logger=False,
        worker_send_task_events=True,
        task_send_sent_event=True,
        enable_utc=True,
        # `videogen beat` (or `videogen worker --beat`): every VIDEOGEN_FEED_TICK seconds a worker
        # polls the feeds that are due. High priority, and dropped when not run within a tick (the
        # next one does the same work), so polls never pile up behind renders.
        beat_schedule={"videogen-poll-feeds": {"task": POLL_FEEDS_TASK, "schedule": settings.feed_tick,
                                               "options": {"priority": 9, "expires": max(settings.feed_tick, 5.0)}}},
        beat_schedule_filename=str(settings.home / "celerybeat-schedule"),
    )
    return app


def prepare_sql_broker(url: str, queues: list[str]) -> None:
    """Create the SQL broker's tables and queue rows once, under a file lock.

    kombu's SQL transport creates them lazily in every process; an API and a worker starting
    together then both insert the queue row and one of them fails with ``UNIQUE constraint
    failed: kombu_queue.name``. Doing it here first, serialised across processes, avoids that."""
    import fcntl
    from pathlib import Path

    from kombu import Connection

    db_url = url.removeprefix("sqla+")
    lock_path = Path(db_url.removeprefix("sqlite:///") + ".lock") if db_url.startswith("sqlite:///") else None
    lock = open(lock_path, "a+") if lock_path else None  # noqa: SIM115 - closed below
    try:
        if lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
        with Connection(url) as conn:
            channel = conn.default_channel
            for name in queues:
                channel._new_queue(name)  # creates the tables, then the row if missing
        # Leave no pooled connection behind for a forked worker child to inherit.
        from kombu.transport.sqlalchemy import Channel

        for engine, _ in Channel._engines.values():
            engine.dispose()
        Channel._engines.clear()
    finally:
        if lock:
            lock.close()


@functools.lru_cache(maxsize=1)
def default_app() -> Celery:
    """The app of this process, built from the settings on first use and kept."""
    return make_app(get_settings())


def __getattr__(name: str) -> Celery:
    """``app``, built on first use: importing this module builds no app and, with the embedded
    broker, creates no tables. ``celery -A workers.celery_app …`` finds it here, since Celery
    looks the ``app`` attribute up on the module."""
    if name == "app":
        return default_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
