"""Wake-up calls and broker reads (issue 16, defects 2 and 5): a sweeper re-sends a queued
job's wake-up call only when the broker lost it, the broker's depth is read at most once per
period over connections that go back to their pool, and a drained job-store pool answers 503
quickly. Against the embedded SQL broker and a real Redis."""

from __future__ import annotations

import os
import sqlite3
import threading
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from videogen.http.app import create_app
from videogen.service.schema import jobs, now
from videogen.service.videos import VideoService, lost_wakeups
from videogen.settings import Settings

REDIS_URL = os.environ.get("VIDEOGEN_TEST_REDIS", "redis://127.0.0.1:6379/13")
JOBS = 12


@pytest.fixture(params=["embedded", pytest.param("redis", marks=pytest.mark.redis(REDIS_URL))])
def broker(request, tmp_path, settings):
    """(service, celery app, settings) with no worker: every message stays in the broker."""
    from workers.celery_app import make_app
    from workers.dispatch import broker_queue_depth, dispatch_render

    url = None
    if request.param == "redis":
        import redis

        url = REDIS_URL
        redis.Redis.from_url(url).flushdb()
    s = Settings(home=tmp_path / "home", cache_dir=settings.cache_path, broker_url=url, redispatch_after=60)
    app = make_app(s)
    svc = VideoService(s, dispatch=lambda job: dispatch_render(job, app), broker_depth=lambda: broker_queue_depth(app))
    svc.migrate()
    yield svc, app, s
    if url:
        import redis

        redis.Redis.from_url(url).flushdb()


def _queue(svc: VideoService, n: int) -> list[str]:
    ids = []
    for i in range(n):
        job, _ = svc.store.create(article_id=f"a{i}", content_key=f"{i:064x}", template="news", voice=None,
                                  tts="auto", options={}, article={"title": f"Story {i}"})
        assert svc.send(job)
        ids.append(job.id)
    return ids


def _time_passes(svc: VideoService) -> None:
    """Every wake-up call sent so far was sent an hour ago (past ``redispatch_after``)."""
    with svc.store.engine.begin() as c:
        c.execute(update(jobs).where(jobs.c.dispatched_at.is_not(None)).values(dispatched_at=now() - timedelta(hours=1)))


def _lose_messages(app, s: Settings, n: int) -> None:
    """Delete ``n`` messages from the broker, as a broker that lost them would."""
    if s.broker.startswith("sqla+"):
        with sqlite3.connect(s.home / "broker.sqlite") as db:
            db.execute("DELETE FROM kombu_message WHERE id IN (SELECT id FROM kombu_message ORDER BY id LIMIT ?)", (n,))
        return
    import redis

    r = redis.Redis.from_url(s.broker)
    keys = [k for k in r.keys("videogen*") if r.type(k) == b"list"]
    for _ in range(n):
        assert any(r.lpop(k) for k in keys)


def test_waiting_jobs_get_no_duplicate_wakeups_however_many_sweeps(broker):
    """A worker outage: jobs wait their turn for many redispatch periods. Before the fix each
    sweep after ``redispatch_after`` sent every queued job a new message (12 jobs, 20
    periods: 252 messages)."""
    from workers.dispatch import broker_queue_depth

    svc, app, _s = broker
    _queue(svc, JOBS)
    for _ in range(20):
        _time_passes(svc)
        assert svc.sweep()["dispatched"] == 0
    assert broker_queue_depth(app) == JOBS == svc.store.counts()["queued"]


def test_a_lost_wakeup_is_sent_again_once(broker):
    from workers.dispatch import broker_queue_depth

    svc, app, s = broker
    _queue(svc, JOBS)
    _lose_messages(app, s, 3)
    assert broker_queue_depth(app) == JOBS - 3
    _time_passes(svc)
    assert svc.sweep()["dispatched"] == 3
    assert broker_queue_depth(app) == JOBS
    _time_passes(svc)
    assert svc.sweep()["dispatched"] == 0, "sent once: the broker holds a message for every queued job again"
    assert broker_queue_depth(app) == JOBS


