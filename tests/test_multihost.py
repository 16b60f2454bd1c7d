"""Workers on separate hosts, emulated with network namespaces on this machine.

    root namespace (the "services" host, 10.77.0.1 on bridge vgbr*):
        redis-server 10.77.0.1:<port>, moto S3 server 10.77.0.1:<port>,
        PostgreSQL reached through a TCP relay on 10.77.0.1:<port> (the machine's server
        listens on loopback only)
    netns w1 (10.77.0.11): `videogen worker`, VIDEOGEN_WORKER_HOST=host1
    netns w2 (10.77.0.12): `videogen worker`, VIDEOGEN_WORKER_HOST=host2
    netns api (10.77.0.20): `videogen api` (and its sweeper)

Each host has its own home folder (nothing shared but broker, database and object storage).
A batch of 8 tiny clips is enqueued; host1's link is cut while it renders one. That job is
requeued after its heartbeat goes stale, finished by host2; every job is done exactly once
with its 4 files in S3 (checksums valid); host1, brought back, publishes nothing."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from .conftest import short_article
from .pgutil import fresh_database
from .s3server import start_s3_server
from .stack import free_port

pytestmark = [pytest.mark.multihost, pytest.mark.slow]

SUBNET = "10.77.0"
SERVICES = f"{SUBNET}.1"
TAG = f"{os.getpid() % 100000}"
HOSTS = {"w1": f"{SUBNET}.11", "w2": f"{SUBNET}.12", "api": f"{SUBNET}.20"}
BRIDGE = f"vgbr{TAG}"
STALE_AFTER = 3.0
N_JOBS = 8


def sh(*cmd: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, check=check, timeout=30)


def ns_name(host: str) -> str:
    return f"vg{host}{TAG}"


def ns_if(host: str) -> str:  # interface inside the namespace
    return f"vge{host}{TAG}"[:15]


def root_if(host: str) -> str:  # its peer on the bridge
    return f"vgh{host}{TAG}"[:15]


def netns_unavailable() -> str | None:
    if os.geteuid() != 0:
        return "needs root (network namespaces)"
    if shutil.which("ip") is None:
        return "needs `ip` (iproute2; scripts/test.sh installs it)"
    probe = f"vgprobe{TAG}"
    r = sh("ip", "netns", "add", probe, check=False)
    if r.returncode != 0:
        return f"`ip netns add` does not work here: {r.stderr.strip()}"
    sh("ip", "netns", "del", probe, check=False)
    if shutil.which("redis-server") is None:
        return "needs redis-server"
    return None


class Network:
    def __init__(self) -> None:
        self.made: list[str] = []

    def up(self) -> None:
        sh("ip", "link", "add", BRIDGE, "type", "bridge")
        self.made.append("bridge")
        sh("ip", "addr", "add", f"{SERVICES}/24", "dev", BRIDGE)
        sh("ip", "link", "set", BRIDGE, "up")
        for host, addr in HOSTS.items():
            ns = ns_name(host)
            sh("ip", "netns", "add", ns)
            self.made.append(ns)
            sh("ip", "link", "add", root_if(host), "type", "veth", "peer", "name", ns_if(host))
            sh("ip", "link", "set", ns_if(host), "netns", ns)
            sh("ip", "link", "set", root_if(host), "master", BRIDGE, "up")
            sh("ip", "netns", "exec", ns, "ip", "addr", "add", f"{addr}/24", "dev", ns_if(host))
            sh("ip", "netns", "exec", ns, "ip", "link", "set", ns_if(host), "up")
            sh("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")

    def cut(self, host: str) -> None:
        """Pull the cable: both ends of the host's link go down."""
        sh("ip", "link", "set", root_if(host), "down")
        sh("ip", "netns", "exec", ns_name(host), "ip", "link", "set", ns_if(host), "down")

    def restore(self, host: str) -> None:
        sh("ip", "netns", "exec", ns_name(host), "ip", "link", "set", ns_if(host), "up")
        sh("ip", "link", "set", root_if(host), "up")

    def down(self) -> None:
        for host in HOSTS:
            sh("ip", "netns", "del", ns_name(host), check=False)
            sh("ip", "link", "del", root_if(host), check=False)
        sh("ip", "link", "del", BRIDGE, check=False)


