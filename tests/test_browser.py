"""The embedding pages in a real headless Chromium (Debian's /usr/bin/chromium driven by
Playwright; never ``playwright install``), against real ``videogen api`` and ``videogen worker``
processes on the embedded broker. Screenshots land in ``test-artifacts/`` (gitignored)."""

from __future__ import annotations

import io
import re
import time

import httpx
import numpy as np
import pytest
from PIL import Image

from .helpers import ARTIFACTS, short_article, watch_errors
from .stack import make_stack, wait_for

pytestmark = pytest.mark.browser

KEY = "browser-key-0123456789"
SMALL = {"height": 240, "fps": 15}
BODY = ("The exhibition takes up the whole east wing and runs until the end of next year.\n\n"
        "School groups can book guided tours on weekday mornings; entry is free for visitors under eighteen.")


@pytest.fixture(scope="module")
def stack(tmp_path_factory, settings):
    s = make_stack(tmp_path_factory.mktemp("browser-stack"), None, {"VIDEOGEN_API_KEYS": KEY},
                   cache_dir=settings.cache_path)
    try:
        s.start_api()
        s.start_worker()
        with s.client(headers={"Authorization": f"Bearer {KEY}"}) as c:
            ids = {}
            for name, template in (("news", "news"), ("vertical", "vertical"), ("square", "square")):
                data = short_article(id=f"browser-{name}", body=BODY)
                r = c.post("/v1/videos", json={**data, "options": {**SMALL, "template": template}})
                assert r.status_code == 202, r.text
                ids[name] = r.json()["id"]
            s.wait_workers_ready()
            s.jobs = {name: wait_for(c, job_id, timeout=120) for name, job_id in ids.items()}
            for job in s.jobs.values():
                assert job["status"] == "done", job
            s.manifests = {n: c.get(f"/v1/videos/{j['id']}/manifest.json").json() for n, j in s.jobs.items()}
        yield s
    finally:
        s.stop()


@pytest.fixture()
def page(browser):
    context = browser.new_context(viewport={"width": 960, "height": 540})
    pg = watch_errors(context.new_page())
    yield pg
    context.close()


def test_player_loads_plays_has_one_cue_per_sentence_and_seeks(stack, page):
    job, manifest = stack.jobs["news"], stack.manifests["news"]
    page.goto(f"{stack.url}/embed/{job['id']}")
    page.wait_for_function("document.getElementById('v').readyState >= 2", timeout=15000)
    info = page.evaluate("""() => { const v = document.getElementById('v');
        return {duration: v.duration, w: v.videoWidth, h: v.videoHeight, mode: v.textTracks[0].mode,
                kind: v.textTracks[0].kind, lang: v.textTracks[0].language}; }""")
    assert abs(info["duration"] - manifest["duration"]) < 0.1, (info, manifest["duration"])
    assert (info["w"], info["h"]) == (manifest["template"]["width"], manifest["template"]["height"])
    assert info["mode"] == "hidden" and info["kind"] == "captions" and info["lang"] == "en"
    # The captions track: loaded although hidden, one cue per spoken sentence (title + summary).
    page.wait_for_function("(document.getElementById('v').textTracks[0].cues || []).length > 0", timeout=10000)
    cues = page.evaluate("""() => Array.from(document.getElementById('v').textTracks[0].cues,
                            c => ({start: c.startTime, end: c.endTime, text: c.text}))""")
    sentences = [short_article()["title"], *short_article()["summary"].split(". ")]
    assert len(cues) == len(sentences) == manifest["narration"]["lines"] == manifest["captions"]["cues"], cues
    assert [c["start"] for c in cues] == sorted(c["start"] for c in cues)
    assert cues[-1]["end"] <= info["duration"] + 0.05
    assert "capsule" in cues[-1]["text"]
    # It plays.
    page.evaluate("() => { const v = document.getElementById('v'); v.muted = true; return v.play(); }")
    page.wait_for_function("document.getElementById('v').currentTime > 0.5", timeout=10000)
    assert page.evaluate("document.getElementById('t').hidden"), "the title overlay hides while playing"
    # Seeking near the end lands there (Range requests), not back at 0.
    target = info["duration"] - 0.6
    page.evaluate("""(t) => new Promise(ok => { const v = document.getElementById('v'); v.pause();
                     v.addEventListener('seeked', ok, {once: true}); v.currentTime = t; })""", target)
    now = page.evaluate("document.getElementById('v').currentTime")
    assert abs(now - target) < 0.3, (now, target)
    page.evaluate("""() => new Promise(ok => { const v = document.getElementById('v');
                     v.addEventListener('ended', ok, {once: true}); v.play(); })""")
    # A frame from the middle for the screenshot.
    page.evaluate("""() => new Promise(ok => { const v = document.getElementById('v');
                     v.addEventListener('seeked', ok, {once: true}); v.currentTime = 4; })""")
    page.wait_for_timeout(300)
    page.screenshot(path=str(ARTIFACTS / "player.png"))
    assert page.errors == []


