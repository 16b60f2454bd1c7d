"""Real processes for service tests: an API server and Celery workers started with
``videogen api`` / ``videogen worker`` against a real broker, in a private home folder."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

FAST_RECOVERY = {
    "VIDEOGEN_HEARTBEAT_INTERVAL": "0.5",
    "VIDEOGEN_STALE_AFTER": "4",
    "VIDEOGEN_SWEEP_INTERVAL": "1",
    "VIDEOGEN_REDISPATCH_AFTER": "8",
    "VIDEOGEN_RETRY_BACKOFF": "1",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Stack:
    home: Path
    env: dict[str, str]
    port: int
    logs: Path
    api: subprocess.Popen | None = None
    workers: list[subprocess.Popen] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self, **kw) -> httpx.Client:
        """A client of the API; with API keys configured it sends the first one (every
        ``/v1/`` read needs a key then), unless the test gives its own headers."""
        keys = self.env.get("VIDEOGEN_API_KEYS", "")
        if keys and "headers" not in kw:
            kw["headers"] = {"Authorization": f"Bearer {keys.split(',')[0]}"}
        return httpx.Client(base_url=self.url, timeout=30, **kw)

    def _spawn(self, name: str, *args: str) -> subprocess.Popen:
        log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 - closed when the process ends
        return subprocess.Popen([sys.executable, "-m", "videogen.cli", *args], env=self.env, cwd=self.home,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def start_api(self) -> None:
        self.api = self._spawn("api", "api", "--port", str(self.port))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                keys = self.env.get("VIDEOGEN_API_KEYS", "")
                auth = {"Authorization": f"Bearer {keys.split(',')[0]}"} if keys else {}
                if httpx.get(f"{self.url}/v1/templates", headers=auth, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.api.poll() is not None:
                raise RuntimeError(f"API exited: {self.log('api')}")
            time.sleep(0.3)
        raise RuntimeError(f"API did not start: {self.log('api')}")

    def start_worker(self) -> subprocess.Popen:
        n = len(self.workers)
        w = self._spawn(f"worker{n}", "worker", "--name", f"test{n}-{os.getpid()}@%h")
        self.workers.append(w)
        return w

    def wait_workers_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            logs = [self.log(f"worker{i}") for i in range(len(self.workers))]
            if all("ready." in lg for lg in logs):
                return
            time.sleep(0.3)
        raise RuntimeError("workers not ready: " + " | ".join(self.log(f"worker{i}")[-500:] for i in range(len(self.workers))))

    def kill(self, proc: subprocess.Popen) -> None:
        """SIGKILL a process and all its children (a Celery worker and its pool)."""
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=10)

    def log(self, name: str) -> str:
        p = self.logs / f"{name}.log"
        return p.read_text(errors="replace") if p.exists() else ""

    def stop(self) -> None:
        for p in [*self.workers, self.api]:
            if p is not None and p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    continue
        for p in [*self.workers, self.api]:
            if p is None:
                continue
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(timeout=5)


def make_stack(tmp: Path, broker_url: str | None, extra_env: dict[str, str] | None = None,
               cache_dir: Path | None = None) -> Stack:
    home = tmp / "home"
    home.mkdir(parents=True, exist_ok=True)
    logs = tmp / "logs"
    logs.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIDEOGEN_")}
    env.update(FAST_RECOVERY)
    env["VIDEOGEN_HOME"] = str(home)
    if cache_dir is not None:
        env["VIDEOGEN_CACHE_DIR"] = str(cache_dir)
    if broker_url:
        env["VIDEOGEN_BROKER_URL"] = broker_url
    env.update(extra_env or {})
    return Stack(home=home, env=env, port=free_port(), logs=logs)


def wait_for(client: httpx.Client, job_id: str, statuses: tuple[str, ...] = ("done", "failed", "cancelled"),
             timeout: float = 120, on_poll=None) -> dict:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/v1/videos/{job_id}").json()
        if on_poll:
            on_poll(job)
        if job["status"] in statuses:
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} still {job['status']} after {timeout}s: {job}")


def worker_of_pid(job: dict) -> tuple[int, int]:
    """(pid, parent pid) of the process that renders ``job`` (a Celery pool child and its
    main process): one of them is the worker's Popen."""
    pid = int(job["worker"].rsplit(":", 1)[1])
    with open(f"/proc/{pid}/stat") as f:
        ppid = int(f.read().rsplit(")", 1)[1].split()[1])
    return pid, ppid
