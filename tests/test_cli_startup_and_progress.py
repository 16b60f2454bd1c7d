"""The CLI and worker layer's own promises: importing the CLI or the API builds no Celery app and
touches no database, the app is still found by ``celery -A workers.celery_app``, a missing job
is bad input, and the job board shows render time and queue
wait apart."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from videogen.cli.options import EXIT_BAD_INPUT, CommandExit, job_or_exit
from videogen.cli.progress import JobBoard, job_result
from videogen.errors import JobNotFound
from videogen.service.store import Job


def test_importing_the_cli_and_the_api_builds_no_celery_app(tmp_path):
    home = tmp_path / "home"
    code = (
        "import sys\n"
        "import videogen.cli\n"
        "videogen.cli.build_parser()\n"
        "heavy = sorted(m for m in ('celery', 'sqlalchemy', 'videogen.settings', 'workers') if m in sys.modules)\n"
        "assert not heavy, f'--help imports {heavy}'\n"
        "import videogen.http.app, workers.celery_app, workers.dispatch, workers.main\n"
        "assert workers.celery_app.default_app.cache_info().currsize == 0, 'an app was built on import'\n"
        f"assert not __import__('os').path.exists({str(home)!r}), 'the home folder was created on import'\n"
        "from celery.app.utils import find_app\n"
        "app = find_app('workers.celery_app')  # what `celery -A workers.celery_app` does\n"
        "assert app is workers.celery_app.app is workers.celery_app.default_app()\n"
        "app.loader.import_default_modules()  # what a worker does: the tasks, under their names\n"
        "assert {'videogen.render', 'videogen.webhook'} <= set(app.tasks), sorted(app.tasks)\n"
        "print('ok')\n"
    )
    env = {**os.environ, "VIDEOGEN_HOME": str(home)}
    env = {k: v for k, v in env.items() if not k.startswith("VIDEOGEN_") or k == "VIDEOGEN_HOME"}
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr[-2000:]


def test_a_missing_job_exits_2():
    def lookup(job_id: str) -> Job:
        raise JobNotFound(job_id)

    with pytest.raises(CommandExit) as e:
        job_or_exit("abc", lookup)
    assert e.value.code == EXIT_BAD_INPUT and e.value.message == "no job abc"


def _job(status: str, **kw: Any) -> Job:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    base: dict[str, Any] = dict(
        id="0123456789abcdef" * 2, article_id="space-exhibition-opens", content_key="k", template="news", voice=None,
        tts="auto", options={}, article={}, status=status, stage=None, percent=0.0, error=None, attempts=1, priority=5,
        worker=None, lease=None, heartbeat_at=None, created_at=t0, dispatched_at=None, started_at=None, finished_at=None,
        output=None, duration=None, render_seconds=None, engine=None, webhook_url=None)
    base.update(kw)
    return Job(**base)


def test_a_finished_job_shows_render_time_and_queue_wait_apart():
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    done = _job("done", started_at=t0 + timedelta(seconds=80), finished_at=t0 + timedelta(seconds=90),
                render_seconds=9.04, duration=17.3, engine="espeak:fr", output="k")
    assert job_result(done) == ("space-exhibition-opens 01234567: done — 17.3s clip, espeak:fr; "
                                "rendered in 9.0s after 80.0s in the queue")
    failed = _job("failed", error="image host unreachable", attempts=3)
    assert job_result(failed) == "space-exhibition-opens 01234567: failed — image host unreachable"


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_job_board_lines_per_stage_off_a_terminal():
    out = io.StringIO()
    board = JobBoard(out)
    board.update([_job("queued")])
    board.update([_job("queued")])
    board.update([_job("rendering", stage="narration", percent=12.0)])
    board.print("videogen: worker w1 ready")
    assert out.getvalue().splitlines() == [
        "space-exhibition-opens 01234567: queued (0%)",
        "space-exhibition-opens 01234567: narration (12%)",
        "videogen: worker w1 ready",
    ]


def test_job_board_redraws_its_bars_below_what_scrolls_on_a_terminal():
    out = _Tty()
    board = JobBoard(out)
    now = datetime.now(UTC)
    rendering = [_job("rendering", id=f"{i}" * 32, stage="frames", percent=50.0, started_at=now) for i in (1, 2)]
    board.update([*rendering, _job("queued", id="3" * 32)])
    first = out.getvalue()
    assert first.count("\n") == 3 and "50% frames" in first and "1 queued: space-exhibition-opens 33333333" in first
    board.print("a message")
    # Up three lines, clear, the message, then the three board lines again.
    assert out.getvalue()[len(first):].startswith("\r\x1b[3A\x1b[Ja message\n")
    board.update([])
    assert out.getvalue().endswith("\r\x1b[3A\x1b[J")
