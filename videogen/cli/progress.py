"""A progress bar on stderr for long CLI work: a redrawn bar on a terminal, one line per stage
otherwise (logs, CI)."""

from __future__ import annotations

import sys
import time
from typing import TextIO


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
