"""Captions files: WebVTT and SRT, one cue per spoken line (a sentence, or a part of a long
one), times equal to the narration's. In WebVTT each word after a cue's first carries the
time it is said as a cue timestamp (``word <00:00:01.200>word``), which players use for
karaoke-style display."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import timedelta

import srt

from videogen.render.timeline import Cue

_TIMESTAMP_TAG = re.compile(r"<(?:\d{2,}:)?\d{2}:\d{2}\.\d{3}>")

#: Per cue, each word's start: (character offset in the cue's text, clip seconds).
CueWords = Sequence[tuple[int, float]]


def vtt_time(t: float) -> str:
    ms = int(round(max(0.0, t) * 1000))
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def escape_cue_text(text: str) -> str:
    """Cue payload text: '&', '<' and '>' escaped, no line may be empty or hold '-->'."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = text.replace("-->", "-&gt;")
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return "\n".join(lines) or "…"


def to_webvtt(cues: list[Cue], language: str | None = None, words: Sequence[CueWords] | None = None) -> str:
    """The WebVTT file of ``cues``; with ``words`` (one list per cue), each word after the
    first is preceded by its start as a cue timestamp, strictly between the cue's start, the
    previous timestamp and the cue's end (a word too close to them gets none)."""
    out = ["WEBVTT"]
    if language:
        out[0] += f"\nLanguage: {language}"
    out.append("")
    for n, cue in enumerate(cues, 1):
        out.append(str(n))
        out.append(f"{vtt_time(cue.start)} --> {vtt_time(cue.end)}")
        cue_words = words[n - 1] if words is not None and n - 1 < len(words) else ()
        out.append(_timed_text(cue, cue_words))
        out.append("")
    return "\n".join(out)


def _ms(t: float) -> int:
    return int(round(max(0.0, t) * 1000))


def _timed_text(cue: Cue, words: CueWords) -> str:
    """The cue's text escaped, on one line, with a timestamp tag before each word but the first."""
    if not words or cue.text != " ".join(cue.text.split()) or not cue.text:
        return escape_cue_text(cue.text)
    text = cue.text
    pieces: list[str] = []
    prev, last = 0, _ms(cue.start)
    for pos, t in words:
        ms = _ms(t)
        if pos <= prev or pos >= len(text) or not last < ms < _ms(cue.end):
            continue
        pieces += [_escape(text[prev:pos]), f"<{vtt_time(ms / 1000)}>"]
        prev, last = pos, ms
    pieces.append(_escape(text[prev:]))
    return "".join(pieces)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_srt(cues: list[Cue]) -> str:
    """The SubRip file of ``cues`` (numbered from 1, ``00:00:01,200`` times, text as is)."""
    subs = [srt.Subtitle(n, _td(c.start), _td(max(c.end, c.start + 0.001)), " ".join(c.text.split()) or "…")
            for n, c in enumerate(cues, 1)]
    return srt.compose(subs, reindex=False)


def _td(t: float) -> timedelta:
    return timedelta(milliseconds=_ms(t))


def parse_webvtt(text: str) -> list[tuple[float, float, str]]:
    """(start, end, text) of every cue, its text without the word timestamps: used by tests
    and by the API's checks."""

    def secs(stamp: str) -> float:
        parts = stamp.strip().split(":")
        h, m, s = (["0"] * (3 - len(parts)) + parts)[-3:]
        return int(h) * 3600 + int(m) * 60 + float(s)

    cues = []
    blocks = text.replace("\r\n", "\n").split("\n\n")
    for block in blocks:
        lines = [ln for ln in block.split("\n") if ln.strip()]
        for i, line in enumerate(lines):
            if "-->" in line:
                a, b = line.split("-->")
                payload = _TIMESTAMP_TAG.sub("", "\n".join(lines[i + 1 :]))
                payload = payload.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
                cues.append((secs(a), secs(b.split()[0]), payload))
                break
    return cues