def test_a_job_never_sent_is_sent_at_the_next_sweep_and_an_unreadable_broker_blocks_only_resends(broker):
    from workers.dispatch import broker_queue_depth

    svc, app, _s = broker
    _queue(svc, 2)
    job, _ = svc.store.create(article_id="x", content_key="f" * 64, template="news", voice=None, tts="auto",
                              options={}, article={"title": "never sent"})
    svc.store.mark_undispatched(job.id)  # the broker was down when it was created
    _time_passes(svc)
    _lose_messages(app, _s, 1)

    def down() -> int:
        raise ConnectionError("broker down")

    real, svc.broker_depth = svc.broker_depth, down
    assert svc.sweep()["dispatched"] == 1, "the job never sent is sent; no guess at lost ones without a depth"
    svc.broker_depth = real
    _time_passes(svc)
    assert svc.sweep()["dispatched"] == 1, "the lost one, once the depth can be read"
    assert broker_queue_depth(app) == 3


def test_lost_wakeups_counts_only_a_shortfall():
    assert lost_wakeups(10, 10) == 0
    assert lost_wakeups(10, 7) == 3
    assert lost_wakeups(3, 400) == 0  # stale messages of finished jobs hide nothing for long


def test_a_stale_message_is_dropped_without_touching_the_job(broker):
    """What a worker does with a duplicate whose job is done or cancelled: nothing, at once."""
    svc, _app, _s = broker
    [job_id] = _queue(svc, 1)
    svc.cancel(job_id)
    before = svc.store.events(job_id)
    assert svc.run(job_id, "w:1").status == "skipped"
    assert svc.store.events(job_id) == before and svc.store.get(job_id).status == "cancelled"


# --- broker reads -------------------------------------------------------------------------------

