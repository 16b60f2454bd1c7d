"""The HTML side in-process (TestClient): player page, oEmbed, snippet and its JSON-LD, demo
article page and dashboard. Two small real renders (one with a hostile title, one in French)
are shared by the module; the browser behaviour is in test_browser.py."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import datetime
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from videogen.http.app import create_app
from videogen.http.pages import fit, iso_duration, jsonld
from videogen.service.videos import VideoService
from videogen.settings import Settings

from .helpers import short_article

KEY = "web-key-0123456789"
AUTH = {"Authorization": f"Bearer {KEY}"}
SMALL = {"height": 120, "fps": 8}
EVIL = 'Museum says "no" to <script>alert(1)</script> & \'co\' </script><!--'
EVIL_URL = "https://news.example.org/evil?a=1&b=2"


class Doc(HTMLParser):
    """Elements, attributes and text of a page, as a browser's parser sees them."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: dict[str, list[str]] = {}
        self._open: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):  # type: ignore[no-untyped-def]
        self.tags.append((tag, dict(attrs)))
        self._open.append(tag)

    def handle_endtag(self, tag):  # type: ignore[no-untyped-def]
        while self._open and self._open.pop() != tag:
            pass

    def handle_data(self, data):  # type: ignore[no-untyped-def]
        if self._open:
            self.text.setdefault(self._open[-1], []).append(data)

    def all(self, tag: str) -> list[dict[str, str | None]]:
        return [a for t, a in self.tags if t == tag]

    def one(self, tag: str) -> dict[str, str | None]:
        found = self.all(tag)
        assert len(found) == 1, f"{len(found)} <{tag}>"
        return found[0]


@pytest.fixture(scope="module")
def web(tmp_path_factory, settings):
    home = tmp_path_factory.mktemp("web-home")
    s = Settings(home=home, cache_dir=settings.cache_path, api_keys=KEY, rate_limit=0)
    svc = VideoService(s)
    with TestClient(create_app(s, svc, run_sweeper=False)) as client:
        client.service, client.home = svc, home
        jobs = {}
        for name, data in (("evil", short_article(id="evil-1", title=EVIL, url=EVIL_URL,
                                                  body="First paragraph & <b>more</b>.\n\nSecond paragraph.")),
                           ("fr", short_article("fr"))):
            r = client.post("/v1/videos", json={**data, "options": SMALL}, headers=AUTH)
            assert r.status_code == 202, r.text
            job_id = r.json()["id"]
            assert svc.run(job_id, "web-test").status == "done"
            jobs[name] = client.get(f"/v1/videos/{job_id}", headers=AUTH).json()
        client.jobs = jobs
        yield client


def ld_of(page: str) -> dict:
    blocks = re.findall(r'<script type="application/ld\+json">(.*?)</script>', page, re.S)
    assert len(blocks) == 1
    return json.loads(blocks[0])


# --- helpers ---------------------------------------------------------------------------------

def test_iso_duration_and_fit():
    assert iso_duration(40.4) == "PT40.4S"
    assert iso_duration(75.5) == "PT1M15.5S"
    assert iso_duration(3600) == "PT1H"
    assert iso_duration(0) == "PT0S"
    assert iso_duration(12.3456) == "PT12.346S"
    assert fit(1920, 1080, None, None) == (640, 360)
    assert fit(1080, 1920, None, None) == (360, 640)
    assert fit(1920, 1080, 480, None) == (480, 270)
    assert fit(1920, 1080, 1000, 200) == (355, 200)
    assert fit(1080, 1080, 300, 500) == (300, 300)
    w, h = fit(426, 240, 1280, 720)  # scaled up to fill the box
    assert w <= 1280 and h <= 720 and (w == 1280 or h == 720)


def test_jsonld_cannot_close_its_script():
    out = str(jsonld({"name": EVIL}))
    assert "<" not in out and ">" not in out and "&" not in out
    assert json.loads(out) == {"name": EVIL}


# --- escaping ------------------------------------------------------------------------------------

