"""Feed bytes → feed items (RSS 0.9x/1.0/2.0 and Atom by feedparser, JSON Feed by hand: it is
JSON), and a feed item → the article model. Pure: no fetching, no settings, no clock but the
``now`` given.

An item is known by its key (GUID/id, else its link) plus a hash of what is rendered (title,
summary, body, images): ``FeedItem.content_hash``."""

from __future__ import annotations

import calendar
import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import urljoin

import feedparser

from videogen.errors import InvalidArticle
from videogen.render.article import DEFAULT_LIMITS, Article, ArticleLimits, parse_article
from videogen.service.ingest.pages import (
    NotAnArticle,
    article_id_for,
    canonical_url,
    html_to_text,
    words,
)

#: What a feed item becomes: ``auto`` uses the item's own text when it is a real summary or has
#: the full content, the linked page when it is only a teaser; ``feed`` never fetches the page;
#: ``page`` always does.
ItemContent = Literal["auto", "feed", "page"]
#: Items published this far ahead of the poll are refused (clocks differ a little).
FUTURE_SLACK = timedelta(hours=1)
#: A description shorter than this, or ending like a teaser, is not a real summary.
SUMMARY_MIN_WORDS = 20
_TEASER_END = re.compile(r"(\u2026|\.\.\.|\[\s*(\u2026|\.\.\.|&hellip;)\s*\]|read more|continue reading|lire la suite|weiterlesen)\W*$", re.I)
_HTML_START = re.compile(rb"^\s*(<!--.*?-->\s*)*<(!doctype\s+html|html[\s>]|head[\s>]|body[\s>])", re.I | re.S)


class NotAFeed(NotAnArticle):
    """The bytes are no feed (an HTML page, invalid XML, unknown JSON); the message says which."""


@dataclass(frozen=True)
class FeedItem:
    """One item of a feed, as text (HTML removed), with the problems found in it."""

    key: str | None
    title: str | None
    link: str | None
    summary: str
    content: str
    images: tuple[dict[str, str], ...]
    published: datetime | None
    date_text: str | None  # the date as written, when it could not be read
    categories: tuple[str, ...]
    language: str | None = None

    @property
    def content_hash(self) -> str:
        """sha256 of what is rendered from the item (title, summary, body, images)."""
        data = {"title": self.title, "summary": self.summary, "content": self.content,
                "images": [i.get("src") for i in self.images]}
        return hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=False).encode()).hexdigest()

    @property
    def item_key(self) -> str:
        """sha256 of the item's key (GUID/id, else link): fixed length for the store's index."""
        return hashlib.sha256((self.key or "").encode()).hexdigest()


@dataclass
class ParsedFeed:
    kind: str  # rss20, rss10, atom10, json…
    title: str | None
    language: str | None
    link: str | None
    items: list[FeedItem] = field(default_factory=list)


def looks_like_html(data: bytes) -> bool:
    return bool(_HTML_START.match(data[:2048].lstrip(b"\xef\xbb\xbf")))


def looks_like_feed(data: bytes, content_type: str) -> bool:
    """Whether the bytes are meant as a feed (by content type or root element), not a page."""
    head = data[:2048].lstrip(b"\xef\xbb\xbf").lstrip()
    if "json" in content_type or head.startswith(b"{"):
        return True
    if looks_like_html(data):
        return False
    return bool(re.search(rb"<(rss|feed|rdf:RDF)[\s>]", data[:4096])) or content_type.endswith("xml")


def _struct_date(value: Any) -> datetime | None:
    return datetime.fromtimestamp(calendar.timegm(value), UTC) if value else None


def _iso(value: Any) -> tuple[datetime | None, str | None]:
    if not value:
        return None, None
    try:
        d = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None, str(value)[:100]
    return (d if d.tzinfo else d.replace(tzinfo=UTC)), None


