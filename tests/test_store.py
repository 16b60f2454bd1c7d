"""The job store against SQLite and the real PostgreSQL server, and local storage."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from videogen.errors import LeaseLost, StorageError, StoreUnavailable
from videogen.service.storage import LocalStorage
from videogen.service.store import STORE_ERRORS, JobStore, store_failure

from .services import fresh_database


@pytest.fixture(scope="module")
def pg_url():
    with fresh_database() as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request, tmp_path):
    url = f"sqlite:///{tmp_path / 'jobs.sqlite'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    s = JobStore(url)
    s.migrate()
    s.migrate()  # idempotent
    if request.param == "postgresql":
        with s.engine.begin() as c:
            from videogen.service.schema import jobs

            c.execute(jobs.delete())
    yield s
    s.engine.dispose()


def new(store: JobStore, key: str = "k" * 64, force: bool = False):
    return store.create(article_id="a", content_key=key, template="news", voice=None, tts="auto",
                        options={}, article={"title": "t"}, force=force)


def test_same_content_is_one_job_unless_forced(store):
    a, created = new(store)
    b, again = new(store)
    assert created and not again and a.id == b.id
    c, forced = new(store, force=True)
    assert not forced and c.id == a.id, "an active job is not duplicated even with force"
    lease = store.claim(a.id, "w1")
    store.finish(a.id, lease, output="o", duration=1.0, render_seconds=1.0, engine="e")
    d, created = new(store)
    assert not created and d.id == a.id and d.status == "done"
    e, created = new(store, force=True)
    assert created and e.id != a.id and e.status == "queued"


def test_concurrent_enqueues_of_the_same_content_create_one_job(store):
    ids = []

    def go():
        ids.append(new(store, key="c" * 64)[0].id)

    threads = [threading.Thread(target=go) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(ids)) == 1
    assert store.counts()["queued"] == 1


def test_only_one_worker_claims_and_a_lost_lease_is_noticed(store):
    job, _ = new(store)
    leases = [store.claim(job.id, f"w{i}") for i in range(3)]
    assert sum(lease is not None for lease in leases) == 1
    lease = next(x for x in leases if x)
    store.heartbeat(job.id, lease, "frames", 40)
    assert store.get(job.id).percent == 40
    store.cancel(job.id)
    with pytest.raises(LeaseLost):
        store.heartbeat(job.id, lease)
    with pytest.raises(LeaseLost):
        store.finish(job.id, lease, output="o", duration=1, render_seconds=1, engine="e")
    assert store.get(job.id).status == "cancelled"


def test_stale_jobs_are_requeued_once_even_by_concurrent_sweepers(store):
    jobs = [new(store, key=f"{i:064d}")[0] for i in range(5)]
    leases = {j.id: store.claim(j.id, "dead") for j in jobs}
    time.sleep(1.2)
    results = []

    def sweep():
        results.append(store.requeue_stale(stale_after=1.0, max_attempts=3))

    threads = [threading.Thread(target=sweep) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    requeued = [j for r, _ in results for j in r]
    assert sorted(requeued) == sorted(leases), "each stale job requeued exactly once"
    for j in jobs:
        assert store.get(j.id).status == "queued"
        with pytest.raises(LeaseLost):  # the dead worker's lease no longer works
            store.heartbeat(j.id, leases[j.id])
    # The worker that comes back to life cannot finish; a new claim can.
    new_lease = store.claim(jobs[0].id, "alive")
    assert new_lease and store.get(jobs[0].id).attempts == 2


def test_a_job_that_keeps_killing_workers_fails(store):
    job, _ = new(store)
    for _ in range(2):
        store.claim(job.id, "w")
        time.sleep(1.05)
        store.requeue_stale(1.0, max_attempts=2)
    assert store.get(job.id).status == "failed"
    assert "stopped responding during 2 attempts" in store.get(job.id).error


def test_undispatched_jobs_are_found(store):
    job, _ = new(store)
    assert [j.id for j in store.undispatched(0)] == [job.id]
    store.mark_dispatched(job.id)
    assert store.undispatched(60) == []


def test_local_storage_publishes_a_whole_set(tmp_path: Path):
    st = LocalStorage(tmp_path / "media")
    key = "ab" * 16

    def staged(content: bytes) -> Path:
        d = st.staging_dir()
        for n in ("video.mp4", "poster.jpg", "captions.vtt", "captions.srt"):
            (d / n).write_bytes(content)
        (d / "manifest.json").write_text("{}")
        return d

    assert st.publish(key, staged(b"first"))
    assert b"".join(st.read(key, "video.mp4")) == b"first"
    assert not st.publish(key, staged(b"second")), "an existing set is kept without replace"
    assert st.publish(key, staged(b"third"), replace=True)
    assert b"".join(st.read(key, "video.mp4", 1, 3)) == b"hir"
    assert not list((tmp_path / "media" / ".staging").iterdir()), "staging folders cleaned up"
    incomplete = st.staging_dir()
    (incomplete / "video.mp4").write_bytes(b"x")
    with pytest.raises(StorageError, match="missing"):
        st.publish("cd" * 16, incomplete)
    assert not st.exists("cd" * 16)
    with pytest.raises(StorageError):
        st.stat("../../etc", "passwd")


def test_old_staging_folders_of_killed_workers_are_removed(tmp_path: Path):
    st = LocalStorage(tmp_path / "media")
    old, fresh = st.staging_dir(), st.staging_dir()
    (old / "video.mp4").write_bytes(b"half")
    past = time.time() - 3600
    for p in (old / "video.mp4", old):
        os.utime(p, (past, past))
    assert st.clean_staging(older_than=600) == 1
    assert not old.exists() and fresh.exists()


def read_only_twin(store: JobStore) -> JobStore:
    """A second store on the same database whose sessions cannot write."""
    if store.url.startswith("sqlite"):
        from sqlalchemy import event

        ro = JobStore(store.url)
        event.listen(ro.engine, "connect", lambda conn, _rec: conn.execute("PRAGMA query_only=1"))
        return ro
    return JobStore(store.url + ("&" if "?" in store.url else "?") + "options=-c%20default_transaction_read_only%3Don")


def test_a_store_that_cannot_write_is_told_apart_and_reported(store):
    job, _ = new(store)
    store.check()
    ro = read_only_twin(store)
    try:
        with pytest.raises(STORE_ERRORS) as e:
            new(ro, key="r" * 64)
        assert store_failure(e.value) == "read-only"
        with pytest.raises(StoreUnavailable, match="read-only"):
            ro.check()
        assert ro.get(job.id).status == "queued", "reads go on"
        store.check()
    finally:
        ro.engine.dispose()


def test_store_failures_are_classified_from_driver_codes():
    import sqlite3

    import psycopg.errors
    from sqlalchemy.exc import IntegrityError, InternalError, OperationalError

    full = sqlite3.OperationalError("database or disk is full")
    full.sqlite_errorcode = 13
    assert store_failure(OperationalError("INSERT", {}, full)) == "full"
    assert store_failure(OperationalError("INSERT", {}, psycopg.errors.DiskFull("no space"))) == "full"
    assert store_failure(InternalError("INSERT", {}, psycopg.errors.ReadOnlySqlTransaction("ro"))) == "read-only"
    assert store_failure(OperationalError("SELECT", {}, psycopg.errors.AdminShutdown("bye"))) == "unreachable"
    assert store_failure(IntegrityError("INSERT", {}, sqlite3.IntegrityError("UNIQUE"))) is None
    assert store_failure(ValueError("x")) is None