def test_hostile_title_is_escaped_on_every_page(web):
    job = web.jobs["evil"]
    pages = {
        "embed": web.get(f"/embed/{job['id']}").text,
        "snippet": web.get(f"/v1/videos/{job['id']}/snippet").text,
        "article": web.get("/articles/evil-1").text,
    }  # the dashboard shows jobs only in no-key mode: test_private_reads checks its escaping
    for name, page in pages.items():
        assert "<script>alert(1)" not in page, name
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page or "\\u003cscript\\u003e" in page, name
        doc = Doc(page)
        # No element came from the title: only our own scripts, each with no src.
        for attrs in doc.all("script"):
            assert "src" not in attrs, name
        assert sum(1 for t, _ in doc.tags if t == "script") <= 2, name
    # The title survives escaping intact where it is shown.
    assert Doc(pages["embed"]).one("video")["title"] == EVIL
    assert Doc(pages["embed"]).text["title"] == [EVIL]
    assert Doc(pages["snippet"]).text["h2"] == [f"Watch video about {EVIL}"]
    assert Doc(pages["article"]).text["h1"] == [EVIL]
    assert "First paragraph & <b>more</b>." in Doc(pages["article"]).text["p"]
    assert ld_of(pages["snippet"])["name"] == EVIL
    assert ld_of(pages["article"])["name"] == EVIL
    # The oEmbed iframe markup is escaped too.
    o = web.get("/oembed", params={"url": f"http://testserver/embed/{job['id']}"}).json()
    assert o["title"] == EVIL
    iframe = Doc(o["html"]).one("iframe")
    assert iframe["title"] == EVIL and iframe["src"] == f"http://testserver/embed/{job['id']}"
    assert "<script>" not in o["html"]


# --- player page ----------------------------------------------------------------------------------

def test_player_page_is_small_and_complete(web):
    job = web.jobs["evil"]
    r = web.get(f"/embed/{job['id']}")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "x-frame-options" not in r.headers  # meant to be framed anywhere
    # The budget: 2600 bytes for the player (markup, style, script); the social card tags, which
    # only unfurlers read (issue 20), have their own 1400.
    cards = b"".join(re.findall(rb'<meta (?:property="og:|name="twitter:)[^>]*>\n', r.content))
    assert len(r.content) - len(cards) < 2600, len(r.content) - len(cards)
    assert 0 < len(cards) < 1400, len(cards)
    doc = Doc(r.text)
    video = doc.one("video")
    for attr in ("controls", "playsinline"):
        assert attr in video
    assert video["preload"] == "metadata"
    assert video["poster"] == f"http://testserver/v1/videos/{job['id']}/poster.jpg"
    assert video["src"] == f"http://testserver/v1/videos/{job['id']}/video.mp4"
    track = doc.one("track")
    assert track["kind"] == "captions" and track["srclang"] == "en" and "default" in track
    assert web.get(urlsplit(track["src"]).path).text.startswith("WEBVTT")
    assert not any(t in ("link", "script") and (a.get("src") or "").startswith("http") for t, a in doc.tags)
    [alt] = [a for a in doc.all("link") if a.get("rel") == "alternate"]
    assert alt["type"] == "application/json+oembed"
    o = web.get(alt["href"].removeprefix("http://testserver"))
    assert o.status_code == 200 and o.json()["type"] == "video"
    # The media it points at is served with Range.
    part = web.get(urlsplit(video["src"]).path, headers={"Range": "bytes=0-99"})
    assert part.status_code == 206 and len(part.content) == 100


def test_unpublished_clips_are_not_shown_when_keys_are_set(web):
    """Keys set (issue 16): the public surfaces show published clips only."""
    r = web.post("/v1/videos", json={**short_article(id="embargoed", body="Secret body."), "options": SMALL}, headers=AUTH)
    job_id = r.json()["id"]
    page = web.get(f"/embed/{job_id}")
    assert page.status_code == 404 and "This video does not exist." in page.text and "rendering" not in page.text
    art = web.get("/articles/embargoed")
    assert art.status_code == 404 and "Secret body." not in art.text
    assert web.get(f"/v1/videos/{job_id}/snippet").status_code == 404
    assert web.get(f"/v1/videos/{job_id}/snippet", headers=AUTH).status_code == 409
    web.service.store.cancel(job_id)


def test_player_before_done_polls_and_failed_says_so(tmp_path, settings):
    """No-key mode keeps today's openness: the player follows a job until it is done."""
    s = Settings(home=tmp_path / "home", cache_dir=settings.cache_path)
    open_web = TestClient(create_app(s, VideoService(s), run_sweeper=False)).__enter__()
    open_web.service = open_web.app.state.service
    _player_before_done(open_web)
    open_web.__exit__(None, None, None)