def _entry_images(e: Any, base: str) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    credit = (e.get("media_credit") or [{}])[0].get("content") if e.get("media_credit") else None
    for m in e.get("media_content") or []:
        if m.get("url") and (m.get("medium") == "image" or str(m.get("type", "")).startswith("image/")
                             or not m.get("medium") and not m.get("type")):
            img = {"src": urljoin(base, m["url"])}
            if credit:
                img["credit"] = str(credit)[:200]
            out.append(img)
    for m in e.get("media_thumbnail") or []:
        if m.get("url"):
            out.append({"src": urljoin(base, m["url"])})
    links = list(e.get("enclosures") or []) + [ln for ln in e.get("links") or [] if ln.get("rel") == "enclosure"]
    for enc in links:
        if enc.get("href") and str(enc.get("type", "")).startswith("image/"):
            out.append({"src": urljoin(base, enc["href"])})
    seen: set[str] = set()
    return [i for i in out if not (i["src"] in seen or seen.add(i["src"]))]  # type: ignore[func-returns-value]


def _xml_feed(data: bytes, url: str) -> ParsedFeed:
    d = feedparser.parse(data, sanitize_html=True, resolve_relative_uris=True)
    if d.bozo and not isinstance(d.get("bozo_exception"), feedparser.CharacterEncodingOverride):
        raise NotAFeed(f"invalid XML: {d.get('bozo_exception')}")
    if not d.version:
        raise NotAFeed("not a feed: no RSS, Atom or RDF root element")
    items = []
    for e in d.entries:
        # dict.get: no fallback of feedparser's between published and updated (it warns)
        published = _struct_date(dict.get(e, "published_parsed") or dict.get(e, "updated_parsed"))
        written = dict.get(e, "published") or dict.get(e, "updated")
        content = " ".join(c.get("value", "") for c in e.get("content") or [] if "html" in c.get("type", "html") or "text" in c.get("type", ""))
        items.append(FeedItem(
            key=(e.get("id") or e.get("link") or None), title=html_to_text(e.get("title")) or None,
            link=urljoin(url, e["link"]) if e.get("link") else None, summary=html_to_text(e.get("summary")),
            content=html_to_text(content), images=tuple(_entry_images(e, url)), published=published,
            date_text=str(written)[:100] if written and published is None else None,
            categories=tuple(t.get("term") for t in e.get("tags") or [] if t.get("term")),
            language=(e.get("language") or None)))
    f = d.feed
    return ParsedFeed(kind=d.version, title=html_to_text(f.get("title")) or None, language=f.get("language") or None,
                      link=f.get("link"), items=items)


def _json_feed(data: bytes, url: str) -> ParsedFeed:
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError) as e:
        raise NotAFeed(f"invalid JSON: {e}") from None
    if not isinstance(doc, dict) or not str(doc.get("version", "")).startswith("https://jsonfeed.org/version/"):
        raise NotAFeed("not a feed: JSON without a JSON Feed version")
    if not isinstance(doc.get("items"), list):
        raise NotAFeed("not a feed: a JSON Feed needs an items list")
    items = []
    for it in doc["items"]:
        if not isinstance(it, dict):
            continue
        published, bad = _iso(it.get("date_published") or it.get("date_modified"))
        images = [{"src": urljoin(url, str(it[k]))} for k in ("image", "banner_image") if it.get(k)]
        images += [{"src": urljoin(url, str(a["url"]))} for a in it.get("attachments") or []
                   if isinstance(a, dict) and str(a.get("mime_type", "")).startswith("image/") and a.get("url")]
        content = html_to_text(it.get("content_html")) if it.get("content_html") else html_to_text(str(it.get("content_text") or ""))
        link = it.get("url") or it.get("external_url")
        items.append(FeedItem(
            key=str(it["id"]) if it.get("id") is not None else (link or None), title=html_to_text(str(it.get("title") or "")) or None,
            link=urljoin(url, str(link)) if link else None, summary=html_to_text(str(it.get("summary") or "")),
            content=content, images=tuple(images), published=published, date_text=bad,
            categories=tuple(str(t) for t in it.get("tags") or []), language=it.get("language")))
    return ParsedFeed(kind="json", title=doc.get("title"), language=doc.get("language"), link=doc.get("home_page_url"),
                      items=items)


