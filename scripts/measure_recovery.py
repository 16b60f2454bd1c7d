"""Measure the service's enqueue-to-start latency and SIGKILL-to-done recovery time with the
DEFAULT recovery settings (heartbeat 2 s, stale after 20 s, sweep every 5 s), for Redis and for
the embedded broker. Real processes (``videogen api`` + two ``videogen worker``).

    .venv/bin/python scripts/measure_recovery.py [--redis redis://127.0.0.1:6379/12]

Prints one line per broker. Not a test: the numbers depend on the machine."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.stack import FAST_RECOVERY, make_stack, wait_for, worker_of_pid  # noqa: E402

PREVIEW = {"height": 360, "fps": 15}


def article(tag: str, name: str = "fr-chine-ia.json") -> dict:
    data = json.loads((ROOT / "examples" / "articles" / name).read_text())
    data["id"] = tag
    data.pop("images", None)  # the API takes image URLs only, not the samples' local paths
    return data


def measure(broker: str | None, label: str, starts: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        stack = make_stack(Path(tmp), broker)
        for key in FAST_RECOVERY:  # production defaults, not the tests' short ones
            stack.env.pop(key, None)
        stack.start_worker()
        stack.start_worker()
        stack.start_api()
        stack.wait_workers_ready()
        try:
            with stack.client() as c:
                latencies = []
                for i in range(starts):
                    r = c.post("/v1/videos", json={**article(f"lat{i}", "en-space-exhibition.json"),
                                                   "options": {"height": 160, "fps": 10}})
                    r.raise_for_status()
                    job = r.json()
                    job = wait_for(c, job["id"], statuses=("rendering", "done"), timeout=120)
                    latencies.append((datetime.fromisoformat(job["started_at"])
                                      - datetime.fromisoformat(job["created_at"])).total_seconds())
                    wait_for(c, job["id"], timeout=120)
                job = c.post("/v1/videos", json={**article("kill"), "options": PREVIEW}).json()
                job = wait_for(c, job["id"], statuses=("rendering",), timeout=60)
                while job["percent"] < 20:
                    time.sleep(0.1)
                    job = c.get(f"/v1/videos/{job['id']}").json()
                victim = next(w for w in stack.workers if w.pid in worker_of_pid(job))
                stack.kill(victim)
                killed = time.monotonic()
                seen_requeued = None
                while True:
                    j = c.get(f"/v1/videos/{job['id']}").json()
                    if seen_requeued is None and j["attempts"] == 2:
                        seen_requeued = time.monotonic() - killed
                    if j["status"] in ("done", "failed"):
                        break
                    time.sleep(0.1)
                done = time.monotonic() - killed
            lat = sorted(latencies)
            print(f"{label}: enqueue→start median {lat[len(lat) // 2] * 1000:.0f} ms "
                  f"(min {lat[0] * 1000:.0f}, max {lat[-1] * 1000:.0f}, n={len(lat)}); "
                  f"SIGKILL at {job['percent']:.0f}% → restarted on the other worker after {seen_requeued:.1f} s, "
                  f"done after {done:.1f} s (status {j['status']}, attempts {j['attempts']})", flush=True)
        finally:
            stack.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--redis", default="redis://127.0.0.1:6379/12")
    ap.add_argument("--starts", type=int, default=5)
    args = ap.parse_args()
    measure(args.redis, f"Redis ({args.redis})", args.starts)
    measure(None, "embedded SQLite broker", args.starts)


if __name__ == "__main__":
    main()
