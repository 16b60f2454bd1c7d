"""Faults: a full disk, an image host that never answers, and a worker that renders 50 clips in
a row (no memory growth, no ffmpeg left behind). The soak test is in test_soak.py."""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time

import pytest

from videogen.cli.bench import descendants, rss_kb
from videogen.service.videos import JobOptions, VideoService
from videogen.settings import Settings

from .helpers import short_article
from .stack import make_stack, wait_for

KEY = "faults-key-0000000000"
AUTH = {"X-API-Key": KEY}


def _tmpfs(mnt, size: str):
    """A tmpfs of ``size`` mounted at ``mnt``: real ENOSPC, not a simulated one (the fault
    tests run as root)."""
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mnt)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.fail(f"cannot mount a tmpfs (the fault tests run as root): {r.stderr}")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


@pytest.fixture()
def small_disk(tmp_path):
    """A 1.5 MB disk for the media."""
    yield from _tmpfs(tmp_path / "small-disk", "1500k")


@pytest.fixture()
def job_store_disk(tmp_path):
    """A 4 MB disk for the job store alone."""
    yield from _tmpfs(tmp_path / "job-store-disk", "4m")


def test_a_full_job_store_disk_answers_503_and_nothing_stored_is_lost(tmp_path, job_store_disk, settings):
    import sqlite3

    from fastapi.testclient import TestClient

    from videogen.http.app import create_app

    s = Settings(home=tmp_path / "home", cache_dir=settings.cache_path, api_keys=KEY,
                 database_url=f"sqlite:///{job_store_disk}/jobs.sqlite")
    with TestClient(create_app(s, VideoService(s), run_sweeper=False)) as c:
        first = c.post("/v1/videos", json={**short_article(), "options": {"height": 120}}, headers=AUTH)
        assert first.status_code == 202
        assert c.get("/health").json()["checks"]["job_store"] == "ok"
        filler = job_store_disk / "filler"
        subprocess.run(["dd", "if=/dev/zero", f"of={filler}", "bs=4k"], capture_output=True, check=False)
        assert "nearly full" in c.get("/health").json()["checks"]["job_store"], "seen before any write fails"
        for i in range(3):
            big = {**short_article(), "id": f"big-{i}", "summary": " ".join(f"Sentence {j} of a long text." for j in range(400))}
            r = c.post("/v1/videos", json=big, headers=AUTH)
            assert r.status_code == 503 and r.headers["content-type"] == "application/problem+json", r.text
            assert int(r.headers["retry-after"]) > 0
        health = c.get("/health")
        assert health.status_code == 503 and health.json()["status"] == "degraded"
        assert c.get(f"/v1/videos/{first.json()['id']}", headers={"X-API-Key": KEY}).json()["status"] == "queued"
        filler.unlink()
        assert c.post("/v1/videos", json={**short_article(), "id": "after"}, headers=AUTH).status_code == 202
        assert c.get("/health").json()["checks"]["job_store"] == "ok"
    db = sqlite3.connect(job_store_disk / "jobs.sqlite")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert db.execute("SELECT count(*) FROM jobs").fetchone()[0] == 2


def test_disk_full_fails_the_job_cleanly_and_the_worker_goes_on(tmp_path_factory, small_disk, settings):
    stack = make_stack(tmp_path_factory.mktemp("disk"), None, {
        "VIDEOGEN_API_KEYS": KEY, "VIDEOGEN_STORAGE_URL": f"file://{small_disk}"}, cache_dir=settings.cache_path)
    try:
        stack.start_worker()
        stack.start_api()
        stack.wait_workers_ready()
        with stack.client() as c:
            long = {**short_article("fr"), "id": "too-big",
                    "summary": " ".join(f"Phrase numéro {i} de ce long résumé." for i in range(40)),
                    "options": {"height": 360, "fps": 15}}
            job_id = c.post("/v1/videos", json=long, headers=AUTH).json()["id"]
            failed = wait_for(c, job_id, timeout=180)
            assert failed["status"] == "failed", failed
            assert "no space left on device" in failed["error"].lower(), failed["error"]
            assert failed["attempts"] == 3, "a full disk is retried with backoff before failing"
            assert c.get(f"/v1/videos/{job_id}/video.mp4").status_code == 404
            visible = [p.name for p in small_disk.iterdir() if not p.name.startswith(".")]
            assert visible == [], f"partial files visible: {visible}"
            leftovers = list((small_disk / ".staging").rglob("*")) if (small_disk / ".staging").exists() else []
            assert leftovers == [], leftovers
            ok_id = c.post("/v1/videos", json={**short_article(), "id": "fits", "options": {"height": 90, "fps": 5}},
                           headers=AUTH).json()["id"]
            ok = wait_for(c, ok_id, timeout=120)
            assert ok["status"] == "done", ok
            assert c.get(f"/v1/videos/{ok_id}/poster.jpg").status_code == 200
    finally:
        stack.stop()


