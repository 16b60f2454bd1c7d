"""Celery's own monitoring works on our app: `celery -A workers.celery_app inspect` answers
from a running videogen worker, and Flower (the `monitoring` extra) loads the app."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .stack import make_stack

REDIS_URL = os.environ.get("VIDEOGEN_TEST_REDIS_MONITORING", "redis://127.0.0.1:6379/10")
pytestmark = pytest.mark.redis(REDIS_URL)
CELERY = str(Path(sys.executable).parent / "celery")


def celery(stack, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([CELERY, "-A", "workers.celery_app", *args], env=stack.env, cwd=stack.home,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def worker_stack(tmp_path_factory):
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    stack = make_stack(tmp_path_factory.mktemp("monitoring"), REDIS_URL, {"VIDEOGEN_WORKER_HOST": "render-host-1"})
    stack.start_worker()
    try:
        stack.wait_workers_ready()
        yield stack
    finally:
        stack.stop()
        redis.Redis.from_url(REDIS_URL).flushdb()


def test_celery_inspect_ping_active_and_registered(worker_stack):
    import socket

    node = f"test0-{os.getpid()}@{socket.gethostname()}"
    for what in ("ping", "active", "registered"):  # -d: answer as soon as our worker replies
        r = celery(worker_stack, "inspect", what, "-d", node, "--timeout", "10")
        assert r.returncode == 0 and node in r.stdout, f"{what}: {r.stdout} {r.stderr}"
        if what == "ping":
            assert "pong" in r.stdout
        if what == "registered":
            assert "videogen.render" in r.stdout and "videogen.webhook" in r.stdout


def test_flower_serves_our_app(worker_stack):
    pytest.importorskip("flower", reason="Flower is the optional `monitoring` extra: pip install -e '.[monitoring]'")
    import time

    import httpx

    from .stack import free_port

    r = celery(worker_stack, "flower", "--help")
    assert r.returncode == 0 and "Usage: celery flower" in r.stdout, r.stdout + r.stderr
    port = free_port()
    env = {**worker_stack.env, "FLOWER_UNAUTHENTICATED_API": "true"}
    log = open(worker_stack.logs / "flower.log", "wb")  # noqa: SIM115 - closed below
    flower = subprocess.Popen([CELERY, "-A", "workers.celery_app", "flower", f"--port={port}", "--address=127.0.0.1"],
                              env=env, cwd=worker_stack.home, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline, workers = time.monotonic() + 30, {}
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthcheck", timeout=2).text == "OK":
                    workers = httpx.get(f"http://127.0.0.1:{port}/api/workers?refresh=1", timeout=15).json()
                    if workers:
                        break
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        assert any(name.startswith(f"test0-{os.getpid()}@") for name in workers), (workers, worker_stack.log("flower"))
    finally:
        flower.terminate()
        flower.wait(timeout=10)
        log.close()
