"""The published clips, newest first, for what travels (video sitemap, MRSS feed): read from
the job store page by page, each clip's published version only (``clips``, as
``publishing.is_published`` decides), one clip per article (the latest finished)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime

from sqlalchemy import and_, or_, select

from videogen.service.publishing import Clip, article_key, is_published
from videogen.service.schema import clips, jobs
from videogen.service.store import Job, JobStore

SCAN_BATCH = 500


def _finished(job: Job) -> datetime:
    return job.finished_at or job.created_at


def published_clips(store: JobStore, language: str | None = None) -> Iterator[Job]:
    """Published clips, newest first (by when they finished), the latest one per article,
    of one language (its primary subtag: ``fr`` takes ``fr-CA``) when given. Read by keyset
    on (finished_at, id) through the ``jobs_by_status_finished`` index: each batch costs the
    same however many clips there are."""
    seen: set[str] = set()
    q = (select(jobs).join(clips, and_(clips.c.published == jobs.c.id, clips.c.state == "published"))
         .where(jobs.c.status == "done", jobs.c.output.is_not(None), jobs.c.finished_at.is_not(None))
         .order_by(jobs.c.finished_at.desc(), jobs.c.id.desc()).limit(SCAN_BATCH))
    after: tuple[datetime, str] | None = None
    while True:
        page = q if after is None else q.where(or_(jobs.c.finished_at < after[0],
                                                   and_(jobs.c.finished_at == after[0], jobs.c.id < after[1])))
        with store.engine.connect() as c:
            rows = c.execute(page).all()
        batch = [Job.from_row(r) for r in rows]
        for job in batch:
            if job.article_id in seen or not is_published(job, Clip(job.template, article_key(job), job.id, "published")):
                continue
            seen.add(job.article_id)
            lang = str(job.article.get("language") or "en").split("-")[0].lower()
            if language and lang != language.split("-")[0].lower():
                continue
            yield job
        if len(batch) < SCAN_BATCH:
            return
        after = (rows[-1].finished_at, batch[-1].id)


def catalog_version(store: JobStore) -> tuple[str, datetime | None]:
    """A validator of the published set (an ETag value changing whenever a clip finishes or
    leaves ``done``) and the time of the newest finish (Last-Modified): the done counter and one
    index lookup."""
    n = store.counts()["done"]  # the maintained counters, not a count of the table
    with store.engine.connect() as c:
        # Any publish / unpublish moves the newest clip change (an index lookup).
        changed = c.execute(select(clips.c.updated_at).order_by(clips.c.updated_at.desc()).limit(1)).scalar()
        row = c.execute(select(jobs.c.finished_at, jobs.c.id).where(jobs.c.status == "done", jobs.c.output.is_not(None),
                                                                    jobs.c.finished_at.is_not(None))
                        .order_by(jobs.c.finished_at.desc(), jobs.c.id.desc()).limit(1)).first()
    newest, ids = (row[0], row[1]) if row is not None else (None, None)
    if isinstance(newest, str):  # SQLite hands back text for an aggregate of datetimes
        newest = datetime.fromisoformat(newest)
    if newest is not None and newest.tzinfo is None:
        newest = newest.replace(tzinfo=UTC)
    elif newest is not None:
        newest = newest.astimezone(UTC)  # PostgreSQL: the session's zone (email's usegmt wants UTC itself)
    tag = hashlib.sha256(f"{n}|{newest}|{ids}|{changed}".encode()).hexdigest()[:24]
    return tag, newest
