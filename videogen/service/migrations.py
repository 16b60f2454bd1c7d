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
    v6  jobs.canonical_url (backfilled in batches) and the keyset-pagination indexes (built
        CONCURRENTLY on PostgreSQL), job_counts: counters maintained by triggers on jobs
    v7  lexicon: pronunciation lexicon entries per language (lang, written, spoken)
    v8  clips: one row per article key and template with its published version and state;
        job_events.actor (who did an editorial action). Every clip with a done version is
        backfilled published at its newest one: what the public surfaces showed before.
"""

from __future__ import annotations

import fcntl
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, inspect, select, text
from sqlalchemy.engine import Engine

from videogen.service.schema import (
    BUCKET_INF,
    CANONICAL_URL_MAX,
    HISTOGRAM_BUCKETS,
    clips,
    feed_items,
    feeds,
    job_counts,
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


BACKFILL_BATCH = 5000
"""Rows per transaction of the v6 canonical-URL backfill: each batch holds its rows' locks for
a few tens of milliseconds, so writers of other jobs never wait long."""


def canonical_url_sql(dialect: str, article: str = "article") -> str:
    """SQL of the canonical URL of a job's article JSON (``canonical_url`` in Python)."""
    url = f"CAST({article} AS json)->>'url'" if dialect == "postgresql" else f"json_extract({article}, '$.url')"
    trimmed = f"NULLIF(rtrim({url}, '/'), '')"
    return f"CASE WHEN length({trimmed}) <= {CANONICAL_URL_MAX} THEN {trimmed} END"


def _counter_keys(r: str) -> str:
    """SQL of the job_counts key (status, worker, le, secs) of row ``r`` of jobs."""
    done = f"{r}.status = 'done'"
    le = " ".join(f"WHEN {r}.render_seconds <= {b} THEN {b}" for b in HISTOGRAM_BUCKETS)
    return (f"{r}.status AS st, CASE WHEN {done} THEN COALESCE({r}.worker, '') ELSE '' END AS wk, "
            f"CASE WHEN NOT ({done}) OR {r}.render_seconds IS NULL THEN -1 {le} ELSE {BUCKET_INF} END AS le, "
            f"CASE WHEN {done} THEN COALESCE({r}.render_seconds, 0) ELSE 0 END AS secs")


def _counter_values(r: str, sign: str) -> str:
    done = f"{r}.status = 'done'"
    le = " ".join(f"WHEN {r}.render_seconds <= {b} THEN {b}" for b in HISTOGRAM_BUCKETS)
    return (f"({r}.status, CASE WHEN {done} THEN COALESCE({r}.worker, '') ELSE '' END, "
            f"CASE WHEN NOT ({done}) OR {r}.render_seconds IS NULL THEN -1 {le} ELSE {BUCKET_INF} END, {sign}1, "
            f"{sign}(CASE WHEN {done} THEN COALESCE({r}.render_seconds, 0) ELSE 0 END))")


