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
with all its files in S3 (checksums valid); host1, brought back, publishes nothing.

The hosts are set up once for the module (``cluster``); the tests are the steps of the scenario,
in order (marker ``steps``: after a failing step the later ones are skipped), so a failure
names the step that broke."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from videogen.outputs import FILES, MANIFEST

from .helpers import short_article
from .s3server import S3Server, start_s3_server
from .services import PG_ADMIN, fresh_database
from .stack import free_port

pytestmark = [pytest.mark.multihost, pytest.mark.postgres, pytest.mark.slow, pytest.mark.steps]

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


def wait(cond, timeout: float, what: str | Callable[[], str], step: float = 0.05):  # type: ignore[no-untyped-def]
    """``cond()`` once it is true; ``what`` (or what it returns then, e.g. a log's tail) names
    what did not happen in time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout}s waiting for {what() if callable(what) else what}")




# --- the hosts --------------------------------------------------------------------------------

@dataclass
class Cluster:
    """The four hosts, started. The steps below note what the scenario has seen so far."""

    network: Network
    tmp: Path
    logs: Path
    api_url: str
    client: httpx.Client
    s3: S3Server
    bucket: str
    base_env: dict[str, str]
    ids: list[str] = field(default_factory=list)
    victim: str = ""
    jobs: list[dict] = field(default_factory=list)
    published: dict[str, tuple[str, str]] = field(default_factory=dict)
    dropped_while_cut: bool = False
    t: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.s3c = self.s3.client()  # one boto3 client for the whole scenario

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")

    def job(self, job_id: str) -> dict:
        return self.client.get(f"/v1/videos/{job_id}").json()

    def events(self, job_id: str) -> list[dict]:
        return self.client.get(f"/v1/videos/{job_id}/events").json()["items"]

    def listing(self) -> dict[str, tuple[str, str]]:
        """Every object in the bucket: key -> (ETag, last modified)."""
        out = {}
        for page in self.s3c.get_paginator("list_objects_v2").paginate(Bucket=self.bucket):
            for o in page.get("Contents", []):
                out[o["Key"]] = (o["ETag"], o["LastModified"].isoformat())
        return out


@pytest.fixture(scope="module")
def network() -> Iterator[Network]:
    net = Network()
    try:
        net.up()
        yield net
    finally:
        net.down()


@pytest.fixture(scope="module")
def cluster(network: Network, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Redis, S3 and PostgreSQL (through a relay) on the services host; ``videogen api`` on its
    host and a ``videogen worker`` on each of host1 and host2, each with its own home folder.
    Started here, waited for in step 1; stopped in reverse order afterwards."""
    tmp = tmp_path_factory.mktemp("multihost")
    logs = tmp / "logs"
    logs.mkdir()
    with ExitStack() as teardown:
        # --- services on the services host ---------------------------------------------------
        redis_port = free_port()
        redis_server = spawn(None, ["redis-server", "--bind", SERVICES, "--port", str(redis_port), "--save", "",
                                    "--protected-mode", "no", "--appendonly", "no"], dict(os.environ), logs / "redis.log", tmp)
        teardown.callback(stop, redis_server)
        s3 = start_s3_server(logs, host=SERVICES)
        teardown.callback(s3.stop)
        bucket = s3.create_bucket("newsroom-clips")
        pg_port = free_port()
        pg_target = PG_ADMIN.split("@", 1)[1].split("/", 1)[0]
        pg_host, _, pg_target_port = pg_target.partition(":")
        relay = TcpRelay((SERVICES, pg_port), (pg_host, int(pg_target_port or 5432)))
        relay.start()
        teardown.callback(relay.stop)
        assert relay.ready.wait(5), "the PostgreSQL relay did not start"
        db_url = teardown.enter_context(fresh_database("videogen_multihost"))
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
            home = tmp / name
            home.mkdir(exist_ok=True)
            return {**base_env, "VIDEOGEN_HOME": str(home), "VIDEOGEN_WORKER_HOST": name}

        # --- the API host and the two worker hosts ---------------------------------------------
        cli = [sys.executable, "-m", "videogen.cli"]
        api_port = 8000
        api_url = f"http://{HOSTS['api']}:{api_port}"
        api = spawn(ns_name("api"), [*cli, "api", "--host", HOSTS["api"], "--port", str(api_port)],
                    host_env("apihost"), logs / "api.log", tmp)
        teardown.callback(stop, api)
        for n in ("1", "2"):
            worker = spawn(ns_name(f"w{n}"), [*cli, "worker", "--name", f"w{n}@host{n}"],
                           host_env(f"host{n}"), logs / f"host{n}.log", tmp)
            teardown.callback(stop, worker)
        client = teardown.enter_context(httpx.Client(base_url=api_url, timeout=10))
        yield Cluster(network=network, tmp=tmp, logs=logs, api_url=api_url, client=client, s3=s3, bucket=bucket,
                      base_env=base_env)


