"""What makes published clips travel and report back (issue 20):

- ``GET /sitemaps/videos.xml``: Google's video sitemap of the published clips, newest first (a
  sitemap index of ``/sitemaps/videos-N.xml`` pages of at most 50,000 entries once there are
  more); ETag / Last-Modified, 304. ``GET /robots.txt`` names it.
- ``GET /feeds/videos.rss`` (``?language=fr``): an MRSS feed of the newest published clips.
- ``POST /beacon``: the player's ``navigator.sendBeacon`` events, counted per clip, day and event
  (``videogen.service.plays``). Public on purpose (outside ``/v1/``, exempt from the JSON-only
  and same-site write guards: it changes no content, only counters); no cookie, address or user
  identifier is stored; machine user agents are ignored; rate-limited per client address.
- ``GET /v1/videos/{id}/stats`` and ``GET /v1/stats?from=&to=``: the counts (a key when keys
  are set).

Absolute URLs come from ``VIDEOGEN_PUBLIC_URL``, else the request (whose Host the guards check).
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET  # noqa: S405 - builds XML, parses none
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from itertools import islice
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from videogen.errors import JobNotFound
from videogen.http.auth import Auth, client_address
from videogen.http.pages import Pages
from videogen.http.problems import Problem, job_or_404, problems
from videogen.http.ratelimit import RateLimiter, retry_after
from videogen.service.catalog import catalog_version, published_clips
from videogen.service.plays import (
    BadBeacon,
    PlayCounter,
    Window,
    clip_stats,
    is_bot,
    parse_beacon,
    today,
    top_stats,
)
from videogen.service.store import Job
from videogen.service.videos import VideoService
from videogen.settings import Settings

SITEMAP_PAGE = 50_000  # Google's most entries per sitemap file
MRSS_ITEMS = 50
PUBLISHED_TTL = 30.0  # seconds a beacon's "is this clip published?" answer is reused
MAX_STATS_DAYS = 366
DAY = r"^\d{4}-\d{2}-\d{2}$"

NS = {"sm": "http://www.sitemaps.org/schemas/sitemap/0.9", "video": "http://www.google.com/schemas/sitemap-video/1.1",
      "xhtml": "http://www.w3.org/1999/xhtml", "media": "http://search.yahoo.com/mrss/",
      "atom": "http://www.w3.org/2005/Atom"}
for _prefix, _uri in NS.items():
    ET.register_namespace("" if _prefix == "sm" else _prefix, _uri)


def _q(prefix: str, name: str) -> str:
    return f"{{{NS[prefix]}}}{name}"


def _sub(parent: ET.Element, tag: str, text: Any = None, **attrs: Any) -> ET.Element:
    e = ET.SubElement(parent, tag, {k: str(v) for k, v in attrs.items() if v is not None})
    if text is not None:
        e.text = str(text)
    return e


def _xml(root: ET.Element) -> bytes:
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def _w3c(value: datetime) -> str:
    return value.isoformat(timespec="seconds")


# --- pure builders (tested directly) -------------------------------------------------------------

def clip_card(job: Job, base: str) -> dict[str, Any]:
    """What the sitemap says of a published clip, from the job alone (no storage read: the
    sitemap lists up to 50,000 of them)."""
    a = job.article
    media = f"{base}/v1/videos/{job.id}"
    title = str(a.get("title") or "")
    return {
        "loc": str(a.get("url") or f"{base}/articles/{job.article_id}"),
        "title": title, "description": str(a.get("summary") or a.get("body") or title)[:2048],
        "lang": str(a.get("language") or "en"),
        "thumbnail": f"{media}/poster.jpg", "content": f"{media}/video.mp4", "player": f"{base}/embed/{job.id}",
        "duration": min(28_800, max(1, round(job.duration or 1))),
        "published": _w3c(job.finished_at or job.created_at),
    }


def sitemap_xml(cards: Iterable[dict[str, Any]]) -> bytes:
    """A ``urlset`` with one ``url`` (its ``video:video`` and an ``xhtml:link`` naming the page's
    language, the sitemap's way to say it) per clip card."""
    root = ET.Element(_q("sm", "urlset"))
    for c in cards:
        url = _sub(root, _q("sm", "url"))
        _sub(url, _q("sm", "loc"), c["loc"])
        _sub(url, _q("xhtml", "link"), rel="alternate", hreflang=c["lang"], href=c["loc"])
        v = _sub(url, _q("video", "video"))
        _sub(v, _q("video", "thumbnail_loc"), c["thumbnail"])
        _sub(v, _q("video", "title"), c["title"])
        _sub(v, _q("video", "description"), c["description"])
        _sub(v, _q("video", "content_loc"), c["content"])
        _sub(v, _q("video", "player_loc"), c["player"])
        _sub(v, _q("video", "duration"), c["duration"])
        _sub(v, _q("video", "publication_date"), c["published"])
        _sub(v, _q("video", "family_friendly"), "yes")
        _sub(v, _q("video", "live"), "no")
    return _xml(root)


def sitemap_index_xml(locs: Iterable[str], lastmod: datetime | None) -> bytes:
    root = ET.Element(_q("sm", "sitemapindex"))
    for loc in locs:
        s = _sub(root, _q("sm", "sitemap"))
        _sub(s, _q("sm", "loc"), loc)
        if lastmod is not None:
            _sub(s, _q("sm", "lastmod"), _w3c(lastmod))
    return _xml(root)


def mrss_xml(channel: dict[str, Any], items: Iterable[dict[str, Any]]) -> bytes:
    """RSS 2.0 with Media RSS: per clip ``media:content`` (url, type, medium, duration, width,
    height, lang), ``media:thumbnail``, ``media:title``, ``media:description`` and
    ``media:subTitle`` (the WebVTT captions)."""
    rss = ET.Element("rss", version="2.0")
    ch = _sub(rss, "channel")
    _sub(ch, "title", channel["title"])
    _sub(ch, "link", channel["link"])
    _sub(ch, "description", channel["description"])
    if channel.get("language"):
        _sub(ch, "language", channel["language"])
    _sub(ch, _q("atom", "link"), rel="self", type="application/rss+xml", href=channel["self"])
    if channel.get("updated"):
        _sub(ch, "lastBuildDate", format_datetime(channel["updated"]))
    _sub(ch, "generator", "videogen")
    for v in items:
        it = _sub(ch, "item")
        _sub(it, "title", v["title"])
        _sub(it, "link", v["link"])
        _sub(it, "guid", v["embed_url"], isPermaLink="true")
        _sub(it, "pubDate", format_datetime(datetime.fromisoformat(v["upload_date"])))
        _sub(it, "description", v["description"])
        _sub(it, _q("media", "content"), url=v["video_url"], type="video/mp4", medium="video",
             duration=round(v["duration"]), width=v["width"], height=v["height"], lang=v["lang"])
        _sub(it, _q("media", "thumbnail"), url=v["poster_url"], width=v["width"], height=v["height"])
        _sub(it, _q("media", "title"), v["title"], type="plain")
        _sub(it, _q("media", "description"), v["description"], type="plain")
        _sub(it, _q("media", "subTitle"), type="text/vtt", lang=v["lang"], href=v["captions_url"])
        _sub(it, _q("media", "player"), url=v["embed_url"], width=v["width"], height=v["height"])
    return _xml(rss)


def robots_txt(base: str) -> str:
    return ("User-agent: *\nAllow: /\nDisallow: /beacon\nDisallow: /docs\n\n"
            f"Sitemap: {base}/sitemaps/videos.xml\n")


def not_modified(request: Request, etag: str, last_modified: datetime | None) -> bool:
    """Whether a conditional GET may be answered 304 (If-None-Match first, as RFC 9110 says)."""
    inm = request.headers.get("if-none-match")
    if inm is not None:
        return inm.strip() == "*" or etag in {t.strip().removeprefix("W/") for t in inm.split(",")}
    ims = request.headers.get("if-modified-since")
    if ims and last_modified is not None:
        try:
            return last_modified.replace(microsecond=0) <= parsedate_to_datetime(ims)
        except (TypeError, ValueError):
            return False
    return False


def parse_day(value: str | None, field: str) -> date | None:
    """A ``YYYY-MM-DD`` query value as a date, or a 422 naming ``field``."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise Problem(422, "Invalid request", f"{field}: not a day (YYYY-MM-DD)",
                      [{"field": field, "message": "not a day (YYYY-MM-DD)"}]) from None


def stats_window(start: date | None, end: date | None, default_days: int = 30) -> Window:
    """The days asked for (``to`` default today, ``from`` default ``to`` - 29 days), or a 422
    naming the field."""
    end = end or today()
    try:
        start = start or end - timedelta(days=default_days - 1)
    except OverflowError:
        raise Problem(422, "Invalid request", "to: too early a day", [{"field": "to", "message": "too early"}]) from None
    if start > end:
        raise Problem(422, "Invalid request", "from: must not be after to", [{"field": "from", "message": "after to"}])
    if (end - start).days + 1 > MAX_STATS_DAYS:
        raise Problem(422, "Invalid request", f"from: at most {MAX_STATS_DAYS} days before to",
                      [{"field": "from", "message": f"at most {MAX_STATS_DAYS} days before to"}])
    return Window(start, end)


# --- routes ----------------------------------------------------------------------------------------

def travel_router(settings: Settings, service: VideoService, plays: PlayCounter, auth: Auth | None = None,
                  sitemap_page: int = SITEMAP_PAGE) -> APIRouter:
    """The routes above; ``videogen.http.app.create_app`` includes them (``sitemap_page``:
    entries per sitemap file, smaller in tests)."""
    router = APIRouter()
    auth = auth or Auth(settings)
    pages = Pages(settings, service)
    beacons = RateLimiter(settings.beacon_rate)
    published: dict[str, tuple[str | None, float]] = {}

    def xml_response(body: bytes, etag: str, last_modified: datetime | None, media_type: str) -> Response:
        headers = {"ETag": etag, "Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff"}
        if last_modified is not None:
            headers["Last-Modified"] = format_datetime(last_modified, usegmt=True)
        return Response(body, media_type=media_type, headers=headers)

    def cached(request: Request, extra: str) -> tuple[str, datetime | None, Response | None]:
        tag, newest = catalog_version(service.store)
        etag = f'"{tag}-{extra}"'
        if not_modified(request, etag, newest):
            headers = {"ETag": etag, **({"Last-Modified": format_datetime(newest, usegmt=True)} if newest else {})}
            return etag, newest, Response(status_code=304, headers=headers)
        return etag, newest, None

    # --- sitemap and robots.txt -----------------------------------------------------------------
    @router.get("/robots.txt", include_in_schema=False)
    def robots(request: Request) -> Response:
        return Response(robots_txt(pages.base(request)), media_type="text/plain; charset=utf-8",
                        headers={"Cache-Control": "public, max-age=3600"})

    @router.get("/sitemaps/videos.xml", summary="Video sitemap of the published clips (Google's format)",
                tags=["travel"], responses={200: {"content": {"application/xml": {}}}, 304: {"description": "Not modified"}})
    def sitemap(request: Request) -> Response:
        base = pages.base(request)
        etag, newest, unchanged = cached(request, "index")
        if unchanged:
            return unchanged
        clips = published_clips(service.store)
        first = list(islice(clips, sitemap_page + 1))
        if len(first) <= sitemap_page:
            return xml_response(sitemap_xml(clip_card(j, base) for j in first), etag, newest, "application/xml")
        count = len(first) + sum(1 for _ in clips)
        n_pages = -(-count // sitemap_page)
        body = sitemap_index_xml((f"{base}/sitemaps/videos-{i + 1}.xml" for i in range(n_pages)), newest)
        return xml_response(body, etag, newest, "application/xml")

    @router.get("/sitemaps/videos-{page}.xml", summary="One page of the video sitemap (when it has an index)",
                tags=["travel"], responses={200: {"content": {"application/xml": {}}}, 304: {"description": "Not modified"},
                                            **problems(404, 422)})
    def sitemap_part(page: Annotated[int, PathParam(ge=1, le=100_000)], request: Request) -> Response:
        etag, newest, unchanged = cached(request, f"p{page}")
        if unchanged:
            return unchanged
        clips = list(islice(published_clips(service.store), (page - 1) * sitemap_page, page * sitemap_page))
        if not clips and page != 1:
            raise Problem(404, "Not Found", f"no sitemap page {page}")
        base = pages.base(request)
        return xml_response(sitemap_xml(clip_card(j, base) for j in clips), etag, newest, "application/xml")

    # --- MRSS -------------------------------------------------------------------------------------
    @router.get("/feeds/videos.rss", summary="MRSS feed of the newest published clips", tags=["travel"],
                responses={200: {"content": {"application/rss+xml": {}}}, 304: {"description": "Not modified"}, **problems(422)})
    def mrss(request: Request, language: str | None = Query(None, pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})?$",
                                                             description="Only clips in this language (e.g. fr).")) -> Response:
        etag, newest, unchanged = cached(request, f"rss-{(language or '').lower()}")
        if unchanged:
            return unchanged
        base = pages.base(request)
        items = []
        for job in islice(published_clips(service.store, language), MRSS_ITEMS):
            v = pages.video(job, base)
            v["link"] = v["article_url"] or f"{base}/articles/{job.article_id}"
            items.append(v)
        self_url = f"{base}/feeds/videos.rss" + (f"?language={language}" if language else "")
        channel = {"title": "videogen — videos" + (f" ({language})" if language else ""), "link": base,
                   "description": "Narrated video clips of the newest articles.", "language": language,
                   "self": self_url, "updated": newest}
        return xml_response(mrss_xml(channel, items), etag, newest, "application/rss+xml; charset=utf-8")

    # --- beacons ----------------------------------------------------------------------------------
    def public_id(job_id: str) -> str | None:
        """The published version shown for ``job_id`` (its clip's), whose plays a beacon counts."""
        try:
            _state, shown = service.public_version(service.store.get(job_id))
        except JobNotFound:
            return None
        return shown.id if shown is not None else None

    @router.post("/beacon", status_code=204, tags=["travel"], summary="A player event (navigator.sendBeacon); public",
                 responses={204: {"description": "Counted (or ignored: a machine's user agent)"}, **problems(404, 422, 429)},
                 openapi_extra={"requestBody": {"content": {"text/plain": {"schema": {"type": "string"}},
                                                            "application/json": {"schema": {"type": "object"}}},
                                                "description": 'JSON {"video": "<clip id>", "event": "play"}'}})
    async def beacon(request: Request) -> Response:
        no_store = {"Cache-Control": "no-store"}
        if is_bot(request.headers.get("user-agent")):
            plays.ignore("bot")
            return Response(status_code=204, headers=no_store)
        wait = beacons.take(client_address(request))  # the address is a bucket key in memory, never stored
        if wait > 0:
            plays.ignore("rate_limited")
            raise Problem(429, "Too Many Requests", f"at most {settings.beacon_rate} beacons a minute",
                          headers={"Retry-After": retry_after(wait)})
        try:
            video, event = parse_beacon(await request.body())
        except BadBeacon as e:
            plays.ignore("invalid")
            raise Problem(422, "Invalid request", str(e), [{"field": e.field, "message": e.message}]) from None
        known = published.get(video)
        if known is None or known[1] < time.monotonic():
            if len(published) > 10_000:
                published.clear()
            known = (await run_in_threadpool(public_id, video), time.monotonic() + PUBLISHED_TTL)
            published[video] = known
        if not known[0]:
            plays.ignore("unpublished")
            raise Problem(404, "Not Found", f"no published video {video}")
        plays.add(known[0], event)
        return Response(status_code=204, headers=no_store)

    # --- stats ------------------------------------------------------------------------------------
    v1 = [Depends(auth.read)]

    @router.get("/v1/videos/{job_id}/stats", tags=["travel"], dependencies=v1, responses=problems(401, 404, 422, 429),
                summary="Play counts of a clip: totals and one entry per day (last `days` days)")
    def video_stats(job_id: str, days: int = Query(30, ge=1, le=MAX_STATS_DAYS)) -> dict[str, Any]:
        job = job_or_404(service, job_id)
        plays.flush()
        end = today()
        return {"id": job.id, **clip_stats(service.store.engine, job.id, Window(end - timedelta(days=days - 1), end))}

    @router.get("/v1/stats", tags=["travel"], dependencies=v1, responses=problems(401, 422, 429),
                summary="Play counts over a range of days: totals, completion rate and the most played clips")
    def stats(from_: Annotated[str | None, Query(alias="from", pattern=DAY, description="First day (YYYY-MM-DD, UTC); default 29 days before `to`.")] = None,
              to: Annotated[str | None, Query(pattern=DAY, description="Last day (YYYY-MM-DD, UTC); default today.")] = None,
              limit: int = Query(20, ge=1, le=500)) -> dict[str, Any]:
        window = stats_window(parse_day(from_, "from"), parse_day(to, "to"))
        plays.flush()
        return top_stats(service.store.engine, window, limit)

    return router
