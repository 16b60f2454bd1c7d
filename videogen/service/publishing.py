"""Versions, publishing and preview links (issue 18).

A *clip* is one article's video for one template; its *versions* are its jobs (the first render,
re-renders, corrections). At most one version is *published*: the one the public surfaces
(player, snippet, oEmbed, article page, sitemap, MRSS, play counts) show, whatever version's id
they are given, so a correction never needs a CMS to change its iframe. The ``clips`` table
(migration 8) holds, per clip, that version and the clip's state:

- ``published``: ``clips.published`` is shown;
- ``unpublished``: an editor took the clip down (410 everywhere, files kept). Sticky: a version
  rendered later in ``auto`` mode does not bring it back; ``publish`` or ``approve`` does;
- ``not published``: no version went live yet (404 on the public surfaces).

A job's ``options.publish`` says how its render ends: ``auto`` (done, and published unless the
clip was taken down) or ``review`` (status ``review`` until an editor approves or rejects it).
Every editorial action is a job event naming who did it (``job_events.actor``).

Preview links: ``sign_preview`` makes a token (HMAC-SHA256 over the job id and expiry) that lets
one version's player page and files be seen until it expires, without an API key."""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import and_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from videogen.errors import InvalidInput, JobConflict, JobNotFound
from videogen.service.schema import clips, job_events, jobs, now, utc
from videogen.service.store import Job, JobStore, canonical_url

PublishMode = Literal["auto", "review"]
ClipState = Literal["published", "unpublished", "not published"]

#: Longest reason of a rejection.
REASON_MAX = 2000
#: Preview links: default and longest life (seconds).
PREVIEW_TTL = 86400
PREVIEW_TTL_MAX = 7 * 86400
#: Events that are an editor's decision on a version (shown as the job's ``review``).
REVIEW_EVENTS = ("approved", "rejected")


def article_key(job: Job) -> str:
    """What names a job's article among clips: its id, else its canonical URL, else (an article
    with neither) the job itself. Same as ``migrations.article_key_sql``."""
    if job.article_id:
        return "id:" + job.article_id
    url = job.canonical_url or canonical_url(job.article.get("url"))
    return "url:" + url if url else "job:" + job.id


def publish_mode(job: Job) -> PublishMode:
    return "review" if job.options.get("publish") == "review" else "auto"


@dataclass(frozen=True)
class Clip:
    """A clip's publication: its published version (a job id, or None) and state."""

    template: str
    article_key: str
    published: str | None
    state: ClipState

    def as_json(self) -> dict[str, Any]:
        return {"state": self.state, "version": self.published if self.state == "published" else None}


@dataclass(frozen=True)
class Review:
    """An editor's decision on a version: who, when, and a rejection's reason."""

    by: str | None
    at: datetime
    reason: str | None
    event: str

    def as_json(self) -> dict[str, Any]:
        return {"by": self.by, "at": self.at.isoformat(timespec="milliseconds"), "reason": self.reason}


def is_published(job: Job, clip: Clip) -> bool:
    """Whether the public surfaces may show ``job`` itself: the published version of its clip,
    a finished render with files. The one place that decides it."""
    return clip.state == "published" and clip.published == job.id and job.status == "done" and bool(job.output)


# --- preview links -----------------------------------------------------------------------------

def _mac(key: str, job_id: str, expires: int) -> str:
    return hmac.new(key.encode(), f"preview|{job_id}|{expires}".encode(), hashlib.sha256).hexdigest()[:32]


def sign_preview(key: str, job_id: str, expires: int) -> str:
    """A preview token for ``job_id`` valid until ``expires`` (Unix seconds): ``<expires>.<mac>``."""
    return f"{expires}.{_mac(key, job_id, expires)}"


def preview_valid(key: str, job_id: str, token: str | None, at: float | None = None) -> bool:
    """Whether ``token`` is a preview token of ``job_id`` under ``key`` not expired at ``at``
    (compared in constant time)."""
    if not token or len(token) > 64:
        return False
    expires, _, mac = token.partition(".")
    if not expires.isdigit() or len(expires) > 12:
        return False
    if int(expires) < (time.time() if at is None else at):
        return False
    return hmac.compare_digest(mac, _mac(key, job_id, int(expires)))


def check_ttl(value: object) -> int:
    """A preview link's life in seconds, or InvalidInput naming ``ttl``."""
    if value is None:
        return PREVIEW_TTL
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise InvalidInput("ttl", "must be a number of seconds")
    if not 60 <= value <= PREVIEW_TTL_MAX:
        raise InvalidInput("ttl", f"must be between 60 and {PREVIEW_TTL_MAX} seconds (7 days)")
    return int(value)


