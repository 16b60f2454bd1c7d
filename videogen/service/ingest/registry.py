"""The feed registry in the job store (tables ``feeds`` and ``feed_items``, migration v4): each
feed's URL, configuration and polling state, and every version of every item seen with what
became of it (the jobs it made, or why it was skipped).

Concurrency: a poll is claimed with a compare-and-set on ``claimed_until`` (one poller at a
time per feed), and an item version is enqueued only by the process whose insert into
``feed_items`` succeeds (unique feed + item key + content hash), so two processes polling the
same feed at once enqueue each item once."""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from videogen.errors import VideogenError
from videogen.render.config import TtsChoice
from videogen.service.ingest.feeds import ItemContent, Policy
from videogen.service.schema import feed_items, feeds, now, utc_or_none

MIN_EVERY, DEFAULT_EVERY = 5.0, 300.0
#: Consecutive failed polls after which a feed is flagged ``failing`` (it keeps being polled).
FAILING_AFTER = 3


class FeedNotFound(VideogenError):
    def __init__(self, feed_id: str):
        super().__init__(f"no feed {feed_id}")
        self.feed_id = feed_id


class RenderSettings(BaseModel):
    """Render options of a feed's clips (as ``JobOptions``, without webhooks)."""

    model_config = ConfigDict(extra="forbid")

    voice: str | None = Field(None, max_length=128)
    tts: TtsChoice = "auto"
    priority: int = Field(5, ge=0, le=9)
    height: int | None = Field(None, ge=90, le=2160)
    fps: float | None = Field(None, ge=5, le=60)
    max_duration: float | None = Field(None, gt=5, le=900)


class PolicySettings(BaseModel):
    """Which items become clips."""

    model_config = ConfigDict(extra="forbid")

    languages: list[str] = Field(default_factory=list, max_length=50)
    include_categories: list[str] = Field(default_factory=list, max_length=100)
    exclude_categories: list[str] = Field(default_factory=list, max_length=100)
    min_words: int = Field(0, ge=0, le=10_000, description="Items whose text has fewer words are skipped.")
    require_image: bool = False
    max_age: float | None = Field(None, gt=0, description="Items older than this many seconds are skipped.")

    def policy(self) -> Policy:
        return Policy(tuple(self.languages), tuple(self.include_categories), tuple(self.exclude_categories),
                      self.min_words, self.require_image, self.max_age)


class FeedConfig(BaseModel):
    """A feed's configuration (``POST /v1/feeds`` body but ``url``; ``PATCH`` changes any part)."""

    model_config = ConfigDict(extra="forbid")

    every: float = Field(DEFAULT_EVERY, ge=MIN_EVERY, le=7 * 86400, description="Seconds between polls (at least 5).")
    templates: list[str] = Field(default_factory=lambda: ["news"], min_length=1, max_length=8,
                                 description="One clip per template for each item.")
    options: RenderSettings = Field(default_factory=RenderSettings)
    policy: PolicySettings = Field(default_factory=PolicySettings)
    item_content: ItemContent = Field("auto", description="auto: the item's own text unless it is a teaser, then "
                                                          "the linked page; feed: never the page; page: always.")
    max_items: int | None = Field(None, ge=1, le=1000, description="Newest items taken per poll (default VIDEOGEN_FEED_MAX_ITEMS).")
    publish: Literal["auto", "review"] = Field("auto", description="The publish mode of the feed's jobs: auto (live "
                                                                   "when rendered) or review (wait for an editor).")

    @field_validator("templates")
    @classmethod
    def _templates(cls, v: list[str]) -> list[str]:
        return list(dict.fromkeys(v))


@dataclass
class Feed:
    id: str
    url: str
    config: FeedConfig
    title: str | None
    etag: str | None
    last_modified: str | None
    last_poll_at: datetime | None
    last_status: str | None
    last_error: str | None
    failures: int
    items_seen: int
    next_poll_at: datetime
    created_at: datetime

    @property
    def state(self) -> str:
        """``ok``, ``failing`` (``FAILING_AFTER`` polls in a row failed) or ``new`` (never polled)."""
        if self.failures >= FAILING_AFTER:
            return "failing"
        return "new" if self.last_poll_at is None else ("error" if self.failures else "ok")


