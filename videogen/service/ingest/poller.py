"""``FeedService``: ingest a URL (an article page or a feed) now, and poll registered feeds.

A poll: claim the feed (compare-and-set: one poller at a time), fetch it with a conditional
GET (a 304 ends the poll there), parse it, take the newest N items, and for each item version
not seen yet (feed + item key + content hash) build its article (from the item, or from the
linked page when the item is only a teaser), record it in ``feed_items`` (only the process
whose insert succeeds goes on) and enqueue one job per template. Every item left out gets its
reason recorded. A failed poll counts a consecutive failure and backs off; a feed that keeps
failing is flagged ``failing`` but still polled."""

from __future__ import annotations

import hashlib
import logging
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from videogen.errors import InvalidInput, NetError, TransientNetError, VideogenError
from videogen.net import Fetched, fetch
from videogen.render.article import Article
from videogen.service.ingest.feeds import (
    FeedItem,
    NotAFeed,
    ParsedFeed,
    article_from_item,
    is_teaser,
    item_problem,
    looks_like_html,
    newest,
    parse_feed,
    policy_problem,
)
from videogen.service.ingest.pages import NO_HINTS, NotAnArticle, PageHints, extract_article, words
from videogen.service.ingest.registry import Feed, FeedConfig, FeedRegistry, ItemRecord
from videogen.service.schema import now
from videogen.service.store import Job
from videogen.service.videos import JobOptions, VideoService

log = logging.getLogger(__name__)

PAGE_TYPES = ("text/html", "application/xhtml+xml")
FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/rdf+xml", "application/xml", "text/xml",
              "application/feed+json", "application/json", "text/plain")
#: The longest a feed's polls are spaced out after failures (backoff doubles up to this).
MAX_BACKOFF = 6 * 3600.0
#: How long a claimed poll is held before another process may take it over (a crashed poller).
CLAIM_HOLD = 300.0


@dataclass
class ItemOutcome:
    """What became of one feed item in a poll."""

    title: str | None
    link: str | None
    status: str  # enqueued, skipped, unchanged, failed
    reason: str | None = None
    job_ids: list[str] = field(default_factory=list)


@dataclass
class PollResult:
    feed_id: str
    status: str  # "200", "304", "failed", "busy" (another process is polling it)
    error: str | None = None
    items: list[ItemOutcome] = field(default_factory=list)
    skipped_older: int = 0  # items beyond the newest N of this poll
    seconds: float = 0.0

    @property
    def job_ids(self) -> list[str]:
        return [j for i in self.items for j in i.job_ids]

    def summary(self) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for i in self.items:
            counts[i.status] = counts.get(i.status, 0) + 1
        return {"feed_id": self.feed_id, "status": self.status, "error": self.error, "counts": counts,
                "skipped_older": self.skipped_older, "job_ids": self.job_ids, "seconds": round(self.seconds, 4),
                "items": [i.__dict__ for i in self.items]}


def reason_of(e: InvalidInput) -> str:
    """An item's recorded reason: the message (the field too, unless it is the URL)."""
    return e.message if e.field == "url" else str(e)


def backoff(every: float, failures: int, rng: random.Random | None = None) -> float:
    """Seconds to the next poll: ``every`` (±10 % jitter), doubled per consecutive failure up to
    ``MAX_BACKOFF``."""
    base = min(every * (2 ** min(failures, 20)), max(every, MAX_BACKOFF))
    return base * (rng or random).uniform(0.9, 1.1)