class TcpRelay(threading.Thread):
    """Relays SERVICES:port to a loopback server (PostgreSQL listens on 127.0.0.1 only)."""

    def __init__(self, listen: tuple[str, int], target: tuple[str, int]):
        super().__init__(daemon=True)
        self.listen, self.target = listen, target
        self.ready = threading.Event()
        self.loop: asyncio.AbstractEventLoop | None = None

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            r2, w2 = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        await asyncio.gather(self._pipe(reader, w2), self._pipe(r2, writer))

    def run(self) -> None:
        self.loop = asyncio.new_event_loop()
        server = self.loop.run_until_complete(asyncio.start_server(self._handle, *self.listen))
        self.ready.set()
        try:
            self.loop.run_forever()
        finally:
            server.close()

    def stop(self) -> None:
        if self.loop:
            self.loop.call_soon_threadsafe(self.loop.stop)


def spawn(ns: str | None, args: list[str], env: dict[str, str], log: Path, cwd: Path) -> subprocess.Popen:
    prefix = ["ip", "netns", "exec", ns] if ns else []
    with open(log, "ab") as out:
        return subprocess.Popen([*prefix, *args], env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)


def stop(p: subprocess.Popen) -> None:
    if p.poll() is None:
        try:
            os.killpg(p.pid, signal.SIGTERM)
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(timeout=5)
        except ProcessLookupError:
            pass


def wait(cond, timeout: float, what: str, step: float = 0.05):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@pytest.fixture()
def network():
    reason = netns_unavailable()
    if reason:
        pytest.skip(f"multi-host test skipped: {reason}")
    net = Network()
    try:
        net.up()
        yield net
    finally:
        net.down()