def test_an_image_host_that_never_answers_is_retried_then_skipped(tmp_path, settings, monkeypatch):
    """Each attempt waits at most the image timeout; the last attempt renders without the
    image (with a warning) rather than failing the clip."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    threading.Thread(target=accept, daemon=True).start()
    monkeypatch.setenv("VIDEOGEN_IMAGE_HOSTS_ALLOW", "127.0.0.1")
    s = Settings(home=tmp_path / "home", cache_dir=settings.cache_path, image_timeout=1.0, max_attempts=3)
    svc = VideoService(s)
    svc.migrate()
    port = server.getsockname()[1]
    article = {**short_article(), "images": [{"src": f"http://127.0.0.1:{port}/photo.jpg"}]}
    from videogen.render.article import parse_article

    job, _ = svc.enqueue(parse_article(article), JobOptions(height=90, fps=5))
    outcomes = []
    try:
        for _ in range(3):
            t0 = time.monotonic()
            outcomes.append((svc.run(job.id, "w").status, time.monotonic() - t0))
    finally:
        stop.set()
        for c in held:
            c.close()
        server.close()
    assert [o for o, _ in outcomes] == ["retry", "retry", "done"]
    for _, seconds in outcomes[:2]:
        assert seconds < 10, outcomes
    done = svc.store.get(job.id)
    assert done.status == "done" and done.attempts == 3
    manifest = svc.storage.manifest(done.output)
    assert manifest["images_used"] == 0
    assert any("images[0] skipped" in w for w in manifest["warnings"])


def _name(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


def _state(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return ""


def test_fifty_renders_in_a_row_leak_neither_memory_nor_ffmpeg(tmp_path_factory, settings):
    stack = make_stack(tmp_path_factory.mktemp("leak"), None, {
        "VIDEOGEN_API_KEYS": KEY, "VIDEOGEN_WORKER_MAX_TASKS": "1000"}, cache_dir=settings.cache_path)
    samples: list[tuple[int, float, int, int]] = []  # (jobs done, pool RSS MB, ffmpeg procs, zombies)
    done_count = [0]
    stop = threading.Event()
    try:
        worker = stack.start_worker()
        stack.start_api()
        stack.wait_workers_ready()

        def sample() -> None:
            while not stop.wait(0.2):
                procs = descendants(worker.pid)
                pool = [p for p in procs if _name(p) not in ("ffmpeg", "") and not _name(p).startswith("ffmpeg")]
                ff = [p for p in procs if "ffmpeg" in _name(p)]
                zombies = [p for p in procs if _state(p) == "Z"]
                rss = max((rss_kb(p) / 1024 for p in pool), default=0.0)
                samples.append((done_count[0], rss, len(ff), len(zombies)))

        threading.Thread(target=sample, daemon=True).start()
        with stack.client() as c:
            for i in range(50):
                body = {**short_article(), "id": f"leak{i}",
                        "summary": f"Story number {i} opened on Monday. It has {i + 3} visitors.",
                        "options": {"height": 90, "fps": 5}}
                job_id = c.post("/v1/videos", json=body, headers=AUTH).json()["id"]
                job = wait_for(c, job_id, timeout=120)
                assert job["status"] == "done", job
                done_count[0] = i + 1
        time.sleep(1.0)
        stop.set()
        procs = descendants(worker.pid)
        assert [p for p in procs if "ffmpeg" in _name(p)] == [], "ffmpeg left running after the renders"
        assert [p for p in procs if _state(p) == "Z"] == [], "zombie processes left behind"
    finally:
        stop.set()
        stack.stop()
    assert max(s[2] for s in samples) <= 1, "more than one ffmpeg at a time in one worker"
    early = [rss for n, rss, _, _ in samples if 8 <= n <= 12 and rss]
    late = [rss for n, rss, _, _ in samples if n >= 45 and rss]
    growth = max(late) - max(early)
    print(f"\nworker RSS after ~10 renders {max(early):.0f} MB, after 50 {max(late):.0f} MB (growth {growth:+.0f} MB)")
    assert growth < 60, f"worker memory grew by {growth:.0f} MB over 40 renders"
    assert os.path.exists(stack.logs / "worker0.log")
