"""The render service with real processes: ``videogen api`` and ``videogen worker`` against a
real Redis broker and against the embedded default, plus a broker that is down at first.
Recovery settings are shortened (heartbeat 0.5 s, stale after 4 s, sweep every 1 s)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from videogen.service.webhooks import verify

from .helpers import EXAMPLES, short_article
from .stack import free_port, make_stack, wait_for, worker_of_pid

KEY = "k-" + "9" * 30
AUTH = {"X-API-Key": KEY}
SMALL = {"height": 160, "fps": 10}
LONG = {"height": 360, "fps": 15}  # the 80 s French sample: several seconds of rendering
REDIS_TEST_URL = os.environ.get("VIDEOGEN_TEST_REDIS", "redis://127.0.0.1:6379/11")


def long_article(tag: str) -> dict:
    data = json.loads((EXAMPLES / "fr-chine-ia.json").read_text())
    data["id"] = f"long-{tag}"
    return data


class Hooks:
    """A webhook receiver on 127.0.0.1 that records what it gets."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        hooks = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                hooks.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args) -> None:  # type: ignore[no-untyped-def]
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def worker_of(stack, job: dict):
    """The Popen of the worker (Celery main process) whose pool child renders ``job``."""
    return next(w for w in stack.workers if w.pid in worker_of_pid(job))


def published(stack) -> list[str]:
    media = stack.home / "media"
    return sorted(p.name for p in media.iterdir() if not p.name.startswith(".")) if media.exists() else []


@pytest.fixture(scope="module")
def hooks():
    h = Hooks()
    yield h
    h.server.shutdown()


def _start(tmp_path_factory, name, broker, workers, settings, extra=None):
    stack = make_stack(tmp_path_factory.mktemp(name), broker, {
        "VIDEOGEN_API_KEYS": KEY, "VIDEOGEN_WEBHOOK_HOSTS_ALLOW": "127.0.0.1", **(extra or {})},
        cache_dir=settings.cache_path)
    stack.env["VIDEOGEN_HOME"] = str(stack.home)
    for _ in range(workers):
        stack.start_worker()
    stack.start_api()
    stack.wait_workers_ready()
    return stack


@pytest.fixture(scope="module")
def redis_stack(tmp_path_factory, settings):
    import redis

    redis.Redis.from_url(REDIS_TEST_URL).flushdb()
    stack = _start(tmp_path_factory, "redis", REDIS_TEST_URL, 2, settings)
    yield stack
    stack.stop()


@pytest.fixture(scope="module")
def embedded_stack(tmp_path_factory, settings):
    stack = _start(tmp_path_factory, "embedded", None, 2, settings)
    yield stack
    stack.stop()


# --- Redis ---------------------------------------------------------------------------------------

@pytest.mark.redis(REDIS_TEST_URL)
def test_enqueue_progress_and_download(redis_stack):
    with redis_stack.client() as c:
        r = c.post("/v1/videos", json={**long_article("progress"), "options": LONG}, headers=AUTH)
        assert r.status_code == 202, r.text
        job_id = r.json()["id"]
        seen: list[float] = []
        job = wait_for(c, job_id, on_poll=lambda j: seen.append(j["percent"]) if j["status"] == "rendering" else None)
        assert job["status"] == "done", job
        assert seen == sorted(seen), f"progress went backwards: {seen}"
        assert len({p for p in seen if 0 < p < 100}) >= 3, f"too few progress steps seen: {seen}"
        video = c.get(f"/v1/videos/{job_id}/video.mp4").content
        manifest = c.get(f"/v1/videos/{job_id}/manifest.json").json()
        stored = (redis_stack.home / "media" / job["content_key"] / "video.mp4").read_bytes()
        assert video == stored
        assert hashlib.sha256(video).hexdigest() == manifest["files"]["video.mp4"]["sha256"]
        part = c.get(f"/v1/videos/{job_id}/video.mp4", headers={"Range": "bytes=1000-4999"})
        assert part.status_code == 206 and part.content == stored[1000:5000]
        assert job["started_at"] > job["created_at"]


@pytest.mark.redis(REDIS_TEST_URL)
def test_batch_of_hot_news(redis_stack):
    articles = [json.loads(line) for line in (EXAMPLES / "hot-news-fr.jsonl").read_text().splitlines() if line.strip()]
    with redis_stack.client() as c:
        r = c.post("/v1/videos", json={"articles": articles, "options": SMALL}, headers=AUTH)
        assert r.status_code == 202, r.text
        jobs = r.json()["jobs"]
        assert len(jobs) == 7
        done = [wait_for(c, j["id"], timeout=240) for j in jobs]
    assert [j["status"] for j in done] == ["done"] * 7
    assert len({j["worker"] for j in done}) == 2, "both workers should have taken part"