class FeedService:
    """Ingest and polling on top of a ``VideoService`` (its store, its enqueue)."""

    def __init__(self, videos: VideoService):
        self.videos = videos
        self.settings = videos.settings
        self.registry = FeedRegistry(videos.store.engine)

    # --- fetching -------------------------------------------------------------------------------
    def _fetch(self, url: str, types: tuple[str, ...], what: str, etag: str | None = None,
               last_modified: str | None = None) -> Fetched:
        s = self.settings
        return fetch(url, max_bytes=s.page_max_bytes, timeout=s.page_timeout, content_types=types,
                     allowed=s.fetch_hosts, what=what, etag=etag, last_modified=last_modified,
                     accept="application/rss+xml, application/atom+xml, application/feed+json, text/html;q=0.9, */*;q=0.5")

    def page_article(self, url: str, hints: PageHints = NO_HINTS) -> Article:
        """The article of the page at ``url`` (fetched through the guard)."""
        try:
            got = self._fetch(url, PAGE_TYPES, "article page")
        except TransientNetError:
            raise  # may work later: not a reason to give up on the item
        except NetError as e:
            raise NotAnArticle(f"{url}: {e}") from None
        return extract_article(got.body, got.url, hints, self.settings.article_limits())

    # --- one URL now ---------------------------------------------------------------------------------
    def articles_of(self, url: str, config: FeedConfig | None = None) -> tuple[list[Article], list[ItemOutcome]]:
        """The articles at ``url``: the page's one, or a feed's newest items (with the reasons
        of those left out). Raises ``NotAnArticle`` (a feed is ``NotAFeed``) when there is none."""
        config = config or FeedConfig()
        try:
            got = self._fetch(url, PAGE_TYPES + FEED_TYPES, "article page or feed")
        except TransientNetError:
            raise
        except NetError as e:
            raise NotAnArticle(f"{url}: {e}") from None
        if not (got.content_type in PAGE_TYPES and looks_like_html(got.body)):
            feed = parse_feed(got.body, got.url, got.content_type)
            items = newest(feed.items, config.max_items or self.settings.feed_max_items)
            articles, outcomes = [], []
            seen: set[str] = set()
            for item in items:
                problem = item_problem(item, now()) or ("duplicate GUID in the feed" if item.item_key in seen else None)
                seen.add(item.item_key)
                if problem:
                    outcomes.append(ItemOutcome(item.title, item.link, "skipped", problem))
                    continue
                try:
                    articles.append(self.item_article(item, feed, config))
                except InvalidInput as e:
                    outcomes.append(ItemOutcome(item.title, item.link, "skipped", reason_of(e)))
            if not articles:
                reasons = "; ".join(f"{o.title or o.link}: {o.reason}" for o in outcomes[:3])
                raise NotAFeed(f"the feed has no item that can become a clip ({reasons or 'no items'})")
            return articles, outcomes
        return [extract_article(got.body, got.url, NO_HINTS, self.settings.article_limits())], []

    def item_article(self, item: FeedItem, feed: ParsedFeed, config: FeedConfig) -> Article:
        """The article of a feed item: from the item's own text, or from its page (teasers in
        ``auto`` mode, every item in ``page`` mode)."""
        policy = config.policy
        mode = config.item_content
        if mode == "page" or (mode == "auto" and is_teaser(item)):
            if not item.link:
                raise NotAnArticle("the item is a teaser without a link to its page")
            hints = PageHints(language=item.language or feed.language, title=item.title,
                              published_at=item.published, source=feed.title, images=item.images)
            article = self.page_article(item.link, hints)
        else:
            article = article_from_item(item, feed, self.settings.article_limits())
        text = " ".join(x for x in (article.summary, article.body) if x)
        if policy.min_words and words(text) < policy.min_words:
            raise NotAnArticle(f"{words(text)} words; the feed wants at least {policy.min_words}", "policy.min_words")
        if policy.require_image and not article.images:
            raise NotAnArticle("no image; the feed requires one", "policy.require_image")
        if policy.languages and article.lang not in {x.split("-")[0].lower() for x in policy.languages}:
            raise NotAnArticle(f"language {article.language} is not one of {', '.join(policy.languages)}", "policy.languages")
        return article

    def job_options(self, config: FeedConfig, template: str, extra: dict[str, Any] | None = None) -> JobOptions:
        o = config.options.model_dump(exclude_none=True)
        return JobOptions(template=template, **{"publish": config.publish, **o, **(extra or {})})

    def ingest(self, urls: list[str], config: FeedConfig | None = None, extra: dict[str, Any] | None = None,
               local: bool = False) -> tuple[list[Job], list[ItemOutcome]]:
        """Enqueue the articles of ``urls`` (pages or feeds), one job per template. All or
        nothing: every URL is fetched and every job checked before any is queued."""
        config = config or FeedConfig()
        found: list[Article] = []
        outcomes: list[ItemOutcome] = []
        for url in urls:
            articles, skipped = self.articles_of(url, config)
            found += articles
            outcomes += skipped
        plan = [(a, self.job_options(config, t, extra)) for a in found for t in config.templates]
        for article, options in plan:
            self.videos.check(article, options, local=local)
        return [self.videos.enqueue(a, o, local=local)[0] for a, o in plan], outcomes

    # --- polling ---------------------------------------------------------------------------------------
    def poll(self, feed_id: str, force: bool = False) -> PollResult:
        """Poll one feed now if this process wins the claim (``force``: even if it is not due)."""
        feed = self.registry.get(feed_id)
        if not self.registry.claim(feed_id, CLAIM_HOLD, due_only=not force):
            return PollResult(feed_id, "busy")
        started = time.monotonic()
        try:
            result = self._poll_claimed(feed)
        except Exception as e:  # noqa: BLE001 - a poll that crashes must release its claim and say why
            log.exception("poll of feed %s crashed", feed_id)
            result = PollResult(feed_id, "failed", f"internal error: {type(e).__name__}: {e}")
            self.registry.finish_poll(feed_id, ok=False, status="failed", error=result.error,
                                      next_in=backoff(feed.config.every, feed.failures + 1))
        result.seconds = time.monotonic() - started
        return result

    def _poll_claimed(self, feed: Feed) -> PollResult:
        config = feed.config
        try:
            got = self._fetch(feed.url, FEED_TYPES + PAGE_TYPES, "feed", feed.etag, feed.last_modified)
            if got.status == 304:
                self.registry.finish_poll(feed.id, ok=True, status="304 not modified", error=None,
                                          next_in=backoff(config.every, 0), etag=got.etag, last_modified=got.last_modified)
                return PollResult(feed.id, "304")
            parsed = parse_feed(got.body, got.url, got.content_type)
        except (NetError, NotAFeed) as e:
            error = e.message if isinstance(e, NotAFeed) else str(e)
            log.warning("feed %s (%s): %s", feed.id, feed.url, error)
            self.registry.finish_poll(feed.id, ok=False, status="failed", error=error,
                                      next_in=backoff(config.every, feed.failures + 1))
            return PollResult(feed.id, "failed", error)
        limit = config.max_items or self.settings.feed_max_items
        taken = newest(parsed.items, limit)
        result = PollResult(feed.id, "200", skipped_older=len(parsed.items) - len(taken))
        in_this_poll: set[str] = set()
        item_errors = []
        for item in taken:
            outcome = self._item(feed, parsed, item, in_this_poll)
            result.items.append(outcome)
            if outcome.status == "failed":
                item_errors.append(f"{item.title or item.link}: {outcome.reason}")
        new = sum(1 for o in result.items if o.status in ("enqueued", "skipped"))
        enq = sum(1 for o in result.items if o.status == "enqueued")
        self.registry.finish_poll(feed.id, ok=True, status=f"200: {enq} item(s) enqueued" + (f", {result.skipped_older} older left out" if result.skipped_older else ""), error=None,
                                  next_in=backoff(config.every, 0), etag=got.etag, last_modified=got.last_modified,
                                  title=parsed.title, new_items=new)
        if item_errors:
            self.registry.record_error(feed.id, "; ".join(item_errors)[:2000])
        return result

    def _item(self, feed: Feed, parsed: ParsedFeed, item: FeedItem, in_this_poll: set[str]) -> ItemOutcome:
        key, digest = item.item_key, item.content_hash
        if key in in_this_poll and item.key:
            dup = hashlib.sha256(f"duplicate {digest}".encode()).hexdigest()
            return self._skip(feed, item, "duplicate GUID in the feed (the first item with it is used)", dup)
        in_this_poll.add(key)
        if self.registry.seen(feed.id, key, digest):
            return ItemOutcome(item.title, item.link, "unchanged")
        problem = item_problem(item, now()) or policy_problem(item, item.language or parsed.language,
                                                              feed.config.policy.policy(), now())
        if problem:
            return self._skip(feed, item, problem, digest)
        try:
            article = self.item_article(item, parsed, feed.config)
            plan = [self.job_options(feed.config, t) for t in feed.config.templates]
            for options in plan:
                self.videos.check(article, options)
        except InvalidInput as e:  # NotAnArticle too
            return self._skip(feed, item, reason_of(e), digest)
        except NetError as e:  # a transient failure of the item's page: tried again next poll
            return ItemOutcome(item.title, item.link, "failed", str(e))
        row = self.registry.claim_item(feed.id, key, digest, guid=item.key, title=item.title, link=item.link,
                                       article_id=article.id)
        if row is None:
            return ItemOutcome(item.title, item.link, "unchanged", "another poller took it")
        job_ids = []
        try:
            for options in plan:
                job, _created = self.videos.enqueue(article, options)
                job_ids.append(job.id)
        except VideogenError as e:
            self.registry.set_item(row, status="skipped", reason=str(e), job_ids=job_ids)
            return ItemOutcome(item.title, item.link, "skipped", str(e), job_ids)
        self.registry.set_item(row, status="enqueued", job_ids=job_ids)
        return ItemOutcome(item.title, item.link, "enqueued", None, job_ids)

    def _skip(self, feed: Feed, item: FeedItem, reason: str, digest: str) -> ItemOutcome:
        """Record why an item is left out (once per item version) and report it."""
        self.registry.claim_item(feed.id, item.item_key, digest, guid=item.key, title=item.title, link=item.link,
                                 status="skipped", reason=reason)
        return ItemOutcome(item.title, item.link, "skipped", reason)

    def poll_due(self) -> list[PollResult]:
        """Poll every feed that is due (for the poller thread and the Celery beat task)."""
        results = []
        for feed_id in self.registry.due():
            r = self.poll(feed_id)
            if r.status != "busy":
                results.append(r)
        return results

    def start_poller(self, stop: threading.Event, tick: float | None = None) -> threading.Thread:
        """A thread polling due feeds every ``tick`` seconds (±20 % jitter) until ``stop``."""
        tick = tick or self.settings.feed_tick

        def loop() -> None:
            while not stop.wait(tick * random.uniform(0.8, 1.2)):
                try:
                    self.poll_due()
                except Exception:  # noqa: BLE001 - a database hiccup must not kill the poller
                    log.exception("feed poll failed; trying again in %ss", tick)

        t = threading.Thread(target=loop, name="videogen-feeds", daemon=True)
        t.start()
        return t