# --- the scenario, step by step -----------------------------------------------------------------

def test_1_the_api_and_both_workers_come_up(cluster: Cluster):
    def api_up() -> bool:
        try:
            return cluster.client.get("/health").status_code == 200
        except httpx.HTTPError:
            return False

    wait(api_up, 60, lambda: f"the API on {cluster.api_url}: {cluster.log('api')[-800:]}", 0.3)
    wait(lambda: all("ready." in cluster.log(f"host{n}") for n in "12"), 60, "both workers ready", 0.3)


def test_2_a_batch_is_accepted_and_host1_renders_a_job(cluster: Cluster):
    client = cluster.client
    articles = [short_article(id=f"story-{i}", title=f"Newsroom story number {i} about the exhibition",
                              summary=f"Story {i}. The city museum opened a new exhibition on Monday. "
                                      "Visitors can step inside a capsule replica and watch a launch.")
                for i in range(N_JOBS)]
    cluster.t["start"] = time.monotonic()
    r = client.post("/v1/videos", json={"articles": articles, "options": {"height": 144, "fps": 10}})
    assert r.status_code == 202, r.text
    cluster.ids = [j["id"] for j in r.json()["jobs"]]

    def host1_rendering() -> str | None:  # mid-batch: host1 has finished a job already
        q = client.get("/v1/queue").json()
        if not any(w["worker"].startswith("host1:") for w in q["workers"]):
            return None
        for j in q["running"]:
            if (j["worker"] or "").startswith("host1:") and j["percent"] < 60:
                return j["id"]
        return None

    cluster.victim = wait(host1_rendering, 60, "host1 to render a job", 0.02)


def test_3_the_cut_hosts_job_is_requeued(cluster: Cluster):
    cluster.network.cut("w1")
    cluster.t["cut"] = time.monotonic()
    wait(lambda: any(e["event"] == "requeued" for e in cluster.events(cluster.victim)), 30,
         "the cut host's job to be requeued")
    cluster.t["requeued"] = time.monotonic()


def test_4_the_requeued_job_finishes_on_host2(cluster: Cluster):
    job = wait(lambda: (j := cluster.job(cluster.victim))["status"] == "done" and j, 60,
               "the requeued job to finish elsewhere")
    cluster.t["done_elsewhere"] = time.monotonic()
    assert job["worker"].startswith("host2:"), job


def test_5_the_whole_batch_is_done(cluster: Cluster):
    wait(lambda: all(cluster.job(i)["status"] in ("done", "failed") for i in cluster.ids), 90,
         "the batch to drain", 0.2)
    cluster.t["drained"] = time.monotonic()
    cluster.jobs = jobs = [cluster.job(i) for i in cluster.ids]
    assert [j["status"] for j in jobs] == ["done"] * N_JOBS, [(j["id"], j["status"], j["error"]) for j in jobs]


