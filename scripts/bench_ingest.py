"""Ingest benchmark (issue 17's closing note): prints, on this machine,

1. for each fixture feed, its items → jobs;
2. what extraction took as title / summary / images for two article pages;
3. the cost of a poll that answers 304 and one that answers 200 (every item unchanged), as time
   and bytes on the wire;
4. the time from an item appearing in a feed to its clip being done, through `videogen serve`
   (its feed poller, API and worker) with the embedded default broker and with Redis.

Everything runs against a local HTTP server serving tests/fixtures/ingest (never the internet).

    PYTHONPATH=. python scripts/bench_ingest.py [--redis redis://127.0.0.1:6379/14] [--rounds 20] [--no-e2e]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from tests.ingest_server import FixtureServer, Route  # noqa: E402
from videogen.service.ingest.pages import extract_article  # noqa: E402
from videogen.service.ingest.poller import FeedService  # noqa: E402
from videogen.service.ingest.registry import FeedConfig  # noqa: E402
from videogen.service.videos import VideoService  # noqa: E402
from videogen.settings import Settings  # noqa: E402


def feeds_to_jobs(srv: FixtureServer, home: Path) -> None:
    fs = FeedService(VideoService(Settings(home=home / "a", fetch_hosts_allow="127.0.0.1")))
    fs.videos.migrate()
    print("== fixture feeds: items -> jobs (template news)")
    for path in ("/feeds/wordpress.rss", "/feeds/atom.xml", "/feeds/feed.json"):
        feed, _ = fs.registry.add(srv.url(path), FeedConfig())
        r = fs.poll(feed.id)
        print(f"{path}: {len(r.items)} items -> {len(r.job_ids)} jobs ({r.seconds * 1000:.0f} ms, status {r.status})")
        for i in r.items:
            page = " [teaser: page fetched]" if i.link and srv.hits.get(i.link.replace(srv.base, ""), 0) else ""
            print(f"    {i.status:<9} {i.title}{page}" + (f" ({i.reason})" if i.reason else ""))


def two_pages(srv: FixtureServer) -> None:
    print("\n== extraction of two pages")
    for name, url in (("page_jsonld.html", "https://news.example/2026/12/harbour-bridge-reopens"),
                      ("page_og.html", "https://gazette.example/culture/marche-de-noel-ouvre")):
        a = extract_article(srv.fixture(name), url)
        print(f"{name}:\n    title:    {a.title}\n    summary:  {a.summary}\n    language: {a.language}  source: {a.source}"
              f"  published: {a.published_at}\n    id:       {a.id}\n    body:     {len((a.body or '').split())} words")
        for img in a.images:
            extra = ", ".join(f"{k}={v!r}" for k, v in (("caption", img.caption), ("credit", img.credit)) if v)
            print(f"    image:    {img.src}" + (f" ({extra})" if extra else ""))


def poll_cost(srv: FixtureServer, home: Path, rounds: int) -> None:
    print(f"\n== cost of a poll (median of {rounds}; SQLite job store)")
    fs = FeedService(VideoService(Settings(home=home / "b", fetch_hosts_allow="127.0.0.1")))
    fs.videos.migrate()
    for path in ("/feeds/wordpress.rss", "/feeds/atom.xml", "/feeds/feed.json"):
        feed, _ = fs.registry.add(srv.url(path), FeedConfig())
        first = fs.poll(feed.id)
        t304, t200 = [], []
        base = srv.fixture(path.rsplit("/", 1)[1])
        ctype = {"rss": "application/rss+xml", "xml": "application/atom+xml", "json": "application/feed+json"}[path.rsplit(".", 1)[1]]
        for n in range(rounds):
            srv.bytes_sent[path] = 0
            r = fs.poll(feed.id, force=True)
            assert r.status == "304", r.status
            t304.append(r.seconds)
            # A new ETag, the same items: a 200 whose items are all unchanged.
            srv.routes[path] = Route(base + (b" " * (n + 1)), ctype)
            r = fs.poll(feed.id, force=True)
            assert r.status == "200" and not r.job_ids, r.summary()
            t200.append(r.seconds)
        size200 = len(base)
        print(f"{path}: first poll {first.seconds * 1000:.1f} ms ({len(first.job_ids)} jobs); "
              f"304: {statistics.median(t304) * 1000:.1f} ms, 0 body bytes; "
              f"200 unchanged: {statistics.median(t200) * 1000:.1f} ms, {size200} body bytes")
        del srv.routes[path]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


ITEM = {"id": "bench-{n}", "url": "{base}/bench/{n}", "title": "Harbour ferry timetable changes on Monday {n}",
        "summary": "The harbour ferry will leave every twenty minutes from Monday, the operator said, "
                   "and the last boat will sail at midnight instead of eleven.",
        "image": "{base}/img/ferry-{n}.png", "date_published": "2026-12-01T10:00:00Z"}


def jsonfeed(srv: FixtureServer, items: list[int]) -> Route:
    entries = [json.loads(json.dumps(ITEM).replace("{n}", str(n)).replace("{base}", srv.base)) for n in items]
    body = {"version": "https://jsonfeed.org/version/1.1", "title": "Bench", "language": "en", "items": entries}
    return Route(json.dumps(body).encode(), "application/feed+json")


def item_to_clip(srv: FixtureServer, home: Path, broker: str | None, label: str, every: float, tick: float) -> None:
    port = free_port()
    env = {**os.environ, "VIDEOGEN_HOME": str(home), "VIDEOGEN_FETCH_HOSTS_ALLOW": "127.0.0.1",
           "VIDEOGEN_FEED_TICK": str(tick), "PYTHONPATH": str(ROOT)}
    if broker:
        env["VIDEOGEN_BROKER_URL"] = broker
        if broker.startswith("redis://"):  # a clean db: no wake-up calls of an earlier run
            import redis

            redis.Redis.from_url(broker).flushdb()
    else:
        env.pop("VIDEOGEN_BROKER_URL", None)
    path = f"/bench-{label}.json"
    srv.routes[path] = jsonfeed(srv, [])
    proc = subprocess.Popen([sys.executable, "-m", "videogen.cli", "serve", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    api = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=api, timeout=30) as c:
            for _ in range(600):
                try:
                    if c.get("/health").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.1)
            feed = c.post("/v1/feeds", json={"url": srv.url(path), "every": every, "options": {"height": 144}}).json()
            while not c.get(f"/v1/feeds/{feed['id']}").json()["last_poll_at"]:
                time.sleep(0.1)
            # Warm-up: one item rendered first (worker start, voice loading), not timed.
            for n, timed in ((0, False), (1, True), (2, True)):
                srv.routes[path] = jsonfeed(srv, list(range(n + 1)))
                appeared = time.monotonic()
                job_id = None
                while job_id is None:
                    items = c.get(f"/v1/feeds/{feed['id']}").json()["items"]
                    job_id = next((j["id"] for i in items if i["guid"] == f"bench-{n}" for j in i["jobs"]), None)
                    if job_id is None:
                        time.sleep(0.05)
                queued = time.monotonic()
                while (job := c.get(f"/v1/videos/{job_id}").json())["status"] not in ("done", "failed"):
                    time.sleep(0.05)
                done = time.monotonic()
                if timed:
                    print(f"{label}: item {n}: appeared -> job {queued - appeared:.2f} s, job -> clip done "
                          f"{done - queued:.2f} s (render {job['render_seconds']} s, {job['duration']} s clip, "
                          f"{job['engine']}), total {done - appeared:.2f} s [{job['status']}]")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--redis", default="redis://127.0.0.1:6379/14", help="Redis broker for the second end-to-end run ('' to skip)")
    p.add_argument("--rounds", type=int, default=20)
    p.add_argument("--every", type=float, default=5.0, help="the feed's poll interval in the end-to-end runs")
    p.add_argument("--tick", type=float, default=1.0, help="VIDEOGEN_FEED_TICK of the end-to-end runs")
    p.add_argument("--no-e2e", action="store_true", help="skip the item -> clip runs")
    args = p.parse_args()
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}, {os.cpu_count()} cores")
    with FixtureServer() as srv, tempfile.TemporaryDirectory() as tmp:
        srv.routes["/culture/piscine"] = Route(srv.fixture("page_og.html"), "text/html")
        home = Path(tmp)
        feeds_to_jobs(srv, home)
        two_pages(srv)
        poll_cost(srv, home, args.rounds)
        if not args.no_e2e:
            print(f"\n== item appears in a feed -> clip done (videogen serve, feed every {args.every:g} s, "
                  f"tick {args.tick:g} s, height 144, default offline voice)")
            item_to_clip(srv, home / "embedded", None, "embedded", args.every, args.tick)
            if args.redis:
                item_to_clip(srv, home / "redis", args.redis, "redis", args.every, args.tick)
        print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