def check_reason(value: object) -> str:
    """A rejection's reason, or InvalidInput naming ``reason``."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput("reason", "a reason is required (a non-empty string)")
    if len(value) > REASON_MAX:
        raise InvalidInput("reason", f"{len(value)} characters; at most {REASON_MAX}")
    if any(ord(ch) < 32 and ch not in "\n\t" for ch in value):
        raise InvalidInput("reason", "contains control characters")
    return value.strip()


# --- the clips table ---------------------------------------------------------------------------

class Publishing:
    """Reads and changes clips' publication in the job store, with the job transitions that
    go with them (each in one transaction)."""

    def __init__(self, store: JobStore):
        self.store = store

    def _ensure(self, c: Any, template: str, key: str) -> None:
        """The clip's row exists (a new clip: not published yet)."""
        values = dict(template=template, article_key=key, published=None, state="not published", updated_at=now())
        ins = pg_insert(clips) if c.dialect.name == "postgresql" else sqlite_insert(clips)
        c.execute(ins.values(**values).on_conflict_do_nothing(index_elements=["template", "article_key"]))

    @staticmethod
    def _where(template: str, key: str) -> Any:
        return and_(clips.c.template == template, clips.c.article_key == key)

    def _set(self, c: Any, job: Job, **values: Any) -> None:
        key = article_key(job)
        self._ensure(c, job.template, key)
        c.execute(update(clips).where(self._where(job.template, key)).values(updated_at=now(), **values))

    def clip_of(self, job: Job) -> Clip:
        key = article_key(job)
        with self.store.engine.connect() as c:
            row = c.execute(select(clips.c.published, clips.c.state).where(self._where(job.template, key))).first()
        if row is None:
            return Clip(job.template, key, None, "not published")
        return Clip(job.template, key, row.published, row.state)

    def clips_of(self, found: list[Job]) -> dict[str, Clip]:
        """Each job's clip (by job id), read in one query."""
        if not found:
            return {}
        keys = {(j.template, article_key(j)) for j in found}
        rows: dict[tuple[str, str], Clip] = {}
        q = select(clips).where(clips.c.article_key.in_([k for _, k in keys]))
        with self.store.engine.connect() as c:
            for r in c.execute(q):
                rows[(r.template, r.article_key)] = Clip(r.template, r.article_key, r.published, r.state)
        out = {}
        for j in found:
            k = (j.template, article_key(j))
            out[j.id] = rows.get(k) or Clip(k[0], k[1], None, "not published")
        return out

    def reviews_of(self, job_ids: list[str]) -> dict[str, Review]:
        """Each job's latest editorial decision (approved / rejected), read in one query."""
        if not job_ids:
            return {}
        q = (select(job_events.c.job_id, job_events.c.event, job_events.c.at, job_events.c.actor, job_events.c.detail)
             .where(job_events.c.job_id.in_(job_ids), job_events.c.event.in_(REVIEW_EVENTS)).order_by(job_events.c.id))
        out: dict[str, Review] = {}
        with self.store.engine.connect() as c:
            for job_id, event, at, actor, detail in c.execute(q):
                out[job_id] = Review(actor, utc(at), detail if event == "rejected" else None, event)
        return out

    def public_version(self, job: Job) -> tuple[ClipState, Job | None]:
        """What the public surfaces show for any version's id: the clip's state and, when it is
        published, its published version (which may be another job than ``job``)."""
        clip = self.clip_of(job)
        if clip.state != "published" or not clip.published:
            return clip.state, None
        try:
            current = job if clip.published == job.id else self.store.get(clip.published)
        except JobNotFound:  # deleted by hand: nothing to show
            return "not published", None
        return ("published", current) if is_published(current, clip) else ("not published", None)

    def versions(self, job: Job, limit: int = 200) -> list[Job]:
        """The versions of ``job``'s clip, newest first."""
        key = article_key(job)
        if key.startswith("id:"):
            found = self.store.list(article_id=job.article_id, template=job.template, limit=limit)
        elif key.startswith("url:"):
            with self.store.engine.connect() as c:
                ids = [r[0] for r in c.execute(select(jobs.c.id).where(
                    jobs.c.canonical_url == key[4:], jobs.c.template == job.template, jobs.c.article_id == "")
                    .order_by(jobs.c.created_at.desc(), jobs.c.id.desc()).limit(limit))]
            found = [self.store.get(i) for i in ids]
        else:
            found = [job]
        return found

    def by_article_url(self, url: str) -> tuple[ClipState, Job | None]:
        """The newest published clip of the article at ``url`` (oEmbed of a story's own URL),
        else the state of its newest version's clip: "unpublished" after a takedown."""
        published = self.store.by_canonical_url(url)
        if published is not None:
            return "published", published
        newest = self.store.newest_by_canonical_url(url)
        return (self.public_version(newest)[0], None) if newest is not None else ("not published", None)

    def by_article(self, article_id: str) -> tuple[ClipState, Job | None]:
        """The newest published clip of an article (any template) for its article page, else
        the state of its clips: "unpublished" when one was taken down and none is published."""
        q = select(clips.c.published, clips.c.state).where(clips.c.article_key == "id:" + article_id).order_by(
            clips.c.updated_at.desc())
        with self.store.engine.connect() as c:
            rows = c.execute(q).all()
        for published, state in rows:
            if state == "published" and published:
                try:
                    return "published", self.store.get(published)
                except JobNotFound:
                    continue
        if any(state == "unpublished" for _, state in rows):
            return "unpublished", None
        return "not published", None

    # --- transitions ---------------------------------------------------------------------------
    def on_finished(self, job: Job) -> Any:
        """What ``JobStore.finish`` runs in its transaction when ``job``'s render ends: an auto
        version becomes the published one unless the clip was taken down; a review version
        waits (its clip row is made, not published yet)."""
        def then(c: Any) -> None:
            key = article_key(job)
            self._ensure(c, job.template, key)
            if publish_mode(job) == "auto":
                c.execute(update(clips).where(self._where(job.template, key), clips.c.state != "unpublished")
                          .values(published=job.id, state="published", updated_at=now()))
        return then

    def approve(self, job_id: str, by: str) -> Job:
        """review → done, and the clip's published version (a takedown is lifted: approving is
        an editor's explicit decision)."""
        with self.store.transaction() as c:
            res = c.execute(update(jobs).where(jobs.c.id == job_id, jobs.c.status == "review", jobs.c.output.is_not(None))
                            .values(status="done", stage="done"))
            if res.rowcount == 1:
                job = self.store.get_in(c, job_id)
                self._set(c, job, published=job_id, state="published")
                JobStore.record_event(c, job_id, "approved", None, "", by)
                JobStore.record_event(c, job_id, "published", None, "", by)
        if res.rowcount != 1:
            raise JobConflict(self._state_error(job_id, "approved", "in review"))
        return self.store.get(job_id)

    def reject(self, job_id: str, by: str, reason: object) -> Job:
        """review → rejected, with the reason recorded (the ``rejected`` event's detail)."""
        why = check_reason(reason)
        with self.store.transaction() as c:
            res = c.execute(update(jobs).where(jobs.c.id == job_id, jobs.c.status == "review")
                            .values(status="rejected", stage="rejected"))
            if res.rowcount == 1:
                JobStore.record_event(c, job_id, "rejected", why, "", by)
        if res.rowcount != 1:
            raise JobConflict(self._state_error(job_id, "rejected", "in review"))
        return self.store.get(job_id)

    def unpublish(self, job_id: str, by: str) -> Job:
        """Take ``job_id``'s clip off every public surface (the published version is kept, for
        ``publish`` to restore). 409 when it is already unpublished."""
        job = self.store.get(job_id)
        key = article_key(job)
        with self.store.transaction() as c:
            self._ensure(c, job.template, key)
            res = c.execute(update(clips).where(self._where(job.template, key), clips.c.state != "unpublished")
                            .values(state="unpublished", updated_at=now()))
            if res.rowcount == 1:
                JobStore.record_event(c, job_id, "unpublished", None, "", by)
        if res.rowcount != 1:
            raise JobConflict(f"the clip of job {job_id} is already unpublished")
        return job

    def publish(self, job_id: str, by: str) -> tuple[Job, Job]:
        """Make ``job_id`` its clip's published version when it is done; for any other version,
        restore the clip's published version after a takedown. Returns (the job asked about, the
        version now published); JobConflict naming the state otherwise."""
        job = self.store.get(job_id)
        clip = self.clip_of(job)
        if job.status == "done" and job.output:
            if clip.state == "published" and clip.published == job.id:
                raise JobConflict(f"job {job_id} is already the published version of its clip")
            with self.store.transaction() as c:
                self._set(c, job, published=job.id, state="published")
                JobStore.record_event(c, job_id, "published", None, "", by)
            return job, job
        if clip.state == "unpublished" and clip.published:
            current = self.store.get(clip.published)
            if current.status == "done" and current.output:
                with self.store.transaction() as c:
                    res = c.execute(update(clips).where(self._where(clip.template, clip.article_key),
                                                        clips.c.state == "unpublished", clips.c.published == current.id)
                                    .values(state="published", updated_at=now()))
                    if res.rowcount == 1:
                        JobStore.record_event(c, current.id, "published", f"restored from job {job_id}", "", by)
                        if current.id != job_id:
                            JobStore.record_event(c, job_id, "published", f"restored version {current.id}", "", by)
                if res.rowcount == 1:
                    return job, current
        raise JobConflict(f"job {job_id} is {job.status} and its clip is {clip.state}: only a done version can be "
                          "published (approve a version in review), or an unpublished clip restored")

    def check_editable(self, job: Job) -> None:
        """Refuse to make a new version of a clip an editor took down (409 naming the state):
        publish it again first."""
        if self.clip_of(job).state == "unpublished":
            raise JobConflict(f"the clip of job {job.id} is unpublished; publish it again before editing it")

    def _state_error(self, job_id: str, verb: str, wanted: str) -> str:
        status = self.store.get(job_id).status
        return f"job {job_id} is {status}; only a version {wanted} can be {verb}"
