"""An article page (HTML bytes and its URL) → the article model, with trafilatura for the main
text and metadata and extruct for JSON-LD and Open Graph. Pure: no fetching, no settings.

Precedence (first found wins): title from NewsArticle JSON-LD ``headline``, ``og:title``, the
article's ``<h1>``, the page title; summary from JSON-LD ``description``, ``og:description``, the
lead paragraph (else none: the render core narrates an extract of the body); language from JSON-LD
``inLanguage``, ``<html lang>``, the feed's language, else detected from the text; images from
JSON-LD ``image``, ``og:image`` and the article's own ``<figure>``s with caption and credit.
Boilerplate (cookie banners, navigation, ads, "read also" blocks, subscription prompts,
footers) is left out by trafilatura's main-text extraction."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import extruct
import lxml.html
import py3langid
import trafilatura
from lxml import etree

from videogen.errors import InvalidArticle, InvalidInput
from videogen.render.article import (
    DEFAULT_LIMITS,
    Article,
    ArticleLimits,
    clean_text,
    parse_article,
    slugify,
)

ARTICLE_TYPES = {"NewsArticle", "Article", "ReportageNewsArticle", "AnalysisNewsArticle", "BlogPosting",
                 "OpinionNewsArticle", "BackgroundNewsArticle", "LiveBlogPosting", "Report", "ScholarlyArticle"}
#: A page whose main text has fewer words than this (and no article JSON-LD) holds no article.
MIN_ARTICLE_WORDS = 40
_TRACKING = re.compile(r"^(utm_\w+|fbclid|gclid|mc_cid|mc_eid|at_medium|at_campaign|xtor)$", re.I)


class NotAnArticle(InvalidInput):
    """A URL, page or feed item that cannot become an article; the message is the recorded reason."""

    def __init__(self, message: str, field: str = "url"):
        super().__init__(field, message)


@dataclass(frozen=True)
class PageHints:
    """What a feed item tells about its page: used where the page says nothing."""

    language: str | None = None
    title: str | None = None
    summary: str | None = None
    published_at: datetime | None = None
    source: str | None = None
    images: tuple[dict[str, str], ...] = ()


NO_HINTS = PageHints()


def canonical_url(url: str) -> str:
    """``url`` without its fragment and tracking parameters (utm_*, fbclid…)."""
    parts = urlsplit(url.strip())
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _TRACKING.match(k)])
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", query, ""))


def article_id_for(url: str) -> str:
    """A stable article id derived from the canonical URL: readable slug + 10 hex of its hash."""
    canon = canonical_url(url)
    parts = urlsplit(canon)
    slug = slugify(f"{parts.hostname or ''} {parts.path} {parts.query}", 100)
    return f"{slug}-{hashlib.sha256(canon.encode()).hexdigest()[:10]}"


def detect_language(text: str) -> str | None:
    """The language of ``text`` by py3langid (offline), or None for too little text."""
    if len(text.split()) < 5:
        return None
    lang, _score = py3langid.classify(text)
    return str(lang) if lang else None


def words(text: str | None) -> int:
    return len(text.split()) if text else 0


def html_to_text(html: str | None) -> str:
    """Plain text of an HTML fragment (feed descriptions): paragraphs kept as blank lines."""
    if not html or not html.strip():
        return ""
    if "<" not in html and "&" not in html:
        return clean_text(html)
    try:
        frag = lxml.html.fragment_fromstring(html, create_parent="div")
    except (etree.ParserError, ValueError):
        return clean_text(re.sub(r"<[^>]+>", " ", html))
    for bad in frag.xpath(".//script|.//style|.//noscript|.//*[contains(@class,'share') or contains(@class,'related')]"):
        bad.drop_tree()
    blocks = []
    for el in frag.iter("p", "li", "blockquote"):
        t = " ".join(el.text_content().split())
        if t:
            blocks.append(t)
    text = "\n\n".join(blocks) if blocks else " ".join(frag.text_content().split())
    return clean_text(text)


def _types(node: dict[str, Any]) -> set[str]:
    t = node.get("@type")
    return set(t) if isinstance(t, list) else {str(t)} if t else set()


def _jsonld_article(items: list[Any]) -> dict[str, Any] | None:
    """The first article-typed node of the page's JSON-LD (top level or in an ``@graph``)."""
    nodes: list[dict[str, Any]] = []
    for item in items:
        if isinstance(item, dict):
            nodes.append(item)
            nodes += [g for g in item.get("@graph", []) if isinstance(g, dict)]
    return next((n for n in nodes if _types(n) & ARTICLE_TYPES), None)


def _text_of(value: Any) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        value = value.get("name") or value.get("@value")
    return clean_text(str(value)).replace("\n", " ") or None if value else None


def _jsonld_images(value: Any, base: str) -> list[dict[str, str]]:
    out = []
    for v in value if isinstance(value, list) else [value]:
        if isinstance(v, str):
            out.append({"src": urljoin(base, v)})
        elif isinstance(v, dict) and (v.get("url") or v.get("contentUrl")):
            img = {"src": urljoin(base, str(v.get("url") or v.get("contentUrl")))}
            if cap := _text_of(v.get("caption")):
                img["caption"] = cap[:500]
            if credit := _text_of(v.get("creditText") or v.get("copyrightHolder") or v.get("author")):
                img["credit"] = credit[:200]
            out.append(img)
    return out


