"""CPU-seconds of a render by part, from the render's own clocks: each part's thread CPU time
(``time.thread_time``: user + system of the calling thread only) and, for the encoder, the CPU
of the ffmpeg child (``getrusage(RUSAGE_CHILDREN)``, counted once the child is waited for).
CPU time barely depends on what else runs on the machine, unlike wall time, so these say where
a render's time goes even on a busy machine (``videogen bench`` prints them). Written into the
manifest's ``timings`` as ``cpu_<part>`` (seconds)."""

from __future__ import annotations

import resource
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")

#: The parts, in the order the benchmark lists them.
PARTS = ("x264", "drawing", "writer", "narration", "images", "layers", "audio", "other")


def process_cpu() -> float:
    """User + system CPU-seconds of this process (all its threads) since it started."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def children_cpu() -> float:
    """User + system CPU-seconds of this process's children that have been waited for."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


class CpuParts:
    """CPU-seconds added up by part, from any thread."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._lock = threading.Lock()
        self._open = threading.local()  # this thread's part being counted: (part, since)
        self.first_frame_cpu: float | None = None  # process + children CPU when the first frame was drawn
        self.started = time.perf_counter()
        self.first_frame_s: float | None = None  # wall seconds from the start of the render to it

    def add(self, part: str, seconds: float) -> None:
        with self._lock:
            self.seconds[part] = self.seconds.get(part, 0.0) + max(0.0, seconds)

    @contextmanager
    def thread(self, part: str) -> Iterator[None]:
        """Count the calling thread's CPU time inside the block as ``part``. Parts nest
        without overlapping: inside an inner block, the outer part's clock stops."""
        outer = getattr(self._open, "part", None)
        now = time.thread_time()
        if outer is not None:
            self.add(outer[0], now - outer[1])
        self._open.part = (part, now)
        try:
            yield
        finally:
            now = time.thread_time()
            self.add(part, now - self._open.part[1])
            self._open.part = (outer[0], now) if outer is not None else None

    def timed(self, part: str, fn: Callable[P, R]) -> Callable[P, R]:
        """``fn`` counting its thread CPU time as ``part`` (for a task run in a pool)."""

        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            with self.thread(part):
                return fn(*args, **kwargs)

        return run

    def mark_first_frame(self) -> None:
        if self.first_frame_cpu is None:
            self.first_frame_cpu = process_cpu() + children_cpu()
            self.first_frame_s = time.perf_counter() - self.started

    def timings(self) -> dict[str, float]:
        """``cpu_<part>`` for every part measured, ``cpu_other`` (the process's CPU not in a
        part: interpreter start, imports, script, timeline, the main thread), ``cpu_total``
        (process and waited-for children since the process started) and ``cpu_startup`` (the
        same total when the first frame was drawn, every part before it included) and
        ``first_frame`` (wall seconds from the start of the render to the first frame drawn)."""
        total = process_cpu() + children_cpu()
        with self._lock:
            parts = dict(self.seconds)
        out = {f"cpu_{k}": round(v, 3) for k, v in parts.items()}
        out["cpu_other"] = round(max(0.0, total - sum(parts.values())), 3)
        out["cpu_total"] = round(total, 3)
        if self.first_frame_cpu is not None:
            out["cpu_startup"] = round(self.first_frame_cpu, 3)
        if self.first_frame_s is not None:
            out["first_frame"] = round(self.first_frame_s, 3)
        return out
