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

from .helpers import ARTIFACTS, short_article, watch_errors
from .ingest_server import FixtureServer, Route
from .stack import make_stack, wait_for

pytestmark = pytest.mark.browser

KEY = "review-page-key-0123456789"
SMALL = {"height": 240, "fps": 15}
AUTH = {"Authorization": f"Bearer {KEY}"}
NOT_YET: tuple[tuple[int, str], ...] = ()


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
        srv.routes["/green.png"] = Route(png((40, 160, 60)), "image/png")
        srv.routes["/page.html"] = Route(b"<html><body>not a picture</body></html>", "text/html")
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


@pytest.fixture()
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = watch_errors(context.new_page())
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
    clean(page, ((422, r"/pictures$"),))


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
    page.wait_for_function("((document.getElementById('v').textTracks[0] || {}).cues || []).length > 0")
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
    new_id = page.wait_for_selector("#script-msg a.new-version").get_attribute("href").rsplit("/", 1)[1]
    assert re.fullmatch(r"[a-f0-9]{32}", new_id) and new_id != job["id"]
    page.screenshot(path=str(ARTIFACTS / "review-saved.png"), full_page=True)
    new = wait_for(api, new_id, timeout=120)
    assert new["status"] in ("done", "review"), new
    edited = api.get(f"/v1/videos/{new_id}/script").json()["sentences"]
    # The new spoken text is read with the lexicon the page listed for it ("Nguyen" → "win").
    assert edited[1]["spoken"].endswith("Anna win on Monday.") and edited[1]["caption"].endswith("Anna Nguyen on Monday!")
    assert edited[2:] == script[2:]
    page.click("#script-msg a.new-version")
    page.wait_for_url(f"**/review/{new_id}")
    page.wait_for_selector("#sentences .sentence")  # the key came along in the tab's sessionStorage
    assert page.input_value("#s2-caption").endswith("Monday!")
    assert page.evaluate("localStorage.getItem('videogen.apiKey')") is None and KEY not in page.url
    assert page.context.cookies() == []
    clean(page, (*NOT_YET, (422, r"/script$")))


def test_every_control_is_reached_by_tab_with_a_visible_focus(site, page):
    # The clip's published version (a correction made in another test may have replaced the first).
    published = httpx.get(f"{site.url}/v1/videos/{site.done['id']}/versions", headers=AUTH).json()["published"]
    open_with_key(page, site.url, published)
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
    page.keyboard.press("Tab")  # → Unpublish (the clip is published: it applies)
    page.keyboard.press("Tab")  # → Publish (this version is the published one: it does not)
    page.keyboard.press("Space")
    page.wait_for_selector("#decision-msg >> text=this version is the published one")
    # A sentence plays with Enter.
    page.locator("#sentences li[data-i='0'] button.play").focus()
    page.keyboard.press("Enter")
    page.wait_for_selector("#sentences li[data-i='0'] button.play[aria-pressed=true]")
    clean(page, NOT_YET)


def test_dashboard_rows_link_to_the_review_page(site, page):
    page.goto(f"{site.url}/")
    page.fill("#f-key", KEY)
    page.click("#keyform button[type=submit]")
    row = f"tr[data-id='{site.done['id']}'] a.review"  # the rows are redrawn every second: no element handle
    page.wait_for_selector(row)
    assert page.get_attribute(row, "href") == f"/review/{site.done['id']}"
    page.click(row)
    page.wait_for_url(f"**/review/{site.done['id']}")
    page.wait_for_selector("#sentences .sentence")


