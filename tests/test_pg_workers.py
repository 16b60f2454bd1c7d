"""PostgreSQL job store shared by many processes: sweepers running at once re-enqueue a lost
job exactly once, a forked worker child gets its own connections, pools follow the settings."""

from __future__ import annotations

import multiprocessing as mp
import os
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from sqlalchemy import update

from videogen.service.schema import jobs, now
from videogen.service.store import JobStore
from videogen.service.videos import VideoService
from videogen.settings import Settings

from .services import fresh_database

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def pg_url():
    with fresh_database("videogen_workers") as url:
        JobStore(url).migrate()
        yield url


def new_job(store: JobStore, key: str) -> str:
    job, _ = store.create(article_id="a", content_key=key, template="news", voice=None, tts="auto",
                          options={}, article={"title": "t"})
    return job.id


def _sweeper(url: str, home: str, sent_log: str, start: float, rounds: int) -> None:
    def dispatch(job):  # type: ignore[no-untyped-def]
        with open(sent_log, "a") as f:  # O_APPEND: one whole line per write
            f.write(f"{job.id} {os.getpid()}\n")

    svc = VideoService(Settings(home=home, database_url=url, stale_after=5, redispatch_after=60), dispatch=dispatch)
    time.sleep(max(0.0, start - time.time()))
    for _ in range(rounds):
        svc.sweep()
    svc.store.engine.dispose()


def test_sweepers_at_once_reenqueue_a_lost_job_exactly_once(pg_url, tmp_path):
    store = JobStore(pg_url)
    lost = [new_job(store, f"{i:064x}") for i in range(4)]
    for job_id in lost:
        assert store.claim(job_id, "dead-host:1")
    undispatched = new_job(store, "f" * 64)
    with store.engine.begin() as c:  # silent for a minute; one queued job whose wake-up call was lost
        c.execute(update(jobs).where(jobs.c.id.in_(lost)).values(heartbeat_at=now() - timedelta(seconds=60)))
        c.execute(update(jobs).where(jobs.c.id == undispatched).values(dispatched_at=None))
    sent_log = tmp_path / "sent.log"
    ctx = mp.get_context("fork")
    start = time.time() + 1.5
    procs = [ctx.Process(target=_sweeper, args=(pg_url, str(tmp_path / f"h{i}"), str(sent_log), start, 3)) for i in range(6)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    sent = [line.split() for line in sent_log.read_text().splitlines()]
    ids = sorted(s[0] for s in sent)
    assert ids == sorted([*lost, undispatched]), f"each job sent exactly once: {sent}"
    assert len({s[1] for s in sent}) >= 1
    for job_id in lost:
        job = store.get(job_id)
        assert job.status == "queued" and job.worker is None and job.attempts == 1
        events = [e.event for e in store.events(job_id)]
        assert events == ["queued", "rendering", "requeued"], events
        assert "dead-host:1" in store.events(job_id)[-1].detail
    # The lost worker comes back: every write it tries is refused (its lease is gone).
    store.engine.dispose()


def _child_backend(store: JobStore, dispose: bool, conn) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import text

    if dispose:
        store.dispose_after_fork()
    with store.engine.connect() as c:
        conn.send(c.execute(text("SELECT pg_backend_pid()")).scalar())
    conn.close()


def test_a_forked_child_opens_its_own_connections(pg_url, tmp_path):
    from sqlalchemy import text

    store = JobStore(pg_url, pool_size=1, max_overflow=0)
    with store.engine.connect() as c:
        parent_pid = c.execute(text("SELECT pg_backend_pid()")).scalar()
    ctx = mp.get_context("fork")
    a, b = ctx.Pipe()
    p = ctx.Process(target=_child_backend, args=(store, True, b))
    p.start()
    child_pid = a.recv()
    p.join(20)
    assert child_pid != parent_pid, "the child used the parent's connection"
    with store.engine.connect() as c:  # the parent's connection still works
        assert c.execute(text("SELECT pg_backend_pid()")).scalar() == parent_pid
    store.engine.dispose()
    # Celery calls the hook in every new pool child of a worker.
    check = ("from celery.signals import worker_process_init\n"
             "import workers.tasks as t\n"
             "assert any(r[1]() is t._fresh_connections_after_fork for r in worker_process_init.receivers)\n")
    env = {**os.environ, "VIDEOGEN_HOME": str(tmp_path), "VIDEOGEN_DATABASE_URL": pg_url}
    r = subprocess.run([sys.executable, "-c", check], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr


def test_pool_is_sized_by_the_settings(pg_url, tmp_path):
    svc = VideoService(Settings(home=tmp_path, database_url=pg_url, db_pool_size=3, db_max_overflow=7))
    pool = svc.store.engine.pool
    assert pool.size() == 3 and pool._max_overflow == 7 and pool._pre_ping
    svc.store.engine.dispose()