def parse_feed(data: bytes, url: str, content_type: str = "") -> ParsedFeed:
    """The feed in ``data`` fetched from ``url``; raises ``NotAFeed`` naming what is wrong."""
    if not data.strip():
        raise NotAFeed("the feed is empty")
    if looks_like_html(data):
        m = re.search(rb"<title[^>]*>(.*?)</title>", data[:8192], re.I | re.S)
        title = html_to_text(m.group(1).decode("utf-8", "replace"))[:80] if m else ""
        raise NotAFeed("not a feed: the URL answered an HTML page" + (f" ({title!r})" if title else ""))
    head = data[:2048].lstrip(b"\xef\xbb\xbf").lstrip()
    if "json" in content_type or head.startswith(b"{"):
        return _json_feed(data, url)
    return _xml_feed(data, url)


@dataclass(frozen=True)
class Policy:
    """Which items of a feed become clips (stored with the feed)."""

    languages: tuple[str, ...] = ()
    include_categories: tuple[str, ...] = ()
    exclude_categories: tuple[str, ...] = ()
    min_words: int = 0
    require_image: bool = False
    max_age: float | None = None  # seconds


def item_problem(item: FeedItem, now: datetime) -> str | None:
    """Why ``item`` can never become a clip (no title, unreadable or future date), or None."""
    if not item.title:
        return "the item has no title"
    if not item.key:
        return "the item has no GUID, id or link"
    if item.date_text:
        return f"the item's date {item.date_text!r} cannot be read"
    if item.published and item.published > now + FUTURE_SLACK:
        return f"the item is dated in the future ({item.published.isoformat()})"
    return None


def policy_problem(item: FeedItem, language: str | None, policy: Policy, now: datetime) -> str | None:
    """Why the feed's policy leaves ``item`` out, or None."""
    cats = {c.lower() for c in item.categories}
    if policy.include_categories and not cats & {c.lower() for c in policy.include_categories}:
        return "none of its categories is included: " + (", ".join(item.categories) or "no category")
    if excluded := cats & {c.lower() for c in policy.exclude_categories}:
        return f"category {sorted(excluded)[0]!r} is excluded"
    if policy.languages and language and language.split("-")[0].lower() not in {x.split("-")[0].lower() for x in policy.languages}:
        return f"language {language} is not one of {', '.join(policy.languages)}"
    if policy.max_age is not None and item.published and (now - item.published).total_seconds() > policy.max_age:
        return f"older than {policy.max_age:g} s"
    return None


def is_teaser(item: FeedItem) -> bool:
    """Whether the item carries only a teaser (no full content and a short or cut summary)."""
    if words(item.content) >= 60:
        return False
    text = item.summary or item.content
    return words(text) < SUMMARY_MIN_WORDS or bool(_TEASER_END.search(text))


def newest(items: list[FeedItem], n: int) -> list[FeedItem]:
    """The ``n`` newest items (by date when every item has one, else in feed order)."""
    if all(i.published for i in items):
        items = sorted(items, key=lambda i: i.published or datetime.min.replace(tzinfo=UTC), reverse=True)
    return items[:n]


def article_from_item(item: FeedItem, feed: ParsedFeed, limits: ArticleLimits = DEFAULT_LIMITS,
                      language: str | None = None) -> Article:
    """The article of an item that carries its own text (``is_teaser`` false, or ``feed`` mode).
    Raises ``NotAnArticle`` naming the field."""
    summary = item.summary if words(item.summary) >= SUMMARY_MIN_WORDS and not _TEASER_END.search(item.summary) else None
    body = item.content or None
    if not summary and not body:
        summary = item.summary or None
    url = canonical_url(item.link) if item.link else None
    lang = item.language or feed.language or language
    if not lang:
        from videogen.service.ingest.pages import detect_language

        lang = detect_language(" ".join(x for x in (item.title, item.summary, item.content) if x)) or "und"
    raw: dict[str, Any] = {
        "id": article_id_for(url) if url else article_id_for("urn:" + (item.key or "")),
        "title": (item.title or "")[: limits.max_title_chars], "summary": summary[: limits.max_text_chars] if summary else None,
        "body": body[: limits.max_text_chars] if body else None, "language": lang,
        "images": [dict(i) for i in item.images][: limits.max_images], "url": url, "source": (feed.title or "")[:200] or None,
        "published_at": item.published.isoformat() if item.published else None,
    }
    try:
        return parse_article({k: v for k, v in raw.items() if v is not None}, limits=limits)
    except InvalidArticle as e:
        raise NotAnArticle(f"the item's article is not valid: {e}", e.field) from None
