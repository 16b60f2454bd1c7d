"""Hostile and broken input through the API and the renderer: limits, rate limiting, hostile
text, ids and paths."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from videogen.errors import InvalidInput
from videogen.http.app import create_app
from videogen.http.limits import MAX_JSON_DEPTH, json_depth
from videogen.http.problems import STORE_RETRY_AFTER
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
    ({"options": {"webhook_url": "http://[2002:7f00:1::]/hook"}}, "options.webhook_url", 422),
    ({"options": {"webhook_url": "http://[fec0::1]/hook"}}, "options.webhook_url", 422),
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


# --- bodies the parser cannot take -----------------------------------------------------------------

@pytest.mark.parametrize(("raw", "depth"), [
    (b"1", 0), (b"{}", 1), (b'{"a": [1, {"b": []}]}', 4), (b'["]]]\\"[[[[", {}]', 2),
    (b'{"a": "[[[[{{{{"}', 1), (b"[" * 5000, 5000), (b"[" * 100_000 + b"]" * 100_000, 100_000),
])
def test_json_depth_counts_brackets_outside_strings(raw, depth):
    assert json_depth(raw) == depth


@pytest.mark.parametrize("levels", [MAX_JSON_DEPTH + 1, 900, 2000, 100_000])
@pytest.mark.parametrize("kind", ["array", "object", "in options"])
def test_deeply_nested_json_gets_a_problem_naming_the_body_and_the_limit(tmp_path, settings, caplog, levels, kind):
    nested = "[" * levels + "]" * levels if kind == "array" else '{"a":' * levels + "1" + "}" * levels
    if kind == "in options":
        nested = json.dumps({**short_article(), "options": {"template": "x"}})[:-2] + ', "deep": ' + "[" * levels + "]" * levels + "}}"
    with make_api(tmp_path, settings) as api:
        r = api.post("/v1/videos", content=nested, headers={"X-API-Key": KEY, "content-type": "application/json"})
        assert r.status_code == 422, r.text
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["errors"] == [{"field": "body", "message": f"nested {levels + 2 * (kind == 'in options')} levels deep; "
                                                                  f"at most {MAX_JSON_DEPTH} are accepted"}]
        assert api.get("/v1/videos", headers={"X-API-Key": KEY}).json()["items"] == []
    assert "RecursionError" not in caplog.text


def test_json_at_the_depth_limit_is_parsed(tmp_path, settings):
    body = {**short_article(), "options": {"height": 120}, "extra": json.loads("[" * (MAX_JSON_DEPTH - 1) + "]" * (MAX_JSON_DEPTH - 1))}
    with make_api(tmp_path, settings) as api:
        r = api.post("/v1/videos", json=body, headers={"X-API-Key": KEY})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "extra", "parsed, then refused as an unknown field"


def test_an_unexpected_error_is_problem_json_without_internals(tmp_path, settings, monkeypatch):
    s = Settings(home=tmp_path / "home", cache_dir=settings.cache_path, api_keys=KEY)
    svc = VideoService(s)

    def broken(*_a, **_k):
        raise RecursionError("maximum recursion depth exceeded in /secret/path")

    monkeypatch.setattr(svc.store, "counts", broken)
    with TestClient(create_app(s, svc, run_sweeper=False), raise_server_exceptions=False) as api:
        r = api.get("/v1/videos", headers={"X-API-Key": KEY})
        assert r.status_code == 500 and r.headers["content-type"] == "application/problem+json"
        assert r.json()["title"] == "Internal Server Error" and "secret" not in r.text and "Recursion" not in r.text


# --- a job store that cannot write -------------------------------------------------------------------

def fill_the_job_store(svc: VideoService) -> None:
    """Cap the SQLite job store at its current size (``max_page_count``): every later write that
    needs a page fails with SQLITE_FULL, "database or disk is full", as on a full disk."""
    from sqlalchemy import event

    db = svc.store.engine.url.database
    pages = sqlite3.connect(db).execute("PRAGMA page_count").fetchone()[0]
    event.listen(svc.store.engine, "connect", lambda conn, _rec: conn.execute(f"PRAGMA max_page_count={pages}"))
    svc.store.engine.dispose()


def test_a_full_job_store_answers_503_with_retry_after_and_health_says_so(tmp_path, settings):
    s = Settings(home=tmp_path / "home", cache_dir=settings.cache_path, api_keys=KEY)
    svc = VideoService(s)
    with TestClient(create_app(s, svc, run_sweeper=False)) as api:
        first = api.post("/v1/videos", json={**short_article(), "options": {"height": 120}}, headers={"X-API-Key": KEY})
        assert first.status_code == 202
        assert api.get("/health").json()["checks"]["job_store"] == "ok"
        fill_the_job_store(svc)
        big = {**short_article(), "id": "big", "summary": " ".join(f"Sentence {i} of a long text." for i in range(400))}
        r = api.post("/v1/videos", json=big, headers={"X-API-Key": KEY})
        assert r.status_code == 503, r.text
        assert r.headers["content-type"] == "application/problem+json"
        assert r.headers["retry-after"] == str(STORE_RETRY_AFTER)
        assert "full" in r.json()["detail"] and "sqlite" not in r.text.lower() and str(tmp_path) not in r.text
        health = api.get("/health")
        assert health.status_code == 503 and health.json()["status"] == "degraded"
        assert "full" in health.json()["checks"]["job_store"]
        # Reads go on, and what was stored is intact.
        key = {"X-API-Key": KEY}
        assert api.get(f"/v1/videos/{first.json()['id']}", headers=key).json()["status"] == "queued"
        assert [j["id"] for j in api.get("/v1/videos", headers=key).json()["items"]] == [first.json()["id"]]
    db = sqlite3.connect(svc.store.engine.url.database)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_health_reports_a_job_store_disk_nearly_full(tmp_path, settings, monkeypatch):
    from videogen.service.store import STORE_MIN_FREE_BYTES

    s = Settings(home=tmp_path / "home", cache_dir=settings.cache_path, api_keys=KEY)
    svc = VideoService(s)
    with TestClient(create_app(s, svc, run_sweeper=False)) as api:
        assert api.get("/health").json()["checks"]["job_store"] == "ok"
        monkeypatch.setattr(svc.store, "free_bytes", lambda: STORE_MIN_FREE_BYTES - 1)
        r = api.get("/health")
        assert r.status_code == 503 and "nearly full" in r.json()["checks"]["job_store"]


# --- per-request options within bounds ------------------------------------------------------------

@pytest.mark.parametrize("template", ["/etc/hostname.toml", "/nonexistent/x.toml", "../templates/news.toml",
                                      "news.toml", "NEWS", "news/../news", "x" * 64])
def test_the_api_takes_template_names_only_and_reveals_no_file(tmp_path, settings, template):
    with make_api(tmp_path, settings) as api:
        r = api.post("/v1/videos", json={**short_article(), "options": {"template": template}}, headers={"X-API-Key": KEY})
        assert r.status_code == 422
        [error] = r.json()["errors"]
        assert error["field"] == "options.template"
        assert error["message"] == f"unknown template {template!r}; the API takes a template name: news, square, vertical"


def test_template_paths_stay_a_cli_feature(tmp_path, settings):
    s = Settings(home=tmp_path / "home", cache_dir=settings.cache_path)
    svc = VideoService(s)
    svc.migrate()
    path = str(s.templates_dirs[-1] / "square.toml")
    from videogen.render.article import parse_article as parse
    from videogen.service.videos import JobOptions

    checked = svc.check(parse(short_article()), JobOptions(template=path, height=120), local=True)
    assert checked["template"] == "square"
    with pytest.raises(InvalidInput, match="options.template"):
        svc.check(parse(short_article()), JobOptions(template=path, height=120))
    job, _ = svc.enqueue(parse(short_article()), JobOptions(template=path, height=120), local=True)
    svc.cancel(job.id)
    again, created = svc.rerender(job.id)
    assert created and again.template == "square", "a job the CLI queued with a path can be rendered again"


@pytest.mark.parametrize(("options", "field", "bound"), [
    ({"height": 2160}, "options.height", "at most 1080"),
    ({"height": 1081}, "options.height", "at most 1080"),
    ({"template": "vertical", "height": 1921}, "options.height", "at most 1920"),
    ({"fps": 60}, "options.fps", "at most 30"),
    ({"max_duration": 900}, "options.max_duration", "at most 120"),
    ({"max_duration": 121}, "options.max_duration", "at most 120"),
])
def test_per_request_options_cannot_exceed_the_template_or_the_configured_bounds(tmp_path, settings, options, field, bound):
    with make_api(tmp_path, settings) as api:
        r = api.post("/v1/videos", json={**short_article(), "options": options}, headers={"X-API-Key": KEY})
        assert r.status_code == 422, r.text
        assert r.json()["errors"][0]["field"] == field and bound in r.json()["errors"][0]["message"]
        ok = {**short_article(), "id": "ok", "options": {"height": 1080, "fps": 30, "max_duration": 120}}
        assert api.post("/v1/videos", json=ok, headers={"X-API-Key": KEY}).status_code == 202


def test_max_duration_bound_follows_the_setting(tmp_path, settings):
    with make_api(tmp_path, settings, max_duration=300) as api:
        r = api.post("/v1/videos", json={**short_article(), "options": {"max_duration": 300}}, headers={"X-API-Key": KEY})
        assert r.status_code == 202
        r = api.post("/v1/videos", json={**short_article(), "options": {"max_duration": 301}}, headers={"X-API-Key": KEY})
        assert r.status_code == 422 and "at most 300" in r.text


# --- Range and ETag -------------------------------------------------------------------------------

@pytest.fixture()
def served(tmp_path, settings):
    """An API with one done job whose files are written by hand (no render): (client, media URL, bytes)."""
    s = Settings(home=tmp_path / "home", cache_dir=settings.cache_path, api_keys=KEY)
    svc = VideoService(s)
    svc.migrate()
    key = "ab" * 16
    job, _ = svc.store.create(article_id="a", content_key=key, template="news", voice=None, tts=None, options={},
                              article={"title": "t"})
    lease = svc.store.claim(job.id, "w")
    assert lease
    data = bytes(range(256)) * 4
    folder = s.media_path / key
    folder.mkdir(parents=True)
    (folder / "video.mp4").write_bytes(data)
    (folder / "manifest.json").write_text(json.dumps({"files": {}}))
    svc.store.finish(job.id, lease, output=key, duration=1.0, render_seconds=1.0, engine="x",
                     then=svc.publishing.on_finished(job))  # published, as a worker's finish does
    with TestClient(create_app(s, svc, run_sweeper=False)) as api:
        yield api, f"/v1/videos/{job.id}/video.mp4", data


def test_if_none_match_compares_weakly_and_304_is_not_cached_publicly(served):
    api, url, _data = served
    etag = api.get(url).headers["etag"]
    for inm in (etag, f"W/{etag}", f'"other", W/{etag}', "*"):
        r = api.get(url, headers={"If-None-Match": inm})
        assert r.status_code == 304, inm
        assert r.headers["etag"] == etag and "max-age=86400" not in r.headers.get("cache-control", "")
    assert api.get(url, headers={"If-None-Match": 'W/"other"'}).status_code == 200


@pytest.mark.parametrize("rng", ["bytes=5-3", "bytes=10-0", "bytes=x-y", "bytes=1-2,4-5", "items=0-1"])
def test_invalid_ranges_are_ignored(served, rng):
    api, url, data = served
    r = api.get(url, headers={"Range": rng})
    assert r.status_code == 200 and r.content == data
    assert "content-range" not in r.headers


def test_unsatisfiable_range_is_416_without_public_caching(served):
    api, url, data = served
    r = api.get(url, headers={"Range": f"bytes={len(data)}-"})
    assert r.status_code == 416 and r.headers["content-range"] == f"bytes */{len(data)}"
    assert r.headers["cache-control"] == "no-store"
    ok = api.get(url, headers={"Range": "bytes=3-5"})
    assert ok.status_code == 206 and ok.content == data[3:6]
    assert ok.headers["cache-control"] == "public, max-age=300"  # an unpublish reaches CDNs within 5 min
