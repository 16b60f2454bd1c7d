"""Beacon load benchmark (issue 20): can the API take ``--rate`` player beacons a second without
slowing the rest of it, and does it lose any count?

Starts ``videogen api`` (SQLite job store, embedded broker) in a fresh temporary home with an API
key set and ``VIDEOGEN_BEACON_RATE=0`` (the per-address limit off: every beacon here comes from
127.0.0.1), queues one article and renders it in this process (a tiny clip) so it is published,
then:

1. measures ``GET /v1/videos/{id}`` alone (baseline p50/p99);
2. sends beacons (``text/plain``, a browser's user agent, events cycling through load, play,
   q25, q50, q75, complete) paced at ``--rate`` a second for ``--seconds`` over
   ``--connections`` keep-alive connections, while a second thread keeps measuring
   ``GET /v1/videos/{id}``;
3. stops the API with SIGTERM (a normal shutdown: the in-memory counts are written then) and
   compares the beacons answered 204 with the counts in ``video_plays``.

Prints beacons per second held, the GET latencies, and the counts lost (should be 0).
Usage: ``python scripts/bench_beacons.py [--rate 1000] [--seconds 10]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

KEY = "bench-key"
UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"
EVENTS = ("load", "play", "q25", "q50", "q75", "complete")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def latencies(name: str, secs: list[float]) -> str:
    return (f"{name:<40} n={len(secs):<5} p50={statistics.median(secs) * 1000:7.1f} ms "
            f"p99={pct(secs, 99) * 1000:7.1f} ms max={max(secs) * 1000:7.1f} ms")


def probe(base: str, job_id: str, stop: threading.Event, out: list[float], every: float = 0.02) -> None:
    """GET /v1/videos/{id} every ``every`` seconds until ``stop``; each latency into ``out``."""
    with httpx.Client(headers={"Authorization": f"Bearer {KEY}"}, timeout=30) as c:
        while not stop.is_set():
            t = time.monotonic()
            r = c.get(f"{base}/v1/videos/{job_id}")
            out.append(time.monotonic() - t)
            if r.status_code != 200:
                print("GET failed:", r.status_code, r.text[:200])
            time.sleep(every)


async def _post(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> int:
    """One request on a keep-alive connection; the response's status (its body read and dropped)."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    if length:
        await reader.readexactly(length)
    return int(head.split(b" ", 2)[1])


async def flood(port: int, job_id: str, rate: float, seconds: float, connections: int) -> tuple[int, dict[int, int], float]:
    """Send ``rate`` beacons a second for ``seconds`` (plain HTTP/1.1 over ``connections``
    keep-alive sockets: a client light enough not to be the bottleneck); returns (sent, status
    counts, wall seconds)."""
    codes: dict[int, int] = {}
    total = int(rate * seconds)
    queue: asyncio.Queue[int | None] = asyncio.Queue()

    def request(i: int) -> bytes:
        body = f'{{"video":"{job_id}","event":"{EVENTS[i % len(EVENTS)]}"}}'.encode()
        return (f"POST /beacon HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: {UA}\r\n"
                f"Origin: https://newsroom.example.com\r\nContent-Type: text/plain;charset=UTF-8\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode() + body

    async def sender() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while (i := await queue.get()) is not None:
                try:
                    code = await _post(reader, writer, request(i))
                except (OSError, asyncio.IncompleteReadError):
                    code = 0
                    writer.close()
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                codes[code] = codes.get(code, 0) + 1
        finally:
            writer.close()

    tasks = [asyncio.create_task(sender()) for _ in range(connections)]
    t0 = time.monotonic()
    queued = 0
    while queued < total:  # paced in 5 ms steps: beacon i is due at t0 + i / rate
        due = min(total, int((time.monotonic() - t0) * rate) + 1)
        for i in range(queued, due):
            queue.put_nowait(i)
        queued = due
        await asyncio.sleep(0.005)
    for _ in tasks:
        queue.put_nowait(None)
    await asyncio.gather(*tasks)
    return total, codes, time.monotonic() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rate", type=float, default=1000.0, help="beacons a second to send")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--connections", type=int, default=32)
    args = ap.parse_args()

    home = Path(tempfile.mkdtemp(prefix="videogen-beacons-"))
    port = free_port()
    env = {**os.environ, "VIDEOGEN_HOME": str(home), "VIDEOGEN_API_KEYS": KEY, "VIDEOGEN_RATE_LIMIT": "0",
           "VIDEOGEN_BEACON_RATE": "0", "VIDEOGEN_FEED_POLLER": "0"}
    for k in ("VIDEOGEN_DATABASE_URL", "VIDEOGEN_BROKER_URL", "VIDEOGEN_PUBLIC_URL"):
        env.pop(k, None)
    log = open(home / "api.log", "w")  # noqa: SIM115 - closed at the end
    proc = subprocess.Popen([sys.executable, "-m", "videogen.cli", "api", "--port", str(port)],
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    auth = {"Authorization": f"Bearer {KEY}"}
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code in (200, 503):
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        else:
            print("the API did not start; see", home / "api.log")
            return 1
        article = {"id": "bench-beacons", "title": "A clip watched a thousand times a second", "language": "en",
                   "summary": "A short article for the beacon benchmark.", "options": {"height": 144, "fps": 8}}
        r = httpx.post(f"{base}/v1/videos", json=article, headers=auth, timeout=30)
        job_id = r.json()["id"]
        # Render it here (no worker process): the clip must be published to be counted.
        os.environ.update({"VIDEOGEN_HOME": str(home)})
        from videogen.service.videos import VideoService
        from videogen.settings import Settings

        outcome = VideoService(Settings()).run(job_id, "bench")
        if outcome.status != "done":
            print("render failed:", outcome)
            return 1
        load = os.getloadavg()
        print(f"clip {job_id} published; {os.cpu_count()} CPUs; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")

        baseline: list[float] = []
        stop = threading.Event()
        t = threading.Thread(target=probe, args=(base, job_id, stop, baseline))
        t.start()
        time.sleep(3)
        stop.set()
        t.join()
        print(latencies("GET /v1/videos/{id}, no beacons", baseline))

        during: list[float] = []
        stop = threading.Event()
        t = threading.Thread(target=probe, args=(base, job_id, stop, during))
        t.start()
        sent, codes, wall = asyncio.run(flood(port, job_id, args.rate, args.seconds, args.connections))
        stop.set()
        t.join()
        accepted = codes.get(204, 0)
        print(f"beacons: sent {sent} in {wall:.2f} s = {sent / wall:.0f}/s offered, {accepted / wall:.0f}/s answered 204; "
              f"codes {dict(sorted(codes.items()))}")
        print(latencies(f"GET /v1/videos/{{id}}, {args.rate:.0f} beacons/s", during))
        metrics = httpx.get(f"{base}/metrics", headers=auth).text
        pending = next((ln for ln in metrics.splitlines() if ln.startswith("videogen_beacons_pending ")), "?")
        print(f"before shutdown: {pending} (in memory, not written yet)")
    finally:
        proc.send_signal(signal.SIGTERM)  # a normal shutdown: the counts in memory are written
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
    with sqlite3.connect(home / "jobs.sqlite") as db:
        counted = db.execute("SELECT COALESCE(SUM(count), 0) FROM video_plays").fetchone()[0]
        rows = db.execute("SELECT COUNT(*) FROM video_plays").fetchone()[0]
    print(f"after SIGTERM: counted {counted} of {accepted} accepted in {rows} counter rows; lost {accepted - counted}")
    return 0 if counted == accepted else 2


if __name__ == "__main__":
    sys.exit(main())
