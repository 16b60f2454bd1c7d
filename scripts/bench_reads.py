"""Read-burst benchmark of the API (issue 16, defect 2): can a burst of reads starve the
write path or leak connections for good?

Starts ``videogen api`` on the embedded default (SQLite job store, SQL broker) in a fresh
temporary home with an API key set (or with ``--broker`` as VIDEOGEN_BROKER_URL), queues a few
jobs (no worker runs, so they stay queued), then:

1. fires ``--queue-burst`` concurrent ``GET /v1/queue``;
2. fires ``--mixed`` mixed reads (queue, list, status, metrics, health) ``--concurrency`` at a time;
3. measures p50/p99 of ``GET /v1/videos/{id}`` and of ``GET /v1/queue`` afterwards, and one
   POST's latency and whether its wake-up reached the broker (the job's ``dispatched_at``).

Prints the numbers (seconds). Usage: ``python scripts/bench_reads.py [--broker redis://…]``.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

KEY = "bench-key"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def call(url: str, method: str = "GET", body: dict | None = None, timeout: float = 60) -> tuple[int, float, bytes]:
    """(status, seconds, body) of one request; status 0 when it failed to answer."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json", "X-API-Key": KEY})
    t = time.monotonic()
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, time.monotonic() - t, r.read()
    except urllib.error.HTTPError as e:
        return e.code, time.monotonic() - t, e.read()
    except Exception:  # noqa: BLE001 - a timeout or reset counts as no answer
        return 0, time.monotonic() - t, b""


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def summary(name: str, results: list[tuple[int, float, bytes]]) -> None:
    secs = [r[1] for r in results]
    codes: dict[int, int] = {}
    for r in results:
        codes[r[0]] = codes.get(r[0], 0) + 1
    print(f"{name:<34} n={len(results):<4} p50={statistics.median(secs):7.3f}s p99={pct(secs, 99):7.3f}s "
          f"max={max(secs):7.3f}s codes={dict(sorted(codes.items()))}", flush=True)


def article(i: int) -> dict:
    return {"id": f"bench-{i}", "title": f"Bench article number {i}", "language": "en",
            "summary": "A short article used to measure the API under a burst of reads. It has two sentences.",
            "options": {"height": 144}}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--broker", default=None, help="VIDEOGEN_BROKER_URL (default: the embedded SQL broker)")
    ap.add_argument("--queue-burst", type=int, default=100)
    ap.add_argument("--mixed", type=int, default=500)
    ap.add_argument("--concurrency", type=int, default=100)
    ap.add_argument("--jobs", type=int, default=10, help="jobs queued before the burst")
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds one request may take")
    args = ap.parse_args()

    home = Path(tempfile.mkdtemp(prefix="videogen-bench-"))
    port = free_port()
    env = {**os.environ, "VIDEOGEN_HOME": str(home), "VIDEOGEN_API_KEYS": KEY, "VIDEOGEN_RATE_LIMIT": "0"}
    env.pop("VIDEOGEN_DATABASE_URL", None)
    if args.broker:
        env["VIDEOGEN_BROKER_URL"] = args.broker
    else:
        env.pop("VIDEOGEN_BROKER_URL", None)
    log = open(home / "api.log", "w")  # noqa: SIM115 - closed at the end
    proc = subprocess.Popen([sys.executable, "-m", "videogen.cli", "api", "--port", str(port)],
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            if call(f"{base}/health", timeout=2)[0] in (200, 503):
                break
            time.sleep(0.1)
        else:
            print("the API did not start; see", home / "api.log")
            return 1
        ids = []
        for i in range(args.jobs):
            code, _secs, body = call(f"{base}/v1/videos", "POST", article(i))
            if code != 202:
                print("POST failed:", code, body[:300])
                return 1
            ids.append(json.loads(body)["id"])
        print(f"broker: {args.broker or 'embedded SQL (SQLite)'}; {len(ids)} jobs queued; home {home}")

        with ThreadPoolExecutor(args.queue_burst) as pool:
            t = time.monotonic()
            res = list(pool.map(lambda _: call(f"{base}/v1/queue", timeout=args.timeout), range(args.queue_burst)))
        summary(f"{args.queue_burst} concurrent /v1/queue", res)
        print(f"  (wall {time.monotonic() - t:.1f}s)")

        kinds = [f"{base}/v1/queue", f"{base}/v1/videos?limit=20", None, f"{base}/metrics", f"{base}/health"]
        urls = [kinds[i % len(kinds)] or f"{base}/v1/videos/{ids[i % len(ids)]}" for i in range(args.mixed)]
        writes: list[tuple[int, float, bytes]] = []

        def write_during_burst() -> None:  # the write path while the reads run
            for i in range(5):
                writes.append(call(f"{base}/v1/videos", "POST", article(20_000 + i), timeout=args.timeout))

        with ThreadPoolExecutor(args.concurrency + 1) as pool:
            t = time.monotonic()
            writer = pool.submit(write_during_burst)
            res = list(pool.map(lambda u: call(u, timeout=args.timeout), urls))
            writer.result()
        summary(f"{args.mixed} mixed reads (x{args.concurrency})", res)
        print(f"  (wall {time.monotonic() - t:.1f}s)")
        for k in ("/v1/queue", "/v1/videos?", "/v1/videos/", "/metrics", "/health"):
            summary(f"  of which {k}", [r for u, r in zip(urls, res, strict=True) if k in u])
        summary("  POST /v1/videos during the burst", writes)

        summary("after: GET /v1/videos/{id} x100", [call(f"{base}/v1/videos/{ids[i % len(ids)]}", timeout=args.timeout) for i in range(100)])
        summary("after: GET /v1/videos?limit=1 x20", [call(f"{base}/v1/videos?limit=1", timeout=args.timeout) for _ in range(20)])
        summary("after: GET /v1/queue x20", [call(f"{base}/v1/queue", timeout=args.timeout) for _ in range(20)])
        code, secs, body = call(f"{base}/v1/videos", "POST", article(10_000), timeout=args.timeout)
        job_id = json.loads(body)["id"] if code == 202 else None
        dispatched = None
        if job_id:
            with sqlite3.connect(home / "jobs.sqlite") as db:
                dispatched = db.execute("SELECT dispatched_at FROM jobs WHERE id = ?", (job_id,)).fetchone()[0]
        print(f"after: POST /v1/videos               {secs:.3f}s code={code} dispatched={'yes' if dispatched else 'NO (stays queued)'}")
        return 0
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        pool_errors = (home / "api.log").read_text(errors="replace").count("QueuePool limit")
        print(f"'QueuePool limit' lines in the API log: {pool_errors}")


if __name__ == "__main__":
    sys.exit(main())
