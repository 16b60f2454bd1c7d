"""Timeline: exact times of every segment, caption cue and caption page, computed from the
real audio durations (plus the template's pauses). Pure arithmetic over plain data.

    0 ── lead_in ── title spoken ── title_hold ── sentence ── pause ── sentence … ── tail ── outro ── end
    [ title card                 ]x[ scene 1 ...          ]x[ scene 2 ...        ]x[ outro card     ]

``x`` marks a crossfade, centred in the pause between the last sentence of one scene and the
first of the next. A caption cue spans exactly its sentence's audio."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Literal

from videogen.render.templates import Timing


@dataclass(frozen=True)
class Segment:
    kind: Literal["title", "scene", "outro"]
    start: float
    end: float
    fade_in: float  # seconds of crossfade from the previous segment
    scene: int | None = None


@dataclass(frozen=True)
class Cue:
    """One spoken line (title = line -1): the WebVTT cue."""

    start: float
    end: float
    text: str
    line: int


@dataclass(frozen=True)
class Page:
    """One burned-in caption page (a sentence too long for two lines has several). With the
    ``words`` caption style a page is a group of words with one of them highlighted: ``words``
    holds the (start, end) character offsets of each word in ``text`` and ``highlight`` the
    index of the one being said."""

    start: float
    end: float
    text: str
    cue: int
    words: tuple[tuple[int, int], ...] = ()
    highlight: int = -1


def word_pages(groups_per_line: list[list[tuple[str, list[tuple[int, int, float, float]]]]], timing: Timing) -> list[Page]:
    """Pages for the ``words`` caption style: for each body line (cue ``i + 1``), each group
    (its text, and for each word its offsets in that text and its clip times) shows once per
    word, that word highlighted, from the word's start to the next one's. The groups of a line
    follow each other without a gap; a line's last group stays through a short pause."""
    pages: list[Page] = []
    for i, groups in enumerate(groups_per_line):
        line_pages: list[Page] = []
        for g, (text, words) in enumerate(groups):
            spans = tuple((a, b) for a, b, _, _ in words)
            group_end = groups[g + 1][1][0][2] if g + 1 < len(groups) else words[-1][3]
            for k, (_, _, start, _) in enumerate(words):
                end = words[k + 1][2] if k + 1 < len(words) else group_end
                if end > start:
                    line_pages.append(Page(start, end, text, i + 1, spans, k))
        pages.extend(line_pages)
    return hold_pages(pages, timing)


def hold_pages(pages: list[Page], timing: Timing) -> list[Page]:
    """``pages`` with each one kept up through a short pause before the next (at most the
    sentence pause), so captions do not flicker between sentences."""
    held: list[Page] = []
    for j, p in enumerate(pages):
        nxt = pages[j + 1].start if j + 1 < len(pages) else None
        end = nxt if nxt is not None and 0 < nxt - p.end <= timing.sentence_pause + 0.05 else p.end
        held.append(replace(p, end=end))
    return held


@dataclass(frozen=True)
class Timeline:
    fps: float
    n_frames: int
    segments: list[Segment]
    cues: list[Cue]
    pages: list[Page]
    speech_starts: list[float]  # start of each spoken line, title first

    @property
    def duration(self) -> float:
        return self.n_frames / self.fps


@dataclass(frozen=True)
class LineAudio:
    duration: float
    pauses: tuple[tuple[float, float], ...] = ()  # silent stretches inside the line, seconds


def clip_length(title: float, lines: list[float], timing: Timing) -> float:
    """Length of a clip whose title and lines last these many seconds."""
    body = sum(lines) + timing.sentence_pause * max(0, len(lines) - 1)
    return timing.lead_in + title + timing.title_hold + body + timing.tail + timing.outro


def lines_within(title: float, lines: list[float], timing: Timing, max_duration: float) -> int:
    """How many lines (from the start, whole lines) fit in ``max_duration``; 0 when not even
    the first does (the caller may then fit a shorter start of it)."""
    for n in range(len(lines), 0, -1):
        if clip_length(title, lines[:n], timing) <= max_duration:
            return n
    return 0


