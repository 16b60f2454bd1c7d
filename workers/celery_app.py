"""The Celery app. Broker from ``VIDEOGEN_BROKER_URL`` (Redis in production); by default an
embedded SQLite broker in the home folder, so one machine needs no Redis.

Reliability settings: late acks, one message prefetched at a time, rejected-on-worker-lost
messages requeued; the job store (not the broker) decides whether a delivered message still
has work to do, and a sweeper in every worker and API process recovers jobs whose worker died
(see ``videogen.service.videos``)."""

from __future__ import annotations

import functools
from typing import Any

from celery import Celery

from videogen.settings import Settings, get_settings

RENDER_TASK = "videogen.render"
WEBHOOK_TASK = "videogen.webhook"
POLL_FEEDS_TASK = "videogen.poll_feeds"
GC_TASK = "videogen.gc"
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
        close_sql_sessions_with_channels()
        hand_back_while_full()
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
                                               "options": {"priority": 9, "expires": max(settings.feed_tick, 5.0)}},
                       # Retention (VIDEOGEN_RETAIN_*) every VIDEOGEN_GC_EVERY seconds, when set.
                       **({"videogen-gc": {"task": GC_TASK, "schedule": settings.gc_every,
                                           "options": {"priority": 1, "expires": settings.gc_every}}}
                          if settings.gc_every > 0 else {})},
        beat_schedule_filename=str(settings.home / "celerybeat-schedule"),
    )
    return app


def close_sql_sessions_with_channels() -> None:
    """Make a closed channel of kombu's SQL transport close its session.

    kombu's SQL channel opens a session on first use and never closes it; a read (the queue's
    size) leaves that session holding one of the transport engine's pooled connections inside
    an open transaction. Every connection opened and closed again (a depth read per
    ``GET /v1/queue``) thus kept a database connection checked out until the garbage collector
    found the channel: a burst of 100 requests drained the pool (5 + 10 overflow) and every
    later broker call, dispatches included, waited 30 s for a connection. Idempotent."""
    from kombu.transport import sqlalchemy as kombu_sql

    channel_cls: Any = kombu_sql.Channel
    if getattr(channel_cls, "_videogen_closes_session", False):
        return
    plain_close = channel_cls.close

    def close(self: Any) -> None:
        session, self._session = self._session, None
        try:
            if session is not None:
                session.close()
        finally:
            plain_close(self)

    channel_cls.close = close
    channel_cls._videogen_closes_session = True


def hand_back_while_full() -> None:
    """Make kombu's SQL transport return to the worker's loop at once while this worker can
    take no message, instead of polling out the 2 s that loop gives it.

    Celery runs a transport without an event loop of its own (the SQL one) in a blocking loop
    that acknowledges finished tasks only between two ``drain_events(timeout=2.0)`` calls.
    With late acks and one message prefetched, the worker cannot take the next message before
    that ack: every message cost 2 s, even one dropped in a millisecond (a duplicate of a job
    already done: 166 of them took 5.5 minutes). While full, this waits one polling interval
    (0.1 s) and hands back, so the ack is done and the next message taken within ~0.1 s; no
    database query is made meanwhile. Idempotent."""
    import time

    from kombu.transport import sqlalchemy as kombu_sql

    transport_cls: Any = kombu_sql.Transport
    if getattr(transport_cls, "_videogen_hands_back", False):
        return
    plain_drain = transport_cls.drain_events

    def drain_events(self: Any, connection: Any, timeout: float | None = None) -> Any:
        consuming = [ch for ch in self.channels if ch._consumers]
        if consuming and not any(ch.qos.can_consume() for ch in consuming):
            time.sleep(min(self.polling_interval or 0.1, timeout or 0.1))
            raise TimeoutError()
        return plain_drain(self, connection, timeout)

    transport_cls.drain_events = drain_events
    transport_cls._videogen_hands_back = True


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
