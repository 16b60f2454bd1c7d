"""Issue 20 in-process (TestClient): social cards, the video sitemap (and its paging), robots.txt,
the MRSS feed, the player's beacons (counted per clip/day/event; bots, unpublished clips and bad
bodies ignored; no identifier stored), the stats endpoints and the beacon metrics. Two small real
renders (English, French) and one job left queued are shared by the module. The player's real
beacons and the dashboard's plays column are in test_browser.py."""

from __future__ import annotations

import time
from datetime import timedelta
from email.utils import format_datetime

import feedparser
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from lxml import etree
from sqlalchemy import create_engine, inspect, select

from videogen.http.app import create_app
from videogen.http.auth import Auth
from videogen.http.problems import install_problem_handlers
from videogen.http.travel import travel_router
from videogen.service.plays import EVENTS, PlayCounter, add_counts, is_bot, parse_beacon, today
from videogen.service.schema import video_plays
from videogen.service.store import JobStore
from videogen.service.videos import VideoService
from videogen.settings import Settings

from .helpers import short_article
from .test_pages import Doc

KEY = "travel-key-0123456789"
AUTH = {"Authorization": f"Bearer {KEY}"}
PUBLIC = "https://video.example.org"
SMALL = {"height": 120, "fps": 8}
BROWSER_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"
NSMAP = {"sm": "http://www.sitemaps.org/schemas/sitemap/0.9", "video": "http://www.google.com/schemas/sitemap-video/1.1",
         "xhtml": "http://www.w3.org/1999/xhtml", "media": "http://search.yahoo.com/mrss/"}


@pytest.fixture(scope="module")
def web(tmp_path_factory, settings):
    home = tmp_path_factory.mktemp("travel-home")
    s = Settings(home=home, cache_dir=settings.cache_path, api_keys=KEY, rate_limit=0, public_url=PUBLIC)
    svc = VideoService(s)
    with TestClient(create_app(s, svc, run_sweeper=False)) as client:
        client.service, client.settings = svc, s
        client.jobs = {}
        for name, data in (("en", short_article(id="travel-en", url="https://news.example.org/en")),
                           ("fr", short_article("fr", id="travel-fr", url="https://news.example.org/fr"))):
            r = client.post("/v1/videos", json={**data, "options": SMALL}, headers=AUTH)
            assert r.status_code == 202, r.text
            assert svc.run(r.json()["id"], "travel-test").status == "done"
            client.jobs[name] = client.get(f"/v1/videos/{r.json()['id']}", headers=AUTH).json()
        r = client.post("/v1/videos", json={**short_article(id="travel-draft", title="Embargoed story"),
                                            "options": SMALL}, headers=AUTH)
        client.jobs["draft"] = r.json()  # queued: not published
        yield client


def metas(page: str) -> dict[str, str]:
    return {(a.get("property") or a.get("name") or ""): a.get("content") or "" for a in Doc(page).all("meta")}


# --- social cards ---------------------------------------------------------------------------------

def test_embed_and_article_pages_carry_absolute_social_cards(web):
    job = web.jobs["en"]
    manifest = web.get(f"/v1/videos/{job['id']}/manifest.json").json()
    w, h = str(manifest["template"]["width"]), str(manifest["template"]["height"])
    media = f"{PUBLIC}/v1/videos/{job['id']}"
    for path, url in ((f"/embed/{job['id']}", f"{PUBLIC}/embed/{job['id']}"), ("/articles/travel-en", "https://news.example.org/en")):
        m = metas(web.get(path).text)
        assert m["og:type"] == "video.other" and m["og:url"] == url, path
        assert m["og:title"] == short_article()["title"] and m["og:description"] == short_article()["summary"]
        assert m["og:video"] == m["og:video:secure_url"] == f"{media}/video.mp4"
        assert m["og:video:type"] == "video/mp4" and (m["og:video:width"], m["og:video:height"]) == (w, h)
        assert m["og:image"] == f"{media}/poster.jpg" and (m["og:image:width"], m["og:image:height"]) == (w, h)
        assert m["twitter:card"] == "player" and m["twitter:player"] == f"{PUBLIC}/embed/{job['id']}"
        assert (m["twitter:player:width"], m["twitter:player:height"]) == (w, h)
        assert m["twitter:player:stream"] == f"{media}/video.mp4"
        # What the cards point at is public (no key) and real.
        assert web.get(f"/v1/videos/{job['id']}/poster.jpg").headers["content-type"] == "image/jpeg"


