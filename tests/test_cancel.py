"""Issue 16: a cancel (DELETE, ``store.cancel``) stops a running render within seconds, during
narration and during the frames, kills its ffmpeg and leaves no staging folder; the worker
side notices it between heartbeats. The stop times are printed (``-s``); the bound asserted
is generous so that a loaded machine does not make it flaky."""

from __future__ import annotations

import os
import threading
import time

import pytest

from videogen.cli.bench import descendants
from videogen.render.article import parse_article
from videogen.service import videos
from videogen.service.videos import CANCEL_POLL, JobOptions, RunOutcome, VideoService
from videogen.settings import Settings

from .helpers import short_article

STOP_BOUND = 10.0  # seconds; measured: about one CANCEL_POLL plus one frame or one unit


def _ffmpeg_children() -> list[int]:
    out = []
    for pid in descendants(os.getpid()):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if b"ffmpeg" in f.read().split(b"\0")[0]:
                    out.append(pid)
        except OSError:
            pass
    return out


@pytest.mark.parametrize("stage", ["narration", "frames"])
def test_cancel_stops_a_running_render_within_seconds(tmp_path, monkeypatch, stage):
    # A heartbeat far slower than the bound: the lease check between beats notices the cancel.
    s = Settings(home=tmp_path / "home", heartbeat_interval=30.0, max_duration=600)
    svc = VideoService(s)
    svc.migrate()
    summary = " ".join(f"Sentence number {i} of this long summary describes the council's plan." for i in range(60))
    article = parse_article({**short_article(), "id": f"cancel-{stage}", "summary": summary})
    job, _ = svc.enqueue(article, JobOptions(tts="espeak", height=144, fps=30, max_duration=600))
    # The store shows the stage only at a heartbeat: watch the render's own progress instead.
    reached = threading.Event()
    real_render = videos.render_article

    def render(*args, progress, **kwargs):
        def spy(st: str, fraction: float) -> None:
            if st == stage and fraction > (0.4 if stage == "frames" else 0.03):
                reached.set()
            progress(st, fraction)

        return real_render(*args, progress=spy, **kwargs)

    monkeypatch.setattr(videos, "render_article", render)
    result: list[RunOutcome] = []
    runner = threading.Thread(target=lambda: result.append(svc.run(job.id, "test-worker")), daemon=True)
    runner.start()
    assert reached.wait(120), f"the render never reached {stage}: {svc.store.get(job.id)}"
    if stage == "frames":
        assert _ffmpeg_children(), "the encoder should be running"
    t0 = time.monotonic()
    assert svc.cancel(job.id).status == "cancelled"
    runner.join(STOP_BOUND * 3)
    stopped = time.monotonic() - t0
    print(f"\ncancel during {stage}: render stopped {stopped:.2f} s later (CANCEL_POLL {CANCEL_POLL} s)")
    assert not runner.is_alive() and result[0].status == "lost", result
    assert stopped < STOP_BOUND
    assert _ffmpeg_children() == []
    staging = s.media_path / ".staging"
    assert not staging.exists() or list(staging.iterdir()) == []
    assert svc.store.get(job.id).status == "cancelled"