def _bands(png: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Brightest value of each row and of each column of a screenshot."""
    img = np.asarray(Image.open(io.BytesIO(png)).convert("L"))
    return img.max(axis=1), img.max(axis=0)


def test_player_in_iframes_letterboxes(stack, page):
    """16:9, 9:16 and 1:1 clips inside 16:9, 9:16 and 1:1 iframes on a host page: the picture is
    centred and fitted, the bands around it are black."""
    frames = [("wide", 480, 270), ("tall", 216, 384), ("square", 300, 300)]
    html = "".join(
        f'<iframe id="{name}-{f}" src="{stack.url}/embed/{job["id"]}" width="{w}" height="{h}" '
        f'style="border:0;display:block;margin:8px" allow="autoplay; fullscreen"></iframe>'
        for name, job in stack.jobs.items() for f, w, h in frames)
    page.set_viewport_size({"width": 1100, "height": 3200})
    page.set_content(f"<!doctype html><body style='margin:0;background:#fff'>{html}</body>")
    for name in stack.jobs:
        for f, w, h in frames:
            frame = page.frame_locator(f"#{name}-{f}")
            frame.locator("video").wait_for()
            el = page.locator(f"#{name}-{f}").element_handle().content_frame()
            el.wait_for_function("document.getElementById('v').readyState >= 2", timeout=15000)
            # Play a moment (the title overlay hides), then show the frame at 2 s.
            el.evaluate("""async () => { const v = document.getElementById('v'); v.muted = true;
                           await v.play(); v.pause();
                           await new Promise(ok => { v.addEventListener('seeked', ok, {once: true}); v.currentTime = 2; }); }""")
            box = el.evaluate("() => { const v = document.getElementById('v'); const r = v.getBoundingClientRect();"
                              " return {w: r.width, h: r.height, vw: v.videoWidth, vh: v.videoHeight}; }")
            assert (box["w"], box["h"]) == (w, h), box  # the video element fills the iframe
            el.evaluate("document.getElementById('v').controls = false")  # the control bar overlays the bottom
            page.wait_for_timeout(200)
            rows, cols = _bands(page.locator(f"#{name}-{f}").screenshot())
            el.evaluate("document.getElementById('v').controls = true")
            scale = min(w / box["vw"], h / box["vh"])
            pw, ph = box["vw"] * scale, box["vh"] * scale
            top, left = (h - ph) / 2, (w - pw) / 2
            # the picture is visible in the middle
            assert rows[h // 2] > 40 and cols[w // 2] > 40, (name, f)
            if top > 6:  # bars above and below
                assert rows[: int(top) - 3].max() < 24 and rows[int(top + ph) + 3:].max() < 24, (name, f, top)
                assert rows[int(top) + 4: int(top + ph) - 4].min() > 0
            if left > 6:  # bars left and right
                assert cols[: int(left) - 3].max() < 24 and cols[int(left + pw) + 3:].max() < 24, (name, f, left)
    page.screenshot(path=str(ARTIFACTS / "iframes.png"), full_page=True)
    assert page.errors == []


def test_article_page_with_snippet(stack, page):
    job = stack.jobs["news"]
    page.set_viewport_size({"width": 900, "height": 1200})
    page.goto(f"{stack.url}/articles/browser-news")
    assert page.locator("h1").inner_text() == short_article()["title"]
    assert page.locator("h2.videogen-heading").inner_text() == f"Watch video about {short_article()['title']}"
    assert page.locator("article p").count() >= 3  # meta, summary, two body paragraphs
    page.wait_for_function("document.querySelector('.videogen-snippet video').readyState >= 1", timeout=15000)
    ld = page.evaluate("JSON.parse(document.querySelector('script[type=\"application/ld+json\"]').textContent)")
    assert ld["@type"] == "VideoObject" and ld["embedUrl"].endswith(f"/embed/{job['id']}")
    page.screenshot(path=str(ARTIFACTS / "article.png"), full_page=True)
    assert page.errors == []


def test_dashboard_enqueues_and_follows_progress_without_reload(stack, page):
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{stack.url}/")
    page.evaluate("window.__notReloaded = true")
    # Without the key the page shows no job (issue 16): it asks for the key.
    page.wait_for_selector("#locked:not([hidden])")
    assert page.locator("#jobs tr[data-id]").count() == 0
    assert stack.jobs["news"]["id"] not in page.content()
    page.screenshot(path=str(ARTIFACTS / "dashboard-locked.png"))
    # Without the key: the API's 401 problem is shown inline.
    page.fill("#f-title", "Harbour ferry returns after repairs")
    page.fill("#f-summary", "The harbour ferry is back in service after two weeks of repairs.")
    page.select_option("#f-height", "240")
    page.click("#enqueue button[type=submit]")
    page.wait_for_selector("#msg .err")
    assert "Unauthorized" in page.inner_text("#msg")
    # With the key (kept in this tab's sessionStorage, sent as a header): the jobs appear; an
    # invalid language gives 422 naming the field, inline.
    page.fill("#f-key", KEY)
    page.click("#keyform button[type=submit]")
    page.wait_for_selector(f"tr[data-id='{stack.jobs['news']['id']}']")
    assert page.locator("#locked").is_hidden()
    page.fill("#f-language", "xx")
    page.click("#enqueue button[type=submit]")
    page.wait_for_selector("#f-language[aria-invalid=true]")
    assert "language" in page.inner_text("#msg")
    assert page.evaluate("sessionStorage.getItem('videogen.apiKey')") == KEY
    assert page.evaluate("localStorage.getItem('videogen.apiKey')") is None, "never kept beyond the tab"
    assert KEY not in page.url
    assert page.context.cookies() == [], "no key in a cookie"
    # A valid article.
    page.fill("#f-language", "en")
    page.click("#enqueue button[type=submit]")
    link = page.wait_for_selector("#msg a")
    job_id = httpx.get(f"{stack.url}/v1/videos", params={"limit": 1},
                       headers={"Authorization": f"Bearer {KEY}"}).json()["items"][0]["id"]
    assert job_id.startswith(link.inner_text())
    row = f"tr[data-id='{job_id}']"
    page.wait_for_selector(row)
    # Its player page, opened while it renders, shows nothing (keys set: published clips only);
    # once the clip is done the same page shows the video.
    player = page.context.new_page()
    player.on("console", lambda m: page.errors.append(f"player console.{m.type}: {m.text}") if m.type == "error" else None)
    player.set_viewport_size({"width": 640, "height": 360})
    player.goto(f"{stack.url}/embed/{job_id}")
    waited = "does not exist" in player.inner_text("body")
    if waited:
        player.screenshot(path=str(ARTIFACTS / "player-unpublished.png"))
    seen, shot, fleet_saw_it = [], False, False
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        state = page.evaluate(f"""() => {{ const r = document.querySelector("{row}");
            return r && {{status: r.dataset.status, width: r.querySelector('.bar i').style.width}}; }}""")
        if state and (not seen or seen[-1] != state):
            seen.append(state)
            if state["status"] == "rendering" and state["width"] not in ("0%", "100%") and not shot:
                page.screenshot(path=str(ARTIFACTS / "dashboard-rendering.png"))
                shot = True
        if state and state["status"] == "rendering" and "Harbour ferry" in page.inner_text("#running"):
            fleet_saw_it = True  # the operator's panel lists it with its worker and heartbeat age
            assert re.search(r"\d+ s ago", page.inner_text("#running")), page.inner_text("#running")
        if state and state["status"] in ("done", "failed"):
            break
        time.sleep(0.1)
    assert seen[-1] == {"status": "done", "width": "100%"}, seen
    assert len({s["width"] for s in seen}) >= 2, f"the bar never moved: {seen}"
    assert page.evaluate("window.__notReloaded") is True
    assert fleet_saw_it, "the fleet panel never listed the rendering job"
    page.wait_for_function("document.querySelectorAll('#workers tr').length >= 1")
    assert "broker queue:" in page.inner_text("#fleet-summary")
    page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
    player.goto(f"{stack.url}/embed/{job_id}")
    player.wait_for_function("document.getElementById('v') && document.getElementById('v').readyState >= 1", timeout=15000)
    assert waited, "the job was done before its player page loaded: the unpublished state was not seen"
    player.close()
    # Re-render from its row (POST …/rerender with the key): a new job for the same article appears.
    page.click(f"{row} button:text('re-render')")
    page.wait_for_function("""(t) => Array.from(document.querySelectorAll('#jobs tr td.t'))
                               .filter(td => td.title === t).length === 2""", arg="Harbour ferry returns after repairs")
    again = page.evaluate(f"""() => Array.from(document.querySelectorAll('#jobs tr[data-id]'))
                              .map(r => r.dataset.id).filter(i => i !== '{job_id}')""")
    new_id = next(i for i in again if i not in {j["id"] for j in stack.jobs.values()})
    # Cancel it from its row (DELETE with the key) while it is still queued or rendering.
    cancel = page.locator(f"tr[data-id='{new_id}'] button:text('cancel')")
    if cancel.count():
        cancel.click()
    page.wait_for_selector(f"tr[data-id='{new_id}'][data-status='cancelled'], tr[data-id='{new_id}'][data-status='done']")
    if page.locator(f"tr[data-id='{new_id}'][data-status='cancelled']").count():
        # A cancelled job gets a retry button (POST …/retry): the same job id is queued again.
        page.click(f"tr[data-id='{new_id}'] button:text('retry')")
        page.wait_for_selector(f"tr[data-id='{new_id}']:not([data-status='cancelled'])")
    # Its player opens from the row's preview link.
    page.click(f"{row} a:text('preview')")
    page.wait_for_url(f"**/embed/{job_id}")
    page.wait_for_function("document.getElementById('v').readyState >= 2", timeout=15000)
    assert page.errors == [] or all("401" in e or "422" in e or "404" in e for e in page.errors), page.errors


BROWSER_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"


def test_player_sends_beacons_and_the_dashboard_shows_plays(stack, browser):
    """Issue 20: the player, framed by another page, reports load, play, 25/50/75 %, the end and
    captions turned on with navigator.sendBeacon; the counts reach /v1/videos/{id}/stats and the
    dashboard's plays column (a number and an inline SVG chart). A browser-like user agent: the
    headless one is ignored as a bot (as the other tests here show by counting nothing)."""
    job = stack.jobs["square"]
    context = browser.new_context(viewport={"width": 900, "height": 700}, user_agent=BROWSER_UA)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.post_data or "") if r.url.endswith("/beacon") else None)
    page.set_content(f'<!doctype html><body><iframe id="f" src="{stack.url}/embed/{job["id"]}" width="480" '
                     'height="480" allow="autoplay"></iframe></body>')
    frame = page.locator("#f").element_handle().content_frame()
    frame.wait_for_function("document.getElementById('v').readyState >= 2", timeout=15000)
    frame.evaluate("""() => new Promise(ok => { const v = document.getElementById('v'); v.muted = true;
                      v.playbackRate = 4; v.textTracks[0].mode = 'showing';
                      v.addEventListener('ended', ok, {once: true}); v.play(); })""")
    key = {"Authorization": f"Bearer {KEY}"}
    want = {"loads": 1, "plays": 1, "q25": 1, "q50": 1, "q75": 1, "completes": 1, "captions": 1, "errors": 0}
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        stats = httpx.get(f"{stack.url}/v1/videos/{job['id']}/stats", headers=key).json()
        if {k: stats[k] for k in want} == want:
            break
        time.sleep(0.2)
    assert {k: stats[k] for k in want} == want, (stats, sent)
    assert all('"video":"' + job["id"] + '"' in body for body in sent) and len(sent) == 7, sent
    assert context.cookies() == []
    # The dashboard: a plays column with the count and a small chart per clip.
    page.goto(f"{stack.url}/")
    page.fill("#f-key", KEY)
    page.click("#keyform button[type=submit]")
    cell = f"tr[data-id='{job['id']}'] td.plays"
    page.wait_for_selector(f"{cell} svg polyline", timeout=15000)
    assert page.inner_text(f"{cell} .n") == "1"
    points = page.get_attribute(f"{cell} svg polyline", "points").split()
    assert len(points) == 14 and points[-1].split(",")[1] != points[0].split(",")[1], points  # today's play rises
    assert page.locator("thead th").nth(3).inner_text().lower() == "plays"
    page.locator(cell).screenshot(path=str(ARTIFACTS / "dashboard-plays.png"))
    assert all("401" in e for e in errors), errors  # only the dashboard's reads before its key was typed
    context.close()