@pytest.mark.redis(REDIS_TEST_URL)
def test_duplicate_enqueue_renders_once(redis_stack):
    body = {**short_article(), "id": "dup", "options": SMALL}
    with redis_stack.client() as c:
        first = c.post("/v1/videos", json=body, headers=AUTH).json()
        second = c.post("/v1/videos", json=body, headers=AUTH).json()
        assert second["id"] == first["id"] and second["deduplicated"]
        wait_for(c, first["id"])
        third = c.post("/v1/videos", json=body, headers=AUTH).json()
        assert third["id"] == first["id"] and third["status"] == "done"
        listed = c.get("/v1/videos", params={"article_id": "dup"}).json()["items"]
    assert len(listed) == 1 and listed[0]["attempts"] == 1


@pytest.mark.redis(REDIS_TEST_URL)
def test_api_key_is_enforced(redis_stack):
    with redis_stack.client(headers={}) as c:
        assert c.post("/v1/videos", json=short_article()).status_code == 401
        assert c.get("/v1/videos").status_code == 401
        assert c.post("/v1/videos", json=short_article(), headers={"Authorization": "Bearer nope"}).status_code == 401


@pytest.mark.redis(REDIS_TEST_URL)
def test_cancel_a_rendering_job_publishes_nothing(redis_stack):
    with redis_stack.client() as c:
        job_id = c.post("/v1/videos", json={**long_article("cancel"), "options": LONG}, headers=AUTH).json()["id"]
        job = wait_for(c, job_id, statuses=("rendering",), timeout=60)
        r = c.delete(f"/v1/videos/{job_id}", headers=AUTH)
        assert r.status_code == 200 and r.json()["status"] == "cancelled"
        time.sleep(3)  # the worker notices at its next heartbeat and drops the render
        job = c.get(f"/v1/videos/{job_id}").json()
        assert job["status"] == "cancelled"
        assert c.get(f"/v1/videos/{job_id}/video.mp4").status_code == 404
    assert job["content_key"] not in published(redis_stack)


@pytest.mark.redis(REDIS_TEST_URL)
def test_webhook_is_signed(redis_stack, hooks):
    body = {**short_article(), "id": "hooked", "options": {**SMALL, "webhook_url": hooks.url, "webhook_secret": "shh"}}
    with redis_stack.client() as c:
        job_id = c.post("/v1/videos", json=body, headers=AUTH).json()["id"]
        wait_for(c, job_id)
        deadline = time.monotonic() + 30
        while not hooks.received and time.monotonic() < deadline:
            time.sleep(0.2)
        assert hooks.received, "no webhook received"
        headers, raw = hooks.received[-1]
        assert verify("shh", headers["x-videogen-timestamp"], raw, headers["x-videogen-signature"])
        assert not verify("wrong", headers["x-videogen-timestamp"], raw, headers["x-videogen-signature"])
        payload = json.loads(raw)
        assert payload["event"] == "video.done" and payload["job"]["id"] == job_id
        assert "shh" not in raw.decode()
        assert c.get(f"/v1/videos/{job_id}").json()["webhook"]["status"] == "delivered (204)"


@pytest.mark.redis(REDIS_TEST_URL)
def test_editorial_webhooks(redis_stack, hooks):
    """A render in review mode announces video.review_requested; approving it video.published
    and unpublishing video.unpublished, each signed like video.done, through the real workers."""
    body = {**short_article(), "id": "reviewed", "options": {**SMALL, "publish": "review", "webhook_url": hooks.url,
                                                             "webhook_secret": "shh"}}

    def events_until(n: int) -> list[str]:
        deadline = time.monotonic() + 30
        while len(hooks.received) < n and time.monotonic() < deadline:
            time.sleep(0.2)
        got = [json.loads(raw) for _h, raw in hooks.received]
        assert all(verify("shh", h["x-videogen-timestamp"], raw, h["x-videogen-signature"]) for h, raw in hooks.received)
        return [p["event"] for p in got if p["job"]["id"] == job_id]

    hooks.received.clear()
    with redis_stack.client() as c:
        r = c.post("/v1/videos", json=body, headers=AUTH)
        assert r.status_code == 202, r.text
        job_id = r.json()["id"]
        assert wait_for(c, job_id, statuses=("review", "failed"))["status"] == "review"
        assert events_until(1) == ["video.review_requested"]
        assert c.post(f"/v1/videos/{job_id}/approve", headers=AUTH).status_code == 200
        assert events_until(2) == ["video.review_requested", "video.published"]
        assert c.post(f"/v1/videos/{job_id}/unpublish", headers=AUTH).status_code == 200
        assert events_until(3) == ["video.review_requested", "video.published", "video.unpublished"]


