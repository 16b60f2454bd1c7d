"""Hostile and broken input through the API and the renderer: limits, rate limiting, hostile
text, ids and paths."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from videogen.http.app import create_app
from videogen.http.ratelimit import RateLimiter
from videogen.render.article import parse_article
from videogen.render.captions import parse_webvtt
from videogen.render.pipeline import RenderOptions, render_article
from videogen.service.videos import VideoService
from videogen.settings import Settings

from .helpers import short_article

KEY = "hardening-key-000000"


def make_api(tmp_path, settings, **overrides):
    s = Settings(home=tmp_path / "home", cache_dir=settings.cache_path, api_keys=KEY, **overrides)
    return TestClient(create_app(s, VideoService(s), run_sweeper=False))


def test_request_body_limit_with_and_without_length(tmp_path, settings):
    with make_api(tmp_path, settings, max_body_bytes=5000) as api:
        big = {**short_article(), "summary": "Word. " * 2000}
        r = api.post("/v1/videos", json=big, headers={"X-API-Key": KEY})
        assert r.status_code == 413 and r.json()["title"] == "Payload Too Large"

        def chunks():
            yield b'{"title": "x", "summary": "'
            for _ in range(100):
                yield b"y" * 100
            yield b'", "language": "en"}'

        r = api.post("/v1/videos", content=chunks(), headers={"X-API-Key": KEY, "content-type": "application/json"})
        assert r.status_code == 413
        assert api.get("/v1/videos", headers={"X-API-Key": KEY}).json()["items"] == []


def test_rate_limit_per_key_answers_429_with_retry_after(tmp_path, settings):
    with make_api(tmp_path, settings, rate_limit=3) as api:
        codes = [api.post("/v1/videos", json={**short_article(), "id": f"r{i}", "options": {"height": 120}},
                          headers={"X-API-Key": KEY}).status_code for i in range(5)]
        assert codes[:3] == [202, 202, 202] and codes[3:] == [429, 429]
        r = api.post("/v1/videos", json=short_article(), headers={"X-API-Key": KEY})
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
        assert api.get("/v1/videos", headers={"X-API-Key": KEY}).status_code == 200, "reads are not limited"


def test_rate_limiter_refills():
    now = [0.0]
    rl = RateLimiter(60, clock=lambda: now[0])
    assert all(rl.take("a") == 0 for _ in range(60))
    wait = rl.take("a")
    assert 0.9 < wait <= 1.0
    assert rl.take("b") == 0, "clients are limited separately"
    now[0] += 1.0
    assert rl.take("a") == 0


@pytest.mark.parametrize(("change", "field", "status"), [
    ({"title": "t" * 100_000}, "title", 422),
    ({"title": " \u200b\t "}, "title", 422),
    ({"images": [{"src": f"https://img.example.org/{i}.jpg"} for i in range(31)]}, "images", 422),
    ({"options": {"webhook_url": "http://169.254.169.254/hook"}}, "options.webhook_url", 422),
    ({"options": {"webhook_url": "http://127.0.0.1:8080/hook"}}, "options.webhook_url", 422),
    ({"options": {"webhook_url": "file:///etc/passwd"}}, "options.webhook_url", 422),
    ({"id": "a/../../b"}, "id", 422),
])
def test_hostile_fields(tmp_path, settings, change, field, status):
    with make_api(tmp_path, settings) as api:
        r = api.post("/v1/videos", json={**short_article(), **change}, headers={"X-API-Key": KEY})
        assert r.status_code == status, r.text
        assert field in [e["field"] for e in r.json()["errors"]]


def test_batch_limit(tmp_path, settings):
    with make_api(tmp_path, settings, max_batch=2) as api:
        r = api.post("/v1/videos", json={"articles": [short_article()] * 3}, headers={"X-API-Key": KEY})
        assert r.status_code == 413


@pytest.mark.parametrize("path", [
    "/v1/videos/..%2F..%2Fetc%2Fpasswd", "/v1/videos/%2e%2e/%2e%2e/etc/passwd",
    "/v1/videos/" + "a" * 32 + "/..%2Fmanifest.json", "/v1/videos/" + "a" * 32 + "/%2e%2e%2fjobs.sqlite",
])
def test_path_traversal_is_impossible(tmp_path, settings, path):
    with make_api(tmp_path, settings) as api:
        r = api.get(path)
        assert r.status_code in (404, 422)
        assert b"SQLite" not in r.content and b"root:" not in r.content


def test_hostile_text_renders_safely(tmp_path, settings):
    """Shell and HTML metacharacters, emoji, combining marks, RTL, bidi overrides and control
    characters: the clip renders, nothing is executed, tofu-prone characters are not drawn and
    the captions keep the text, escaped."""
    marker = tmp_path / "pwned"
    title = f"🚀 Z̷a̶l̴g̵o \"q\" & <script>alert(1)</script> $(touch {marker}) `touch {marker}`; שלום مرحبا 中文"
    data = {"id": "hostile", "title": title, "language": "en",
            "summary": f"Emoji 🎉 everywhere. Control \u0007 and override \u202e text. '; touch {marker}; echo '."}
    article = parse_article(data)
    assert "\u202e" not in article.summary and "\u0007" not in article.summary
    result = render_article(article, RenderOptions(height=120, fps=8), tmp_path / "out", settings.render_config())
    assert not marker.exists()
    m = result.manifest
    assert any("not drawn on screen" in w and "🚀" in w for w in m["warnings"])
    vtt = (result.out_dir / "captions.vtt").read_text()
    assert "<script>" not in vtt and "&lt;script&gt;" in vtt
    assert parse_webvtt(vtt)[0][2] == article.title


def test_local_paths_are_refused_from_the_api_and_kept_in_the_folder_in_the_cli(tmp_path, settings):
    with make_api(tmp_path, settings) as api:
        r = api.post("/v1/videos", json={**short_article(), "images": [{"src": "../../etc/hostname"}]},
                     headers={"X-API-Key": KEY})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "images[0].src"
    secret = tmp_path / "secret.jpg"
    secret.write_bytes(Path(__file__).with_name("conftest.py").read_bytes())
    folder = tmp_path / "articles"
    folder.mkdir()
    article = parse_article({**short_article(), "images": [{"src": "../secret.jpg"}]}, base_dir=folder)
    result = render_article(article, RenderOptions(height=120, fps=8), tmp_path / "out2", settings.render_config())
    assert any("outside the article's folder" in w for w in result.manifest["warnings"])


def test_api_keys_never_reach_the_logs(tmp_path, settings, caplog):
    with make_api(tmp_path, settings) as api, caplog.at_level("DEBUG"):
        api.post("/v1/videos", json={**short_article(), "options": {"height": 120}}, headers={"X-API-Key": KEY})
        api.post("/v1/videos", json=short_article(), headers={"X-API-Key": "wrong-key-123"})
    assert KEY not in caplog.text and "wrong-key-123" not in caplog.text