def test_6_every_clip_is_in_s3_once_with_valid_checksums(cluster: Cluster):
    s3c, bucket = cluster.s3c, cluster.bucket
    cluster.published = before = cluster.listing()
    assert len(before) == len(FILES) * N_JOBS, sorted(before)
    for j in cluster.jobs:
        done_events = [e for e in cluster.events(j["id"]) if e["event"] == "done"]
        assert len(done_events) == 1, cluster.events(j["id"])
        prefix = f"clips/{j['content_key']}/"
        assert {k for k in before if k.startswith(prefix)} == {prefix + n for n in FILES}
        manifest = json.loads(s3c.get_object(Bucket=bucket, Key=prefix + "manifest.json")["Body"].read())
        for name in (n for n in FILES if n != MANIFEST):
            body = s3c.get_object(Bucket=bucket, Key=prefix + name)["Body"].read()
            assert hashlib.sha256(body).hexdigest() == manifest["files"][name]["sha256"], (j["id"], name)
    # The API streams a video from S3 with Range.
    r = cluster.client.get(f"/v1/videos/{cluster.victim}/video.mp4", headers={"Range": "bytes=0-99"})
    assert r.status_code == 206 and len(r.content) == 100


def test_7_the_cut_job_went_from_host1_to_host2(cluster: Cluster):
    history = [(e["event"], (e["worker"] or "").split(":")[0]) for e in cluster.events(cluster.victim)]
    assert history == [("queued", ""), ("rendering", "host1"), ("requeued", "host1"),
                       ("rendering", "host2"), ("done", "host2")], history


def test_8_host1_back_online_drops_its_attempt_and_publishes_nothing(cluster: Cluster):
    victim = cluster.victim
    cluster.dropped_while_cut = f"job {victim}: job store unreachable" in cluster.log("host1")
    cluster.network.restore("w1")
    cluster.t["restored"] = time.monotonic()
    wait(lambda: f"job {victim}" in (log := cluster.log("host1")) and "dropping this attempt" in log, 40,
         "host1 to drop the attempt it lost")
    time.sleep(1.0)
    assert cluster.listing() == cluster.published, "host1 wrote to the bucket after it came back"
    assert [e["event"] for e in cluster.events(victim)].count("done") == 1
    assert cluster.job(victim)["worker"].startswith("host2:")


def test_9_host1_rejoins_the_broker_and_renders_again(cluster: Cluster):
    # Celery's remote control answers from host1's netns.
    def host1_answers() -> bool:
        r = subprocess.run([str(Path(sys.executable).parent / "celery"), "-A", "workers.celery_app", "inspect",
                            "ping", "-d", "w1@host1", "--timeout", "3"],
                           env={**cluster.base_env, "VIDEOGEN_HOME": str(cluster.tmp / "apihost")},
                           cwd=cluster.tmp, capture_output=True, text=True, timeout=30)
        return "pong" in r.stdout

    wait(host1_answers, 40, "host1 to answer a ping after the link came back", 0.5)
    cluster.t["ping"] = time.monotonic()
    r = cluster.client.post("/v1/videos", json={**short_article(id="after-restore", title="Back online"),
                                                "options": {"height": 144, "fps": 10}})
    wait(lambda: cluster.job(r.json()["id"])["status"] == "done", 60, "a job after restore", 0.2)

    t = cluster.t
    figures = {
        "jobs": N_JOBS, "workers": "2 hosts (netns), 1 render process each",
        "per_host": {h: sum(1 for j in cluster.jobs if j["worker"].startswith(h + ":")) for h in ("host1", "host2")},
        "cut_job": cluster.victim[:8],
        "drain_s": round(t["drained"] - t["start"], 1),
        "cut_to_requeue_s": round(t["requeued"] - t["cut"], 1),
        "cut_to_done_on_host2_s": round(t["done_elsewhere"] - t["cut"], 1),
        "requeue_to_done_s": round(t["done_elsewhere"] - t["requeued"], 1),
        "host1_dropped_its_attempt": "while cut off (job store unreachable)" if cluster.dropped_while_cut
        else "after the link came back (lease lost)",
        "restore_to_host1_ping_s": round(t["ping"] - t["restored"], 1),
        "stale_after_s": STALE_AFTER,
    }
    print("\nMULTIHOST " + json.dumps(figures))
    (Path(os.environ.get("VIDEOGEN_MULTIHOST_FIGURES", cluster.tmp / "figures.json"))).write_text(json.dumps(figures))
