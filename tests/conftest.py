"""Fixtures and hooks: isolated settings, small real renders reused across tests, a real S3
server; the service markers (postgres, redis, browser, multihost: see services.py) and the
``steps`` marker. Helpers are in helpers.py, stack.py, s3server.py and services.py."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from videogen.render.article import parse_article
from videogen.render.pipeline import RenderOptions, render_article
from videogen.settings import Settings

from .helpers import ARTIFACTS, EXAMPLES, short_article
from .services import CHROMIUM, CHROMIUM_FLAGS, SERVICES, in_ci, missing

FAILED_STEP = pytest.StashKey[str]()

# Starlette's TestClient sends "Host: testserver": the tests allow it here, the production
# default (loopback names, the public URL's host, the bind address) does not.
os.environ.setdefault("VIDEOGEN_ALLOWED_HOSTS", "testserver,localhost,127.0.0.1,::1")

# --- hooks ------------------------------------------------------------------------------------


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Before a marked test (and its fixtures): the services it needs are here, else skip it
    naming the service, or fail under CI=true. Then, in a ``steps`` module, skip the steps after
    one that failed."""
    for service in SERVICES:
        for mark in item.iter_markers(service):
            reason = missing(service, *mark.args)
            if reason:
                if in_ci():
                    pytest.fail(f"{reason} (CI=true: a missing service fails the run)", pytrace=False)
                pytest.skip(reason)
    if item.get_closest_marker("steps"):
        failed = item.parent.stash.get(FAILED_STEP, None)
        if failed:
            pytest.skip(f"an earlier step failed: {failed}")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Remember the first failing step of a ``steps`` module (see pytest_runtest_setup)."""
    report = yield
    if item.get_closest_marker("steps") and report.failed and call.when in ("setup", "call"):
        item.parent.stash.setdefault(FAILED_STEP, item.name)
    return report


# --- settings and renders ---------------------------------------------------------------------

@pytest.fixture(scope="session")
def session_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("videogen-home")


@pytest.fixture(scope="session")
def settings(session_home: Path) -> Settings:
    """Settings with a private home; the narration cache is shared by the whole session."""
    return Settings(home=session_home)


@pytest.fixture(scope="session")
def rendered(settings: Settings, tmp_path_factory: pytest.TempPathFactory):
    """Render (once per session) a short article per template at a small size."""
    cache: dict[tuple, Path] = {}

    def get(template: str = "news", lang: str = "en", with_images: bool = True, height: int = 240,
            fps: float | None = 15, engine: str = "fast") -> Path:
        key = (template, lang, with_images, height, fps, engine)
        if key not in cache:
            images = [str(EXAMPLES / "images" / n) for n in ("astronaut.jpg", "rocket.jpg")] if with_images else None
            article = parse_article(short_article(lang, images), base_dir=EXAMPLES)
            out = tmp_path_factory.mktemp("render") / "clip"
            opts = RenderOptions(template=template, height=height, fps=fps, engine=engine, allow_outside_paths=True)
            render_article(article, opts, out, settings.render_config())
            cache[key] = out
        return cache[key]

    return get


# --- a real S3-compatible server ---------------------------------------------------------------

@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory):
    """moto's S3 server in its own process on 127.0.0.1 (installed by the test extra)."""
    from .s3server import start_s3_server

    try:
        server = start_s3_server(tmp_path_factory.mktemp("s3"))
    except (RuntimeError, FileNotFoundError) as e:
        pytest.fail(f"cannot start the S3 test server (moto[server], from the test extra): {e}")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser():
    """A headless Chromium (Debian's, driven by Playwright; never ``playwright install``) for
    one module's browser tests."""
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        yield b
        b.close()
