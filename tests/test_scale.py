"""The job store at scale (issue 21): keyset pages with their filters and tamper-proof cursors,
oEmbed of an old article through the canonical-URL index, maintained counters equal to a real
COUNT, migration 6 on a store with rows (SQLite and PostgreSQL), and ``bench store --seed``."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, insert, select

from videogen.cli.bench_store import CLIP_KEY, seed, status_of
from videogen.http.app import create_app
from videogen.service.migrations import LATEST
from videogen.service.schema import jobs, now
from videogen.service.store import JobStore
from videogen.service.videos import VideoService
from videogen.settings import Settings

from .services import fresh_database

SEEDED = 240


@pytest.fixture(scope="module")
def bench(tmp_path_factory, settings):
    """An API over a SQLite store seeded by ``bench store --seed`` (one real 144 px clip)."""
    home = tmp_path_factory.mktemp("scale-home")
    s = Settings(home=home, cache_dir=settings.cache_path, rate_limit=0)
    svc = VideoService(s)
    result = seed(svc, s, SEEDED)
    assert result["seeded"] == SEEDED and result["jobs"] == SEEDED
    with TestClient(create_app(s, svc, run_sweeper=False, run_poller=False)) as client:
        client.service = svc
        yield client


def real_counts(store: JobStore) -> dict[str, int]:
    with store.engine.connect() as c:
        return dict(c.execute(select(jobs.c.status, func.count()).group_by(jobs.c.status)).all())


def walk(client: TestClient, url: str) -> list[str]:
    ids = []
    while url:
        r = client.get(url)
        assert r.status_code == 200, r.text
        ids += [j["id"] for j in r.json()["items"]]
        url = r.json()["next"]
    return ids


def test_seeded_jobs_read_like_real_ones(bench):
    counts = bench.get("/v1/videos?limit=1").json()["counts"]
    assert counts == {**dict.fromkeys(("queued", "rendering", "review", "done", "failed", "rejected", "cancelled"), 0),
                      **real_counts(bench.service.store)}
    assert counts["done"] == sum(status_of(i) == "done" for i in range(SEEDED))
    # An old article, far beyond any "newest N" window, is found through the index.
    r = bench.get("/oembed", params={"url": "https://bench.example/articles/10/"})
    assert r.status_code == 200, r.text
    assert r.json()["title"] == "Bench story number 10" and "<iframe" in r.json()["html"]
    job = bench.get("/v1/videos?article_id=bench-10").json()["items"][0]
    assert job["status"] == "done"
    page = bench.get("/articles/bench-10")
    assert page.status_code == 200 and "Bench story number 10" in page.text
    assert bench.service.store.get(job["id"]).output == CLIP_KEY
    assert bench.get("/oembed", params={"url": "https://bench.example/articles/99999"}).status_code == 404


def test_gc_on_the_seeded_store(bench):
    from videogen.cli.bench_store import OLD_CLIP_KEY, superseding
    from videogen.service.retention import collect

    svc = bench.service
    s = svc.settings.model_copy(update={"retain_failed_days": 1, "retain_superseded_days": 1})
    later = now() + timedelta(days=2)
    dry = collect(svc.store, svc.storage, s, dry_run=True, at=later)
    old = [i for i in range(SEEDED) if superseding(i) is not None]
    assert dry.jobs == sum(status_of(i) == "failed" for i in old)
    assert (dry.media_sets, dry.jobs_unpublished) == (1, sum(status_of(i) == "done" for i in old))
    assert dry.bytes > 0 and svc.storage.exists(OLD_CLIP_KEY)


def test_keyset_pages_are_stable_under_inserts(bench):
    store = bench.service.store
    first = bench.get("/v1/videos?limit=25").json()
    seen = [j["id"] for j in first["items"]]
    # New jobs arrive while the client pages: they are newer than the cursor, so no page
    # repeats or skips a job that was there when paging began.
    for k in range(5):
        store.create(article_id=f"late-{k}", content_key=f"{k:064x}", template="news", voice=None, tts=None,
                     options={}, article={"title": "late", "url": f"https://late.example/{k}"})
    seen += walk(bench, first["next"])
    assert len(seen) == len(set(seen)) == SEEDED
    assert seen == [j.id for j in store.list(limit=10_000) if not j.article_id.startswith("late-")]


def test_filters_and_their_cursors(bench):
    square = walk(bench, "/v1/videos?template=square&limit=7")
    assert len(square) == sum(1 for i in range(SEEDED) if i % 3 == 1)
    assert {bench.service.store.get(i).template for i in square} == {"square"}
    failed = walk(bench, "/v1/videos?status=failed&limit=3")
    assert len(failed) == sum(status_of(i) == "failed" for i in range(SEEDED))
    oldest = bench.service.store.get(walk(bench, "/v1/videos?article_id=bench-0")[0]).created_at
    window = {"created_after": (oldest + timedelta(seconds=1)).isoformat(),
              "created_before": (oldest + timedelta(seconds=30 * 10 + 1)).isoformat(), "limit": 4}
    r = bench.get("/v1/videos", params=window)
    ids = [j["id"] for j in r.json()["items"]]
    assert r.json()["next"] and len(ids) == 4
    assert len(ids + walk(bench, r.json()["next"])) == 10  # bench-1 .. bench-10
    for bad in ("yesterday", "0.5", "2026-13-01"):
        r = bench.get("/v1/videos", params={"created_after": bad})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "created_after", bad


def test_tampered_or_foreign_cursors_are_422(bench):
    nxt = bench.get("/v1/videos?limit=5").json()["next"]
    cursor = nxt.split("cursor=")[1]
    payload, check = cursor.split(".")
    forged = json.dumps(["2001-01-01T00:00:00+00:00", "f" * 32]).encode()
    import base64
    for bad in (payload[:-2] + "AA." + check, base64.urlsafe_b64encode(forged).decode() + "." + check, "nonsense", "."):
        r = bench.get("/v1/videos", params={"cursor": bad})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "cursor", bad
    r = bench.get("/v1/videos", params={"cursor": cursor, "status": "failed"})  # made for another filter
    assert r.status_code == 422
    r = bench.get("/v1/videos?offset=50")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "offset" and "next" in r.json()["detail"]


def test_metrics_come_from_the_counters(bench):
    text = bench.get("/metrics").text
    done = sum(status_of(i) == "done" for i in range(SEEDED))
    assert f'videogen_render_seconds_bucket{{le="+Inf"}} {done}' in text
    assert f"videogen_render_seconds_count {done}" in text
    workers = sum(int(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                  if line.startswith("videogen_worker_renders_total{"))
    assert workers == done


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'jobs.sqlite'}"
    else:
        with fresh_database("videogen_scale") as url:
            yield url


def test_counters_equal_a_real_count_after_transitions(db_url):
    store = JobStore(db_url)
    store.migrate()
    made = [store.create(article_id=f"a{i}", content_key=f"{i:064x}", template="news", voice=None, tts=None,
                         options={}, article={"title": "t"})[0] for i in range(12)]
    assert made[0] == store.get(made[0].id), "create returns the row as stored, without reading it back"
    for i, job in enumerate(made):
        if i % 4 == 3:
            continue  # stays queued
        lease = store.claim(job.id, f"w{i % 2}")
        assert lease
        if i % 4 == 0:
            store.finish(job.id, lease, output="o", duration=1.0, render_seconds=7.5 * i + 1, engine="e")
        elif i % 4 == 1:
            store.fail(job.id, lease, "boom")
            if i == 1:
                store.retry(job.id)  # failed → queued again
        else:
            store.release(job.id, lease, "transient")
            if i == 2:
                store.cancel(job.id)
    with store.engine.begin() as c:
        c.execute(jobs.delete().where(jobs.c.id == made[4].id))  # a done job removed
    counters = store.counters()
    assert counters.statuses == {**dict.fromkeys(counters.statuses, 0), **real_counts(store)}
    store.compact_counts()
    assert store.counters().statuses == counters.statuses
    done = [store.get(j.id) for j in made if j.id != made[4].id and store.get(j.id).status == "done"]
    assert sum(counters.buckets.values()) == len(done)
    assert counters.render_seconds == pytest.approx(sum(j.render_seconds or 0 for j in done))
    assert {w: n for w, (n, _) in counters.workers.items()} == {"w0": len(done)}
    store.engine.dispose()


def test_migration_6_on_a_store_with_rows(db_url):
    """A v5 store with jobs: v6 backfills canonical URLs, the counters start at the real counts."""
    from videogen.service.migrations import as_before_v6

    store = JobStore(db_url)
    store.migrate(5)
    with store.engine.connect() as c:
        as_before_v6(c)
    with store.engine.begin() as c:
        for i in range(23):
            url = f"https://news.example/{i}/" if i % 5 else None
            c.execute(insert(jobs).values(
                id=f"{i:032x}", article_id=f"a{i}", content_key=f"{i:064x}", template="news", options="{}",
                article=json.dumps({"title": f"t{i}", **({"url": url} if url else {})}),
                status=("done", "failed", "queued")[i % 3], output="o" if i % 3 == 0 else None, percent=0.0,
                attempts=1, priority=5, created_at=now() - timedelta(minutes=i), render_seconds=3.0 if i % 3 == 0 else None,
                worker="w"))
    store.migrate()
    assert store.schema_version() == LATEST
    counts = store.counts()
    assert counts == {**dict.fromkeys(counts, 0), **real_counts(store)}
    assert store.get(f"{6:032x}").canonical_url == "https://news.example/6"
    assert store.get(f"{5:032x}").canonical_url is None
    assert store.by_canonical_url("https://news.example/6").id == f"{6:032x}"
    assert store.by_canonical_url("https://news.example/7") is None  # failed: nothing to embed
    store.engine.dispose()


def test_gc_dry_run_then_real_keeps_published_and_newest(db_url, tmp_path):
    from sqlalchemy import update

    from videogen.outputs import FILES
    from videogen.service.retention import collect
    from videogen.service.schema import job_events
    from videogen.service.storage import LocalStorage

    store = JobStore(db_url)
    store.migrate()
    storage = LocalStorage(tmp_path / "media")

    def publish(key: str) -> None:
        folder = storage.staging_dir() / "out"
        folder.mkdir()
        for name in FILES:
            (folder / name).write_bytes(b"{}" if name.endswith(".json") else b"x" * 100)
        storage.publish(key, folder)

    def job(article: str, n: int, status: str, key: str | None, days_ago: float) -> str:
        j, _ = store.create(article_id=article, content_key=f"{article}{n}".ljust(64, "0"), template="news", voice=None,
                            tts=None, options={}, article={"title": article})
        with store.engine.begin() as c:
            c.execute(update(jobs).where(jobs.c.id == j.id).values(
                status=status, output=key, created_at=now() - timedelta(days=days_ago, seconds=-n),
                finished_at=now() - timedelta(days=days_ago, seconds=-n)))
            c.execute(update(job_events).where(job_events.c.job_id == j.id).values(at=now() - timedelta(days=days_ago)))
        return j.id

    for key in ("a" * 64, "b" * 64, "c" * 64):
        publish(key)
    old1 = job("x", 1, "done", "a" * 64, 40)  # superseded, own files: deleted
    old2 = job("x", 2, "done", "c" * 64, 39)  # superseded but shares the newest one's files: kept
    newest = job("x", 3, "done", "c" * 64, 38)  # published version
    lone_failed = job("y", 1, "failed", None, 40)  # the newest job of y: kept
    failed = job("z", 1, "failed", None, 40)  # z has a newer job: deleted
    z_done = job("z", 2, "done", "b" * 64, 39)
    recent = job("w", 1, "cancelled", None, 1)  # too recent
    job("w", 2, "done", None, 0)
    s = Settings(home=tmp_path / "home", retain_events_days=30, retain_failed_days=30, retain_superseded_days=30)
    dry = collect(store, storage, s, dry_run=True)
    before = real_counts(store)
    assert storage.exists("a" * 64) and store.get(failed).status == "failed" and real_counts(store) == before
    real = collect(store, storage, s)
    assert (dry.events, dry.jobs, dry.media_sets, dry.files, dry.bytes) == (real.events, real.jobs, real.media_sets,
                                                                           real.files, real.bytes)
    assert real.jobs == 1 and real.media_sets == 1 and real.files == len(FILES) and real.bytes > 0
    assert real.events == 6  # the "queued" events of the 6 jobs made 38+ days ago
    assert not storage.exists("a" * 64) and storage.exists("b" * 64) and storage.exists("c" * 64)
    assert store.get(old1).output is None and store.get(old2).output == "c" * 64 and store.get(newest).output == "c" * 64
    for kept in (lone_failed, z_done, recent, newest):
        store.get(kept)
    with pytest.raises(Exception):  # noqa: B017 - JobNotFound
        store.get(failed)
    assert store.counts() == {**dict.fromkeys(store.counts(), 0), **real_counts(store)}
    again = collect(store, storage, s)
    assert (again.events, again.jobs, again.media_sets) == (0, 0, 0)
    store.engine.dispose()


def test_beat_runs_gc_only_when_set(tmp_path):
    from workers.celery_app import GC_TASK, make_app

    assert "videogen-gc" not in make_app(Settings(home=tmp_path)).conf.beat_schedule
    entry = make_app(Settings(home=tmp_path, gc_every=3600)).conf.beat_schedule["videogen-gc"]
    assert entry["task"] == GC_TASK and entry["schedule"] == 3600


def test_cli_bench_store_and_gc(tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "VIDEOGEN_HOME": str(tmp_path), "VIDEOGEN_RETAIN_FAILED_DAYS": "30"}
    env.pop("VIDEOGEN_DATABASE_URL", None)
    run = [sys.executable, "-m", "videogen.cli"]
    out = subprocess.run([*run, "bench", "store"], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "--seed N" in out.stderr
    out = subprocess.run([*run, "gc", "--dry-run", "--json"], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"dry_run": True, "events": 0, "jobs": 0, "media_sets": 0, "files": 0, "bytes": 0,
                                      "jobs_unpublished": 0, "errors": []}
