"""Schema migrations of the job store, applied on start by every API and worker process.

Each migration is a numbered step that only adds (tables, columns, indexes): an upgrade never
drops or rewrites jobs. ``videogen_schema`` records the versions applied. Processes starting
together take a lock first (PostgreSQL: a session advisory lock; SQLite: a file lock next to
the database: SQLite is one machine's), so exactly one applies each step and the others find
it done.

    v1  jobs (+ indexes), videogen_schema
    v2  job_events: one row per state change (job id, time, event, worker, detail)
    v3  job_webhooks: one row per caller's webhook of a job (url, secret, delivery status)
    v4  feeds, feed_items: the feed registry and the feed items seen (one row per item version)
    v5  video_plays: play counts per clip, day and player event (no viewer data)
    v7  lexicon: pronunciation lexicon entries per language (lang, written, spoken)
"""

from __future__ import annotations

import fcntl
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, inspect, select
from sqlalchemy.engine import Engine

from videogen.service.schema import (
    feed_items,
    feeds,
    job_events,
    job_webhooks,
    jobs,
    lexicon,
    metadata,
    now,
    schema_version,
    video_plays,
)

log = logging.getLogger(__name__)

ADVISORY_LOCK_KEY = 0x76696467  # "vidg": one lock for videogen's migrations


def _v1(c: Connection) -> None:
    metadata.create_all(c, tables=[jobs], checkfirst=True)


def _v2(c: Connection) -> None:
    metadata.create_all(c, tables=[job_events], checkfirst=True)


def _v3(c: Connection) -> None:
    metadata.create_all(c, tables=[job_webhooks], checkfirst=True)


def _v4(c: Connection) -> None:
    metadata.create_all(c, tables=[feeds, feed_items], checkfirst=True)


def _v5(c: Connection) -> None:
    metadata.create_all(c, tables=[video_plays], checkfirst=True)


def _v7(c: Connection) -> None:
    metadata.create_all(c, tables=[lexicon], checkfirst=True)


MIGRATIONS: dict[int, Callable[[Connection], None]] = {1: _v1, 2: _v2, 3: _v3, 4: _v4, 5: _v5, 7: _v7}
LATEST = max(MIGRATIONS)


@contextmanager
def _locked(engine: Engine) -> Iterator[Connection]:
    """A connection holding the migration lock for as long as the block runs."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as c:
            c.exec_driver_sql(f"SELECT pg_advisory_lock({ADVISORY_LOCK_KEY})")
            c.commit()
            try:
                yield c
            finally:
                c.rollback()
                c.exec_driver_sql(f"SELECT pg_advisory_unlock({ADVISORY_LOCK_KEY})")
                c.commit()
        return
    path = engine.url.database if engine.dialect.name == "sqlite" else None
    lock = None
    if path and path != ":memory:":
        lock = open(Path(path).with_name(Path(path).name + ".migrate.lock"), "a+")  # noqa: SIM115 - closed below
        fcntl.flock(lock, fcntl.LOCK_EX)
    try:
        with engine.connect() as c:
            yield c
    finally:
        if lock is not None:
            lock.close()


def current_version(c: Connection) -> int:
    if not inspect(c).has_table(schema_version.name):
        return 0
    v = c.execute(select(schema_version.c.version).order_by(schema_version.c.version.desc()).limit(1)).scalar()
    return int(v or 0)


def migrate(engine: Engine, target: int = LATEST) -> list[int]:
    """Bring the schema to ``target``; returns the versions this call applied (empty when
    another process had done it). Idempotent and safe from many processes at once."""
    applied: list[int] = []
    with _locked(engine) as c:
        metadata.create_all(c, tables=[schema_version], checkfirst=True)
        c.commit()
        version = current_version(c)
        if version == 0 and inspect(c).has_table(jobs.name):
            version = 1  # a store created before versions were recorded has the v1 tables
        for v in sorted(k for k in MIGRATIONS if version < k <= target):
            MIGRATIONS[v](c)
            c.execute(schema_version.insert().values(version=v, applied_at=now()))
            c.commit()
            applied.append(v)
            log.info("job store migrated to schema v%d", v)
    return applied
