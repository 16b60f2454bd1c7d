"""The review page (``/review/{id}``, issue 18) in a real headless Chromium (Debian's
/usr/bin/chromium driven by Playwright), against real ``videogen api`` and ``videogen worker``
processes on the embedded broker, with API keys set: the page carries no job data and reads
and writes the API with the key the tab keeps. Pictures come from a local fixture server.
Screenshots land in ``test-artifacts/`` (gitignored)."""

from __future__ import annotations

import io
import re

import httpx
import pytest
from PIL import Image

from .helpers import short_article
from .ingest_server import FixtureServer, Route
from .services import CHROMIUM
from .stack import make_stack, wait_for
from .test_browser import ARTIFACTS, FLAGS

pytestmark = pytest.mark.browser

KEY = "review-page-key-0123456789"
SMALL = {"height": 240, "fps": 15}
AUTH = {"Authorization": f"Bearer {KEY}"}
NOT_YET: tuple[tuple[int, str], ...] = ((404, r"/versions$"), (404, r"/pictures$"))


def png(color: tuple[int, int, int], size: tuple[int, int] = (480, 320)) -> bytes:
    buf = io.BytesIO()
    img = Image.new("RGB", size, color)
    img.paste((255, 255, 255), (size[0] // 2 - 20, size[1] // 2 - 20, size[0] // 2 + 20, size[1] // 2 + 20))
    img.save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def site(tmp_path_factory, settings):
    with FixtureServer() as srv:
        srv.routes["/red.png"] = Route(png((190, 40, 40)), "image/png")
        srv.routes["/blue.png"] = Route(png((40, 70, 190)), "image/png")
        s = make_stack(tmp_path_factory.mktemp("review-stack"), None,
                       {"VIDEOGEN_API_KEYS": KEY, "VIDEOGEN_FETCH_HOSTS_ALLOW": "127.0.0.1"},
                       cache_dir=settings.cache_path)
        try:
            s.start_api()
            s.start_worker()
            with s.client() as c:
                r = c.put("/v1/lexicon/en", json={"entries": {"capsule": "cap sool", "Nguyen": "win"}})
                assert r.status_code == 200, r.text
                article = short_article(id="review-page", images=[srv.url("/red.png"), srv.url("/blue.png")])
                r = c.post("/v1/videos", json={**article, "options": SMALL})
                assert r.status_code == 202, r.text
                s.wait_workers_ready()
                s.done = wait_for(c, r.json()["id"], timeout=120)
                assert s.done["status"] == "done", s.done
            s.fixtures = srv
            yield s
        finally:
            s.stop()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield b
        b.close()


@pytest.fixture()
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.errors = []
    pg.on("console", lambda m: pg.errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
    pg.on("pageerror", lambda e: pg.errors.append(f"pageerror: {e}"))
    pg.failed = []  # API answers >= 400 the page met: (status, path)
    pg.on("response", lambda r: pg.failed.append((r.status, r.url.split("/", 3)[3])) if r.status >= 400 else None)
    yield pg
    context.close()


def clean(page, allowed: tuple[tuple[int, str], ...] = ()) -> None:
    """No script error, and no failed API answer but the reads made before the key was typed
    (401) and the ``allowed`` (status, path regex) ones the test provoked."""
    assert not [e for e in page.errors if "Failed to load resource" not in e], page.errors
    unexpected = [(st, path) for st, path in page.failed
                  if st != 401 and not any(st == a and re.search(rx, path) for a, rx in allowed)]
    assert not unexpected, unexpected


def open_with_key(page, url: str, job_id: str) -> None:
    page.goto(f"{url}/review/{job_id}")
    page.wait_for_selector("#locked:not([hidden])")
    page.fill("#f-key", KEY)
    page.press("#f-key", "Enter")
    page.wait_for_selector("#sentences .sentence")


def test_review_page_without_a_key_shows_nothing(site, page):
    job = site.done
    r = httpx.get(f"{site.url}/review/{job['id']}")
    assert r.status_code == 200 and job["article"]["title"] not in r.text and "sessionStorage" in r.text
    assert httpx.get(f"{site.url}/review/not-an-id").status_code == 404
    page.goto(f"{site.url}/review/{job['id']}")
    page.wait_for_selector("#locked:not([hidden])")
    assert job["article"]["title"] not in page.inner_text("body")
    assert page.locator("#sentences .sentence").count() == 0
    clean(page)


def test_review_page_plays_edits_a_sentence_and_links_the_new_version(site, page):
    job = site.done
    api = httpx.Client(base_url=site.url, headers=AUTH, timeout=30)
    script = api.get(f"/v1/videos/{job['id']}/script").json()["sentences"]
    open_with_key(page, site.url, job["id"])
    assert page.inner_text("#title") == job["article"]["title"]
    assert page.inner_text("#status") == "done"
    # The player plays the version's own file, read with the key.
    page.wait_for_function("document.getElementById('v').readyState >= 2", timeout=15000)
    assert abs(page.evaluate("document.getElementById('v').duration") - job["duration"]) < 0.15
    page.wait_for_function("(document.getElementById('v').textTracks[0].cues || []).length > 0")
    # The sentences, spoken and caption, the title first.
    assert page.locator("#sentences .sentence").count() == len(script)
    got = page.evaluate("""() => [...document.querySelectorAll('#sentences .sentence')].map(li =>
        ({spoken: li.querySelector('textarea[id$=-spoken]').value, caption: li.querySelector('textarea[id$=-caption]').value}))""")
    assert got == script
    # The lexicon entries that apply: "capsule" (in the last sentence), not "Nguyen".
    page.wait_for_selector("#lexicon tr")
    rows = page.locator("#lexicon tr")
    assert rows.count() == 1 and page.get_attribute("#lexicon tr", "data-written") == "capsule"
    last = len(script) - 1
    assert page.inner_text("#lexicon tr td:nth-child(3)") == str(last)
    assert "capsule → cap sool" in page.inner_text(f"#sentences li[data-i='{last}'] .lexhits")
    # One sentence played alone: the preview WAV is asked for with its spoken text and plays.
    with page.expect_response(lambda r: r.url.endswith("/v1/lexicon/en/preview")) as wav:
        page.click("#sentences li[data-i='1'] button.play")
    assert wav.value.status == 200 and wav.value.headers["content-type"] == "audio/wav"
    assert wav.value.request.post_data_json["text"] == script[1]["spoken"]
    page.wait_for_selector("#sentences li[data-i='1'] button.play[aria-pressed=true]")
    # "Show in clip" seeks the player to that sentence's cue.
    page.click(f"#sentences li[data-i='{last}'] button.seek")
    cue = page.evaluate(f"document.getElementById('v').textTracks[0].cues[{last}].startTime")
    assert page.evaluate("document.getElementById('v').currentTime") >= cue - 0.05
    # Edit one sentence: it is marked edited, the lexicon follows the text as it is typed.
    spoken = page.locator("#s2-spoken")
    spoken.fill("The city museum opened a new exhibition by Anna Nguyen on Monday.")
    page.fill("#s2-caption", "The city museum opened a new exhibition by Anna Nguyen on Monday!")
    assert page.locator("#sentences li[data-i='1'].edited .tag").is_visible()
    page.wait_for_selector("#lexicon tr[data-written='Nguyen']")
    # A bad script (an empty spoken text) is refused inline, naming the field; nothing is queued.
    before = api.get("/v1/videos", params={"article_id": "review-page"}).json()["items"]
    page.fill("#s1-spoken", "")
    page.click("#save-script")
    page.wait_for_selector("#s1-spoken[aria-invalid=true]")
    assert "sentences[0].spoken" in page.inner_text("#script-msg")
    assert len(api.get("/v1/videos", params={"article_id": "review-page"}).json()["items"]) == len(before)
    page.fill("#s1-spoken", script[0]["spoken"])
    # Saved: a new version, linked to its own review page.
    page.click("#save-script")
    link = page.wait_for_selector("#script-msg a.new-version")
    new_id = link.get_attribute("href").rsplit("/", 1)[1]
    assert re.fullmatch(r"[a-f0-9]{32}", new_id) and new_id != job["id"]
    page.screenshot(path=str(ARTIFACTS / "review-saved.png"), full_page=True)
    new = wait_for(api, new_id, timeout=120)
    assert new["status"] in ("done", "review"), new
    edited = api.get(f"/v1/videos/{new_id}/script").json()["sentences"]
    # The new spoken text is read with the lexicon the page listed for it ("Nguyen" → "win").
    assert edited[1]["spoken"].endswith("Anna win on Monday.") and edited[1]["caption"].endswith("Anna Nguyen on Monday!")
    assert edited[2:] == script[2:]
    link.click()
    page.wait_for_url(f"**/review/{new_id}")
    page.wait_for_selector("#sentences .sentence")  # the key came along in the tab's sessionStorage
    assert page.input_value("#s2-caption").endswith("Monday!")
    assert page.evaluate("localStorage.getItem('videogen.apiKey')") is None and KEY not in page.url
    assert page.context.cookies() == []
    clean(page, (*NOT_YET, (422, r"/script$")))


def test_every_control_is_reached_by_tab_with_a_visible_focus(site, page):
    open_with_key(page, site.url, site.done["id"])
    page.wait_for_selector("#lexicon tr")
    page.locator("#f-key").focus()
    seen, outlines = [], {}
    for _ in range(200):
        page.keyboard.press("Tab")
        info = page.evaluate("""() => { const e = document.activeElement, s = getComputedStyle(e);
            return {tag: e.tagName, id: e.id, cls: e.className, label: e.getAttribute('aria-label') || e.textContent.trim().slice(0, 30),
                    outline: s.outlineStyle + ' ' + s.outlineWidth}; }""")
        if info["tag"] == "BODY" or (seen and info == seen[0]):
            break
        seen.append(info)
        outlines[(info["tag"], info["id"], info["label"])] = info["outline"]
    ids = {s["id"] for s in seen}
    for control in ("approve", "unpublish", "publish", "reason", "reject", "ttl", "make-link", "save-script",
                    "s1-spoken", "s1-caption", "save-pictures", "pic-url", "pic-file", "add-pic"):
        assert control in ids, (control, ids)
    assert any(s["cls"] == "play" for s in seen) and any(s["cls"] == "hear" for s in seen)
    # Every control the keyboard reached shows where the focus is.
    bare = [k for k, o in outlines.items() if o.startswith("none") or o.endswith(" 0px")]
    assert not bare, bare
    # A decision that does not apply (approving a version that is not in review) stays in the
    # Tab order and says why, pressed from the keyboard.
    page.locator("#approve").focus()
    page.keyboard.press("Enter")
    page.wait_for_selector("#decision-msg >> text=Not possible")
    # A sentence plays with Enter.
    page.locator("#sentences li[data-i='0'] button.play").focus()
    page.keyboard.press("Enter")
    page.wait_for_selector("#sentences li[data-i='0'] button.play[aria-pressed=true]")
    clean(page, NOT_YET)


def test_dashboard_rows_link_to_the_review_page(site, page):
    page.goto(f"{site.url}/")
    page.fill("#f-key", KEY)
    page.click("#keyform button[type=submit]")
    link = page.wait_for_selector(f"tr[data-id='{site.done['id']}'] a.review")
    assert link.get_attribute("href") == f"/review/{site.done['id']}"
    link.click()
    page.wait_for_url(f"**/review/{site.done['id']}")
    page.wait_for_selector("#sentences .sentence")


def test_screenshots_desktop_and_narrow(site, page):
    open_with_key(page, site.url, site.done["id"])
    page.wait_for_function("document.getElementById('v').readyState >= 2", timeout=15000)
    page.evaluate("""() => new Promise(ok => { const v = document.getElementById('v');
                     v.addEventListener('seeked', ok, {once: true}); v.currentTime = 3; })""")
    page.wait_for_timeout(300)
    page.screenshot(path=str(ARTIFACTS / "review-desktop.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(200)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the narrow page scrolls sideways ({width} px)"
    page.screenshot(path=str(ARTIFACTS / "review-narrow.png"), full_page=True)