def _count_triggers(dialect: str) -> list[str]:
    """Statements creating the triggers that keep job_counts in step with jobs."""
    cols = "job_counts (status, worker, le, n, secs)"
    if dialect == "postgresql":
        # Statement-level triggers over transition tables: a COPY or a batch insert adds one
        # counter row per key, not one per job.
        def fn(name: str, body: str) -> str:
            return (f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                    f"INSERT INTO {cols} {body}; RETURN NULL; END $$")
        grouped = "GROUP BY st, wk, le HAVING sum(d) <> 0 OR sum(secs * d) <> 0"
        return [
            fn("videogen_count_insert", f"SELECT st, wk, le, sum(d), sum(secs * d) FROM (SELECT {_counter_keys('r')}, 1 AS d FROM new_rows r) k {grouped}"),
            fn("videogen_count_update", f"SELECT st, wk, le, sum(d), sum(secs * d) FROM (SELECT {_counter_keys('r')}, 1 AS d FROM new_rows r "
                                        f"UNION ALL SELECT {_counter_keys('r')}, -1 AS d FROM old_rows r) k {grouped}"),
            fn("videogen_count_delete", f"SELECT st, wk, le, sum(d), sum(secs * d) FROM (SELECT {_counter_keys('r')}, -1 AS d FROM old_rows r) k {grouped}"),
            "DROP TRIGGER IF EXISTS jobs_count_insert ON jobs",
            "DROP TRIGGER IF EXISTS jobs_count_update ON jobs",
            "DROP TRIGGER IF EXISTS jobs_count_delete ON jobs",
            "CREATE TRIGGER jobs_count_insert AFTER INSERT ON jobs REFERENCING NEW TABLE AS new_rows "
            "FOR EACH STATEMENT EXECUTE FUNCTION videogen_count_insert()",
            "CREATE TRIGGER jobs_count_update AFTER UPDATE ON jobs REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
            "FOR EACH STATEMENT EXECUTE FUNCTION videogen_count_update()",
            "CREATE TRIGGER jobs_count_delete AFTER DELETE ON jobs REFERENCING OLD TABLE AS old_rows "
            "FOR EACH STATEMENT EXECUTE FUNCTION videogen_count_delete()",
        ]
    changed = ("OLD.status IS NOT NEW.status OR (NEW.status = 'done' AND "
               "(OLD.worker IS NOT NEW.worker OR OLD.render_seconds IS NOT NEW.render_seconds))")
    return [
        f"CREATE TRIGGER IF NOT EXISTS jobs_count_insert AFTER INSERT ON jobs BEGIN "
        f"INSERT INTO {cols} VALUES {_counter_values('NEW', '')}; END",
        f"CREATE TRIGGER IF NOT EXISTS jobs_count_update AFTER UPDATE OF status, worker, render_seconds ON jobs "
        f"WHEN {changed} BEGIN INSERT INTO {cols} VALUES {_counter_values('OLD', '-')}, {_counter_values('NEW', '')}; END",
        f"CREATE TRIGGER IF NOT EXISTS jobs_count_delete AFTER DELETE ON jobs BEGIN "
        f"INSERT INTO {cols} VALUES {_counter_values('OLD', '-')}; END",
    ]


V6_INDEXES = ("jobs_by_created_id", "jobs_by_status_created", "jobs_by_article_created", "jobs_by_template_created",
              "jobs_by_status_finished", "jobs_by_canonical_url", "jobs_by_output")


def as_before_v6(c: Connection) -> None:
    """Make a store just migrated to v5 by this code look like one v5's code made: drop the
    v6 indexes and ``jobs.canonical_url`` that ``_v1`` creates with today's table (for tests
    and ``bench store --migration``)."""
    for name in V6_INDEXES:
        c.exec_driver_sql(f"DROP INDEX IF EXISTS {name}")
    c.exec_driver_sql("ALTER TABLE jobs DROP COLUMN canonical_url")
    c.commit()