def test_the_probe_makes_one_broker_call_for_a_burst_and_returns_its_connection(broker):
    from workers.dispatch import BrokerProbe

    svc, app, s = broker
    _queue(svc, 3)
    probe = BrokerProbe(app, ttl=60)
    gate = threading.Barrier(50)
    depths: list[int] = []

    def read() -> None:
        gate.wait()
        depths.append(probe.depth())
        probe.check()

    threads = [threading.Thread(target=read) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert depths == [3] * 50 and probe.broker_calls == 1
    assert probe.fresh_depth() == 3 and probe.broker_calls == 2
    if s.broker.startswith("sqla+"):
        from kombu.transport.sqlalchemy import Channel

        engine, _ = Channel._engines[s.broker.removeprefix("sqla+")]
        assert engine.pool.checkedout() == 0, "the depth read left no database connection checked out"


def test_depth_reads_return_their_sql_connections(tmp_path, settings):
    """Before the fix each read left one pooled connection of the SQL transport checked out
    (5 + 10 of them drained the pool; the next broker call waited 30 s)."""
    from kombu.transport.sqlalchemy import Channel

    from workers.celery_app import make_app
    from workers.dispatch import broker_queue_depth

    s = Settings(home=tmp_path / "home")
    app = make_app(s)
    for _ in range(40):
        assert broker_queue_depth(app) == 0
    engine, _ = Channel._engines[s.broker.removeprefix("sqla+")]
    assert engine.pool.checkedout() == 0


def test_a_broker_that_is_down_is_remembered_for_the_period():
    from workers.dispatch import BrokerProbe

    calls = []

    class Down(BrokerProbe):
        def _connection(self):
            calls.append(1)
            raise ConnectionError("refused")

    probe = Down(app=object(), ttl=60)  # type: ignore[arg-type]
    for _ in range(5):
        with pytest.raises(ConnectionError):
            probe.depth()
        with pytest.raises(ConnectionError):
            probe.check()
    assert len(calls) == 1


def test_a_drained_job_store_pool_answers_503_with_retry_after(tmp_path, settings):
    s = Settings(home=tmp_path / "home", cache_dir=settings.cache_path, db_pool_size=1, db_max_overflow=0,
                 db_pool_timeout=0.2)
    svc = VideoService(s)
    svc.migrate()
    client = TestClient(create_app(s, svc, run_sweeper=False))
    with client, svc.store.engine.connect():  # the only connection is taken
        r = client.get("/v1/videos")
        assert r.status_code == 503 and r.headers["Retry-After"] == "2"
        assert r.headers["content-type"] == "application/problem+json" and "job store" in r.json()["detail"]
    assert client.get("/v1/videos").status_code == 200


# --- a worker on the embedded broker --------------------------------------------------------------

def test_a_full_sql_worker_hands_back_to_its_loop_at_once(tmp_path):
    """While no channel can take a message, the SQL transport returns within one polling
    interval (so Celery's loop acknowledges the finished task) without querying the broker."""
    import socket
    import time

    from kombu.transport import sqlalchemy as kombu_sql

    from workers.celery_app import make_app

    make_app(Settings(home=tmp_path / "home"))

    class Full:
        _consumers = {"tag"}

        class qos:  # noqa: N801 - stands for the channel's QoS object
            @staticmethod
            def can_consume() -> bool:
                return False

    transport = kombu_sql.Transport.__new__(kombu_sql.Transport)
    transport.channels = [Full()]
    t = time.monotonic()
    with pytest.raises(socket.timeout):
        transport.drain_events(None, timeout=2.0)
    assert time.monotonic() - t < 1.0


def test_a_worker_drops_stale_messages_quickly_on_the_embedded_broker(tmp_path, settings):
    """Messages of cancelled jobs: each is dropped in milliseconds, and the next one is taken
    within a polling interval (before: one message per 2 s, 40 s for these 20)."""
    import subprocess
    import sys
    import time

    from workers.celery_app import make_app
    from workers.dispatch import broker_queue_depth, dispatch_render

    s = Settings(home=tmp_path / "home", cache_dir=settings.cache_path)
    app = make_app(s)
    svc = VideoService(s, dispatch=lambda job: dispatch_render(job, app))
    svc.migrate()
    for job_id in _queue(svc, 20):
        svc.cancel(job_id)
    env = {**os.environ, "VIDEOGEN_HOME": str(s.home), "VIDEOGEN_CACHE_DIR": str(settings.cache_path)}
    env.pop("VIDEOGEN_BROKER_URL", None)
    env.pop("VIDEOGEN_DATABASE_URL", None)
    worker = subprocess.Popen([sys.executable, "-m", "videogen.cli", "worker", "--quiet", "--name", f"stale-{os.getpid()}@%h"],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert worker.stdout is not None
        line = worker.stdout.readline()  # the worker's one "ready" line
        assert "ready" in line, line
        t = time.monotonic()
        while broker_queue_depth(app) and time.monotonic() - t < 60:
            time.sleep(0.1)
        elapsed = time.monotonic() - t
        assert broker_queue_depth(app) == 0
        assert elapsed < 20, f"20 stale messages took {elapsed:.1f}s"
    finally:
        worker.terminate()
        worker.wait(30)
    assert {j.status for j in svc.store.list(limit=50)} == {"cancelled"}


# --- heavy reads ------------------------------------------------------------------------------------

def test_heavy_reads_beyond_the_limit_wait_and_then_get_503_while_others_pass():
    import asyncio

    import httpx

    from videogen.http.readgate import ReadGate

    release = asyncio.Event()

    async def slow_app(scope, receive, send):
        if scope["path"] == "/v1/queue":
            await release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    async def main():
        gate = ReadGate(slow_app, limit=1, wait=0.3)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=gate), base_url="http://t") as client:
            first = asyncio.create_task(client.get("/v1/queue"))
            await asyncio.sleep(0.05)
            second = await client.get("/metrics")  # waits 0.3 s for the one slot, then 503
            single = await client.get("/v1/videos/" + "a" * 32)  # not a heavy read: never waits
            write = await client.post("/v1/videos")
            release.set()
            return await first, second, single, write

    first, second, single, write = asyncio.run(main())
    assert first.status_code == 200 and single.status_code == 200 and write.status_code == 200
    assert second.status_code == 503 and second.headers["Retry-After"] == "2"
    assert second.headers["content-type"] == "application/problem+json"
