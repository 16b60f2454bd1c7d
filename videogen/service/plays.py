"""Play counts without tracking (issue 20): the player's beacons, counted per clip, UTC day and
event in ``video_plays`` (migration 5), and the aggregates read back from it.

What a beacon leaves behind is one increment of one ``(clip, day, event)`` counter: no cookie,
no address, no user agent, no per-view row. ``PlayCounter`` adds increments up in memory and
writes them in one transaction per flush (every ``interval`` seconds, or sooner once ``batch``
events wait, and on ``close``), so a flood of beacons costs the job store one upsert per
counter per second, not one write per beacon. Several API processes add to the same rows
(``count = count + n``), so none overwrites another's counts."""

from __future__ import annotations

import json
import logging
import re
import threading
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine

from videogen.service.schema import jobs, video_plays

log = logging.getLogger(__name__)

EVENTS = ("load", "play", "q25", "q50", "q75", "complete", "captions", "error")
"""What the player reports: page loaded, playback started, 25/50/75 % reached, the end
reached, captions turned on, a playback error. Each at most once per page view."""

STAT_FIELDS = {"load": "loads", "play": "plays", "q25": "q25", "q50": "q50", "q75": "q75",
               "complete": "completes", "captions": "captions", "error": "errors"}
"""The name of each event's total in the stats JSON."""

BOT_UA = re.compile(
    r"bot\b|bot/|crawl|spider|slurp|archiver|facebookexternalhit|embedly|preview|headless|phantomjs|"
    r"lighthouse|pingdom|uptime|monitor|curl/|wget/|python-|httpx|go-http-client|java/|okhttp|libwww|"
    r"node-fetch|axios/|scrapy|^$", re.I)
"""User agents taken for machines (crawlers, unfurlers, headless browsers, HTTP libraries, no
user agent at all): their beacons are ignored."""

JOB_ID = re.compile(r"^[a-f0-9]{32}$")
MAX_BEACON_BYTES = 1024


class BadBeacon(ValueError):
    """A beacon body that is not ``{"video": <clip id>, "event": <one of EVENTS>}``; ``field``
    names what is wrong."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


def is_bot(user_agent: str | None) -> bool:
    """Whether a ``User-Agent`` looks like a machine's (``BOT_UA``)."""
    return bool(BOT_UA.search((user_agent or "").strip()))


def parse_beacon(body: bytes) -> tuple[str, str]:
    """``(clip id, event)`` of a beacon body: JSON ``{"video": id, "event": name}`` whatever
    its Content-Type (``navigator.sendBeacon`` with a string sends ``text/plain``). Raises
    ``BadBeacon`` naming the field."""
    if len(body) > MAX_BEACON_BYTES:
        raise BadBeacon("body", f"at most {MAX_BEACON_BYTES} bytes")
    try:
        data = json.loads(body or b"null")
    except (ValueError, UnicodeDecodeError):
        raise BadBeacon("body", "must be JSON") from None
    if not isinstance(data, dict):
        raise BadBeacon("body", 'must be a JSON object {"video": ..., "event": ...}')
    video, event = data.get("video"), data.get("event")
    if not isinstance(video, str) or not JOB_ID.match(video):
        raise BadBeacon("video", "must be a clip id (32 hex digits)")
    if event not in EVENTS:
        raise BadBeacon("event", "must be one of " + ", ".join(EVENTS))
    return video, str(event)


def today() -> date:
    return datetime.now(UTC).date()


def totals(rows: Iterable[tuple[str, int]]) -> dict[str, int]:
    """``{"loads": n, "plays": n, ...}`` (every field, zeros included) from (event, count) rows."""
    out = dict.fromkeys(STAT_FIELDS.values(), 0)
    for event, n in rows:
        if event in STAT_FIELDS:
            out[STAT_FIELDS[event]] += int(n)
    return out


def completion_rate(t: Mapping[str, int]) -> float | None:
    """Completions per play (None before the first play), rounded to 3 digits."""
    return round(t["completes"] / t["plays"], 3) if t.get("plays") else None