def test_workers_on_separate_hosts_survive_a_cut_link(network, tmp_path):
    from .pgutil import PG_ADMIN

    procs: list[subprocess.Popen] = []
    relay = None
    s3 = None
    logs = tmp_path / "logs"
    logs.mkdir()
    try:
        # --- services on the services host ---------------------------------------------------
        redis_port = free_port()
        procs.append(spawn(None, ["redis-server", "--bind", SERVICES, "--port", str(redis_port), "--save", "", "--protected-mode", "no",
                                  "--appendonly", "no"], dict(os.environ), logs / "redis.log", tmp_path))
        s3 = start_s3_server(logs, host=SERVICES)
        bucket = s3.create_bucket("newsroom-clips")
        pg_port = free_port()
        pg_target = PG_ADMIN.split("@", 1)[1].split("/", 1)[0]
        pg_host, _, pg_target_port = pg_target.partition(":")
        relay = TcpRelay((SERVICES, pg_port), (pg_host, int(pg_target_port or 5432)))
        relay.start()
        assert relay.ready.wait(5)
        with fresh_database("videogen_multihost") as db_url:
            creds = db_url.split("://", 1)[1].split("@", 1)[0]
            db_name = db_url.rsplit("/", 1)[1]
            base_env = {k: v for k, v in os.environ.items() if not k.startswith(("VIDEOGEN_", "AWS_"))}
            base_env.update({
                "VIDEOGEN_BROKER_URL": f"redis://{SERVICES}:{redis_port}/0",
                "VIDEOGEN_DATABASE_URL": f"postgresql+psycopg://{creds}@{SERVICES}:{pg_port}/{db_name}",
                **s3.env(bucket, "clips"),
                "VIDEOGEN_HEARTBEAT_INTERVAL": "0.5", "VIDEOGEN_STALE_AFTER": str(STALE_AFTER),
                "VIDEOGEN_SWEEP_INTERVAL": "0.5", "VIDEOGEN_REDISPATCH_AFTER": "30", "VIDEOGEN_RETRY_BACKOFF": "1",
                "PYTHONUNBUFFERED": "1",
            })

            def host_env(name: str) -> dict[str, str]:
                home = tmp_path / name
                home.mkdir(exist_ok=True)
                return {**base_env, "VIDEOGEN_HOME": str(home), "VIDEOGEN_WORKER_HOST": name}

            cli = [sys.executable, "-m", "videogen.cli"]
            api_port = 8000
            api_url = f"http://{HOSTS['api']}:{api_port}"
            procs.append(spawn(ns_name("api"), [*cli, "api", "--host", HOSTS["api"], "--port", str(api_port)],
                               host_env("apihost"), logs / "api.log", tmp_path))
            for n in ("1", "2"):
                procs.append(spawn(ns_name(f"w{n}"), [*cli, "worker", "--name", f"w{n}@host{n}"],
                                   host_env(f"host{n}"), logs / f"host{n}.log", tmp_path))
            client = httpx.Client(base_url=api_url, timeout=10)

            def api_up() -> bool:
                try:
                    return client.get("/health").status_code == 200
                except httpx.HTTPError:
                    return False

            wait(api_up, 60, f"the API on {api_url}: {(logs / 'api.log').read_text(errors='replace')[-800:]}", 0.3)
            wait(lambda: all("ready." in (logs / f"host{n}.log").read_text(errors="replace") for n in "12"), 60,
                 "both workers ready", 0.3)

            # --- a batch of 8 tiny clips --------------------------------------------------------
            articles = [short_article(id=f"story-{i}", title=f"Newsroom story number {i} about the exhibition",
                                      summary=f"Story {i}. The city museum opened a new exhibition on Monday. "
                                              "Visitors can step inside a capsule replica and watch a launch.")
                        for i in range(N_JOBS)]
            t0 = time.monotonic()
            r = client.post("/v1/videos", json={"articles": articles, "options": {"height": 144, "fps": 10}})
            assert r.status_code == 202, r.text
            ids = [j["id"] for j in r.json()["jobs"]]

            # --- cut host1 while it renders -----------------------------------------------------
            def host1_rendering() -> str | None:  # mid-batch: host1 has finished a job already
                q = client.get("/v1/queue").json()
                if not any(w["worker"].startswith("host1:") for w in q["workers"]):
                    return None
                for j in q["running"]:
                    if (j["worker"] or "").startswith("host1:") and j["percent"] < 60:
                        return j["id"]
                return None

            victim = wait(host1_rendering, 60, "host1 to render a job", 0.02)
            network.cut("w1")
            t_cut = time.monotonic()

            def events(job_id: str) -> list[dict]:
                return client.get(f"/v1/videos/{job_id}/events").json()["items"]

            wait(lambda: any(e["event"] == "requeued" for e in events(victim)), 30, "the cut host's job to be requeued")
            t_requeued = time.monotonic()
            job = wait(lambda: (j := client.get(f"/v1/videos/{victim}").json())["status"] == "done" and j, 60,
                       "the requeued job to finish elsewhere")
            t_elsewhere = time.monotonic()
            assert job["worker"].startswith("host2:"), job

            def all_done() -> bool:
                return all(client.get(f"/v1/videos/{i}").json()["status"] in ("done", "failed") for i in ids)

            wait(all_done, 90, "the batch to drain", 0.2)
            t_drained = time.monotonic()
            jobs = [client.get(f"/v1/videos/{i}").json() for i in ids]
            assert [j["status"] for j in jobs] == ["done"] * N_JOBS, [(j["id"], j["status"], j["error"]) for j in jobs]

            # --- exactly once, files in S3 ---------------------------------------------------------
            s3c = s3.client()

            def listing() -> dict[str, tuple[str, str]]:
                out = {}
                for page in s3c.get_paginator("list_objects_v2").paginate(Bucket=bucket):
                    for o in page.get("Contents", []):
                        out[o["Key"]] = (o["ETag"], o["LastModified"].isoformat())
                return out

            before = listing()
            assert len(before) == 4 * N_JOBS, sorted(before)
            for j in jobs:
                done_events = [e for e in events(j["id"]) if e["event"] == "done"]
                assert len(done_events) == 1, events(j["id"])
                prefix = f"clips/{j['content_key']}/"
                assert {k for k in before if k.startswith(prefix)} == {prefix + n for n in (
                    "video.mp4", "poster.jpg", "captions.vtt", "manifest.json")}
                manifest = json.loads(s3c.get_object(Bucket=bucket, Key=prefix + "manifest.json")["Body"].read())
                for name in ("video.mp4", "poster.jpg", "captions.vtt"):
                    body = s3c.get_object(Bucket=bucket, Key=prefix + name)["Body"].read()
                    assert hashlib.sha256(body).hexdigest() == manifest["files"][name]["sha256"], (j["id"], name)
            history = [(e["event"], (e["worker"] or "").split(":")[0]) for e in events(victim)]
            assert history == [("queued", ""), ("rendering", "host1"), ("requeued", "host1"),
                               ("rendering", "host2"), ("done", "host2")], history
            per_host = {h: sum(1 for j in jobs if j["worker"].startswith(h + ":")) for h in ("host1", "host2")}
            # The API streams a video from S3 with Range.
            r = client.get(f"/v1/videos/{victim}/video.mp4", headers={"Range": "bytes=0-99"})
            assert r.status_code == 206 and len(r.content) == 100

            # --- host1 comes back: it publishes nothing -------------------------------------------
            host1_log = logs / "host1.log"
            dropped_while_cut = f"job {victim}: job store unreachable" in host1_log.read_text(errors="replace")
            network.restore("w1")
            t_restored = time.monotonic()
            wait(lambda: f"job {victim}" in host1_log.read_text(errors="replace")
                 and "dropping this attempt" in host1_log.read_text(errors="replace"), 40,
                 "host1 to drop the attempt it lost")
            time.sleep(1.0)
            assert listing() == before, "host1 wrote to the bucket after it came back"
            assert [e["event"] for e in events(victim)].count("done") == 1
            assert client.get(f"/v1/videos/{victim}").json()["worker"].startswith("host2:")
            # And host1 is back on the broker (Celery's remote control answers from its netns).
            def host1_answers() -> bool:
                r = subprocess.run([str(Path(sys.executable).parent / "celery"), "-A", "workers.celery_app", "inspect",
                                    "ping", "-d", "w1@host1", "--timeout", "3"], env={**base_env, "VIDEOGEN_HOME": str(tmp_path / "apihost")},
                                   cwd=tmp_path, capture_output=True, text=True, timeout=30)
                return "pong" in r.stdout

            wait(host1_answers, 40, "host1 to answer a ping after the link came back", 0.5)
            t_ping = time.monotonic()
            r = client.post("/v1/videos", json={**short_article(id="after-restore", title="Back online"),
                                                "options": {"height": 144, "fps": 10}})
            wait(lambda: client.get(f"/v1/videos/{r.json()['id']}").json()["status"] == "done", 60, "a job after restore", 0.2)

            figures = {
                "jobs": N_JOBS, "workers": "2 hosts (netns), 1 render process each",
                "per_host": per_host, "cut_job": victim[:8],
                "drain_s": round(t_drained - t0, 1),
                "cut_to_requeue_s": round(t_requeued - t_cut, 1),
                "cut_to_done_on_host2_s": round(t_elsewhere - t_cut, 1),
                "requeue_to_done_s": round(t_elsewhere - t_requeued, 1),
                "host1_dropped_its_attempt": "while cut off (job store unreachable)" if dropped_while_cut
                else "after the link came back (lease lost)",
                "restore_to_host1_ping_s": round(t_ping - t_restored, 1),
                "stale_after_s": STALE_AFTER,
            }
            print("\nMULTIHOST " + json.dumps(figures))
            (Path(os.environ.get("VIDEOGEN_MULTIHOST_FIGURES", tmp_path / "figures.json"))).write_text(json.dumps(figures))
            client.close()
            for p in procs[1:]:
                stop(p)
    finally:
        for p in procs:
            stop(p)
        if s3 is not None:
            s3.stop()
        if relay is not None:
            relay.stop()
