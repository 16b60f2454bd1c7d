"""Schema migrations: an old (v1) job store with jobs is upgraded without losing any, and
several processes migrating the same PostgreSQL database at once end with one correct schema."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from sqlalchemy import create_engine, func, insert, inspect, select

from videogen.service.migrations import LATEST, MIGRATIONS
from videogen.service.schema import job_events, jobs, metadata, now, schema_version
from videogen.service.store import JobStore

from .services import fresh_database


def make_v1(url: str, n_jobs: int) -> list[str]:
    """A job store as the v1 code left it: jobs + videogen_schema(1), no job_events."""
    engine = create_engine(url)
    metadata.create_all(engine, tables=[jobs, schema_version])
    ids = []
    with engine.begin() as c:
        c.execute(insert(schema_version).values(version=1, applied_at=now()))
        for i in range(n_jobs):
            job_id = f"{i:032x}"
            ids.append(job_id)
            c.execute(insert(jobs).values(
                id=job_id, article_id=f"a{i}", content_key=f"{i:064x}", template="news", options="{}",
                article=json.dumps({"title": f"t{i}"}), status=("done", "failed", "queued", "rendering")[i % 4],
                percent=0.0, attempts=1, priority=i % 10, created_at=now(), error="boom" if i % 4 == 1 else None))
    engine.dispose()
    return ids


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'jobs.sqlite'}"
    else:
        with fresh_database("videogen_mig") as url:
            yield url


def test_v1_store_upgrades_to_latest_and_keeps_every_job(db_url):
    ids = make_v1(db_url, 40)
    store = JobStore(db_url)
    before = {j.id: (j.status, j.error, j.priority, j.article) for j in store.list(limit=100)}
    assert store.schema_version() == 1
    assert store.migrate() == sorted(MIGRATIONS)[1:]
    assert store.schema_version() == LATEST
    assert store.migrate() == [], "migrating again changes nothing"
    after = {j.id: (j.status, j.error, j.priority, j.article) for j in store.list(limit=100)}
    assert after == before and sorted(after) == sorted(ids)
    assert inspect(store.engine).has_table("job_events")
    # The upgraded store works: new state changes are recorded as events.
    job = store.get(ids[2])  # queued
    lease = store.claim(job.id, "host-a:1")
    store.finish(job.id, lease, output="k", duration=1.0, render_seconds=2.0, engine="e")
    assert [e.event for e in store.events(job.id)] == ["rendering", "done"]
    assert store.events(job.id)[0].worker == "host-a:1"
    store.engine.dispose()


def test_fresh_store_gets_every_version_once(tmp_path):
    store = JobStore(f"sqlite:///{tmp_path / 'j.sqlite'}")
    assert store.migrate() == sorted(MIGRATIONS)
    with store.engine.connect() as c:
        assert c.execute(select(func.count()).select_from(schema_version)).scalar() == len(MIGRATIONS)
        assert c.execute(select(func.count()).select_from(job_events)).scalar() == 0


MIGRATE = """
import json, sys, time
from videogen.service.store import JobStore
start = float(sys.argv[2])
store = JobStore(sys.argv[1])
time.sleep(max(0.0, start - time.time()))
print(json.dumps(store.migrate()))
"""


@pytest.mark.postgres
def test_processes_migrating_postgresql_at_once_end_with_one_schema():
    with fresh_database("videogen_mig") as url:
        ids = make_v1(url, 25)
        start = time.time() + 2.5
        procs = [subprocess.Popen([sys.executable, "-c", MIGRATE, url, str(start)], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(6)]
        results = []
        for p in procs:
            out, err = p.communicate(timeout=60)
            assert p.returncode == 0, err
            results.append(json.loads(out.strip().splitlines()[-1]))
        assert sorted(results, key=len) == [[]] * 5 + [sorted(MIGRATIONS)[1:]], results
        store = JobStore(url)
        assert store.schema_version() == LATEST
        with store.engine.connect() as c:
            versions = [r[0] for r in c.execute(select(schema_version.c.version).order_by(schema_version.c.version))]
        assert versions == sorted(MIGRATIONS)
        assert sorted(j.id for j in store.list(limit=100)) == sorted(ids)
        store.engine.dispose()