def _player_before_done(web):
    r = web.post("/v1/videos", json={**short_article(id="later"), "options": SMALL}, headers=AUTH)
    job_id = r.json()["id"]
    page = web.get(f"/embed/{job_id}").text
    doc = Doc(page)
    assert not doc.all("video")
    assert "rendering… " in page and 'id="p">0<' in page
    assert f"../v1/videos/{job_id}" in page  # the poll
    assert web.get(f"/v1/videos/{job_id}/snippet").status_code == 409
    snippet = web.get(f"/v1/videos/{job_id}/snippet")
    assert snippet.headers["content-type"] == "application/problem+json" and snippet.headers["retry-after"] == "5"
    # A queued article's demo page shows the player in its rendering state.
    art = Doc(web.get("/articles/later").text)
    assert art.one("iframe")["src"] == f"/embed/{job_id}"
    assert web.get("/oembed", params={"url": f"http://testserver/embed/{job_id}"}).status_code == 404
    web.service.store.cancel(job_id)
    assert "This video was cancelled." in web.get(f"/embed/{job_id}").text
    assert web.get(f"/v1/videos/{job_id}/snippet").status_code == 409


# --- oEmbed ------------------------------------------------------------------------------------------

def test_oembed_fields_sizes_and_errors(web):
    job = web.jobs["evil"]
    manifest = web.get(f"/v1/videos/{job['id']}/manifest.json").json()
    nw, nh = manifest["template"]["width"], manifest["template"]["height"]
    embed = f"http://testserver/embed/{job['id']}"
    r = web.get("/oembed", params={"url": embed, "format": "json"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    o = r.json()
    # oEmbed 1.0, type video: required fields and types
    assert o["version"] == "1.0" and o["type"] == "video"
    assert isinstance(o["html"], str) and isinstance(o["width"], int) and isinstance(o["height"], int)
    assert o["provider_name"] == "Test Tribune" and o["provider_url"] == "http://testserver"
    assert o["thumbnail_url"] == f"http://testserver/v1/videos/{job['id']}/poster.jpg"
    poster = web.get(urlsplit(o["thumbnail_url"]).path)
    import io

    assert Image.open(io.BytesIO(poster.content)).size == (o["thumbnail_width"], o["thumbnail_height"])
    assert (o["width"], o["height"]) == fit(nw, nh, None, None)
    iframe = Doc(o["html"]).one("iframe")
    assert (int(iframe["width"]), int(iframe["height"])) == (o["width"], o["height"])
    for mw, mh in ((320, None), (None, 100), (300, 100), (2000, 2000)):
        params = {"url": embed, **({"maxwidth": mw} if mw else {}), **({"maxheight": mh} if mh else {})}
        o = web.get("/oembed", params=params).json()
        assert o["width"] <= (mw or 10**6) and o["height"] <= (mh or 10**6)
        assert abs(o["width"] / o["height"] - nw / nh) < 0.02, (mw, mh, o["width"], o["height"])
        assert o["width"] == mw or o["height"] == mh
    # The article's canonical URL and its demo page resolve to the same video.
    for url in (EVIL_URL, "http://testserver/articles/evil-1"):
        o = web.get("/oembed", params={"url": url}).json()
        assert Doc(o["html"]).one("iframe")["src"] == embed
    assert web.get("/oembed", params={"url": embed, "format": "xml"}).status_code == 501
    for url in ("https://elsewhere.example/x", "http://testserver/embed/" + "0" * 32, "file:///etc/passwd",
                "http://testserver/embed/../../etc/passwd"):
        r = web.get("/oembed", params={"url": url})
        assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
    assert web.get("/oembed").status_code == 422
    assert web.get("/oembed", params={"url": embed, "maxwidth": 0}).status_code == 422
    assert "/oembed" not in web.get("/openapi.json").json()["paths"]


# --- snippet and JSON-LD ---------------------------------------------------------------------------

def test_snippet_json_ld_has_every_field(web):
    job = web.jobs["evil"]
    manifest = web.get(f"/v1/videos/{job['id']}/manifest.json").json()
    page = web.get(f"/v1/videos/{job['id']}/snippet").text
    ld = ld_of(page)
    assert ld["@context"] == "https://schema.org" and ld["@type"] == "VideoObject"
    for field in ("name", "description", "thumbnailUrl", "uploadDate", "duration", "contentUrl", "embedUrl", "inLanguage"):
        assert ld[field], field
    assert ld["description"] == short_article()["summary"]
    assert ld["inLanguage"] == "en"
    assert ld["duration"] == iso_duration(manifest["duration"])
    m = re.fullmatch(r"PT(?:(\d+)M)?(\d+(?:\.\d+)?)S", ld["duration"])
    assert m and abs(int(m.group(1) or 0) * 60 + float(m.group(2)) - manifest["duration"]) < 0.001
    assert datetime.fromisoformat(ld["uploadDate"]).tzinfo is not None
    assert ld["embedUrl"] == f"http://testserver/embed/{job['id']}"
    for url in (ld["contentUrl"], ld["thumbnailUrl"][0], ld["caption"]["contentUrl"]):
        assert web.get(urlsplit(url).path).status_code == 200, url
    doc = Doc(page)
    video = doc.one("video")
    assert video["poster"] == ld["thumbnailUrl"][0] and video["src"] == ld["contentUrl"]
    track = doc.one("track")
    assert track["kind"] == "captions" and track["srclang"] == "en" and track["src"] == ld["caption"]["contentUrl"]


def test_french_snippet_and_article_page(web):
    job = web.jobs["fr"]
    page = web.get(f"/v1/videos/{job['id']}/snippet").text
    doc = Doc(page)
    title = short_article("fr")["title"]
    assert doc.text["h2"] == [f"Regarder la vidéo : {title}"]
    assert doc.one("section")["lang"] == "fr" and doc.one("track")["srclang"] == "fr"
    assert ld_of(page)["inLanguage"] == "fr"
    art = web.get("/articles/short-fr")
    assert art.status_code == 200
    adoc = Doc(art.text)
    assert adoc.one("html")["lang"] == "fr"
    assert adoc.text["h1"] == [title]
    assert "2 mars 2026" in adoc.text["time"][0]
    [canonical] = [a for a in adoc.all("link") if a.get("rel") == "canonical"]
    assert canonical["href"] == short_article("fr")["url"]


def test_cli_snippet_prints_the_same_block(web):
    job = web.jobs["fr"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIDEOGEN_")}
    env.update(VIDEOGEN_HOME=str(web.home), VIDEOGEN_CACHE_DIR=str(web.service.settings.cache_path))
    out = subprocess.run([sys.executable, "-m", "videogen.cli", "snippet", job["id"], "--base-url", "http://testserver/"],
                         env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == web.get(f"/v1/videos/{job['id']}/snippet").text.strip()
    missing = subprocess.run([sys.executable, "-m", "videogen.cli", "snippet", "0" * 32], env=env,
                             capture_output=True, text=True, timeout=120)
    assert missing.returncode == 2 and "no job" in missing.stderr


# --- ids that try to leave their place ------------------------------------------------------------

@pytest.mark.parametrize("path", [
    "/embed/..%2F..%2Fetc%2Fpasswd", "/embed/" + "0" * 32, "/embed/not-an-id", "/embed/%2e%2e",
    "/articles/..%2F..%2Fetc%2Fpasswd", "/articles/%2e%2e", "/articles/nope", "/articles/" + "a" * 200,
    "/v1/videos/..%2F..%2Fetc%2Fpasswd/snippet", "/v1/videos/" + "0" * 32 + "/snippet",
    "/v1/videos/not-an-id/snippet",
])
def test_bad_ids_are_404(web, path):
    r = web.get(path)
    assert r.status_code == 404, (path, r.status_code)
    assert "root:" not in r.text


# --- dashboard ----------------------------------------------------------------------------------------

def test_dashboard_lists_jobs_filters_and_has_the_form(web):
    r = web.get("/")
    assert r.status_code == 200
    doc = Doc(r.text)
    rows = [a for a in doc.all("tr") if a.get("data-id")]
    assert rows == [], "keys set: the page carries no job data (its script reads the API with the key)"
    assert "No jobs yet." in r.text and "all (0)" in r.text and web.jobs["evil"]["id"] not in r.text
    names = {a.get("name") for t, a in doc.tags if t in ("input", "textarea", "select")}
    assert {"title", "summary", "language", "json", "template", "voice", "height", "key"} <= names
    templates = [o for o in doc.text.get("option", [])]
    assert {"news", "vertical", "square"} <= set(templates)
    assert "sessionStorage" in r.text and "Authorization" in r.text
    done = Doc(web.get("/", params={"status": "done"}).text)
    assert all(a["data-status"] == "done" for a in done.all("tr") if a.get("data-id"))
    assert web.get("/", params={"status": "<script>"}).status_code == 200


# --- review page --------------------------------------------------------------------------------------

def test_review_page_carries_no_job_data_and_does_not_say_whether_the_job_exists(web):
    job = web.jobs["fr"]
    r = web.get(f"/review/{job['id']}")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert job["article"]["title"] not in r.text and "short-fr" not in r.text
    names = {a.get("name") for t, a in Doc(r.text).tags if t in ("input", "textarea", "select")}
    assert {"key", "reason", "ttl", "url", "file"} <= names
    assert "sessionStorage" in r.text and "Authorization" in r.text
    unknown = web.get("/review/" + "0" * 32)
    assert unknown.status_code == 200 and unknown.text.replace("0" * 32, job["id"]) == r.text
    bad = web.get("/review/not-a-job-id")
    assert bad.status_code == 404 and "no video with this id" in bad.text