def test_plain_http_base_has_no_secure_url_and_unpublished_pages_have_no_cards(web, tmp_path, settings):
    s = Settings(home=tmp_path / "h", cache_dir=settings.cache_path)
    with TestClient(create_app(s, VideoService(s), run_sweeper=False)) as c:
        job = c.post("/v1/videos", json={**short_article(id="plain"), "options": SMALL}).json()
        page = c.get(f"/embed/{job['id']}").text  # queued: the rendering state, no card
        assert "og:video" not in page and "twitter:card" not in page
        c.app.state.service.run(job["id"], "t")
        m = metas(c.get(f"/embed/{job['id']}").text)
        assert m["og:video"] == f"http://testserver/v1/videos/{job['id']}/video.mp4" and "og:video:secure_url" not in m


# --- sitemap and robots.txt ------------------------------------------------------------------------

def test_video_sitemap_lists_published_clips_newest_first(web):
    r = web.get("/sitemaps/videos.xml")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/xml")
    root = etree.fromstring(r.content)
    assert root.tag == f"{{{NSMAP['sm']}}}urlset"
    urls = root.findall("sm:url", NSMAP)
    assert [u.findtext("sm:loc", namespaces=NSMAP) for u in urls] == ["https://news.example.org/fr", "https://news.example.org/en"]
    fr, en = urls
    v = en.find("video:video", NSMAP)
    job = web.jobs["en"]
    assert v.findtext("video:thumbnail_loc", namespaces=NSMAP) == f"{PUBLIC}/v1/videos/{job['id']}/poster.jpg"
    assert v.findtext("video:content_loc", namespaces=NSMAP) == f"{PUBLIC}/v1/videos/{job['id']}/video.mp4"
    assert v.findtext("video:player_loc", namespaces=NSMAP) == f"{PUBLIC}/embed/{job['id']}"
    assert v.findtext("video:title", namespaces=NSMAP) == short_article()["title"]
    assert v.findtext("video:description", namespaces=NSMAP) == short_article()["summary"]
    assert 1 <= int(v.findtext("video:duration", namespaces=NSMAP)) == round(job["duration"])
    assert v.findtext("video:publication_date", namespaces=NSMAP).startswith(job["finished_at"][:19])
    assert fr.find("xhtml:link", NSMAP).get("hreflang") == "fr" and en.find("xhtml:link", NSMAP).get("hreflang") == "en"
    assert web.jobs["draft"]["id"] not in r.text and "Embargoed" not in r.text
    # Conditional GETs: ETag and Last-Modified give 304.
    assert r.headers["cache-control"].startswith("public")
    assert web.get("/sitemaps/videos.xml", headers={"If-None-Match": r.headers["etag"]}).status_code == 304
    assert web.get("/sitemaps/videos.xml", headers={"If-Modified-Since": r.headers["last-modified"]}).status_code == 304
    assert web.get("/sitemaps/videos.xml", headers={"If-None-Match": '"other"'}).status_code == 200


def test_sitemap_pages_with_an_index_beyond_the_page_size(web):
    """Two clips with a page size of one: an index of two sitemaps, one clip each."""
    app = FastAPI()
    install_problem_handlers(app)
    app.include_router(travel_router(web.settings, web.service, PlayCounter(web.service.store.engine),
                                     Auth(web.settings), sitemap_page=1))
    c = TestClient(app)
    index = etree.fromstring(c.get("/sitemaps/videos.xml").content)
    assert index.tag == f"{{{NSMAP['sm']}}}sitemapindex"
    locs = [s.findtext("sm:loc", namespaces=NSMAP) for s in index.findall("sm:sitemap", NSMAP)]
    assert locs == [f"{PUBLIC}/sitemaps/videos-1.xml", f"{PUBLIC}/sitemaps/videos-2.xml"]
    pages = [etree.fromstring(c.get(loc.removeprefix(PUBLIC)).content) for loc in locs]
    assert [p.findtext("sm:url/sm:loc", namespaces=NSMAP) for p in pages] == ["https://news.example.org/fr",
                                                                            "https://news.example.org/en"]
    assert c.get("/sitemaps/videos-3.xml").status_code == 404


