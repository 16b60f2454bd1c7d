"""The HTTP API in-process: validation, auth, job lifecycle and media serving. Jobs are run
by calling the service's worker entry point directly (the process tests use real workers)."""

from __future__ import annotations

import hashlib

import pytest
from fastapi.testclient import TestClient

from videogen.http.app import create_app
from videogen.service.videos import VideoService
from videogen.settings import Settings

from .helpers import short_article

KEY = "test-key-0123456789"
AUTH = {"Authorization": f"Bearer {KEY}"}
SMALL = {"height": 120, "fps": 8}


@pytest.fixture()
def api(tmp_path, settings):
    s = Settings(home=tmp_path / "home", cache_dir=settings.cache_path, api_keys=f"other-key,{KEY}")
    svc = VideoService(s)
    with TestClient(create_app(s, svc, run_sweeper=False)) as client:
        client.service = svc
        for name in ("get", "head"):  # reads need the key too now: sent unless a test gives its own headers
            setattr(client, name, with_key(getattr(client, name)))
        yield client


def with_key(send):
    def read(url, **kw):
        kw.setdefault("headers", AUTH)
        return send(url, **kw)
    return read


def post(api, body, headers=AUTH):
    return api.post("/v1/videos", json=body, headers=headers)


def test_write_and_read_endpoints_need_a_key(api):
    body = {**short_article(), "options": SMALL}
    assert post(api, body, headers={}).status_code == 401
    r = post(api, body, headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert r.headers["content-type"] == "application/problem+json"
    r = post(api, body, headers={"X-API-Key": KEY})
    assert r.status_code == 202
    job_id = r.json()["id"]
    assert api.get(f"/v1/videos/{job_id}").status_code == 200
    assert api.get(f"/v1/videos/{job_id}", headers={}).status_code == 401
    assert api.delete(f"/v1/videos/{job_id}").status_code == 401
    assert api.post(f"/v1/videos/{job_id}/rerender").status_code == 401


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**short_article(), "title": ""}, "title"),
        ({**short_article(), "language": 5}, "language"),
        ({**short_article(), "colour": "red"}, "colour"),
        ({**short_article(), "options": {"template": "cinema"}}, "options.template"),
        ({**short_article(), "options": {"priority": 12}}, "options.priority"),
        ({**short_article(), "options": {"bogus": 1}}, "options.bogus"),
        ({**short_article(), "images": [{"src": "/etc/passwd"}]}, "images[0].src"),
        ({**short_article(), "language": "xx"}, "language"),
        ({"articles": [short_article(), {**short_article(), "summary": None, "title": "x"}]}, "articles[1].summary"),
        ({"articles": []}, "articles"),
    ],
)
def test_invalid_requests_get_422_naming_the_field_and_queue_nothing(api, body, field):
    r = post(api, body)
    assert r.status_code == 422, r.text
    problem = r.json()
    assert problem["status"] == 422 and problem["title"]
    assert field in [e["field"] for e in problem["errors"]], problem
    assert api.get("/v1/videos").json()["items"] == []


def test_not_json_and_unknown_ids(api):
    r = api.post("/v1/videos", content=b"{nope", headers={**AUTH, "content-type": "application/json"})
    assert r.status_code == 400
    assert api.get("/v1/videos/" + "0" * 32).status_code == 404
    assert api.get("/v1/videos/../../etc/passwd").status_code == 404
    assert api.get("/v1/videos/not-an-id").status_code == 404
    assert api.get("/v1/videos/" + "0" * 32 + "/video.mp4").status_code == 404



@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("DELETE", "/v1/videos", "GET, POST"),
        ("PUT", "/v1/videos/" + "0" * 32, "DELETE, GET"),
        ("POST", "/v1/videos/" + "0" * 32 + "/video.mp4", "GET, HEAD"),
        ("GET", "/v1/videos/" + "0" * 32 + "/retry", "POST"),
        ("POST", "/v1/videos/" + "0" * 32 + "/snippet", "GET"),
        ("POST", "/health", "GET"),
    ],
)
def test_405_lists_every_method_of_the_path(api, method, path, allow):
    # The routes sit in routers of their own: Allow must look into all of them.
    r = api.request(method, path, headers=AUTH)
    assert r.status_code == 405 and r.headers["content-type"] == "application/problem+json"
    assert r.headers["allow"] == allow