def _figures(tree: Any, base: str) -> list[dict[str, str]]:
    """The article's own ``<figure>``s (inside ``<article>``, else ``<main>``) with caption and credit."""
    scope = tree.xpath("//article") or tree.xpath("//main") or []
    out = []
    for root in scope[:1]:
        for fig in root.xpath(".//figure"):
            img = fig.xpath(".//img[@src]")
            if not img:
                continue
            entry = {"src": urljoin(base, img[0].get("src"))}
            cap = fig.xpath(".//figcaption")
            if cap:
                credit_el = cap[0].xpath(".//*[contains(@class,'credit') or self::cite or self::small]")
                credit = " ".join(credit_el[0].text_content().split()) if credit_el else ""
                text = " ".join(cap[0].text_content().split())
                if credit:
                    text = text.replace(credit, "").strip()
                    entry["credit"] = credit[:200]
                if text:
                    entry["caption"] = text[:500]
            elif alt := (img[0].get("alt") or "").strip():
                entry["caption"] = alt[:500]
            out.append(entry)
    return out


def _date(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        d = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return d if d.tzinfo else d.replace(tzinfo=UTC)


def _merge_images(groups: list[list[dict[str, str]]], limit: int) -> list[dict[str, str]]:
    """Images in order of precedence, each URL once (a later copy may add a caption/credit)."""
    seen: dict[str, dict[str, str]] = {}
    for group in groups:
        for img in group:
            src = img["src"]
            if not src.lower().startswith(("http://", "https://")):
                continue
            if src in seen:
                for k in ("caption", "credit"):
                    if k in img and k not in seen[src]:
                        seen[src][k] = img[k]
            else:
                seen[src] = dict(img)
    return list(seen.values())[:limit]


def extract_article(html: bytes | str, url: str, hints: PageHints = NO_HINTS,
                    limits: ArticleLimits = DEFAULT_LIMITS) -> Article:
    """The article of the page ``html`` fetched from ``url``; raises ``NotAnArticle`` naming why
    there is none (no main text, too short) or which field is bad."""
    if isinstance(html, bytes) and not html.strip() or isinstance(html, str) and not html.strip():
        raise NotAnArticle("the page is empty")
    try:
        tree = lxml.html.document_fromstring(html)
    except (etree.ParserError, ValueError) as e:
        raise NotAnArticle(f"the page is not HTML ({e})") from None
    try:
        data = extruct.extract(tree, base_url=url, syntaxes=["json-ld", "opengraph"], uniform=True, errors="ignore")
    except Exception:  # noqa: BLE001 - broken markup is no JSON-LD, not a failure
        data = {"json-ld": [], "opengraph": []}
    ld = _jsonld_article(data.get("json-ld") or []) or {}
    og: dict[str, Any] = {}
    for item in data.get("opengraph") or []:
        og.update({k: v for k, v in item.items() if k not in og})
    doc = trafilatura.bare_extraction(html, url=url, with_metadata=True, include_comments=False,
                                      include_tables=False, favor_precision=True)
    meta = doc.as_dict() if doc is not None and hasattr(doc, "as_dict") else (doc or {})
    text = meta.get("text") or ""
    h1 = tree.xpath("//article//h1") or tree.xpath("//h1")
    h1_text = " ".join(h1[0].text_content().split()) if h1 else None
    title = (_text_of(ld.get("headline")) or _text_of(og.get("og:title")) or h1_text or hints.title
             or _text_of(meta.get("title")))
    paragraphs = [p.strip() for p in text.split("\n") if p.strip() and p.strip() not in (title, h1_text)]
    body = "\n\n".join(paragraphs)
    if words(body) < MIN_ARTICLE_WORDS and not (ld and words(body) >= 10):
        raise NotAnArticle(f"no article on the page: its main text has {words(body)} words "
                           f"(at least {MIN_ARTICLE_WORDS} are needed)")
    if not title:
        raise NotAnArticle("no article on the page: it has no headline, og:title or <h1>")
    summary = (_text_of(ld.get("description")) or _text_of(og.get("og:description")) or hints.summary
               or (paragraphs[0] if paragraphs and words(paragraphs[0]) >= 12 else None))
    canon = ld.get("mainEntityOfPage") if isinstance(ld.get("mainEntityOfPage"), str) else None
    link = tree.xpath("//link[@rel='canonical']/@href")
    canon = urljoin(url, str(link[0])) if link else (canon or meta.get("url") or url)
    canon = canonical_url(canon)
    lang = (_text_of(ld.get("inLanguage")) or tree.get("lang") or hints.language or detect_language(body) or "")
    published = _date(ld.get("datePublished")) or _date(og.get("article:published_time")) or hints.published_at
    publisher = ld.get("publisher")
    source = _text_of(og.get("og:site_name")) or _text_of(publisher) or hints.source
    images = _merge_images([_jsonld_images(ld.get("image"), url) if ld.get("image") else [],
                            _jsonld_images(og.get("og:image"), url) if og.get("og:image") else [],
                            _figures(tree, url), list(hints.images)], limits.max_images)
    raw = {"id": article_id_for(canon), "title": title[: limits.max_title_chars], "summary": summary,
           "body": body[: limits.max_text_chars], "language": lang.split(",")[0].strip() or "und",
           "images": images, "url": canon, "source": (source or "")[:200] or None,
           "published_at": published.isoformat() if published else None}
    if raw["summary"] and len(raw["summary"]) > limits.max_text_chars:
        raw["summary"] = raw["summary"][: limits.max_text_chars]
    try:
        return parse_article({k: v for k, v in raw.items() if v is not None}, limits=limits)
    except InvalidArticle as e:
        raise NotAnArticle(f"the page's article is not valid: {e}", e.field) from None
