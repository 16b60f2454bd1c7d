"""Retention of the job store and the media (``videogen gc``): what a newsroom's years leave
behind is pruned by age, in short batches, never a published version or an article's newest job.

- ``job_events`` rows older than ``retain_events_days``;
- ``failed`` and ``cancelled`` jobs finished more than ``retain_failed_days`` ago (with their
  events and webhooks), unless one is the newest job of its article;
- the media of *superseded* versions: a ``done`` job finished more than
  ``retain_superseded_days`` ago whose article has a newer ``done`` job. Its files are deleted
  from the storage (local or S3, through ``Storage``) when no kept job shares them; the row stays,
  with ``output`` cleared, so its history is still there. The newest ``done`` job of an article
  (the published version the article page, oEmbed and the sitemap show) is never touched.

A setting of 0 keeps that kind of thing forever. ``dry_run`` counts without deleting.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, exists, func, not_, select, update

from videogen.errors import StorageError
from videogen.outputs import FILES
from videogen.service.schema import clips, job_events, job_webhooks, jobs, now
from videogen.service.storage import Storage
from videogen.service.store import JobStore
from videogen.settings import Settings

log = logging.getLogger(__name__)

BATCH = 2000


@dataclass
class GcReport:
    """What a retention run removed (or, dry, would remove)."""

    dry_run: bool
    events: int = 0  # job_events rows
    jobs: int = 0  # failed/cancelled job rows
    media_sets: int = 0  # storage keys of superseded versions deleted
    files: int = 0
    bytes: int = 0
    jobs_unpublished: int = 0  # superseded done jobs whose output was cleared
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _cutoff(days: float, at: datetime) -> datetime | None:
    return at - timedelta(days=days) if days > 0 else None


def _newer(status_done: bool = False) -> Any:
    """EXISTS a newer job of the same article (a newer done one with media when ``status_done``)."""
    other = jobs.alias("newer")
    cond = [other.c.article_id == jobs.c.article_id,
            (other.c.created_at > jobs.c.created_at) | and_(other.c.created_at == jobs.c.created_at, other.c.id > jobs.c.id)]
    if status_done:
        cond += [other.c.status == "done", other.c.output.is_not(None)]
    return exists().where(*cond)


def _superseded(cutoff: datetime) -> Any:
    """An older done version with a newer done one, unless it is a clip's published version (an
    editor may have published it again): its files are what the embeds show."""
    published = exists().where(clips.c.published == jobs.c.id)
    return and_(jobs.c.status == "done", jobs.c.output.is_not(None), jobs.c.finished_at < cutoff, _newer(True),
                ~published)


def collect(store: JobStore, storage: Storage, settings: Settings, dry_run: bool = False,
            at: datetime | None = None) -> GcReport:
    """Apply the retention settings once; returns what was reclaimed."""
    at = at or now()
    report = GcReport(dry_run=dry_run)
    if (cutoff := _cutoff(settings.retain_events_days, at)) is not None:
        report.events = _batched_delete(store, job_events, job_events.c.id, job_events.c.at < cutoff, dry_run)
    if (cutoff := _cutoff(settings.retain_failed_days, at)) is not None:
        cond = and_(jobs.c.status.in_(("failed", "cancelled")), jobs.c.finished_at < cutoff, _newer())
        report.jobs = _delete_jobs(store, cond, dry_run)
    if (cutoff := _cutoff(settings.retain_superseded_days, at)) is not None:
        _superseded_media(store, storage, cutoff, dry_run, report)
    log.info("gc%s: %s", " (dry run)" if dry_run else "", report)
    return report


def _batched_delete(store: JobStore, table: Any, key: Any, cond: Any, dry_run: bool) -> int:
    total = 0
    while True:
        with store.engine.begin() as c:
            if dry_run:
                return int(c.execute(select(func.count()).select_from(table).where(cond)).scalar() or 0)
            ids = [r[0] for r in c.execute(select(key).where(cond).order_by(key).limit(BATCH))]
            if not ids:
                return total
            c.execute(delete(table).where(key.in_(ids)))
        total += len(ids)


def _delete_jobs(store: JobStore, cond: Any, dry_run: bool) -> int:
    total, last = 0, ""
    while True:
        with store.engine.begin() as c:
            ids = [r[0] for r in c.execute(select(jobs.c.id).where(cond, jobs.c.id > last).order_by(jobs.c.id).limit(BATCH))]
            if not ids:
                return total
            if not dry_run:
                c.execute(delete(job_events).where(job_events.c.job_id.in_(ids)))
                c.execute(delete(job_webhooks).where(job_webhooks.c.job_id.in_(ids)))
                c.execute(delete(jobs).where(jobs.c.id.in_(ids)))
        total += len(ids)
        last = ids[-1]


def _superseded_media(store: JobStore, storage: Storage, cutoff: datetime, dry_run: bool, report: GcReport) -> None:
    last = ""
    while True:
        with store.engine.connect() as c:
            keys = [r[0] for r in c.execute(select(jobs.c.output).where(_superseded(cutoff), jobs.c.output > last)
                                            .group_by(jobs.c.output).order_by(jobs.c.output).limit(BATCH))]
        if not keys:
            return
        last = keys[-1]
        for key in keys:
            with store.engine.connect() as c:
                # Another job that is kept (published, newest, recent, active) shares these files.
                shared = c.execute(select(jobs.c.id).where(jobs.c.output == key, not_(_superseded(cutoff))).limit(1)).first()
                n_jobs = int(c.execute(select(func.count()).select_from(jobs).where(jobs.c.output == key)).scalar() or 0)
            if shared is not None:
                continue
            files, size = 0, 0
            for name in FILES:
                try:
                    size += storage.stat(key, name).size
                    files += 1
                except StorageError:
                    pass
            if not dry_run:
                try:
                    storage.delete(key)
                except StorageError as e:
                    report.errors.append(f"{key}: {e}")
                    continue
                with store.engine.begin() as c:
                    c.execute(update(jobs).where(jobs.c.output == key, _superseded(cutoff))
                              .values(output=None, stage="superseded: media deleted"))
            report.media_sets += 1
            report.files += files
            report.bytes += size
            report.jobs_unpublished += n_jobs
