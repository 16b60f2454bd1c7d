"""The job store: the source of truth for every render job (the broker only carries wake-up
calls). SQLAlchemy over SQLite by default, PostgreSQL by URL.

State machine::

    queued ──claim──► rendering ──finish──► done
      ▲                  │  └──fail──────► failed
      └──requeue (stale heartbeat, transient error)
    queued/rendering ──cancel──► cancelled
    rendering ──finish (publish "review")──► review ──approve──► done
                                                └──reject───► rejected

Which done version of a clip the public surfaces show is ``publishing``'s business (``clips``).

A worker *claims* a queued job with a fresh lease token; every later write it makes (progress,
heartbeat, finish) names that lease, so a worker whose job was taken from it (stale heartbeat,
cancellation) learns it at its next write and stops. Every transition is one conditional
UPDATE, so concurrent sweepers, API processes and workers cannot double-apply it.
"""

from __future__ import annotations

import builtins  # JobStore.list shadows the built-in name inside the class
import hashlib
import json
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import (
    and_,
    create_engine,
    event,
    func,
    insert,
    inspect,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import (
    DBAPIError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    ProgrammingError,
)
from sqlalchemy.exc import TimeoutError as _PoolTimeout
from sqlalchemy.sql.elements import ColumnElement

from videogen.errors import JobConflict, JobNotFound, LeaseLost, StoreUnavailable
from videogen.service.migrations import LATEST, current_version, migrate
from videogen.service.schema import (
    ACTIVE,
    BUCKET_INF,
    CANONICAL_URL_MAX,
    FINISHED,
    HISTOGRAM_BUCKETS,
    STATUSES,
    clips,
    job_counts,
    job_events,
    job_webhooks,
    jobs,
    now,
    utc,
    utc_or_none,
)

#: Counter rows (deltas) beyond which a read of the counters compacts them into one per key.
COUNTS_COMPACT_AT = 2000


def canonical_url(url: Any) -> str | None:
    """What ``jobs.canonical_url`` holds for an article URL: without its trailing slashes,
    None when empty or longer than ``CANONICAL_URL_MAX``."""
    value = str(url or "").rstrip("/")
    return value if 0 < len(value) <= CANONICAL_URL_MAX else None


@dataclass(frozen=True)
class Page:
    """Where a keyset page starts: after the job (created_at, id), newest first."""

    created_at: datetime
    id: str


@dataclass
class Counters:
    """The maintained job counters: jobs per status (exact), the render-seconds histogram of
    done jobs (bucket bound → jobs, ``BUCKET_INF`` for the rest) and per worker (renders, seconds)."""

    statuses: dict[str, int]
    buckets: dict[float, int]
    render_seconds: float
    workers: dict[str, tuple[int, float]]


def new_job_id() -> str:
    return secrets.token_hex(16)


@dataclass
class Job:
    id: str
    article_id: str
    content_key: str
    template: str
    voice: str | None
    tts: str | None
    options: dict[str, Any]
    article: dict[str, Any]
    status: str
    stage: str | None
    percent: float
    error: str | None
    attempts: int
    priority: int
    worker: str | None
    lease: str | None
    heartbeat_at: datetime | None
    created_at: datetime
    dispatched_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    output: str | None
    duration: float | None
    render_seconds: float | None
    engine: str | None
    webhook_url: str | None
    webhook_secret: str | None = field(repr=False, default=None)
    webhook_status: str | None = None
    canonical_url: str | None = None  # v6: the article's URL, indexed (``canonical_url``)
    hooks: builtins.list[str | None] = field(default_factory=builtins.list)  # statuses of its job_webhooks rows

    @classmethod
    def from_row(cls, row: Any) -> Job:
        d = dict(row._mapping)
        d["options"] = json.loads(d["options"])
        d["article"] = json.loads(d["article"])
        for k in ("heartbeat_at", "created_at", "dispatched_at", "started_at", "finished_at"):
            d[k] = utc_or_none(d[k])
        return cls(**d)

    @property
    def finished(self) -> bool:
        return self.status in FINISHED


PoolTimeout = _PoolTimeout
"""Raised when every pooled job-store connection stayed busy for ``pool_timeout`` seconds."""


def store_unreachable(error: BaseException) -> bool:
    """True when ``error`` means the job store could not be reached (network, server down)."""
    return isinstance(error, (OperationalError, InterfaceError))


#: The errors a job store call raises (SQLAlchemy's wrapper of every database driver error).
STORE_ERRORS: tuple[type[Exception], ...] = (DBAPIError,)

#: Below this many free bytes on the SQLite job store's file system, ``JobStore.check`` reports it
#: full: a job row with its article and events takes a few to some hundred kB, and SQLite needs
#: room for its write-ahead log.
STORE_MIN_FREE_BYTES = 1 << 20
#: Seconds ``JobStore.check`` reports a write that failed for want of space or a writable
#: database (unless a write succeeds meanwhile).
WRITE_FAILURE_MEMORY = 60.0

_SQLITE_FULL, _SQLITE_READONLY = 13, 8  # primary result codes (extended codes keep them in the low byte)
_PG_DISK_FULL, _PG_READ_ONLY = "53100", "25006"  # SQLSTATE disk_full, read_only_sql_transaction


def store_failure(error: BaseException) -> str | None:
    """Why a job store call failed, in words a client may read: ``"full"`` (no space left),
    ``"read-only"``, ``"unreachable"`` (down, locked, network), or None for anything else (a bug,
    a constraint). SQLite and PostgreSQL codes are read from the driver's exception."""
    orig = getattr(error, "orig", None) or error
    code = getattr(orig, "sqlite_errorcode", None)
    if isinstance(code, int):
        if code & 0xFF == _SQLITE_FULL:
            return "full"
        if code & 0xFF == _SQLITE_READONLY:
            return "read-only"
    state = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if state == _PG_DISK_FULL:
        return "full"
    if state == _PG_READ_ONLY:
        return "read-only"
    return "unreachable" if store_unreachable(error) else None


@dataclass
class Webhook:
    """One caller's webhook of a job (``job_webhooks``); ``status`` None: not sent yet."""

    id: int
    job_id: str
    url: str
    secret: str | None = field(repr=False, default=None)
    status: str | None = None


@dataclass
class JobEvent:
    at: datetime
    event: str
    worker: str | None
    detail: str | None
    actor: str | None = None  # who did an editorial action (an API key's name, "cli")


class JobStore:
    def __init__(self, url: str, pool_size: int = 5, max_overflow: int = 10, pool_timeout: float = 30):
        self.url = url
        # pool_timeout: how long a call waits for a free pooled connection before it raises
        # PoolTimeout (the API answers 503) instead of queueing behind a drained pool.
        kwargs: dict[str, Any] = {"future": True}
        pool = {"pool_size": pool_size, "max_overflow": max_overflow, "pool_timeout": pool_timeout}
        if url.startswith("sqlite"):
            kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
            path = url.split(":///", 1)[-1]
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
                kwargs.update(pool)  # a file database: SQLAlchemy pools its connections
        else:
            kwargs.update(pool, pool_pre_ping=True, pool_recycle=1800)
            if url.startswith("postgresql"):
                # Workers on other machines: a database behind a dead link must fail a call in
                # seconds (then the worker learns whether it still holds its job), not hang on
                # TCP retransmissions for many minutes.
                kwargs["connect_args"] = {"connect_timeout": 5, "keepalives": 1, "keepalives_idle": 10,
                                          "keepalives_interval": 3, "keepalives_count": 3, "tcp_user_timeout": 10_000}
        self.engine: Engine = create_engine(url, **kwargs)
        if url.startswith("sqlite"):
            event.listen(self.engine, "connect", _sqlite_pragmas)
        event.listen(self.engine, "handle_error", self._note_error)
        self._lock = threading.Lock()
        #: Why the last write of this process failed ("full", "read-only") and when (monotonic
        #: seconds), until one succeeds.
        self.write_failure: tuple[str, float] | None = None

    # --- schema -------------------------------------------------------------------------------
    def migrate(self, target: int | None = None) -> list[int]:
        """Create or upgrade the schema (``videogen.service.migrations``): idempotent, never drops a
        job, and safe to run from several processes at once. Returns the versions applied."""
        with self._lock:
            return migrate(self.engine, target or LATEST)

    def schema_version(self) -> int:
        with self.engine.connect() as c:
            return current_version(c)

    def dispose_after_fork(self) -> None:
        """In a forked child: forget the parent's pooled connections without closing them
        (they belong to the parent), so this process opens its own."""
        self.engine.dispose(close=False)

    def ping(self) -> None:
        with self.engine.connect() as c:
            c.execute(text("SELECT 1"))

    def check(self) -> None:
        """Raise ``StoreUnavailable`` (or the driver's error) unless the store can take writes:
        it answers, no write of this process failed for want of space or a writable database in
        the last ``WRITE_FAILURE_MEMORY`` seconds (none succeeded since), an SQLite file has
        ``STORE_MIN_FREE_BYTES`` free, a PostgreSQL session is not read-only. Cheap (it writes
        nothing), for ``/health``."""
        with self.engine.connect() as c:
            c.execute(text("SELECT 1"))
            if self.engine.dialect.name == "postgresql" and c.execute(text("SHOW transaction_read_only")).scalar() == "on":
                raise StoreUnavailable("the job store is read-only")
        failed = self.write_failure
        if failed and time.monotonic() - failed[1] < WRITE_FAILURE_MEMORY:
            raise StoreUnavailable(f"a write failed {time.monotonic() - failed[1]:.0f} s ago: the job store is {failed[0]}")
        free = self.free_bytes()
        if free is not None and free < STORE_MIN_FREE_BYTES:
            raise StoreUnavailable(f"the job store's disk is nearly full: {free} bytes free, "
                                   f"under {STORE_MIN_FREE_BYTES}")

    def free_bytes(self) -> int | None:
        """Bytes free for the SQLite database file's folder; None for a server database."""
        path = self.engine.url.database if self.engine.dialect.name == "sqlite" else None
        if not path or path == ":memory:":
            return None
        st = os.statvfs(Path(path).parent)
        return st.f_bavail * st.f_frsize

    def _note_error(self, context: Any) -> None:
        failure = store_failure(context.sqlalchemy_exception or context.original_exception)
        if failure in ("full", "read-only"):
            self.write_failure = (failure, time.monotonic())

    @contextmanager
    def _tx(self) -> Iterator[Any]:
        with self.engine.begin() as c:
            yield c
        self.write_failure = None

    def transaction(self) -> Any:
        """One write transaction (a connection; committed when the block ends) for the
        service modules that change jobs together with their own tables (``publishing``)."""
        return self._tx()

    @staticmethod
    def _event(c: Any, job_id: str, event: str, detail: str | None = None, worker: str | None = None,
               actor: str | None = None) -> None:
        if worker is None:
            worker = c.execute(select(jobs.c.worker).where(jobs.c.id == job_id)).scalar()
        c.execute(insert(job_events).values(job_id=job_id, at=now(), event=event, worker=worker or None,
                                            detail=detail[:2000] if detail else None, actor=actor[:200] if actor else None))

    record_event = _event  # the same, for ``publishing`` and ``VideoService`` inside their transactions

    def add_event(self, job_id: str, event: str, detail: str | None = None, actor: str | None = None) -> None:
        """Record an editorial action on ``job_id`` (who, what) in its own transaction."""
        with self._tx() as c:
            self._event(c, job_id, event, detail, "", actor)

    # --- reads ----------------------------------------------------------------------------------
    def get(self, job_id: str) -> Job:
        with self.engine.connect() as c:
            row = c.execute(select(jobs).where(jobs.c.id == job_id)).first()
        if row is None:
            raise JobNotFound(job_id)
        return self._with_hooks([Job.from_row(row)])[0]

    @staticmethod
    def get_in(c: Any, job_id: str) -> Job:
        """``job_id`` read inside an open transaction ``c`` (without its webhook statuses)."""
        row = c.execute(select(jobs).where(jobs.c.id == job_id)).first()
        if row is None:
            raise JobNotFound(job_id)
        return Job.from_row(row)

    def _with_hooks(self, found: builtins.list[Job]) -> builtins.list[Job]:
        """``found`` with each job's webhook statuses (``Job.hooks``) read in one query."""
        if not found:
            return found
        by_id = {j.id: j for j in found}
        q = select(job_webhooks.c.job_id, job_webhooks.c.status).where(
            job_webhooks.c.job_id.in_(list(by_id))).order_by(job_webhooks.c.id)
        try:
            with self.engine.connect() as c:
                for job_id, status in c.execute(q):
                    by_id[job_id].hooks.append(status)
        except (OperationalError, ProgrammingError):
            if inspect(self.engine).has_table(job_webhooks.name):
                raise
            # A store not migrated to v3 yet (read by an older process's peer): no such webhooks.
        return found

    def list(self, status: str | None = None, limit: int = 50, offset: int = 0, article_id: str | None = None,
             template: str | None = None, created_after: datetime | None = None, created_before: datetime | None = None,
             after: Page | None = None) -> builtins.list[Job]:
        """Jobs newest first (created_at, then id), filtered; ``after`` starts the page after
        that job (keyset pagination: an index range, as fast on page 1,000 as on page 1)."""
        q = select(jobs).order_by(jobs.c.created_at.desc(), jobs.c.id.desc()).limit(limit)
        if offset:
            q = q.offset(offset)
        if status:
            # With an article id, its index is the one to use: the status is wrapped so that
            # SQLite's planner (no statistics) does not walk every job of that status instead.
            q = q.where((func.coalesce(jobs.c.status, "") if article_id else jobs.c.status) == status)
        if article_id:
            q = q.where(jobs.c.article_id == article_id)
        if template:
            q = q.where(jobs.c.template == template)
        if created_after is not None:
            q = q.where(jobs.c.created_at >= created_after)
        if created_before is not None:
            q = q.where(jobs.c.created_at < created_before)
        if after is not None:
            q = q.where(or_(jobs.c.created_at < after.created_at,
                            and_(jobs.c.created_at == after.created_at, jobs.c.id < after.id)))
        with self.engine.connect() as c:
            found = [Job.from_row(r) for r in c.execute(q)]
        return self._with_hooks(found)

    def by_canonical_url(self, url: str) -> Job | None:
        """The newest published version of a clip whose article has this URL (trailing slashes
        ignored), found through the ``jobs_by_canonical_url`` index and the clips' published
        versions."""
        want = canonical_url(url)
        if want is None:
            return None
        q = (select(jobs).join(clips, and_(clips.c.published == jobs.c.id, clips.c.state == "published"))
             .where(jobs.c.canonical_url == want, func.coalesce(jobs.c.status, "") == "done", jobs.c.output.is_not(None))
             .order_by(jobs.c.created_at.desc()).limit(1))
        with self.engine.connect() as c:
            row = c.execute(q).first()
        return Job.from_row(row) if row is not None else None

    def newest_by_canonical_url(self, url: str) -> Job | None:
        """The newest job, in any state, whose article has this URL (through the same index)."""
        want = canonical_url(url)
        if want is None:
            return None
        q = select(jobs).where(jobs.c.canonical_url == want).order_by(jobs.c.created_at.desc()).limit(1)
        with self.engine.connect() as c:
            row = c.execute(q).first()
        return Job.from_row(row) if row is not None else None

    def counters(self) -> Counters:
        """The maintained counters (``job_counts``): a read of a few rows, whatever the number
        of jobs; compacts them when deltas have piled up."""
        q = select(job_counts.c.status, job_counts.c.worker, job_counts.c.le, func.sum(job_counts.c.n),
                   func.sum(job_counts.c.secs), func.count()).group_by(job_counts.c.status, job_counts.c.worker, job_counts.c.le)
        with self.engine.connect() as c:
            rows = c.execute(q).all()
        statuses = dict.fromkeys(STATUSES, 0)
        buckets: dict[float, int] = dict.fromkeys([float(b) for b in HISTOGRAM_BUCKETS] + [BUCKET_INF], 0)
        workers: dict[str, tuple[int, float]] = {}
        total_secs = 0.0
        for status, worker, le, n, secs, _ in rows:
            n, secs = int(n or 0), float(secs or 0.0)
            statuses[status] = statuses.get(status, 0) + n
            if status != "done":
                continue
            if le >= 0:
                buckets[float(le)] = buckets.get(float(le), 0) + n
                total_secs += secs
            if worker:
                done, spent = workers.get(worker, (0, 0.0))
                workers[worker] = (done + n, spent + secs)
        if sum(r[5] for r in rows) > COUNTS_COMPACT_AT:
            self.compact_counts()
        return Counters(statuses, buckets, total_secs, {w: v for w, v in workers.items() if v[0]})

    def compact_counts(self) -> None:
        """Fold the counter deltas into one row per key (safe with writers and other compactors)."""
        keys = "status, worker, le"
        try:
            with self._tx() as c:
                if self.engine.dialect.name == "postgresql":
                    c.exec_driver_sql(f"WITH d AS (DELETE FROM job_counts RETURNING {keys}, n, secs) "
                                      f"INSERT INTO job_counts ({keys}, n, secs) SELECT {keys}, sum(n), sum(secs) FROM d "
                                      f"GROUP BY {keys} HAVING sum(n) <> 0")
                    return
                top = c.execute(select(func.max(job_counts.c.id))).scalar()
                if top is None:
                    return
                c.execute(text(f"INSERT INTO job_counts ({keys}, n, secs) SELECT {keys}, sum(n), sum(secs) FROM job_counts "
                               f"WHERE id <= :top GROUP BY {keys} HAVING sum(n) <> 0"), {"top": top})
                c.execute(text("DELETE FROM job_counts WHERE id <= :top"), {"top": top})
        except OperationalError:
            pass  # SQLite: another writer came first; the next read compacts

    def counts(self) -> dict[str, int]:
        """Jobs per status, exact, from the maintained counters."""
        return self.counters().statuses

    def find_reusable(self, content_key: str) -> Job | None:
        """The job to return for a duplicate enqueue: an active one, else the latest done one
        (or one waiting for review: the same render again would wait beside it)."""
        q = (
            select(jobs)
            .where(jobs.c.content_key == content_key, jobs.c.status.in_(("queued", "rendering", "review", "done")))
            .order_by(jobs.c.created_at.desc())
            .limit(5)
        )
        with self.engine.connect() as c:
            found = [Job.from_row(r) for r in c.execute(q)]
        active = [j for j in found if j.status in ACTIVE]
        return active[0] if active else (found[0] if found else None)

    def events(self, job_id: str) -> builtins.list[JobEvent]:
        q = select(job_events.c.at, job_events.c.event, job_events.c.worker, job_events.c.detail,
                   job_events.c.actor).where(job_events.c.job_id == job_id).order_by(job_events.c.id)
        with self.engine.connect() as c:
            return [JobEvent(utc(a), e, w, d, who) for a, e, w, d, who in c.execute(q)]

    def running(self, limit: int = 200) -> builtins.list[Job]:
        q = select(jobs).where(jobs.c.status == "rendering").order_by(jobs.c.started_at).limit(limit)
        with self.engine.connect() as c:
            return [Job.from_row(r) for r in c.execute(q)]

    def recent_failed(self, limit: int = 20) -> builtins.list[Job]:
        q = select(jobs).where(jobs.c.status == "failed").order_by(
            jobs.c.finished_at.desc(), jobs.c.id.desc()).limit(limit)
        with self.engine.connect() as c:
            return [Job.from_row(r) for r in c.execute(q)]

    def workers(self) -> builtins.list[tuple[str, int, float]]:
        """(worker, renders done, render seconds) per worker name, from the counters."""
        return [(w, n, s) for w, (n, s) in sorted(self.counters().workers.items())]

    # --- writes ---------------------------------------------------------------------------------
    def create(self, *, article_id: str, content_key: str, template: str, voice: str | None, tts: str | None,
               options: dict[str, Any], article: dict[str, Any], priority: int = 5, webhook_url: str | None = None,
               webhook_secret: str | None = None, force: bool = False) -> tuple[Job, bool]:
        """Insert a queued job, or return the existing one for the same content (unless
        ``force``). Returns (job, created)."""
        for _ in range(3):
            if not force:
                existing = self.find_reusable(content_key)
                if existing is not None:
                    return existing, False
            else:
                active = self.find_reusable(content_key)
                if active is not None and active.status in ACTIVE:
                    return active, False  # already being rendered again
            job_id = new_job_id()
            values: dict[str, Any] = dict(
                id=job_id, article_id=article_id, content_key=content_key, template=template, voice=voice,
                tts=tts, options=json.dumps(options, sort_keys=True), article=json.dumps(article, ensure_ascii=False),
                canonical_url=canonical_url(article.get("url")), status="queued", percent=0.0, attempts=0, priority=priority, created_at=now(),
                webhook_url=webhook_url, webhook_secret=webhook_secret,
                # The creator sends the wake-up call itself (and clears this if it cannot), so
                # a sweeper does not send a second one meanwhile.
                dispatched_at=now(),
            )
            try:
                with self._tx() as c:
                    c.execute(insert(jobs).values(**values))
                    self._event(c, job_id, "queued", f"priority {priority}" + (", forced" if force else ""), "")
                # The row as written (no read back: a third of an enqueue's time on PostgreSQL).
                return Job(**{**dict.fromkeys(Job.__dataclass_fields__), **values, "options": options, "article": article,
                              "hooks": []}), True
            except IntegrityError:
                continue  # another process inserted the same content at the same moment
        raise RuntimeError(f"could not create a job for {content_key}")

    def mark_dispatched(self, job_id: str) -> None:
        with self._tx() as c:
            c.execute(update(jobs).where(jobs.c.id == job_id).values(dispatched_at=now()))

    def mark_undispatched(self, job_id: str) -> None:
        """The wake-up call could not be sent: let the next sweep send it."""
        with self._tx() as c:
            c.execute(update(jobs).where(jobs.c.id == job_id, jobs.c.status == "queued").values(dispatched_at=None))

    def claim_dispatch(self, job_id: str, older_than: float) -> bool:
        """Compare-and-set: True for exactly one of several processes that want to (re)send the
        wake-up call of a queued job whose call was never sent or was sent long ago."""
        cutoff = now() - timedelta(seconds=older_than)
        with self._tx() as c:
            res = c.execute(update(jobs).where(
                jobs.c.id == job_id, jobs.c.status == "queued",
                or_(jobs.c.dispatched_at.is_(None), jobs.c.dispatched_at < cutoff)).values(dispatched_at=now()))
        return res.rowcount == 1

    def claim(self, job_id: str, worker: str) -> str | None:
        """Take a queued job for ``worker``; returns the lease token, or None if the job is not
        queued (already taken, finished or cancelled)."""
        lease = secrets.token_hex(8)
        t = now()
        with self._tx() as c:
            res = c.execute(
                update(jobs)
                .where(jobs.c.id == job_id, jobs.c.status == "queued")
                .values(status="rendering", worker=worker, lease=lease, heartbeat_at=t, started_at=t,
                        attempts=jobs.c.attempts + 1, stage="starting", percent=0.0, error=None)
            )
            if res.rowcount == 1:
                n = c.execute(select(jobs.c.attempts).where(jobs.c.id == job_id)).scalar()
                self._event(c, job_id, "rendering", f"attempt {n}", worker)
        return lease if res.rowcount == 1 else None

    def _owned(self, job_id: str, lease: str) -> ColumnElement[bool]:
        return and_(jobs.c.id == job_id, jobs.c.lease == lease, jobs.c.status == "rendering")

    def heartbeat(self, job_id: str, lease: str, stage: str | None = None, percent: float | None = None) -> None:
        values: dict[str, Any] = {"heartbeat_at": now()}
        if stage is not None:
            values["stage"] = stage
        if percent is not None:
            values["percent"] = round(max(0.0, min(100.0, percent)), 1)
        with self._tx() as c:
            res = c.execute(update(jobs).where(self._owned(job_id, lease)).values(**values))
        if res.rowcount != 1:
            raise LeaseLost(job_id)

    def holds(self, job_id: str, lease: str) -> bool:
        """Whether ``lease`` still holds the job (a read: the cheap check a rendering worker
        makes between heartbeats to notice a cancel quickly)."""
        with self.engine.connect() as c:
            return c.execute(select(jobs.c.id).where(self._owned(job_id, lease))).first() is not None

    def finish(self, job_id: str, lease: str, *, output: str, duration: float, render_seconds: float, engine: str,
               status: str = "done", then: Callable[[Any], None] | None = None) -> None:
        """End a render: ``status`` "done", or "review" (waits for an editor). ``then(c)`` runs
        in the same transaction when the job was this lease's (publishing its clip)."""
        with self._tx() as c:
            res = c.execute(
                update(jobs).where(self._owned(job_id, lease)).values(
                    status=status, stage=status, percent=100.0, output=output, duration=duration,
                    render_seconds=render_seconds, engine=engine, finished_at=now(), lease=None, error=None)
            )
            if res.rowcount == 1:
                self._event(c, job_id, status, f"{duration:.1f}s clip rendered in {render_seconds:.1f}s")
                if then is not None:
                    then(c)
        if res.rowcount != 1:
            raise LeaseLost(job_id)

    def fail(self, job_id: str, lease: str | None, error: str) -> bool:
        cond = self._owned(job_id, lease) if lease else and_(jobs.c.id == job_id, jobs.c.status.in_(ACTIVE))
        with self._tx() as c:
            res = c.execute(update(jobs).where(cond).values(status="failed", error=error[:2000], finished_at=now(), lease=None))
            if res.rowcount == 1:
                self._event(c, job_id, "failed", error)
        return res.rowcount == 1

    def fail_if_worker(self, job_id: str, worker: str, error: str) -> bool:
        """Fail a rendering job only if ``worker`` still holds it (a worker that lost its job
        must not fail the attempt another worker is running)."""
        with self._tx() as c:
            res = c.execute(update(jobs).where(jobs.c.id == job_id, jobs.c.status == "rendering", jobs.c.worker == worker)
                            .values(status="failed", error=error[:2000], finished_at=now(), lease=None))
            if res.rowcount == 1:
                self._event(c, job_id, "failed", error, worker)
        return res.rowcount == 1

    def release(self, job_id: str, lease: str, error: str) -> bool:
        """Give a job back to the queue after a transient failure (it will be retried)."""
        with self._tx() as c:
            res = c.execute(update(jobs).where(self._owned(job_id, lease)).values(
                status="queued", lease=None, worker=None, error=error[:2000], stage="waiting to retry", dispatched_at=now()))
            if res.rowcount == 1:
                self._event(c, job_id, "retry", error, "")
        return res.rowcount == 1

    def cancel(self, job_id: str) -> Job:
        with self._tx() as c:
            res = c.execute(update(jobs).where(jobs.c.id == job_id, jobs.c.status.in_(ACTIVE)).values(
                status="cancelled", finished_at=now(), lease=None, stage="cancelled"))
            if res.rowcount == 1:
                self._event(c, job_id, "cancelled")
        return self.get(job_id)

    def retry(self, job_id: str) -> Job:
        """An operator's retry: a failed or cancelled job goes back to the queue under the same
        id with its attempts reset. Raises JobConflict in any other state, or when another
        active job already renders the same content."""
        job = self.get(job_id)
        try:
            with self._tx() as c:
                res = c.execute(update(jobs).where(jobs.c.id == job_id, jobs.c.status.in_(("failed", "cancelled"))).values(
                    status="queued", attempts=0, error=None, lease=None, worker=None, stage="queued (retry)",
                    percent=0.0, heartbeat_at=None, started_at=None, finished_at=None, dispatched_at=now(),
                    webhook_status=None))
                if res.rowcount == 1:
                    c.execute(update(job_webhooks).where(job_webhooks.c.job_id == job_id).values(status=None))
                    self._event(c, job_id, "retried", f"was {job.status}: {job.error or ''}".strip(": "), "")
        except IntegrityError:
            raise JobConflict(f"another job is already rendering the same content as {job_id}") from None
        if res.rowcount != 1:
            raise JobConflict(f"the job is {self.get(job_id).status}; only failed or cancelled jobs can be retried")
        return self.get(job_id)

    def set_webhook_status(self, job_id: str, status: str) -> None:
        with self._tx() as c:
            c.execute(update(jobs).where(jobs.c.id == job_id).values(webhook_status=status[:64]))

    # --- each caller's webhook of a job (job_webhooks) ---------------------------------------------
    def add_webhook(self, job_id: str, url: str, secret: str | None) -> Webhook:
        """Record a caller's webhook for ``job_id`` (once per URL: the same URL again returns
        the row there is, with its status)."""
        digest = hashlib.sha256(url.encode()).hexdigest()
        try:
            with self._tx() as c:
                c.execute(insert(job_webhooks).values(job_id=job_id, url=url, url_hash=digest, secret=secret, created_at=now()))
        except IntegrityError:
            pass  # this URL is already called for this job
        q = select(job_webhooks).where(job_webhooks.c.job_id == job_id, job_webhooks.c.url_hash == digest)
        with self.engine.connect() as c:
            return _webhook(c.execute(q).one())

    def webhooks(self, job_id: str) -> builtins.list[Webhook]:
        q = select(job_webhooks).where(job_webhooks.c.job_id == job_id).order_by(job_webhooks.c.id)
        with self.engine.connect() as c:
            return [_webhook(r) for r in c.execute(q)]

    def webhook(self, webhook_id: int) -> Webhook | None:
        with self.engine.connect() as c:
            row = c.execute(select(job_webhooks).where(job_webhooks.c.id == webhook_id)).first()
        return _webhook(row) if row is not None else None

    def claim_webhook(self, webhook_id: int) -> bool:
        """Compare-and-set: True for exactly one caller that wants to queue a webhook not sent yet
        (the finishing worker and an enqueue that joined a finished job may race)."""
        with self._tx() as c:
            res = c.execute(update(job_webhooks).where(job_webhooks.c.id == webhook_id, job_webhooks.c.status.is_(None))
                            .values(status="queued"))
        return res.rowcount == 1

    def set_hook_status(self, webhook_id: int, status: str | None) -> None:
        with self._tx() as c:
            c.execute(update(job_webhooks).where(job_webhooks.c.id == webhook_id).values(
                status=status[:64] if status else None))

    # --- recovery ---------------------------------------------------------------------------------
    def requeue_stale(self, stale_after: float, max_attempts: int) -> tuple[builtins.list[str], builtins.list[str]]:
        """Jobs whose worker stopped heartbeating: back to the queue, or failed when they have
        used all their attempts. Returns (requeued ids, failed ids).

        Compare-and-set: each row changes in one UPDATE conditioned on what was read (still
        rendering, same lease, same attempt count, heartbeat still old), so of several sweepers
        running at once exactly one gets rowcount 1 for a job; only that one re-sends it (the
        requeued job is marked dispatched by the same UPDATE, so no other sweeper sends it)."""
        cutoff = now() - timedelta(seconds=stale_after)
        with self.engine.connect() as c:
            stale = c.execute(select(jobs.c.id, jobs.c.lease, jobs.c.attempts, jobs.c.worker, jobs.c.heartbeat_at).where(
                jobs.c.status == "rendering", jobs.c.heartbeat_at < cutoff)).all()
        requeued, failed = [], []
        for job_id, lease, attempts, worker, beat in stale:
            cas = and_(jobs.c.id == job_id, jobs.c.status == "rendering", jobs.c.attempts == attempts,
                       jobs.c.lease.is_(None) if lease is None else jobs.c.lease == lease, jobs.c.heartbeat_at < cutoff)
            age = (now() - utc(beat)).total_seconds() if beat else 0.0
            with self._tx() as c:
                if attempts >= max_attempts:
                    error = f"the worker stopped responding during {max_attempts} attempts"
                    res = c.execute(update(jobs).where(cas).values(status="failed", lease=None, finished_at=now(), error=error))
                    if res.rowcount == 1:
                        self._event(c, job_id, "failed", f"{error} (last: {worker}, silent {age:.1f}s)", worker or "")
                        failed.append(job_id)
                    continue
                res = c.execute(update(jobs).where(cas).values(
                    status="queued", lease=None, worker=None, stage="requeued: worker lost", dispatched_at=now()))
                if res.rowcount == 1:
                    self._event(c, job_id, "requeued", f"no heartbeat from {worker} for {age:.1f}s", worker or "")
                    requeued.append(job_id)
        return requeued, failed

    def queued_sent(self, older_than: float) -> int:
        """Queued jobs whose wake-up call was sent at least ``older_than`` seconds ago: each
        should have one message waiting in the broker."""
        cutoff = now() - timedelta(seconds=older_than)
        q = select(func.count()).select_from(jobs).where(jobs.c.status == "queued", jobs.c.dispatched_at < cutoff)
        with self.engine.connect() as c:
            return int(c.execute(q).scalar() or 0)

    def undispatched(self, older_than: float) -> builtins.list[Job]:
        """Queued jobs whose wake-up call may be lost (never sent, or sent long ago)."""
        cutoff = now() - timedelta(seconds=older_than)
        q = select(jobs).where(jobs.c.status == "queued", or_(jobs.c.dispatched_at.is_(None), jobs.c.dispatched_at < cutoff))
        with self.engine.connect() as c:
            return [Job.from_row(r) for r in c.execute(q.order_by(jobs.c.created_at).limit(200))]


def _webhook(row: Any) -> Webhook:
    return Webhook(id=row.id, job_id=row.job_id, url=row.url, secret=row.secret, status=row.status)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()