def _iso(value: Any) -> str | None:
    return value.isoformat(timespec="seconds") if value is not None else None


def feed_view(feed: Feed, items: list[ItemRecord] | None = None, jobs: dict[str, Job] | None = None) -> dict[str, Any]:
    """What the API, the CLI and the dashboard show of a feed: configuration, polling state
    (``state`` ok/error/failing/new, last error, items seen) and, when given, its recent items
    with the jobs they made (id and status)."""
    out: dict[str, Any] = {
        "id": feed.id, "url": feed.url, "title": feed.title, "state": feed.state, "every": feed.config.every,
        "templates": feed.config.templates, "options": feed.config.options.model_dump(exclude_none=True),
        "policy": feed.config.policy.model_dump(), "item_content": feed.config.item_content,
        "max_items": feed.config.max_items, "publish": feed.config.publish,
        "last_poll_at": _iso(feed.last_poll_at), "last_status": feed.last_status, "last_error": feed.last_error,
        "failures": feed.failures, "items_seen": feed.items_seen, "next_poll_at": _iso(feed.next_poll_at),
        "created_at": _iso(feed.created_at), "etag": feed.etag, "last_modified": feed.last_modified,
    }
    if items is not None:
        jobs = jobs or {}
        out["items"] = [{
            "title": i.title, "link": i.link, "guid": i.guid, "article_id": i.article_id, "status": i.status,
            "reason": i.reason, "seen_at": _iso(i.seen_at),
            "jobs": [{"id": j, "status": jobs[j].status if j in jobs else None} for j in i.job_ids],
        } for i in items]
    return out


def feed_details(service: FeedService, feed_id: str, limit: int = 50) -> dict[str, Any]:
    """``feed_view`` with the feed's recent items and the status of their jobs."""
    from videogen.errors import JobNotFound

    feed = service.registry.get(feed_id)
    items = service.registry.items(feed_id, limit)
    jobs: dict[str, Job] = {}
    for i in items:
        for j in i.job_ids:
            try:
                jobs[j] = service.videos.store.get(j)
            except JobNotFound:
                pass
    return feed_view(feed, items, jobs)
