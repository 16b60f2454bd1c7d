"""Sending work to the broker: used by the API and the CLI to wake workers."""

from __future__ import annotations

import functools
import threading
import time
from typing import TYPE_CHECKING, Any

from videogen.service.store import Job

from .celery_app import QUEUE, RENDER_TASK, WEBHOOK_TASK, default_app

if TYPE_CHECKING:
    from celery import Celery
    from kombu import Connection

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


def dispatch_webhook(job: Job, webhook_id: int | None = None, app: Celery | None = None, event: str | None = None) -> None:
    """Publish the webhook message of ``job``: its legacy ``webhook_url`` (no id) or one
    caller's ``job_webhooks`` row; each is delivered and retried on its own. ``event``: an
    editorial event to announce (else the job's ending)."""
    app = app or default_app()
    args: list[object] = [job.id] if webhook_id is None else [job.id, webhook_id]
    if event is not None:
        args = [job.id, webhook_id, event]
    app.send_task(WEBHOOK_TASK, args=args, queue=QUEUE, retry=False,
                  priority=broker_priority(9, app.conf.broker_url or ""))


DEPTH_TTL = 3.0
"""Seconds a broker queue depth (and a broker check) is reused by ``BrokerProbe``: a burst of
``/v1/queue``, ``/metrics`` and ``/health`` calls makes at most one broker call per period."""

BROKER_TIMEOUT = 3.0
"""Seconds a depth read or a broker check may take to connect or answer."""


def _end_sql_session(channel: Any) -> None:
    """kombu's SQL transport keeps a session per channel, and a read (the queue's size) leaves
    it holding a pooled database connection inside an open transaction. End it, so the
    connection goes back to the transport's pool."""
    session = getattr(channel, "_session", None)
    if session is not None:
        session.close()


def _depth_on(conn: Connection, app: Celery) -> int:
    queue = app.amqp.queues[QUEUE]  # declared exactly as the workers declare it
    conn.ensure_connection(max_retries=1, timeout=BROKER_TIMEOUT)
    channel = conn.default_channel
    try:
        return int(queue(channel).queue_declare().message_count)
    finally:
        _end_sql_session(channel)


def _probe_connection(app: Celery) -> Connection:
    """A broker connection for reads, with short socket timeouts on Redis."""
    options = {}
    if (app.conf.broker_url or "").startswith(("redis://", "rediss://")):
        options = {"socket_connect_timeout": BROKER_TIMEOUT, "socket_timeout": BROKER_TIMEOUT}
    return app.connection_for_read(transport_options=options)


def broker_queue_depth(app: Celery | None = None) -> int:
    """Messages waiting in the render queue (all priority levels), as the broker counts them:
    one broker call on a connection of its own, closed before this returns (the CLI's one-shot
    view; the API and the sweepers use ``BrokerProbe``, which caches it)."""
    app = app or default_app()
    with _probe_connection(app) as conn:
        return _depth_on(conn, app)


def check_broker() -> None:
    """Raise if the broker cannot be reached within a few seconds (for /health)."""
    with default_app().connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=BROKER_TIMEOUT)


class BrokerProbe:
    """This process's view of the broker for the API and the sweeper: the render queue's depth
    and whether the broker answers, each read at most once per ``ttl`` seconds over one
    long-lived connection. Callers that arrive while a read runs wait for it and share its
    answer (single flight), so N concurrent requests make at most one broker call; a failure
    is remembered for ``ttl`` too (re-raised), so a broker that is down costs one timeout per
    period, not one per request."""

    def __init__(self, app: Celery | None = None, ttl: float = DEPTH_TTL):
        self._app, self.ttl = app, ttl
        self._lock = threading.Lock()
        self._conn: Connection | None = None
        self._depth: tuple[float, int | BaseException] | None = None
        self.broker_calls = 0

    @property
    def app(self) -> Celery:
        return self._app or default_app()

    def _connection(self) -> Connection:
        if self._conn is None:
            self._conn = _probe_connection(self.app)
        return self._conn

    def _drop(self) -> None:
        """Forget a connection that failed: the next read opens a new one."""
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.release()
            except Exception:  # noqa: BLE001, S110 - it is broken already
                pass

    def depth(self) -> int:
        """Messages waiting in the render queue, at most ``ttl`` seconds old."""
        with self._lock:
            if self._depth is None or time.monotonic() - self._depth[0] >= self.ttl:
                self.broker_calls += 1
                try:
                    value: int | BaseException = _depth_on(self._connection(), self.app)
                except Exception as e:  # noqa: BLE001 - remembered and re-raised below
                    self._drop()
                    value = e
                self._depth = (time.monotonic(), value)
            value = self._depth[1]
        if isinstance(value, BaseException):
            raise value
        return value

    def fresh_depth(self) -> int:
        """The depth read now (the sweeper's decision to re-send must not use an old one)."""
        with self._lock:
            self._depth = None
        return self.depth()

    def check(self) -> None:
        """Raise if the broker did not answer a depth read within a few seconds (the last read,
        at most ``ttl`` seconds ago): a real round trip on every transport, unlike opening a
        connection, which the SQL transport does without touching its database."""
        self.depth()


@functools.lru_cache(maxsize=1)
def default_probe() -> BrokerProbe:
    """The probe of this process (the API's routes and the sweeper share it)."""
    return BrokerProbe()


def make_service(settings: Settings | None = None) -> VideoService:
    """The service wired to this Celery app: used by the API, the CLI and the workers."""
    from videogen.service.videos import VideoService
    from videogen.settings import get_settings

    svc = VideoService(settings or get_settings(), dispatch=dispatch_render, notify=dispatch_webhook,
                       broker_depth=default_probe().fresh_depth)
    svc.migrate()
    return svc