def test_screenshots_desktop_and_narrow(site, page):
    open_with_key(page, site.url, site.done["id"])
    page.wait_for_function("document.getElementById('v').readyState >= 2", timeout=15000)
    page.evaluate("""() => new Promise(ok => { const v = document.getElementById('v');
                     v.addEventListener('seeked', ok, {once: true}); v.currentTime = 3; })""")
    page.wait_for_function("document.getElementById('v').readyState >= 3")
    page.wait_for_timeout(500)
    page.screenshot(path=str(ARTIFACTS / "review-desktop.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(200)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the narrow page scrolls sideways ({width} px)"
    page.screenshot(path=str(ARTIFACTS / "review-narrow.png"), full_page=True)


def wait_text(page, selector: str, text: str, timeout: float = 30_000) -> None:
    """Wait until ``selector``'s whole text is ``text`` (``text=`` selectors match substrings:
    "published" is in "unpublished")."""
    page.wait_for_function("([s, t]) => { const e = document.querySelector(s); return e && e.textContent.trim() === t; }",
                           arg=[selector, text], timeout=timeout)


def tab_to(page, selector: str, limit: int = 200) -> None:
    """Press Tab until ``selector`` has the focus (the keyboard alone, as an editor would)."""
    for _ in range(limit):
        if page.evaluate("(s) => document.activeElement === document.querySelector(s)", selector):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"{selector} never reached by Tab")


def test_review_mode_approve_by_keyboard_pictures_focus_reject_unpublish(site, page, browser):
    """A version in review: approved from the keyboard alone; its pictures reordered, one added by
    URL and dropped, focal points set by pointer and by arrow keys, saved as a new version (in
    review too), seen through a signed preview link without a key, rejected with a reason; the
    clip unpublished and published again."""
    api = httpx.Client(base_url=site.url, headers=AUTH, timeout=30)
    srv = site.fixtures
    article = short_article(id="review-mode", images=[srv.url("/red.png"), srv.url("/blue.png")],
                            title="Harbour ferry returns after repairs")
    r = api.post("/v1/videos", json={**article, "options": {**SMALL, "publish": "review"}})
    assert r.status_code == 202, r.text
    job = wait_for(api, r.json()["id"], statuses=("review", "done", "failed"), timeout=120)
    assert job["status"] == "review", job
    assert httpx.get(f"{site.url}/embed/{job['id']}").status_code == 404  # not public before approval
    open_with_key(page, site.url, job["id"])
    assert page.inner_text("#status") == "review" and page.inner_text("#publication") == "not published"
    page.wait_for_function("document.getElementById('v').readyState >= 2", timeout=15000)  # a version not public plays
    page.screenshot(path=str(ARTIFACTS / "review-waiting.png"), full_page=True)

    # Approve with the keyboard only: Tab from the key box to the button, Enter.
    page.locator("#f-key").focus()
    tab_to(page, "#approve")
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"
    page.keyboard.press("Enter")
    wait_text(page, "#status", "done")
    assert page.inner_text("#publication") == "published"
    assert page.inner_text("#decision-msg") == "Approved: this version is published."
    page.wait_for_selector("#events >> text=approved by key1")
    page.wait_for_selector(f"#versions tr[data-id='{job['id']}'] >> text=published")
    assert httpx.get(f"{site.url}/embed/{job['id']}").status_code == 200

    # Pictures: the version's two, in order, shown.
    pics = page.locator("#pictures li.pic")
    assert pics.count() == 2
    page.wait_for_function("[...document.querySelectorAll('#pictures img')].every(i => i.naturalWidth === 480)")
    assert [pics.nth(i).locator(".src").inner_text() for i in range(2)] == [srv.url("/red.png"), srv.url("/blue.png")]
    # Not an image: refused inline, naming the field; nothing added.
    page.fill("#pic-url", srv.url("/page.html"))
    page.press("#pic-url", "Enter")
    page.wait_for_selector("#pic-url[aria-invalid=true]")
    assert "url" in page.inner_text("#pictures-msg") and pics.count() == 2
    # A third, added by URL (checked and fetched by the API), then left out of the clip.
    page.fill("#pic-url", srv.url("/green.png"))
    page.press("#pic-url", "Enter")
    page.wait_for_selector("#pictures-msg >> text=Added picture 3 (480×320)")
    page.uncheck("#pic3-use")
    # A fourth, uploaded (multipart; stored as upload:<sha256>), shown from the file itself, left out too.
    page.set_input_files("#pic-file", files=[{"name": "yellow.png", "mimeType": "image/png", "buffer": png((220, 200, 40))}])
    page.click("#add-pic")
    page.wait_for_selector("#pictures-msg >> text=Added picture 4 (480×320)")
    assert page.inner_text("#pictures li[data-i='3'] .src").startswith("upload:")
    page.wait_for_function("document.querySelector(\"#pictures li[data-i='3'] img\").naturalWidth === 480")
    page.uncheck("#pic4-use")
    # Picture 1's focal point by a click at 25 % across, 75 % down.
    frame = page.locator("#pictures li[data-i='0'] .frame")
    box = frame.bounding_box()
    frame.click(position={"x": box["width"] * 0.25, "y": box["height"] * 0.75})
    assert "25% across, 75% down" in page.inner_text("#pictures li[data-i='0'] .focusval")
    # Picture 2's by the keyboard: Tab to it, two steps right, one fine step up.
    tab_to(page, "#pictures li[data-i='1'] .frame")
    for key in ("ArrowRight", "ArrowRight", "Shift+ArrowUp"):
        page.keyboard.press(key)
    assert "60% across, 49% down" in page.inner_text("#pictures li[data-i='1'] .focusval")
    dot = page.evaluate("(() => { const d = document.querySelector(\"#pictures li[data-i='1'] .dot\"); return [d.style.left, d.style.top, d.hidden]; })()")
    assert dot == ["60%", "49%", False], dot
    # The blue one first: Tab to its "earlier" button, Enter; the focus follows the moved picture.
    tab_to(page, "#pictures li[data-i='1'] button.up")
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.closest('li').dataset.i") == "0"
    assert page.locator("#pictures li[data-i='0'] .src").inner_text() == srv.url("/blue.png")
    page.screenshot(path=str(ARTIFACTS / "review-pictures.png"), full_page=True)
    page.click("#save-pictures")
    new_id = page.wait_for_selector("#pictures-msg a.new-version").get_attribute("href").rsplit("/", 1)[1]
    assert api.get(f"/v1/videos/{new_id}/pictures").json()["images"] == [
        {"src": srv.url("/blue.png"), "caption": None, "credit": "NASA", "focus": [0.6, 0.49]},
        {"src": srv.url("/red.png"), "caption": None, "credit": "NASA", "focus": [0.25, 0.75]},
    ]
    # The new version's page, opened while it renders, follows it until it waits for review (a
    # correction keeps the publish mode), then plays it.
    page.click("#pictures-msg a.new-version")
    page.wait_for_url(f"**/review/{new_id}")
    wait_text(page, "#status", "review", timeout=120_000)
    page.wait_for_function("document.getElementById('v').readyState >= 2", timeout=15000)
    # A signed preview link lets someone without a key watch it.
    page.click("#make-link")
    page.wait_for_selector("#link-out:not([hidden])")
    url = page.input_value("#link-url")
    assert f"/embed/{new_id}?preview=" in url
    outsider = browser.new_context()
    view = outsider.new_page()
    view.goto(url)
    view.wait_for_function("document.getElementById('v') && document.getElementById('v').readyState >= 1", timeout=15000)
    outsider.close()
    # Rejected: without a reason the field is marked; with one, recorded and shown.
    page.click("#reject")
    page.wait_for_selector("#reason[aria-invalid=true]")
    assert page.inner_text("#status") == "review"
    page.fill("#reason", "The red picture shows the wrong ferry.")
    page.click("#reject")
    wait_text(page, "#status", "rejected")
    assert "The red picture shows the wrong ferry." in page.inner_text("#reviewed")
    assert api.get(f"/v1/videos/{new_id}").json()["review"]["reason"] == "The red picture shows the wrong ferry."

    # The first version again: unpublish (embeds answer 410), publish (back).
    page.goto(f"{site.url}/review/{job['id']}")
    wait_text(page, "#publication", "published")
    page.click("#unpublish")
    wait_text(page, "#publication", "unpublished")
    assert httpx.get(f"{site.url}/embed/{job['id']}").status_code == 410
    page.click("#publish")
    wait_text(page, "#decision-msg", "Published: this version is on the embeds.")
    assert page.inner_text("#publication") == "published"
    assert httpx.get(f"{site.url}/embed/{job['id']}").status_code == 200
    events = [e["event"] for e in api.get(f"/v1/videos/{job['id']}/events").json()["items"]]
    assert {"approved", "unpublished", "published"} <= set(events), events
    clean(page, ((422, r"/pictures$"),))