def day_series(rows: Iterable[tuple[date, str, int]], start: date, end: date) -> list[dict[str, Any]]:
    """One entry per day from ``start`` to ``end`` (both included, zeros for quiet days):
    ``{"day": "YYYY-MM-DD", "loads": n, "plays": n, ...}``."""
    by_day: dict[date, list[tuple[str, int]]] = {}
    for day, event, n in rows:
        by_day.setdefault(_as_date(day), []).append((event, n))
    days = (start + timedelta(days=i) for i in range((end - start).days + 1))
    return [{"day": d.isoformat(), **totals(by_day.get(d, []))} for d in days]


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


# --- the table ----------------------------------------------------------------------------------

def add_counts(engine: Engine, counts: Mapping[tuple[str, date, str], int]) -> None:
    """Add ``counts`` ((clip, day, event) → n) to ``video_plays`` in one transaction."""
    if not counts:
        return
    rows = [{"job_id": j, "day": d, "event": e, "count": n} for (j, d, e), n in counts.items()]
    ins = pg_insert(video_plays) if engine.dialect.name == "postgresql" else sqlite_insert(video_plays)
    stmt = ins.on_conflict_do_update(index_elements=["job_id", "day", "event"],
                                     set_={"count": video_plays.c.count + ins.excluded.count})
    with engine.begin() as c:
        c.execute(stmt, rows)


@dataclass
class Window:
    """A range of UTC days, both ends included."""

    start: date
    end: date


def clip_stats(engine: Engine, job_id: str, window: Window) -> dict[str, Any]:
    """``{"loads", "plays", "q25", "q50", "q75", "completes", "captions", "errors",
    "completion_rate", "days": [...]}`` of one clip: totals over all time, days over ``window``."""
    with engine.connect() as c:
        all_time = c.execute(select(video_plays.c.event, func.sum(video_plays.c.count))
                             .where(video_plays.c.job_id == job_id).group_by(video_plays.c.event)).all()
        days = c.execute(select(video_plays.c.day, video_plays.c.event, video_plays.c.count)
                         .where(video_plays.c.job_id == job_id, video_plays.c.day >= window.start,
                                video_plays.c.day <= window.end)).all()
    t = totals((e, n) for e, n in all_time)
    return {**t, "completion_rate": completion_rate(t), "days": day_series(((d, e, n) for d, e, n in days),
                                                                          window.start, window.end)}


def top_stats(engine: Engine, window: Window, limit: int = 20) -> dict[str, Any]:
    """Totals over ``window`` and its ``limit`` most played clips (title, totals, completion
    rate, plays per day)."""
    in_window = (video_plays.c.day >= window.start, video_plays.c.day <= window.end)
    with engine.connect() as c:
        overall = c.execute(select(video_plays.c.event, func.sum(video_plays.c.count)).where(*in_window)
                            .group_by(video_plays.c.event)).all()
        plays = func.sum(video_plays.c.count).label("plays")
        top = [r[0] for r in c.execute(
            select(video_plays.c.job_id, plays).where(*in_window, video_plays.c.event == "play")
            .group_by(video_plays.c.job_id).order_by(plays.desc(), video_plays.c.job_id).limit(limit))]
        # Clips loaded but never played yet come after the played ones.
        if len(top) < limit:
            loads = func.sum(video_plays.c.count).label("loads")
            top += [r[0] for r in c.execute(
                select(video_plays.c.job_id, loads).where(*in_window, *([video_plays.c.job_id.not_in(top)] if top else []))
                .group_by(video_plays.c.job_id).order_by(loads.desc(), video_plays.c.job_id).limit(limit - len(top)))]
        rows = c.execute(select(video_plays.c.job_id, video_plays.c.day, video_plays.c.event, video_plays.c.count)
                         .where(*in_window, video_plays.c.job_id.in_(top))).all() if top else []
        titles = {r[0]: r[1] for r in c.execute(select(jobs.c.id, jobs.c.article).where(jobs.c.id.in_(top)))} if top else {}
    per_clip: dict[str, list[tuple[date, str, int]]] = {j: [] for j in top}
    for j, d, e, n in rows:
        per_clip[j].append((d, e, n))
    clips = []
    for j in top:
        t = totals((e, n) for _, e, n in per_clip[j])
        days = day_series(per_clip[j], window.start, window.end)
        clips.append({"id": j, "title": _title(titles.get(j)), **t, "completion_rate": completion_rate(t),
                      "days": [{"day": d["day"], "plays": d["plays"]} for d in days]})
    t = totals((e, n) for e, n in overall)
    return {"from": window.start.isoformat(), "to": window.end.isoformat(), **t,
            "completion_rate": completion_rate(t), "clips": clips}