@dataclass
class ItemRecord:
    id: int
    feed_id: str
    guid: str | None
    title: str | None
    link: str | None
    article_id: str | None
    status: str
    reason: str | None
    job_ids: list[str]
    seen_at: datetime


def _feed(row: Any) -> Feed:
    d = dict(row._mapping)
    return Feed(id=d["id"], url=d["url"], config=FeedConfig.model_validate_json(d["config"]), title=d["title"],
                etag=d["etag"], last_modified=d["last_modified"], last_poll_at=utc_or_none(d["last_poll_at"]),
                last_status=d["last_status"], last_error=d["last_error"], failures=d["failures"] or 0,
                items_seen=d["items_seen"] or 0, next_poll_at=utc_or_none(d["next_poll_at"]) or now(),
                created_at=utc_or_none(d["created_at"]) or now())


def _item(row: Any) -> ItemRecord:
    d = dict(row._mapping)
    return ItemRecord(id=d["id"], feed_id=d["feed_id"], guid=d["guid"], title=d["title"], link=d["link"],
                      article_id=d["article_id"], status=d["status"], reason=d["reason"],
                      job_ids=json.loads(d["job_ids"]) if d["job_ids"] else [], seen_at=utc_or_none(d["seen_at"]) or now())


class FeedRegistry:
    """Reads and writes ``feeds`` and ``feed_items`` on the job store's engine."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def add(self, url: str, config: FeedConfig) -> tuple[Feed, bool]:
        """Register ``url`` (polled at once); the same URL again returns the feed there is."""
        digest = hashlib.sha256(url.encode()).hexdigest()
        feed_id = secrets.token_hex(8)
        t = now()
        try:
            with self.engine.begin() as c:
                c.execute(insert(feeds).values(id=feed_id, url=url, url_hash=digest, config=config.model_dump_json(),
                                               every=config.every, failures=0, items_seen=0, next_poll_at=t, created_at=t))
            return self.get(feed_id), True
        except IntegrityError:
            with self.engine.connect() as c:
                row = c.execute(select(feeds).where(feeds.c.url_hash == digest)).one()
            return _feed(row), False

    def get(self, feed_id: str) -> Feed:
        with self.engine.connect() as c:
            row = c.execute(select(feeds).where(feeds.c.id == feed_id)).first()
        if row is None:
            raise FeedNotFound(feed_id)
        return _feed(row)

    def all(self) -> list[Feed]:
        with self.engine.connect() as c:
            return [_feed(r) for r in c.execute(select(feeds).order_by(feeds.c.created_at, feeds.c.id))]

    def update(self, feed_id: str, config: FeedConfig) -> Feed:
        with self.engine.begin() as c:
            res = c.execute(update(feeds).where(feeds.c.id == feed_id).values(
                config=config.model_dump_json(), every=config.every, next_poll_at=now()))
        if res.rowcount != 1:
            raise FeedNotFound(feed_id)
        return self.get(feed_id)

    def remove(self, feed_id: str) -> None:
        """Forget the feed and its items (its jobs stay)."""
        with self.engine.begin() as c:
            res = c.execute(delete(feeds).where(feeds.c.id == feed_id))
            c.execute(delete(feed_items).where(feed_items.c.feed_id == feed_id))
        if res.rowcount != 1:
            raise FeedNotFound(feed_id)

    def due(self, limit: int = 100) -> list[str]:
        t = now()
        q = select(feeds.c.id).where(feeds.c.next_poll_at <= t, or_(feeds.c.claimed_until.is_(None), feeds.c.claimed_until < t))
        with self.engine.connect() as c:
            return [r[0] for r in c.execute(q.order_by(feeds.c.next_poll_at).limit(limit))]

    def claim(self, feed_id: str, hold: float, due_only: bool = True) -> bool:
        """Compare-and-set: True for exactly one of several processes that want to poll the feed
        now (it is due, or ``due_only`` is false, and nobody holds it); held for ``hold`` s."""
        t = now()
        cond = [feeds.c.id == feed_id, or_(feeds.c.claimed_until.is_(None), feeds.c.claimed_until < t)]
        if due_only:
            cond.append(feeds.c.next_poll_at <= t)
        with self.engine.begin() as c:
            res = c.execute(update(feeds).where(*cond).values(claimed_until=t + timedelta(seconds=hold)))
        return res.rowcount == 1

    def finish_poll(self, feed_id: str, *, ok: bool, status: str, error: str | None, next_in: float,
                    etag: str | None = None, last_modified: str | None = None, title: str | None = None,
                    new_items: int = 0) -> None:
        """Record a poll's outcome and release the claim. A failed poll counts one more
        consecutive failure (the feed is flagged after ``FAILING_AFTER``); a good one resets it."""
        t = now()
        values: dict[str, Any] = dict(last_poll_at=t, last_status=status[:64], claimed_until=None,
                                      next_poll_at=t + timedelta(seconds=next_in),
                                      items_seen=feeds.c.items_seen + new_items)
        if ok:
            values.update(failures=0, last_error=None)
            if etag is not None or last_modified is not None:
                values.update(etag=etag, last_modified=last_modified)
            if title:
                values["title"] = title[:500]
        else:
            values.update(failures=feeds.c.failures + 1, last_error=(error or "")[:2000])
        with self.engine.begin() as c:
            c.execute(update(feeds).where(feeds.c.id == feed_id).values(**values))

    def record_error(self, feed_id: str, error: str) -> None:
        """A problem of this poll that is not a failure of the feed (an item's page): shown as
        the last error, no failure counted."""
        with self.engine.begin() as c:
            c.execute(update(feeds).where(feeds.c.id == feed_id).values(last_error=error[:2000]))

    # --- items ------------------------------------------------------------------------------
    def seen(self, feed_id: str, item_key: str, content_hash: str) -> bool:
        with self.engine.connect() as c:
            return c.execute(select(feed_items.c.id).where(
                feed_items.c.feed_id == feed_id, feed_items.c.item_key == item_key,
                feed_items.c.content_hash == content_hash)).first() is not None

    def claim_item(self, feed_id: str, item_key: str, content_hash: str, *, guid: str | None, title: str | None,
                   link: str | None, status: str = "pending", reason: str | None = None,
                   article_id: str | None = None) -> int | None:
        """Insert this item version; its row id, or None when another poller inserted it first."""
        try:
            with self.engine.begin() as c:
                res = c.execute(insert(feed_items).values(
                    feed_id=feed_id, item_key=item_key, content_hash=content_hash, guid=(guid or "")[:2000] or None,
                    title=(title or "")[:500] or None, link=(link or "")[:2048] or None, status=status,
                    reason=reason[:2000] if reason else None, article_id=article_id, seen_at=now()))
            pk = res.inserted_primary_key
            return int(pk[0]) if pk else None
        except IntegrityError:
            return None

    def set_item(self, item_id: int, *, status: str, job_ids: list[str] | None = None, reason: str | None = None,
                 article_id: str | None = None) -> None:
        values: dict[str, Any] = {"status": status, "reason": reason[:2000] if reason else None}
        if job_ids is not None:
            values["job_ids"] = json.dumps(job_ids)
        if article_id is not None:
            values["article_id"] = article_id
        with self.engine.begin() as c:
            c.execute(update(feed_items).where(feed_items.c.id == item_id).values(**values))

    def items(self, feed_id: str, limit: int = 50) -> list[ItemRecord]:
        q = select(feed_items).where(feed_items.c.feed_id == feed_id).order_by(
            feed_items.c.seen_at.desc(), feed_items.c.id.desc()).limit(limit)
        with self.engine.connect() as c:
            return [_item(r) for r in c.execute(q)]