def test_lifecycle_media_ranges_and_etags(api):
    r = post(api, {**short_article(), "options": SMALL})
    assert r.status_code == 202
    job = r.json()
    assert r.headers["location"] == f"/v1/videos/{job['id']}"
    assert job["status"] == "queued" and not job["deduplicated"]
    again = post(api, {**short_article(), "options": SMALL}).json()
    assert again["id"] == job["id"] and again["deduplicated"]
    media = f"/v1/videos/{job['id']}/video.mp4"
    r = api.get(media)
    assert r.status_code == 404 and r.headers["retry-after"] == "5"

    outcome = api.service.run(job["id"], "test-worker")
    assert outcome.status == "done", outcome
    done = api.get(f"/v1/videos/{job['id']}").json()
    assert done["status"] == "done" and done["percent"] == 100 and done["engine"] == "piper:en_US-joe-medium"
    assert done["links"]["video"] == media
    assert done["links"]["subtitles"].endswith(f"/v1/videos/{job['id']}/captions.srt")

    full = api.get(media)
    assert full.status_code == 200 and full.headers["content-type"] == "video/mp4"
    assert full.headers["accept-ranges"] == "bytes"
    manifest = api.get(f"/v1/videos/{job['id']}/manifest.json").json()
    assert hashlib.sha256(full.content).hexdigest() == manifest["files"]["video.mp4"]["sha256"]
    part = api.get(media, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == full.content[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(full.content)}"
    tail = api.get(media, headers={"Range": "bytes=-50"})
    assert tail.status_code == 206 and tail.content == full.content[-50:]
    assert api.get(media, headers={"Range": f"bytes={len(full.content)}-"}).status_code == 416
    etag = full.headers["etag"]
    assert api.get(media, headers={"If-None-Match": etag}).status_code == 304
    vtt = api.get(f"/v1/videos/{job['id']}/captions.vtt")
    assert vtt.headers["content-type"].startswith("text/vtt") and vtt.text.startswith("WEBVTT")
    assert api.get(f"/v1/videos/{job['id']}/poster.jpg").headers["content-type"] == "image/jpeg"
    subs = api.get(f"/v1/videos/{job['id']}/captions.srt")
    assert subs.headers["content-type"].startswith("application/x-subrip") and subs.text.startswith("1\n00:00:00,")
    assert subs.headers["etag"] == f'"{manifest["files"]["captions.srt"]["sha256"][:32]}"'
    assert api.get(f"/v1/videos/{job['id']}/secrets.txt").status_code == 404

    # Done jobs cannot be cancelled; a re-render is a new job with the same content key.
    assert api.delete(f"/v1/videos/{job['id']}", headers=AUTH).status_code == 409
    rr = api.post(f"/v1/videos/{job['id']}/rerender", headers=AUTH)
    assert rr.status_code == 202 and rr.json()["id"] != job["id"]
    assert rr.json()["content_key"] == job["content_key"]


def test_cancel_list_and_filters(api):
    ids = [post(api, {**short_article(), "id": f"a{i}", "options": SMALL}).json()["id"] for i in range(3)]
    r = api.delete(f"/v1/videos/{ids[1]}", headers=AUTH)
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert api.service.run(ids[1], "w").status == "skipped", "a cancelled job is never rendered"
    listing = api.get("/v1/videos", params={"status": "queued", "limit": 1}).json()
    assert len(listing["items"]) == 1 and listing["next"] and listing["counts"]["cancelled"] == 1
    second = api.get(listing["next"]).json()
    assert len(second["items"]) == 1 and second["items"][0]["id"] != listing["items"][0]["id"]
    assert api.get("/v1/videos", params={"status": "bogus"}).status_code == 422


def test_batch_enqueue_and_webhook_secret_is_never_shown(api, monkeypatch):
    monkeypatch.setattr(api.service.settings, "webhook_hosts_allow", "hooks.localhost")
    monkeypatch.setattr("socket.getaddrinfo", lambda *a, **k: [(2, 1, 6, "", ("127.0.0.1", 443))])
    body = {"articles": [{**short_article(), "id": f"b{i}"} for i in range(3)],
            "options": {**SMALL, "webhook_url": "https://hooks.localhost/v", "webhook_secret": "s3cret"}}
    r = post(api, body)
    assert r.status_code == 202
    jobs = r.json()["jobs"]
    assert len(jobs) == 3 and len({j["id"] for j in jobs}) == 3
    text = api.get("/v1/videos").text + api.get(f"/v1/videos/{jobs[0]['id']}").text
    assert "s3cret" not in text and "hooks.localhost" not in text, "webhook URLs are never echoed (issue 16)"
    assert r.json()["jobs"][0]["webhook"] == {"url": "set", "status": None, "count": 1}


def test_health_and_metrics(api):
    h = api.get("/health")
    assert h.status_code == 200 and h.json()["checks"]["job_store"] == "ok"
    post(api, {**short_article(), "options": SMALL})
    m = api.get("/metrics").text
    assert 'videogen_jobs{status="queued"} 1' in m and "videogen_queue_depth 1" in m
    assert 'videogen_render_seconds_bucket{le="+Inf"} 0' in m
    assert api.get("/docs").status_code == 200
    assert "/v1/videos" in api.get("/openapi.json").json()["paths"]