def _title(article_json: str | None) -> str | None:
    try:
        return str(json.loads(article_json or "{}").get("title") or "") or None
    except ValueError:
        return None


# --- the buffer ---------------------------------------------------------------------------------

class PlayCounter:
    """Counts beacons in memory and writes them to ``video_plays`` in batches (see the module's
    docstring). ``start`` runs the flushing thread; ``close`` stops it and writes what is left.
    A failed write keeps its counts for the next flush. ``counted``/``ignored`` are this
    process's totals since start (Prometheus counters)."""

    def __init__(self, engine: Engine, interval: float = 1.0, batch: int = 1000):
        self.engine, self.interval, self.batch = engine, interval, batch
        self._pending: Counter[tuple[str, date, str]] = Counter()
        self._waiting = 0
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.counted: Counter[str] = Counter()
        self.ignored: Counter[str] = Counter()
        self.flushes = 0
        self.flush_failures = 0

    def add(self, job_id: str, event: str, day: date | None = None) -> None:
        with self._lock:
            self._pending[(job_id, day or today(), event)] += 1
            self._waiting += 1
            self.counted[event] += 1
            full = self._waiting >= self.batch
        if full:
            self._wake.set()

    def ignore(self, reason: str) -> None:
        with self._lock:
            self.ignored[reason] += 1

    @property
    def pending(self) -> int:
        """Beacons counted in memory, not written yet."""
        with self._lock:
            return self._waiting

    def flush(self) -> int:
        """Write what waits; returns the number of beacons written (0 when the write failed:
        the counts stay for the next flush)."""
        with self._flush_lock:
            with self._lock:
                batch, waiting = self._pending, self._waiting
                self._pending, self._waiting = Counter(), 0
            if not batch:
                return 0
            try:
                add_counts(self.engine, batch)
            except Exception:
                with self._lock:
                    self._pending.update(batch)
                    self._waiting += waiting
                    self.flush_failures += 1
                raise
            self.flushes += 1
            return waiting

    def start(self) -> threading.Thread:
        def loop() -> None:
            while not self._stop.is_set():
                self._wake.wait(self.interval)
                self._wake.clear()
                try:
                    self.flush()
                except Exception:  # noqa: BLE001 - kept for the next flush; the store may be back by then
                    log.warning("play counts not written yet (kept for the next flush)", exc_info=True)

        self._thread = threading.Thread(target=loop, name="videogen-plays", daemon=True)
        self._thread.start()
        return self._thread

    def close(self) -> None:
        """Stop the thread and write what is left (a normal shutdown loses no count)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        try:
            self.flush()
        except Exception:  # noqa: BLE001 - report, the process is going away anyway
            log.error("play counts lost at shutdown: %d beacon(s) could not be written", self.pending, exc_info=True)

    def prometheus(self) -> list[str]:
        """Prometheus lines: beacons counted per event and ignored per reason (this process)."""
        with self._lock:
            counted, ignored, waiting = dict(self.counted), dict(self.ignored), self._waiting
        lines = ["# HELP videogen_beacons_total Player beacons counted, by event (this process, since start).",
                 "# TYPE videogen_beacons_total counter"]
        lines += [f'videogen_beacons_total{{event="{e}"}} {counted.get(e, 0)}' for e in EVENTS]
        lines += ["# HELP videogen_beacons_ignored_total Player beacons not counted, by reason (this process).",
                  "# TYPE videogen_beacons_ignored_total counter"]
        lines += [f'videogen_beacons_ignored_total{{reason="{r}"}} {ignored.get(r, 0)}'
                  for r in ("bot", "rate_limited", "unpublished", "invalid")]
        lines += ["# HELP videogen_beacons_pending Beacons counted in memory, not written to the job store yet.",
                  "# TYPE videogen_beacons_pending gauge", f"videogen_beacons_pending {waiting}"]
        return lines