def test_robots_txt_names_the_sitemap(web):
    r = web.get("/robots.txt")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    assert f"Sitemap: {PUBLIC}/sitemaps/videos.xml" in r.text.splitlines()
    assert "Disallow: /v1/" not in r.text  # the media the sitemap points at stays crawlable


# --- MRSS -------------------------------------------------------------------------------------------

def test_mrss_feed_parses_and_filters_by_language(web):
    r = web.get("/feeds/videos.rss")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/rss+xml")
    feed = feedparser.parse(r.content)
    assert not feed.bozo, feed.bozo_exception
    assert [e.link for e in feed.entries] == ["https://news.example.org/fr", "https://news.example.org/en"]
    en = feed.entries[1]
    job = web.jobs["en"]
    manifest = web.get(f"/v1/videos/{job['id']}/manifest.json").json()
    [content] = en.media_content
    assert content["url"] == f"{PUBLIC}/v1/videos/{job['id']}/video.mp4" and content["type"] == "video/mp4"
    assert int(content["duration"]) == round(manifest["duration"])
    assert (int(content["width"]), int(content["height"])) == (manifest["template"]["width"], manifest["template"]["height"])
    assert en.media_thumbnail[0]["url"] == f"{PUBLIC}/v1/videos/{job['id']}/poster.jpg"
    assert en.title == short_article()["title"]
    # media:title, media:description and media:subTitle (the WebVTT) by the XML itself.
    item = etree.fromstring(r.content).findall("channel/item")[1]
    assert item.findtext("media:title", namespaces=NSMAP) == short_article()["title"]
    assert item.findtext("media:description", namespaces=NSMAP) == short_article()["summary"]
    sub = item.find("media:subTitle", NSMAP)
    assert sub.get("type") == "text/vtt" and sub.get("lang") == "en"
    assert web.get(sub.get("href").removeprefix(PUBLIC)).text.startswith("WEBVTT")
    assert "Embargoed" not in r.text
    # ?language=fr: the French clip only; cacheable.
    fr = web.get("/feeds/videos.rss", params={"language": "fr"})
    parsed = feedparser.parse(fr.content)
    assert [e.link for e in parsed.entries] == ["https://news.example.org/fr"] and parsed.feed.language == "fr"
    assert fr.headers["cache-control"].startswith("public") and fr.headers["etag"] != r.headers["etag"]
    assert web.get("/feeds/videos.rss", params={"language": "fr"},
                   headers={"If-None-Match": fr.headers["etag"]}).status_code == 304
    bad = web.get("/feeds/videos.rss", params={"language": "<x>"})
    assert bad.status_code == 422 and "language" in bad.text


# --- beacons ----------------------------------------------------------------------------------------

def beacon(web, video: str, event: str, ua: str = BROWSER_UA, **headers: str):
    body = f'{{"video":"{video}","event":"{event}"}}'
    return web.post("/beacon", content=body, headers={"Content-Type": "text/plain;charset=UTF-8", "User-Agent": ua, **headers})


def test_beacon_parsing_and_bots():
    assert parse_beacon(b'{"video":"' + b"a" * 32 + b'","event":"q50"}') == ("a" * 32, "q50")
    for body, field in ((b"nope", "body"), (b"[1]", "body"), (b'{"video":"x","event":"play"}', "video"),
                        (b'{"video":"' + b"a" * 32 + b'","event":"seek"}', "event"), (b"{" + b" " * 2000 + b"}", "body")):
        with pytest.raises(ValueError) as e:
            parse_beacon(body)
        assert e.value.field == field, body  # type: ignore[attr-defined]
    for ua in ("Googlebot/2.1 (+http://www.google.com/bot.html)", "facebookexternalhit/1.1", "Slackbot-LinkExpanding 1.0",
               "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 HeadlessChrome/126.0 Safari/537.36",
               "curl/8.5.0", "python-httpx/0.27", "", None, "Twitterbot/1.0", "Discordbot/2.0"):
        assert is_bot(ua), ua
    assert not is_bot(BROWSER_UA)
    assert not is_bot("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148 Safari/604.1")


