"""Duplicate wake-up benchmark (issue 16, defect 5): a worker outage in compressed time.

Starts ``videogen api`` (its sweeper runs every ``--sweep-interval`` s and may re-send a
queued job's wake-up call after ``--redispatch-after`` s) with no worker, queues ``--jobs``
jobs, lets the sweeper run for ``--outage`` seconds, then counts the messages in the broker
against the queued jobs. Then it cancels every job (so each message left is stale), starts one
worker and times how long it takes to drain the broker.

Usage: ``python scripts/bench_wakeups.py [--broker redis://127.0.0.1:6379/4]``.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

KEY = "bench-key"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def call(url: str, method: str = "GET", body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json", "X-API-Key": KEY})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read())


def broker_messages(home: Path, broker: str | None) -> int:
    """Messages in the render queue, counted in the broker's own storage."""
    if broker is None:
        with sqlite3.connect(home / "broker.sqlite") as db:
            return int(db.execute("SELECT count(*) FROM kombu_message WHERE visible = 1").fetchone()[0])
    import redis

    r = redis.Redis.from_url(broker)
    return sum(int(r.llen(k)) for k in r.keys("videogen*") if r.type(k) == b"list")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--broker", default=None, help="VIDEOGEN_BROKER_URL (default: the embedded SQL broker)")
    ap.add_argument("--jobs", type=int, default=125)
    ap.add_argument("--outage", type=float, default=40.0, help="seconds the sweeper runs with no worker")
    ap.add_argument("--sweep-interval", type=float, default=0.5)
    ap.add_argument("--redispatch-after", type=float, default=2.0)
    ap.add_argument("--drain-limit", type=float, default=600.0, help="seconds the worker may take to drain the broker")
    args = ap.parse_args()

    home = Path(tempfile.mkdtemp(prefix="videogen-wakeups-"))
    port = free_port()
    env = {**os.environ, "VIDEOGEN_HOME": str(home), "VIDEOGEN_API_KEYS": KEY, "VIDEOGEN_RATE_LIMIT": "0",
           "VIDEOGEN_SWEEP_INTERVAL": str(args.sweep_interval), "VIDEOGEN_REDISPATCH_AFTER": str(args.redispatch_after)}
    env.pop("VIDEOGEN_DATABASE_URL", None)
    if args.broker:
        import redis

        redis.Redis.from_url(args.broker).flushdb()
        env["VIDEOGEN_BROKER_URL"] = args.broker
    else:
        env.pop("VIDEOGEN_BROKER_URL", None)
    log = open(home / "api.log", "w")  # noqa: SIM115 - closed at the end
    api = subprocess.Popen([sys.executable, "-m", "videogen.cli", "api", "--port", str(port)], env=env,
                           stdout=log, stderr=subprocess.STDOUT)
    worker = None
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                call(f"{base}/health")
                break
            except Exception:  # noqa: BLE001 - not up yet (503 counts as up below)
                time.sleep(0.1)
        articles = [{"id": f"w-{i}", "title": f"Wake-up article {i}", "language": "en",
                     "summary": "A short article that waits in the queue while no worker runs."} for i in range(args.jobs)]
        ids = [j["id"] for k in range(0, len(articles), 100)
               for j in call(f"{base}/v1/videos", "POST", {"articles": articles[k:k + 100], "options": {"height": 144}})["jobs"]]
        rounds = args.outage / args.sweep_interval
        print(f"broker: {args.broker or 'embedded SQL (SQLite)'}; {len(ids)} jobs queued, no worker; "
              f"sweeper every {args.sweep_interval}s, redispatch_after {args.redispatch_after}s, "
              f"outage {args.outage:.0f}s (~{rounds:.0f} sweeps, ~{args.outage / args.redispatch_after:.0f} redispatch periods)", flush=True)
        time.sleep(args.outage)
        queued = call(f"{base}/v1/queue")["counts"]["queued"]
        print(f"after the outage: {broker_messages(home, args.broker)} messages in the broker for {queued} queued jobs", flush=True)

        for job_id in ids:  # every message left is now a stale one
            call(f"{base}/v1/videos/{job_id}", "DELETE")
        stale = broker_messages(home, args.broker)
        wlog = open(home / "worker.log", "w")  # noqa: SIM115 - closed with the process
        t = time.monotonic()
        worker = subprocess.Popen([sys.executable, "-m", "videogen.cli", "worker", "--quiet"], env=env,
                                  stdout=wlog, stderr=subprocess.STDOUT)
        while broker_messages(home, args.broker) and time.monotonic() - t < args.drain_limit:
            time.sleep(0.2)
        left, secs = broker_messages(home, args.broker), time.monotonic() - t
        print(f"all jobs cancelled; a worker drained {stale - left} stale message(s) in {secs:.1f}s "
              f"(including its start-up; {(stale - left) / secs:.1f}/s){'; ' + str(left) + ' left' if left else ''}", flush=True)
        return 0
    finally:
        for p in (worker, api):
            if p is not None:
                p.terminate()
                try:
                    p.wait(20)
                except subprocess.TimeoutExpired:
                    p.kill()
        log.close()


if __name__ == "__main__":
    sys.exit(main())
