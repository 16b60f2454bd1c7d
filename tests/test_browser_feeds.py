"""The dashboard's feeds panel in a real headless Chromium (Debian's /usr/bin/chromium driven by
Playwright): with API keys set it reads and writes /v1/feeds with the key held in the tab's
sessionStorage, like the rest of the dashboard. An in-process API (uvicorn in a thread) and the
local fixture server; no worker (the jobs stay queued)."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from videogen.http.app import create_app
from videogen.service.videos import VideoService
from videogen.settings import Settings

from .ingest_server import FixtureServer, Route
from .services import CHROMIUM, CHROMIUM_FLAGS

pytestmark = pytest.mark.browser
KEY = "feeds-browser-key-0123456789"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture()
def site(tmp_path):
    import uvicorn

    with FixtureServer() as srv:
        s = Settings(home=tmp_path / "home", api_keys=KEY, fetch_hosts_allow="127.0.0.1", feed_poller=False)
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(create_app(s, VideoService(s), run_sweeper=False), host="127.0.0.1",
                                               port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        for _ in range(100):
            if server.started:
                break
            time.sleep(0.05)
        srv.api = f"http://127.0.0.1:{port}"
        try:
            yield srv
        finally:
            server.should_exit = True
            thread.join(10)


def test_feeds_panel_adds_polls_shows_items_jobs_and_a_failing_feed(site):
    from playwright.sync_api import sync_playwright

    site.routes["/broken.rss"] = Route(b"<html><head><title>Oops</title></head><body>error</body></html>", "application/rss+xml")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(site.api + "/")
        assert page.locator("#feedlist tr").count() == 0  # no key yet: nothing shown
        page.fill("#f-key", KEY)
        page.click("#keyform button[type=submit]")
        page.fill("#feed-url", site.url("/feeds/wordpress.rss"))
        page.fill("#feed-every", "60")
        page.click("#feedform button[type=submit]")
        page.wait_for_selector("#feed-msg >> text=feed added")
        row = page.locator("#feedlist tr[data-id]")
        row.wait_for()
        row.locator("button.poll").click()
        page.wait_for_selector("#feed-msg >> text=3 new job(s)")
        page.wait_for_selector("#feed-items li >> nth=2")
        items = page.locator("#feed-items li")
        assert items.count() == 3
        assert "Storm warning for the coast on Thursday" in page.inner_text("#feed-items")
        assert page.locator("#feed-items a.job").count() == 3 and "queued" in page.locator("#feed-items a.job").first.inner_text()
        page.wait_for_selector("#feedlist tr[data-state=ok] td.seen >> text=3")
        # A feed that answers an HTML error page: its state and last error are shown.
        page.fill("#feed-url", site.url("/broken.rss"))
        page.click("#feedform button[type=submit]")
        page.wait_for_selector("#feedlist tr[data-id] >> nth=1")
        broken = page.locator("#feedlist tr[data-id]").nth(1)
        for _ in range(3):
            broken.locator("button.poll").click()
            page.wait_for_selector("#feed-msg >> text=poll: failed")
            page.evaluate("document.querySelector('#feed-msg').replaceChildren()")
        page.wait_for_selector("#feedlist tr[data-state=failing]")
        assert "not a feed: the URL answered an HTML page" in page.inner_text("#feedlist tr[data-state=failing] .feed-error")
        page.screenshot(path=str(__import__("tests.helpers", fromlist=["ROOT"]).ROOT / "test-artifacts" / "dashboard-feeds.png"))
        assert errors == []
        browser.close()