def test_beacons_are_counted_without_identifiers(web):
    job = web.jobs["en"]["id"]
    # Cross-site, text/plain: what sendBeacon from a newsroom's page sends; accepted.
    cross = {"Origin": "https://newsroom.example.com", "Sec-Fetch-Site": "cross-site", "Cookie": "sid=abc"}
    for event in ("load", "load", "play", "q25", "q50", "q75", "complete", "load", "play", "captions", "error"):
        r = beacon(web, job, event, **cross)
        assert r.status_code == 204, r.text
        assert "set-cookie" not in r.headers
    assert web.post("/beacon", json={"video": job, "event": "play"}, headers={"User-Agent": BROWSER_UA}).status_code == 204
    # Ignored: bots (204, not counted), unpublished or unknown clips (404), bad bodies (422 naming the field).
    assert beacon(web, job, "play", ua="Googlebot/2.1").status_code == 204
    assert beacon(web, web.jobs["draft"]["id"], "play").status_code == 404
    assert beacon(web, "f" * 32, "play").status_code == 404
    bad = beacon(web, job, "rewind")
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "event"
    # A write of anything else from another site is still refused (the exemption is /beacon's alone).
    assert web.post("/v1/videos", content="{}", headers={"Content-Type": "text/plain", **AUTH}).status_code == 415

    stats = web.get(f"/v1/videos/{job}/stats", headers=AUTH).json()
    want = {"loads": 3, "plays": 3, "q25": 1, "q50": 1, "q75": 1, "completes": 1, "captions": 1, "errors": 1}
    assert {k: stats[k] for k in want} == want
    assert stats["completion_rate"] == round(1 / 3, 3)
    assert stats["days"][-1] == {"day": today().isoformat(), **want} and len(stats["days"]) == 30
    assert all(sum(d[k] for k in want) == 0 for d in stats["days"][:-1])
    # What is stored: counters per clip, day and event; no address, user agent, cookie or time of day.
    engine = web.service.store.engine
    assert {c["name"] for c in inspect(engine).get_columns("video_plays")} == {"job_id", "day", "event", "count"}
    with engine.connect() as c:
        rows = c.execute(select(video_plays).where(video_plays.c.job_id == job)).all()
    assert sorted((r.event, r.count) for r in rows) == sorted(
        [("load", 3), ("play", 3), ("q25", 1), ("q50", 1), ("q75", 1), ("complete", 1), ("captions", 1), ("error", 1)])
    assert all(str(r.day) == today().isoformat() for r in rows)
    dump = " ".join(str(v) for r in rows for v in r)
    assert "testclient" not in dump and "Mozilla" not in dump and "abc" not in dump

    # /v1/stats: the most played clips over a range, with completion rate; keys needed.
    top = web.get("/v1/stats", params={"from": (today() - timedelta(days=6)).isoformat(), "to": today().isoformat()},
                  headers=AUTH).json()
    assert top["plays"] == 3 and top["completes"] == 1 and top["from"] == (today() - timedelta(days=6)).isoformat()
    [clip] = top["clips"]
    assert clip["id"] == job and clip["title"] == short_article()["title"] and clip["plays"] == 3
    assert clip["completion_rate"] == round(1 / 3, 3) and len(clip["days"]) == 7 and clip["days"][-1]["plays"] == 3
    old = web.get("/v1/stats", params={"from": "2020-01-01", "to": "2020-01-31"}, headers=AUTH).json()
    assert old["plays"] == 0 and old["clips"] == [] and old["completion_rate"] is None
    assert web.get("/v1/stats").status_code == 401 and web.get(f"/v1/videos/{job}/stats").status_code == 401
    backwards = web.get("/v1/stats", params={"from": "2026-02-02", "to": "2026-02-01"}, headers=AUTH)
    assert backwards.status_code == 422 and backwards.json()["errors"][0]["field"] == "from"
    assert web.get("/v1/stats", params={"from": "yesterday"}, headers=AUTH).status_code == 422
    assert web.get(f"/v1/videos/{'0' * 32}/stats", headers=AUTH).status_code == 404

    # Prometheus: beacons counted per event and ignored per reason.
    metrics = web.get("/metrics", headers=AUTH).text
    assert 'videogen_beacons_total{event="play"} 3' in metrics
    assert 'videogen_beacons_ignored_total{reason="bot"} 1' in metrics
    assert 'videogen_beacons_ignored_total{reason="unpublished"} 2' in metrics
    assert 'videogen_beacons_ignored_total{reason="invalid"} 1' in metrics


