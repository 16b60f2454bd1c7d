"""``videogen bench store``: the job store at a newsroom's scale.

- ``--seed N`` inserts N synthetic jobs into the configured store (VIDEOGEN_DATABASE_URL, else the
  SQLite store in HOME) in bulk: PostgreSQL ``COPY`` through psycopg, SQLite ``executemany``. They
  are oldest first (``created_at`` 30 s apart, ending now), mostly ``done``, some ``failed``,
  ``cancelled`` and ``queued``, over the three templates; article ``bench-{i}`` with the canonical
  URL ``https://bench.example/articles/{i}``; one in 20 is instead an older version of the next
  job's article (a failed attempt or a done render with its own copy of the clip), which that
  newer job supersedes: what ``videogen gc`` reclaims. No broker message is sent. Every ``done`` job
  shares the output of one real small clip (storage key ``CLIP_KEY``, rendered once at 144 px
  if the storage does not hold it yet), so each read path (player, oEmbed, article page,
  media) answers for a seeded job as for a real one. The job counters follow (triggers).
- ``--measure`` calls each read path of the API in this process (``--calls`` times, 40 by
  default, after one warm-up call) and prints p50 / p99 in milliseconds with the status code,
  the number of jobs and the load average.

Not a test: timings depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from sqlalchemy import func, insert, select

from videogen.outputs import FILES
from videogen.service.migrations import publish_unclaimed_clips
from videogen.service.schema import jobs, now
from videogen.service.store import canonical_url, new_job_id
from videogen.service.videos import VideoService
from videogen.settings import Settings, get_settings

CLIP_KEY = hashlib.sha256(b"videogen bench store clip").hexdigest()  # a storage key (hex)
OLD_CLIP_KEY = hashlib.sha256(b"videogen bench store superseded clip").hexdigest()
TEMPLATES = ("news", "square", "vertical")
SPACING = 30.0  # seconds between two seeded jobs' created_at
BATCH = 5000
COLUMNS = ("id", "article_id", "content_key", "template", "voice", "tts", "options", "article", "status", "stage",
           "percent", "error", "attempts", "priority", "worker", "lease", "heartbeat_at", "created_at",
           "dispatched_at", "started_at", "finished_at", "output", "duration", "render_seconds", "engine",
           "canonical_url")


def status_of(i: int) -> str:
    """The status of seeded job ``i``: about 93 % done, 5.5 % failed, 1 % cancelled, 1 % queued."""
    if superseding(i) is not None:
        return "failed" if (i // 20) % 2 else "done"
    r = i % 100
    return "failed" if r < 3 else "cancelled" if r == 3 else "queued" if r == 4 else "done"


def superseding(i: int) -> int | None:
    """For one seeded job in 20: the article it is an older version of (the next job's), whose
    newer version supersedes it (a failed attempt, or a done render with media of its own:
    what ``videogen gc`` reclaims); None for the others."""
    return i + 1 if i % 20 == 9 else None  # the next job (i % 100 in 10, 30, 50, 70, 90) is done


def seed_rows(n: int, duration: float, engine: str, first: int = 0) -> Iterator[tuple[Any, ...]]:
    """The rows of seeded jobs ``first`` .. ``first + n - 1`` in ``COLUMNS`` order, oldest first."""
    end = now()
    for i in range(first, first + n):
        created = end - timedelta(seconds=SPACING * (first + n - i))
        status = status_of(i)
        a = superseding(i)
        old = a is not None
        a = i if a is None else a
        url = f"https://bench.example/articles/{a}"
        article = {"id": f"bench-{a}", "title": f"Bench story number {a}", "url": url, "language": "en",
                   "body": "A synthetic story of the job store benchmark. It has two sentences."}
        template = TEMPLATES[a % len(TEMPLATES)]  # an older version is of the same clip (article and template)
        secs = 3.0 + (i * 7919) % 400 / 4 if status == "done" else None
        done = status == "done"
        finished = created + timedelta(seconds=(secs or 5.0)) if status != "queued" else None
        yield (
            new_job_id(), f"bench-{a}", hashlib.sha256(f"bench-{i}-{template}".encode()).hexdigest(), template, None, None,
            json.dumps({"template": template}), json.dumps(article), status, status if status != "queued" else None,
            100.0 if done else 0.0, "synthetic failure" if status == "failed" else None, 0 if status == "queued" else 1, 5,
            f"bench-worker-{i % 4}" if status != "queued" else None, None, None, created, created,
            created if status != "queued" else None, finished, (OLD_CLIP_KEY if old else CLIP_KEY) if done else None,
            duration if done else None, secs, engine if done else None, canonical_url(url),
        )


def ensure_clip(service: VideoService, settings: Settings) -> dict[str, Any]:
    """The manifest of the shared real clip, rendered (144 px) and published when missing."""
    if not service.storage.exists(CLIP_KEY):
        from videogen.render.article import parse_article
        from videogen.render.pipeline import RenderOptions, render_article

        article = parse_article({"id": "bench-clip", "title": "The job store benchmark clip",
                                 "body": "One real clip that every seeded job shares. It is short.", "language": "en"})
        staging = service.storage.staging_dir()  # publish moves the folder: it must be on the storage's disk
        try:
            render_article(article, RenderOptions(height=144), staging / "out", settings.render_config())
            service.storage.publish(CLIP_KEY, staging / "out", replace=True)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    if not service.storage.exists(OLD_CLIP_KEY):  # the superseded versions' own copy of the files
        staging = service.storage.staging_dir()
        try:
            (staging / "out").mkdir()
            for name in FILES:
                (staging / "out" / name).write_bytes(b"".join(service.storage.read(CLIP_KEY, name)))
            service.storage.publish(OLD_CLIP_KEY, staging / "out", replace=True)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return service.storage.manifest(CLIP_KEY)


def seed(service: VideoService, settings: Settings, n: int) -> dict[str, Any]:
    """Insert ``n`` seeded jobs in bulk after those already there; returns what it did and how long."""
    service.migrate()
    manifest = ensure_clip(service, settings)
    duration = float(manifest.get("duration") or 5.0)
    engine = str((manifest.get("narration") or {}).get("voice") or "bench")
    store = service.store
    with store.engine.connect() as c:
        first = int(c.execute(select(func.count()).select_from(jobs).where(jobs.c.article_id.like("bench-%"))).scalar() or 0)
    started = time.monotonic()
    _bulk_insert(store, seed_rows(n, duration, engine, first), COLUMNS)
    with store.engine.begin() as c:  # what a worker's finish does per job: the clips' published versions
        publish_unclaimed_clips(c)
    seconds = time.monotonic() - started
    return {"seeded": n, "first": first, "seconds": round(seconds, 2), "rows_per_second": round(n / max(seconds, 1e-9)),
            "store": store.engine.dialect.name, "jobs": sum(store.counts().values())}


def _bulk_insert(store: Any, rows: Iterator[tuple[Any, ...]], columns: tuple[str, ...]) -> None:
    if store.engine.dialect.name == "postgresql":
        raw = store.engine.raw_connection()
        try:
            cur = raw.cursor()
            with cur.copy(f"COPY jobs ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row[:len(columns)])
            raw.commit()
        finally:
            raw.close()
        return
    with store.engine.begin() as c:
        batch: list[dict[str, Any]] = []
        for row in rows:
            batch.append(dict(zip(columns, row, strict=False)))
            if len(batch) == BATCH:
                c.execute(insert(jobs), batch)
                batch = []
        if batch:
            c.execute(insert(jobs), batch)


def migration_timing(service: VideoService, n: int) -> dict[str, Any]:
    """Time migration 6 on an empty store first brought to v5 and given ``n`` jobs, while a
    writer thread creates and updates jobs: the longest any of its writes waited is the time
    writes were locked."""
    import threading

    store = service.store
    if store.schema_version() != 0:
        raise SystemExit("videogen bench store --migration: needs an empty store (a fresh database)")
    store.migrate(5)
    from videogen.service.migrations import as_before_v6

    with store.engine.connect() as c:
        as_before_v6(c)
    started = time.monotonic()
    _bulk_insert(store, seed_rows(n, 5.0, "bench"), COLUMNS[:-1])  # v5 rows: no canonical_url
    inserted = time.monotonic() - started
    stop, waits = threading.Event(), []

    def writer() -> None:
        k = 0
        while not stop.is_set():
            t = time.perf_counter()
            with store.engine.begin() as c:
                c.execute(insert(jobs).values(
                    id=new_job_id(), article_id=f"writer-{k}", content_key=hashlib.sha256(f"w{k}".encode()).hexdigest(),
                    template="news", options="{}", article="{}", status="queued", percent=0.0, attempts=0, priority=5,
                    created_at=now()))
            waits.append(time.perf_counter() - t)
            k += 1
            time.sleep(0.01)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    time.sleep(0.5)
    t = time.monotonic()
    store.migrate()
    took = time.monotonic() - t
    time.sleep(0.5)
    stop.set()
    thread.join()
    return {"store": store.engine.dialect.name, "rows": n, "insert_seconds": round(inserted, 1),
            "migration_seconds": round(took, 1), "writes_during": len(waits),
            "longest_write_wait_ms": round(max(waits) * 1000, 1), "load_average": [round(x, 2) for x in os.getloadavg()]}


def enqueue_rate(settings: Settings, n: int, batch: int, broker: bool = True) -> dict[str, Any]:
    """Articles per second through ``POST /v1/videos`` batches of ``batch`` in this process,
    into the configured job store and (``broker``) the configured broker, with where the time
    goes (job store writes and reads, broker sends)."""
    from fastapi.testclient import TestClient

    from videogen.http.app import create_app
    from workers.dispatch import make_service

    svc = make_service(settings) if broker else VideoService(settings)
    svc.migrate()
    spent = {"store_create": 0.0, "dispatch": 0.0}
    create, dispatch = svc.store.create, svc.dispatch

    def timed_create(**kw: Any) -> Any:
        t = time.perf_counter()
        try:
            return create(**kw)
        finally:
            spent["store_create"] += time.perf_counter() - t

    def timed_dispatch(job: Any) -> None:
        t = time.perf_counter()
        try:
            if dispatch is not None:
                dispatch(job)
        finally:
            spent["dispatch"] += time.perf_counter() - t

    svc.store.create = timed_create  # type: ignore[method-assign]
    svc.dispatch = timed_dispatch
    tag = new_job_id()[:8]
    app = create_app(settings, svc, run_sweeper=False, run_poller=False)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        t0 = time.perf_counter()
        for start in range(0, n, batch):
            body = {"articles": [{"id": f"enqueue-{tag}-{i}", "title": f"Enqueue benchmark story {i}", "language": "en",
                                  "url": f"https://bench.example/enqueue/{tag}/{i}",
                                  "body": "A story for the enqueue benchmark. It is short."}
                                 for i in range(start, min(n, start + batch))]}
            r = client.post("/v1/videos", json=body)
            if r.status_code != 202:
                raise SystemExit(f"POST /v1/videos answered {r.status_code}: {r.text[:300]}")
        took = time.perf_counter() - t0
    return {"store": svc.store.engine.dialect.name, "broker": settings.broker.split("://")[0] if broker else None,
            "articles": n, "batch": batch, "seconds": round(took, 2), "articles_per_second": round(n / took, 1),
            "store_create_seconds": round(spent["store_create"], 2), "dispatch_seconds": round(spent["dispatch"], 2),
            "load_average": [round(x, 2) for x in os.getloadavg()]}


def read_paths(service: VideoService) -> list[tuple[str, str]]:
    """(name, URL path) of each read path measured, on a seeded job as old as the oldest tenth."""
    seeded = service.store.counts()
    total = sum(seeded.values())
    with service.store.engine.connect() as c:
        old = c.execute(select(jobs.c.id, jobs.c.article_id, jobs.c.canonical_url)
                        .where(jobs.c.status == "done", jobs.c.output.is_not(None))
                        .order_by(jobs.c.created_at).limit(1).offset(max(0, total // 10 - 1))).first()
        mid = c.execute(select(jobs.c.created_at).order_by(jobs.c.created_at).limit(1).offset(total // 2)).scalar()
    if old is None:
        raise SystemExit("videogen bench store: no done job to measure; seed first (--seed N)")
    job_id, article_id, url = old
    start = (mid if mid is not None else now())
    window = f"created_after={start.isoformat()[:19]}&created_before={(start + timedelta(hours=6)).isoformat()[:19]}"
    return [
        ("GET /v1/videos/{id}", f"/v1/videos/{job_id}"),
        ("GET /v1/videos?limit=50", "/v1/videos?limit=50"),
        ("GET /v1/videos?limit=50 (next page)", "NEXT"),
        ("GET /v1/videos?status=queued&limit=50", "/v1/videos?status=queued&limit=50"),
        ("GET /v1/videos?status=failed&limit=50", "/v1/videos?status=failed&limit=50"),
        ("GET /v1/videos?article_id=…", f"/v1/videos?article_id={article_id}"),
        ("GET /v1/videos?template=square&limit=50", "/v1/videos?template=square&limit=50"),
        ("GET /v1/videos?created_after=…&created_before=…", f"/v1/videos?{window}&limit=50"),
        ("GET /oembed?url=<canonical URL of an older article>", f"/oembed?url={url}"),
        ("GET /articles/{older article}", f"/articles/{article_id}"),
        ("GET /v1/queue", "/v1/queue"),
        ("GET /metrics", "/metrics"),
        ("GET / (dashboard)", "/"),
    ]


def measure(service: VideoService, settings: Settings, calls: int) -> dict[str, Any]:
    """p50 / p99 milliseconds of each read path through the API in this process."""
    from fastapi.testclient import TestClient

    from videogen.http.app import create_app

    service.migrate()
    paths = read_paths(service)
    out: dict[str, Any] = {"store": service.store.engine.dialect.name, "jobs": sum(service.store.counts().values()),
                           "calls": calls, "load_average": [round(x, 2) for x in os.getloadavg()], "paths": []}
    app = create_app(settings, service, run_sweeper=False, run_poller=False)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        nxt = client.get("/v1/videos?limit=50").json().get("next") or "/v1/videos?limit=50"
        for name, path in paths:
            if path == "NEXT":
                path = nxt.split("://", 1)[-1].split("/", 1)[-1]
                path = "/" + path
            client.get(path)  # warm-up
            times, code = [], 0
            for _ in range(calls):
                t = time.perf_counter()
                code = client.get(path).status_code
                times.append((time.perf_counter() - t) * 1000)
            times.sort()
            p99 = times[min(len(times) - 1, int(round(0.99 * (len(times) - 1))))]
            out["paths"].append({"path": name, "status": code, "p50_ms": round(statistics.median(times), 1),
                                 "p99_ms": round(p99, 1)})
    out["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    return out


def table(result: dict[str, Any]) -> str:
    lines = [f"{result['store']}, {result['jobs']:,} jobs, {result['calls']} calls per path, "
             f"load average {result['load_average'][0]} → {result['load_average_after'][0]}",
             "| path | status | p50 ms | p99 ms |", "|---|---|---|---|"]
    lines += [f"| `{p['path']}` | {p['status']} | {p['p50_ms']} | {p['p99_ms']} |" for p in result["paths"]]
    return "\n".join(lines)


def main(args: argparse.Namespace) -> int:
    if args.enqueue:
        print(json.dumps(enqueue_rate(get_settings(), args.enqueue, args.batch)))
        return 0
    if not args.seed and not args.measure and not args.migration:
        print("videogen bench store: error: give --seed N, --measure or --migration N", file=sys.stderr)
        return 2
    if args.seed is not None and args.seed < 1:
        print("videogen bench store: error: --seed must be at least 1", file=sys.stderr)
        return 2
    settings = get_settings()
    service = VideoService(settings)
    if args.migration:
        print(json.dumps(migration_timing(service, args.migration)))
        return 0
    if args.seed:
        result = seed(service, settings, args.seed)
        print(json.dumps(result) if args.json else
              f"seeded {result['seeded']:,} jobs into {result['store']} in {result['seconds']} s "
              f"({result['rows_per_second']:,} rows/s); {result['jobs']:,} jobs in the store")
    if args.measure:
        m = measure(service, settings, args.calls)
        print(json.dumps(m, indent=2) if args.json else table(m))
    return 0
