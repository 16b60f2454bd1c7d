"""Progress on stderr for long CLI work: a redrawn bar on a terminal, one line per stage
otherwise (logs, CI). ``ProgressBar`` follows one render in this process (``render``);
``JobBoard`` follows jobs rendered by the service's workers (``serve``, ``enqueue --wait``)."""

from __future__ import annotations

import shutil
import sys
import threading
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from videogen.service.store import Job


class ProgressBar:
    def __init__(self, label: str, stream: TextIO | None = None, width: int = 28):
        self.label = label if len(label) <= 32 else label[:31] + "…"
        self.stream = stream or sys.stderr
        self.width = width
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.start = time.monotonic()
        self._last_stage = ""
        self._last_draw = 0.0
        self._last_pct = -1

    def __call__(self, stage: str, fraction: float) -> None:
        self.update(stage, fraction)

    def update(self, stage: str, fraction: float) -> None:
        fraction = max(0.0, min(1.0, fraction))
        pct = int(fraction * 100)
        now = time.monotonic()
        if self.tty:
            if pct == self._last_pct and stage == self._last_stage and now - self._last_draw < 0.5:
                return
            filled = int(self.width * fraction)
            elapsed = now - self.start
            eta = f"{elapsed / fraction - elapsed:4.0f}s left" if 0.03 < fraction < 1 else "         "
            bar = "█" * filled + "░" * (self.width - filled)
            self.stream.write(f"\r{self.label:<32} {bar} {pct:3d}% {stage:<9} {eta}")
            self.stream.flush()
            self._last_draw = now
        elif stage != self._last_stage:
            self.stream.write(f"{self.label}: {stage} ({pct}%)\n")
            self.stream.flush()
        self._last_stage, self._last_pct = stage, pct

    def done(self, message: str = "") -> None:
        elapsed = time.monotonic() - self.start
        if self.tty:
            self.stream.write("\r\033[K")
        self.stream.write(f"{self.label}: done in {elapsed:.1f}s{(' — ' + message) if message else ''}\n")
        self.stream.flush()

    def fail(self, message: str) -> None:
        if self.tty:
            self.stream.write("\r\033[K")
        self.stream.write(f"{self.label}: failed — {message}\n")
        self.stream.flush()


def job_label(job: Job) -> str:
    """``<article id> <job id prefix>``, at most 31 characters."""
    return f"{job.article_id[:22]} {job.id[:8]}"


def job_result(job: Job) -> str:
    """The line a finished job leaves: what came out, how long the render took and, apart,
    how long the job waited for a worker (a short render may have waited long behind others)."""
    label = job_label(job)
    if job.status not in ("done", "review"):
        return f"{label}: {job.status} — {job.error or 'no error recorded'}"
    waits = " (waiting for review: videogen review approve ID)" if job.status == "review" else ""
    line = f"{label}: {job.status}{waits} — {job.duration or 0:.1f}s clip, {job.engine}"
    render = job.render_seconds
    if render is None and job.started_at and job.finished_at:
        render = (job.finished_at - job.started_at).total_seconds()
    if render is not None:
        line += f"; rendered in {render:.1f}s"
    if job.started_at:
        line += f" after {max(0.0, (job.started_at - job.created_at).total_seconds()):.1f}s in the queue"
    if job.attempts > 1:
        line += f" (attempt {job.attempts})"
    return line


class JobBoard:
    """Progress of several service jobs on one stream (``serve``, ``enqueue --wait``).

    On a terminal: a bar per rendering job and a line counting the queued ones, redrawn in
    place at the bottom; finished jobs and other messages (``print``) scroll above it, so the
    bars stay readable however many jobs run at once. Otherwise (logs, CI): one line per stage
    of each job. Either way each job ends with one line (``job_result``). Thread-safe:
    ``videogen serve`` prints its workers' messages through it."""

    def __init__(self, stream: TextIO | None = None):
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._lock = threading.Lock()
        self._rows: list[str] = []
        self._drawn = 0  # lines of the board on the screen now
        self._stages: dict[str, str] = {}

    def print(self, text: str) -> None:
        """A line that stays, above the bars."""
        with self._lock:
            self._erase()
            self.stream.write(text.rstrip("\n") + "\n")
            self._draw()
            self.stream.flush()

    def update(self, jobs: list[Job]) -> None:
        """Show the unfinished ``jobs`` as they are now."""
        if not self.tty:
            for job in jobs:
                stage = job.stage or job.status
                if self._stages.get(job.id) != stage:
                    self._stages[job.id] = stage
                    self.print(f"{job_label(job)}: {stage} ({job.percent:.0f}%)")
            return
        width = shutil.get_terminal_size((100, 24)).columns - 1
        rows = [self._bar(job, width) for job in jobs if job.status == "rendering"]
        queued = [job for job in jobs if job.status == "queued"]
        if queued:
            waiting = "" if rows else ", waiting for a worker"
            rows.append(f"{len(queued)} queued{waiting}: " + ", ".join(job_label(j) for j in queued))
        with self._lock:
            self._erase()
            self._rows = [row[:width] for row in rows]
            self._draw()
            self.stream.flush()

    def finish(self, job: Job) -> None:
        self.print(job_result(job))

    def _bar(self, job: Job, width: int) -> str:
        fraction = max(0.0, min(1.0, job.percent / 100))
        elapsed = max(0.0, (datetime.now(UTC) - job.started_at).total_seconds()) if job.started_at else 0.0
        eta = f"{elapsed / fraction - elapsed:4.0f}s left" if 0.03 < fraction < 1 else ""
        size = max(10, min(28, width - 60))
        filled = int(size * fraction)
        bar = "█" * filled + "░" * (size - filled)
        return f"{job_label(job):<31} {bar} {int(fraction * 100):3d}% {job.stage or 'starting':<9} {eta}"

    def _erase(self) -> None:
        if self.tty and self._drawn:
            self.stream.write(f"\r\033[{self._drawn}A\033[J")  # up to the board's first line, clear below
        self._drawn = 0

    def _draw(self) -> None:
        if self.tty:
            for row in self._rows:
                self.stream.write(row + "\n")
            self._drawn = len(self._rows)