def test_beacons_are_rate_limited_per_address(tmp_path, settings):
    s = Settings(home=tmp_path / "h", cache_dir=settings.cache_path, beacon_rate=3)
    with TestClient(create_app(s, VideoService(s), run_sweeper=False)) as c:
        codes = [beacon(c, "a" * 32, "play").status_code for _ in range(5)]
        assert codes == [404, 404, 404, 429, 429]
        assert int(c.post("/beacon", content="{}", headers={"User-Agent": BROWSER_UA}).headers["retry-after"]) >= 1
        assert 'videogen_beacons_ignored_total{reason="rate_limited"} 3' in c.get("/metrics").text


# --- the buffer -----------------------------------------------------------------------------------

def test_play_counter_batches_writes_and_loses_nothing(tmp_path):
    store = JobStore(f"sqlite:///{tmp_path}/jobs.db")
    writes = []
    counter = PlayCounter(store.engine, interval=60, batch=1000)  # a flush per 1000 beacons, none by time here
    counter.start()
    from sqlalchemy import event

    event.listen(store.engine, "before_cursor_execute", lambda *a: writes.append(a[2]) if a[2].startswith("INSERT INTO video_plays") else None)
    # Before the table exists the write fails: the counts are kept, not lost.
    for _ in range(10):
        counter.add("a" * 32, "play")
    with pytest.raises(Exception):  # noqa: B017 - no such table yet
        counter.flush()
    assert counter.pending == 10 and counter.flush_failures == 1
    store.migrate()
    for i in range(2490):
        counter.add(("a" if i % 2 else "b") * 32, EVENTS[i % len(EVENTS)])
    deadline = time.monotonic() + 5
    while counter.pending >= 1000 and time.monotonic() < deadline:
        time.sleep(0.02)
    counter.close()  # the rest, at shutdown
    assert counter.pending == 0
    with store.engine.connect() as c:
        total = sum(r.count for r in c.execute(select(video_plays)))
    assert total == 2500
    # Each flush (the failed one included) is one statement over a handful of counter rows, not one per beacon.
    assert 2 <= len(writes) <= 5, len(writes)


@pytest.mark.postgres
def test_counts_add_up_across_processes_on_postgresql():
    from .services import fresh_database

    with fresh_database() as url:
        store = JobStore(url)
        store.migrate()
        day = today()
        a, b = PlayCounter(store.engine), PlayCounter(create_engine(url))  # two API processes
        for counter in (a, b, a):
            counter.add("c" * 32, "play", day)
            counter.flush()
        add_counts(store.engine, {("c" * 32, day, "complete"): 2})
        with store.engine.connect() as c:
            got = {r.event: r.count for r in c.execute(select(video_plays))}
        assert got == {"play": 3, "complete": 2}
        b.engine.dispose()
        store.engine.dispose()


def test_last_modified_header_is_http_date(web):
    r = web.get("/sitemaps/videos.xml")
    assert r.headers["last-modified"].endswith("GMT")
    later = format_datetime(web.service.store.get(web.jobs["fr"]["id"]).finished_at + timedelta(hours=1), usegmt=True)
    assert web.get("/sitemaps/videos.xml", headers={"If-Modified-Since": later}).status_code == 304