def _sigkill_recovery(stack) -> dict:
    with stack.client() as c:
        job_id = c.post("/v1/videos", json={**long_article(f"kill-{stack.port}"), "options": LONG}, headers=AUTH).json()["id"]
        job = wait_for(c, job_id, statuses=("rendering",), timeout=60)
        while job["percent"] < 20:
            time.sleep(0.1)
            job = c.get(f"/v1/videos/{job_id}").json()
        victim = worker_of(stack, job)
        first_worker = job["worker"]
        stack.kill(victim)
        killed_at = time.monotonic()
        done = wait_for(c, job_id, timeout=120)
        recovered = time.monotonic() - killed_at
        stack.workers.remove(victim)
        stack.start_worker()  # keep two workers for later tests
    assert done["status"] == "done", done
    assert done["attempts"] == 2 and done["worker"] != first_worker
    assert recovered < 60, f"took {recovered:.1f}s after the kill"
    assert published(stack).count(done["content_key"]) == 1
    folder = stack.home / "media" / done["content_key"]
    assert sorted(p.name for p in folder.iterdir()) == ["captions.srt", "captions.vtt", "manifest.json", "poster.jpg", "video.mp4"]
    manifest = json.loads((folder / "manifest.json").read_text())
    assert hashlib.sha256((folder / "video.mp4").read_bytes()).hexdigest() == manifest["files"]["video.mp4"]["sha256"]
    print(f"\nSIGKILL → done on another worker: {recovered:.1f}s")
    return done


@pytest.mark.redis(REDIS_TEST_URL)
def test_sigkill_mid_render_redis(redis_stack):
    _sigkill_recovery(redis_stack)


# --- embedded broker -------------------------------------------------------------------------------

def test_embedded_broker_renders_and_reports_latency(embedded_stack):
    with embedded_stack.client() as c:
        latencies = []
        for i in range(3):
            job_id = c.post("/v1/videos", json={**short_article(), "id": f"emb{i}", "options": SMALL}, headers=AUTH).json()["id"]
            job = wait_for(c, job_id)
            assert job["status"] == "done", job
            from datetime import datetime

            latencies.append((datetime.fromisoformat(job["started_at"]) - datetime.fromisoformat(job["created_at"])).total_seconds())
        print(f"\nembedded broker enqueue→start: {[round(x, 3) for x in latencies]}")
        assert c.get(f"/v1/videos/{job_id}/poster.jpg").status_code == 200


def test_sigkill_mid_render_embedded(embedded_stack):
    _sigkill_recovery(embedded_stack)


# --- broker down ------------------------------------------------------------------------------------

def test_broker_down_accepts_and_renders_once_it_is_back(tmp_path_factory, settings):
    """The API accepts (202) and keeps the job queued in the store while the broker is down;
    the sweeper sends it once the broker is back. Never a 500, never a lost job."""
    port = free_port()
    broker = f"redis://127.0.0.1:{port}/0"
    stack = make_stack(tmp_path_factory.mktemp("down"), broker, {"VIDEOGEN_API_KEYS": KEY}, cache_dir=settings.cache_path)
    redis_server = None
    try:
        stack.start_api()
        with stack.client() as c:
            t0 = time.monotonic()
            r = c.post("/v1/videos", json={**short_article(), "id": "down", "options": SMALL}, headers=AUTH)
            assert r.status_code == 202, r.text
            assert time.monotonic() - t0 < 10
            job_id = r.json()["id"]
            assert c.get("/health").status_code == 503
            time.sleep(2)
            assert c.get(f"/v1/videos/{job_id}").json()["status"] == "queued"
            redis_server = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                                             "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL)
            stack.start_worker()
            job = wait_for(c, job_id, timeout=90)
            assert job["status"] == "done", job
            assert c.get("/health").status_code == 200
    finally:
        stack.stop()
        if redis_server:
            redis_server.terminate()
            redis_server.wait(timeout=10)