def _page_bounds(start: float, end: float, pages: list[str], pauses: tuple[tuple[float, float], ...]) -> list[float]:
    """Times at which each page after the first begins: proportional to its characters, then
    moved to the nearest pause in the audio (a comma, a breath) within 0.8 s."""
    total = sum(len(p) for p in pages) or 1
    bounds = []
    acc = 0
    for p in pages[:-1]:
        acc += len(p)
        t = start + (end - start) * acc / total
        near = [(abs((start + (a + b) / 2) - t), start + (a + b) / 2) for a, b in pauses]
        near = [c for c in near if c[0] <= 0.8]
        if near:
            t = min(near)[1]
        bounds.append(t)
    # Keep pages in order and at least 0.6 s long where possible.
    out, prev = [], start
    for b in bounds:
        b = max(b, prev + 0.6)
        out.append(min(b, end - 0.3))
        prev = out[-1]
    return out


def build_timeline(title_text: str, title_audio: LineAudio, line_texts: list[str], lines_audio: list[LineAudio],
                   pages_per_line: list[list[str]], scenes: list[tuple[int, ...]], timing: Timing, fps: float) -> Timeline:
    """Place everything. ``scenes`` lists the line indices of each scene, in order."""
    assert len(line_texts) == len(lines_audio) == len(pages_per_line)
    x = timing.crossfade
    t = timing.lead_in
    starts = [t]
    cues = [Cue(t, t + title_audio.duration, title_text, -1)]
    t += title_audio.duration + timing.title_hold
    for i, (text, audio) in enumerate(zip(line_texts, lines_audio, strict=True)):
        if i:
            t += timing.sentence_pause
        starts.append(t)
        cues.append(Cue(t, t + audio.duration, text, i))
        t += audio.duration
    speech_end = t
    outro_at = speech_end + timing.tail
    total = outro_at + timing.outro
    n_frames = max(1, math.ceil(total * fps - 1e-9))

    # Visual boundaries: middle of the pause before each scene's first line, and before the outro.
    first_body = starts[1] if len(starts) > 1 else outro_at
    bounds = []
    for k, group in enumerate(scenes):
        line_start = starts[1 + group[0]]
        gap = timing.title_hold if k == 0 else timing.sentence_pause
        bounds.append(line_start - gap / 2)
    bounds.append(outro_at - timing.tail / 2)
    segments = [Segment("title", 0.0, (bounds[0] if scenes else outro_at) + x / 2, 0.0)]
    for k in range(len(scenes)):
        segments.append(Segment("scene", bounds[k] - x / 2, bounds[k + 1] + x / 2, x, k))
    segments.append(Segment("outro", bounds[-1] - x / 2 if scenes else outro_at - x / 2, n_frames / fps, x))
    del first_body

    # Burned-in pages: body lines only (the title card shows the title). A page stays up
    # through a short pause so captions do not flicker between sentences.
    pages: list[Page] = []
    for i, texts in enumerate(pages_per_line):
        cue = cues[i + 1]
        bs = _page_bounds(cue.start, cue.end, texts, lines_audio[i].pauses)
        edges = [cue.start] + bs + [cue.end]
        for j, text in enumerate(texts):
            pages.append(Page(edges[j], edges[j + 1], text, i + 1))
    return Timeline(fps, n_frames, segments, cues, hold_pages(pages, timing), starts)


def shifted(timeline: Timeline, offset: float, n_frames: int) -> Timeline:
    """``timeline`` (the narrated part) placed ``offset`` seconds into a clip of ``n_frames``
    frames: every segment, cue, page and speech start moved by ``offset`` (an intro sting
    before it; an outro sting after it makes the clip longer, not the times)."""
    if offset == 0 and n_frames == timeline.n_frames:
        return timeline
    return Timeline(
        timeline.fps, n_frames,
        [replace(s, start=s.start + offset, end=s.end + offset) for s in timeline.segments],
        [replace(c, start=c.start + offset, end=c.end + offset) for c in timeline.cues],
        [replace(p, start=p.start + offset, end=p.end + offset) for p in timeline.pages],
        [t + offset for t in timeline.speech_starts],
    )
