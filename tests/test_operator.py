"""The operator's view: GET /v1/queue, retry, job events, per-worker metrics, and the
`videogen queue` / `videogen retry` commands, against a real Redis broker for queue depth."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from videogen.http.app import create_app
from videogen.service.schema import jobs, now
from videogen.service.videos import JobOptions, VideoService
from videogen.settings import Settings

from .helpers import short_article

KEY = "operator-key-0123456789"
AUTH = {"Authorization": f"Bearer {KEY}"}
REDIS_URL = os.environ.get("VIDEOGEN_TEST_REDIS_OPERATOR", "redis://127.0.0.1:6379/12")


@pytest.fixture()
def fleet(tmp_path, settings):
    """A service whose wake-up calls go to a real Redis queue, with jobs in every state."""
    import redis

    from workers.celery_app import make_app
    from workers.dispatch import broker_queue_depth, dispatch_render

    redis.Redis.from_url(REDIS_URL).flushdb()
    s = Settings(home=tmp_path / "home", cache_dir=settings.cache_path, api_keys=KEY, broker_url=REDIS_URL,
                 stale_after=20)
    app = make_app(s)
    svc = VideoService(s, dispatch=lambda job: dispatch_render(job, app))
    svc.migrate()
    st = svc.store
    made = {}
    for i, name in enumerate(["done1", "done2", "done3", "running", "stale", "failed", "queued"]):
        job, _ = st.create(article_id=name, content_key=f"{i:064x}", template="news", voice=None, tts="auto",
                           options={}, article={"title": f"Story {name}"})
        made[name] = job.id
    for name, worker, secs in (("done1", "host-a:11", 3.0), ("done2", "host-a:11", 4.5), ("done3", "host-b:7", 2.0)):
        lease = st.claim(made[name], worker)
        st.finish(made[name], lease, output="k", duration=10.0, render_seconds=secs, engine="piper")
    st.claim(made["running"], "host-b:7")
    st.claim(made["stale"], "host-c:3")
    lease = st.claim(made["failed"], "host-a:11")
    st.fail(made["failed"], lease, "image host unreachable")
    with st.engine.begin() as c:
        c.execute(update(jobs).where(jobs.c.id == made["stale"]).values(heartbeat_at=now() - timedelta(seconds=30)))
    svc.send(st.get(made["queued"]))
    client = TestClient(create_app(s, svc, run_sweeper=False, queue_depth=lambda: broker_queue_depth(app)))
    with client:
        yield client, svc, made, s
    redis.Redis.from_url(REDIS_URL).flushdb()


@pytest.mark.redis(REDIS_URL)
def test_queue_view(fleet):
    api, _svc, made, _s = fleet
    q = api.get("/v1/queue", headers=AUTH).json()
    assert q["broker_queue_depth"] == 1 and q["broker_error"] is None
    assert q["counts"] == {"queued": 1, "rendering": 2, "review": 0, "done": 3, "failed": 1, "rejected": 0, "cancelled": 0}
    running = {j["id"]: j for j in q["running"]}
    assert set(running) == {made["running"], made["stale"]}
    assert running[made["stale"]]["worker"] == "host-c:3" and 29 <= running[made["stale"]]["heartbeat_age"] < 60
    assert running[made["running"]]["heartbeat_age"] < 10 and running[made["running"]]["title"] == "Story running"
    assert [(f["id"], f["error"]) for f in q["failed"]] == [(made["failed"], "image host unreachable")]
    assert q["workers"] == [{"worker": "host-a:11", "renders": 2, "render_seconds": 7.5},
                            {"worker": "host-b:7", "renders": 1, "render_seconds": 2.0}]
    assert q["stale_after"] == 20


@pytest.mark.redis(REDIS_URL)
def test_retry_and_events(fleet):
    api, svc, made, _s = fleet
    fid = made["failed"]
    assert api.post(f"/v1/videos/{fid}/retry").status_code == 401
    r = api.post(f"/v1/videos/{fid}/retry", headers=AUTH)
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["id"] == fid and job["status"] == "queued" and job["attempts"] == 0 and job["error"] is None
    assert api.get("/v1/queue", headers=AUTH).json()["broker_queue_depth"] == 2, "the retried job was sent to the broker"
    r = api.post(f"/v1/videos/{fid}/retry", headers=AUTH)
    assert r.status_code == 409 and "queued" in r.json()["detail"]
    assert api.post(f"/v1/videos/{made['done1']}/retry", headers=AUTH).status_code == 409
    assert api.post(f"/v1/videos/{'0' * 32}/retry", headers=AUTH).status_code == 404
    events = api.get(f"/v1/videos/{fid}/events", headers=AUTH).json()
    assert [e["event"] for e in events["items"]] == ["queued", "rendering", "failed", "retried"]
    assert events["items"][1]["worker"] == "host-a:11" and events["items"][2]["detail"] == "image host unreachable"
    assert "image host unreachable" in events["items"][3]["detail"]
    # A retried job renders normally: claim and finish under the same id.
    lease = svc.store.claim(fid, "host-b:7")
    svc.store.finish(fid, lease, output="k", duration=1.0, render_seconds=1.0, engine="e")
    assert api.get(f"/v1/videos/{fid}", headers=AUTH).json()["status"] == "done"
    # Cancelled, then another job took its content: retrying would render it twice.
    cid = made["queued"]
    assert api.delete(f"/v1/videos/{cid}", headers=AUTH).json()["status"] == "cancelled"
    other, created = svc.store.create(article_id="x", content_key=svc.store.get(cid).content_key, template="news",
                                      voice=None, tts="auto", options={}, article={"title": "again"})
    assert created
    r = api.post(f"/v1/videos/{cid}/retry", headers=AUTH)
    assert r.status_code == 409 and "same content" in r.json()["detail"]
    assert api.get(f"/v1/videos/{'0' * 32}/events", headers=AUTH).status_code == 404


@pytest.mark.redis(REDIS_URL)
def test_metrics_per_worker(fleet):
    api, _svc, made, _s = fleet
    text = api.get("/metrics", headers=AUTH).text
    assert 'videogen_worker_renders_total{worker="host-a:11"} 2' in text
    assert 'videogen_worker_render_seconds_total{worker="host-a:11"} 7.500' in text
    assert 'videogen_worker_renders_total{worker="host-b:7"} 1' in text
    assert "videogen_broker_queue_depth 1" in text
    assert f'videogen_heartbeat_age_seconds{{job="{made["stale"]}",worker="host-c:3"}} 3' in text


@pytest.mark.redis(REDIS_URL)
def test_queue_and_retry_commands(fleet, tmp_path):
    _api, _svc, made, s = fleet
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIDEOGEN_")}
    env.update(VIDEOGEN_HOME=str(s.home), VIDEOGEN_BROKER_URL=REDIS_URL, VIDEOGEN_STALE_AFTER="20")
    cli = [sys.executable, "-m", "videogen.cli"]
    r = subprocess.run([*cli, "queue", "--json"], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    view = json.loads(r.stdout)
    assert view["broker_queue_depth"] == 1 and view["counts"]["rendering"] == 2
    r = subprocess.run([*cli, "queue"], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "broker queue: 1" in r.stdout and "host-c:3" in r.stdout and "STALE" in r.stdout
    assert "image host unreachable" in r.stdout and "host-a:11" in r.stdout
    r = subprocess.run([*cli, "retry", made["failed"]], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.split() == [made["failed"], "queued"], r.stdout + r.stderr
    r = subprocess.run([*cli, "retry", made["done1"]], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 3 and "only failed or cancelled" in r.stderr


def test_a_worker_that_lost_its_job_changes_nothing(tmp_path, settings):
    """Requeued mid-render and claimed by another worker: the first worker must not publish,
    fail the job or fire its webhook."""
    from videogen.render.article import parse_article

    s = Settings(home=tmp_path / "home", cache_dir=settings.cache_path, heartbeat_interval=0.2)
    notified = []
    svc = VideoService(s, notify=notified.append)
    svc.migrate()
    job, _ = svc.enqueue(parse_article(short_article(id="lost-job")), JobOptions(height=120, fps=8))
    with svc.store.engine.begin() as c:  # a webhook (set here: enqueue would resolve its host)
        c.execute(update(jobs).where(jobs.c.id == job.id).values(webhook_url="https://hooks.example.org/x"))
    # host-a's heartbeats pass through a gate the test holds while it plays the sweeper and
    # host-b, so no beat (nor host-a's last check before publishing) lands in that window.
    gate, beat = threading.Lock(), svc.store.heartbeat

    def gated_heartbeat(*args, **kwargs):
        with gate:
            return beat(*args, **kwargs)

    svc.store.heartbeat = gated_heartbeat
    outcome = {}
    t = threading.Thread(target=lambda: outcome.setdefault("o", svc.run(job.id, "host-a:1")))
    t.start()
    deadline = time.monotonic() + 30
    while svc.store.get(job.id).status != "rendering" and time.monotonic() < deadline:
        time.sleep(0.01)
    with gate:
        with svc.store.engine.begin() as c:  # host-a went silent for a minute (as seen by a sweeper)
            c.execute(update(jobs).where(jobs.c.id == job.id).values(heartbeat_at=now() - timedelta(seconds=60)))
        requeued, _ = svc.store.requeue_stale(20, 3)
        assert requeued == [job.id]
        assert svc.store.claim(job.id, "host-b:2")
    t.join(60)
    assert outcome["o"].status == "lost"
    after = svc.store.get(job.id)
    assert after.status == "rendering" and after.worker == "host-b:2"
    assert not svc.storage.exists(job.content_key), "the lost worker published"
    assert notified == []
    assert [e.event for e in svc.store.events(job.id)] == ["queued", "rendering", "requeued", "rendering"]


@pytest.mark.parametrize("error", ["render", "crash"])
def test_a_worker_that_lost_its_job_then_fails_does_not_fail_it(tmp_path, settings, monkeypatch, error):
    """The render breaks after the job was given to another worker: the first worker must not
    mark the other worker's attempt failed, nor fire the webhook."""
    import videogen.service.videos as service_mod
    from videogen.errors import VideogenError
    from videogen.render.article import parse_article

    s = Settings(home=tmp_path / "home", cache_dir=settings.cache_path)
    notified = []
    svc = VideoService(s, notify=notified.append)
    svc.migrate()
    job, _ = svc.enqueue(parse_article(short_article(id=f"lost-then-{error}")), JobOptions(height=120, fps=8))
    with svc.store.engine.begin() as c:
        c.execute(update(jobs).where(jobs.c.id == job.id).values(webhook_url="https://hooks.example.org/x"))

    def render_taken_over(*_a, **_kw):  # meanwhile a sweeper gave the job to host-b, then this render breaks
        with svc.store.engine.begin() as c:
            c.execute(update(jobs).where(jobs.c.id == job.id).values(heartbeat_at=now() - timedelta(seconds=60)))
        assert svc.store.requeue_stale(20, 3)[0] == [job.id]
        assert svc.store.claim(job.id, "host-b:2")
        if error == "render":
            raise VideogenError("encoder exploded")
        raise RuntimeError("bug")

    monkeypatch.setattr(service_mod, "render_article", render_taken_over)
    outcome = svc.run(job.id, "host-a:1")
    assert outcome.status == "lost"
    after = svc.store.get(job.id)
    assert after.status == "rendering" and after.worker == "host-b:2" and after.error is None
    assert notified == []