def _v6(c: Connection) -> None:
    dialect = c.dialect.name
    started = time.monotonic()
    if "canonical_url" not in {col["name"] for col in inspect(c).get_columns(jobs.name)}:
        c.exec_driver_sql(f"ALTER TABLE jobs ADD COLUMN canonical_url VARCHAR({CANONICAL_URL_MAX})")  # no rewrite, instant
        c.commit()
    # Backfill in short transactions by id range (never one UPDATE of the whole table).
    last = ""
    expr = canonical_url_sql(dialect)
    while True:
        hi = c.execute(text("SELECT max(id) FROM (SELECT id FROM jobs WHERE id > :last ORDER BY id LIMIT :n) b"),
                       {"last": last, "n": BACKFILL_BATCH}).scalar()
        if hi is None:
            c.commit()
            break
        c.execute(text(f"UPDATE jobs SET canonical_url = {expr} WHERE id > :last AND id <= :hi AND canonical_url IS NULL"),
                  {"last": last, "hi": hi})
        c.commit()
        last = hi
    log.info("v6: canonical URLs backfilled in %.1f s", time.monotonic() - started)
    indexes = [i for i in jobs.indexes if i.name in V6_INDEXES]
    if dialect == "postgresql":
        # CONCURRENTLY: the index builds while jobs are written (outside a transaction).
        c.execution_options(isolation_level="AUTOCOMMIT")
        try:
            for i in indexes:
                cols = ", ".join(col.name for col in i.columns)
                c.exec_driver_sql(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {i.name} ON jobs ({cols})")
        finally:
            c.commit()  # ends SQLAlchemy's (autocommitting) transaction so the level can change back
            c.execution_options(isolation_level=c.default_isolation_level)
    else:
        for i in indexes:
            i.create(c, checkfirst=True)
        c.commit()
    log.info("v6: indexes built at %.1f s", time.monotonic() - started)
    # The counters: table, triggers and the first sums in one transaction (PostgreSQL: writers
    # of jobs wait for this one GROUP BY, well under a second per million jobs).
    metadata.create_all(c, tables=[job_counts], checkfirst=True)
    if dialect == "postgresql":
        c.exec_driver_sql("LOCK TABLE jobs IN SHARE ROW EXCLUSIVE MODE")
    for statement in _count_triggers(dialect):
        c.exec_driver_sql(statement)
    c.exec_driver_sql("DELETE FROM job_counts")
    c.exec_driver_sql(f"INSERT INTO job_counts (status, worker, le, n, secs) SELECT st, wk, le, count(*), sum(secs) "
                      f"FROM (SELECT {_counter_keys('r')} FROM jobs r) k GROUP BY st, wk, le")
    log.info("v6: done in %.1f s", time.monotonic() - started)


def _v7(c: Connection) -> None:
    metadata.create_all(c, tables=[lexicon], checkfirst=True)


def article_key_sql(r: str = "jobs") -> str:
    """SQL of a job's clip article key (``publishing.article_key`` in Python)."""
    return (f"CASE WHEN {r}.article_id <> '' THEN 'id:' || {r}.article_id "
            f"WHEN {r}.canonical_url IS NOT NULL THEN 'url:' || {r}.canonical_url ELSE 'job:' || {r}.id END")


def _v8(c: Connection) -> None:
    if "actor" not in {col["name"] for col in inspect(c).get_columns(job_events.name)}:
        c.exec_driver_sql("ALTER TABLE job_events ADD COLUMN actor VARCHAR(200)")  # nullable: no rewrite
    metadata.create_all(c, tables=[clips], checkfirst=True)
    # Before v8 the public surfaces showed an article's newest done render: that is each clip's
    # published version now, so nothing that was public disappears with the upgrade.
    publish_unclaimed_clips(c)


def publish_unclaimed_clips(c: Connection) -> None:
    """Give every clip that has done versions but no ``clips`` row one, published at its newest
    done version (the v8 backfill; also for jobs inserted in bulk, ``bench store --seed``).
    One INSERT … SELECT over a window function: no row per job travels to Python; a clip that
    has a row keeps it."""
    akey = article_key_sql("j")
    c.execute(text(
        "INSERT INTO clips (template, article_key, published, state, updated_at) "
        "SELECT template, akey, id, 'published', :t FROM ("
        f"SELECT j.template, {akey} AS akey, j.id, row_number() OVER ("
        f"PARTITION BY j.template, {akey} ORDER BY j.finished_at DESC, j.id DESC) AS rn "
        "FROM jobs j WHERE j.status = 'done' AND j.output IS NOT NULL) v "
        # ON CONFLICT, not NOT EXISTS: PostgreSQL would scan the rows this statement inserts once
        # per row (quadratic: 810 s for 185,000 clips); the primary key answers each in O(log n).
        "WHERE rn = 1 ON CONFLICT (template, article_key) DO NOTHING"), {"t": now()})


MIGRATIONS: dict[int, Callable[[Connection], None]] = {1: _v1, 2: _v2, 3: _v3, 4: _v4, 5: _v5, 6: _v6, 7: _v7, 8: _v8}
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
