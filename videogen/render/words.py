"""Word timings: when each word of a spoken line is said. Pure functions over plain data.

An engine reports *anchors*: (character offset in the text it spoke, seconds into its audio)
for the words whose start it knows. From anchors, ``word_times`` gives every word of a text a
(start, end): words without an anchor are placed between their neighbours by their spoken
length, and a word before a pause in the audio ends where the pause begins. ``map_anchors``
carries anchors from the spoken text (numbers written out, abbreviations expanded) to the
text shown on screen, so captions are timed by the voice. ``proportional_anchors`` is the
fallback for engines that report nothing: words spread over the audio's voiced time.

A *word* is what a caption highlights at once: a run between spaces, or in scripts written
without spaces (Chinese, Japanese) one character with the punctuation that must stay with it
(``linebreak.tokens``); a piece that is only punctuation joins the word before it."""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from videogen.render.text import linebreak
from videogen.render.text.units import speech_length

Anchor = tuple[int, float]  # (character offset in the text, seconds)
Pause = tuple[float, float]


@dataclass(frozen=True)
class TimedWord:
    """One word of a line: its characters ``text[a:b]`` and when it is said (seconds)."""

    a: int
    b: int
    start: float
    end: float


def word_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) character offsets of each word of ``text``, in order."""
    spans: list[tuple[int, int]] = []
    pos = 0
    for tok in linebreak.tokens(text):
        stripped = tok.rstrip()
        lead = len(stripped) - len(stripped.lstrip())
        a, b = pos + lead, pos + len(stripped)
        pos += len(tok)
        if b <= a:
            continue
        if spans and not any(c.isalnum() for c in text[a:b]):
            spans[-1] = (spans[-1][0], b)  # punctuation stays with the word before it
        elif spans and not any(c.isalnum() for c in text[spans[-1][0] : spans[-1][1]]):
            spans[-1] = (spans[-1][0], b)  # an opening mark goes with the word after it
        else:
            spans.append((a, b))
    return spans


def word_times(text: str, anchors: Sequence[Anchor], duration: float, pauses: Sequence[Pause] = ()) -> list[TimedWord]:
    """Every word of ``text`` with its time in an audio of ``duration`` seconds, from the
    ``anchors`` known (any order; several in one word: the earliest counts). Starts never go
    back; ends reach the next word's start, or the start of a pause in between."""
    spans = word_spans(text)
    if not spans:
        return []
    known: list[float | None] = [None] * len(spans)
    k = 0
    for pos, t in sorted(anchors):
        while k + 1 < len(spans) and pos >= spans[k + 1][0]:
            k += 1
        if pos < spans[k][1] or k == len(spans) - 1:
            t = min(max(0.0, t), duration)
            known[k] = t if known[k] is None else min(known[k], t)  # type: ignore[type-var]
    weights = [max(1, speech_length(text[a:b])) for a, b in spans]
    starts = _fill(known, weights, 0.0, duration)
    for i, t in enumerate(starts):
        if known[i] is None:  # a placed word does not start inside a pause, but after it
            starts[i] = next((p1 for p0, p1 in pauses if p0 < t < p1), t)
    for i in range(1, len(starts)):
        starts[i] = max(starts[i], starts[i - 1])
    out: list[TimedWord] = []
    for i, (a, b) in enumerate(spans):
        end = starts[i + 1] if i + 1 < len(spans) else duration
        for p0, p1 in pauses:
            if starts[i] < p0 and p1 <= end + 0.05:
                end = min(end, p0)
                break
        if end - starts[i] < MIN_WORD and i + 1 < len(spans):
            end = min(starts[i] + MIN_WORD, starts[i + 1])
        out.append(TimedWord(a, b, _ms(starts[i]), _ms(max(end, starts[i]))))
    return out


def _ms(t: float) -> float:
    """``t`` rounded down to the millisecond: never past the end of the audio."""
    return math.floor(t * 1000 + 1e-6) / 1000


#: Shortest time a word is shown highlighted, where the next word leaves room (seconds).
MIN_WORD = 0.08


def _fill(known: list[float | None], weights: list[int], t0: float, t1: float) -> list[float]:
    """Starts for every word: the known ones, the others spread by ``weights`` between the
    known start before them (or ``t0``) and the one after them (or ``t1``, the end)."""
    n = len(known)
    out = [0.0] * n
    i = 0
    prev_i, prev_t = -1, t0
    while i < n:
        if known[i] is not None:
            out[i] = float(known[i])  # type: ignore[arg-type]
            prev_i, prev_t = i, out[i]
            i += 1
            continue
        j = i
        while j < n and known[j] is None:
            j += 1
        next_t = float(known[j]) if j < n else t1  # type: ignore[arg-type]
        # Words prev_i .. j-1 share [prev_t, next_t] by weight (the known word's own too).
        first = max(prev_i, 0)
        span_w = sum(weights[first:j]) or 1
        acc = sum(weights[first:i]) if prev_i >= 0 else 0
        for m in range(i, j):
            out[m] = prev_t + (next_t - prev_t) * acc / span_w
            acc += weights[m]
        i = j
    return out


def map_anchors(src: str, anchors: Sequence[Anchor], dst: str) -> list[Anchor]:
    """``anchors`` on ``src`` moved onto ``dst``, a different writing of the same words
    (e.g. the spoken text → the shown one): characters the two share (case aside) map
    exactly; an anchor inside a rewritten stretch goes to the start of its rewriting."""
    if src == dst:
        return list(anchors)
    ops = difflib.SequenceMatcher(None, src.lower(), dst.lower(), autojunk=False).get_opcodes()
    out: list[Anchor] = []
    for pos, t in anchors:
        for tag, i1, i2, j1, _j2 in ops:
            if i1 <= pos < i2 or (i1 == i2 == pos):
                out.append((j1 + (pos - i1 if tag == "equal" else 0), t))
                break
    return out


def proportional_anchors(text: str, duration: float, speech: tuple[float, float], pauses: Sequence[Pause]) -> list[Anchor]:
    """Fallback anchors: the words spread by spoken length over the voiced time of the audio
    (from ``speech[0]`` to ``speech[1]``, less the ``pauses`` inside), so a word after a
    pause starts where the pause ends."""
    spans = word_spans(text)
    if not spans:
        return []
    s0, s1 = speech
    inner = sorted((max(a, s0), min(b, s1)) for a, b in pauses if b > s0 and a < s1)
    voiced: list[tuple[float, float]] = []
    t = s0
    for a, b in inner:
        if a > t:
            voiced.append((t, a))
        t = max(t, b)
    if s1 > t:
        voiced.append((t, s1))
    total_voiced = sum(b - a for a, b in voiced) or 1e-9
    weights = [max(1, speech_length(text[a:b])) for a, b in spans]
    total_w = sum(weights)
    out: list[Anchor] = []
    acc = 0
    prev = s0
    for k, ((a, _), w) in enumerate(zip(spans, weights, strict=True)):
        t = _voiced_to_time(total_voiced * acc / total_w, voiced)
        if k and _CLAUSE_END.search(text[spans[k - 1][0] : spans[k - 1][1]]):
            # After a clause mark the speaker pauses: start at the end of the nearest pause.
            near = [(abs(b - t), b) for _, b in inner if abs(b - t) <= SNAP]
            t = min(near)[1] if near else t
        prev = max(prev, t)
        out.append((a, prev))
        acc += w
    return out


#: How far (seconds) the fallback moves a word after a clause mark to the end of a pause.
SNAP = 0.5


def _voiced_to_time(v: float, voiced: list[tuple[float, float]]) -> float:
    """The time at which ``v`` seconds of voiced audio have been heard (starting a stretch
    when exactly at its boundary)."""
    for a, b in voiced:
        if v < b - a - 1e-9:
            return a + v
        v -= b - a
    return voiced[-1][1] if voiced else 0.0


def speech_bounds(samples: Sequence[float] | object, sample_rate: int, threshold: float = 0.02) -> tuple[float, float]:
    """(first, last) time at which the audio is louder than ``threshold`` of its peak, seconds."""
    import numpy as np

    x = np.abs(np.asarray(samples, np.float32))
    if x.size == 0:
        return 0.0, 0.0
    loud = np.flatnonzero(x > threshold * max(float(x.max()), 1e-9))
    return float(loud[0]) / sample_rate, float(loud[-1] + 1) / sample_rate


def group_words(text: str, words: Sequence[TimedWord], max_words: int, fits: Callable[[str], bool]) -> list[list[TimedWord]]:
    """Consecutive ``words`` of one line in groups shown together: at most ``max_words``
    words (in scripts without spaces, where a word is a character: ``3 * max_words``
    characters, closing a phrase at punctuation), each group on one line (``fits``), a
    group closing after a word that ends a clause."""
    groups: list[list[TimedWord]] = []
    cur: list[TimedWord] = []
    for w in words:
        wide = _spaceless(text[w.a : w.b])
        limit = 3 * max_words if wide else max_words
        if cur and (len(cur) >= limit or not fits(text[cur[0].a : w.b])):
            groups.append(cur)
            cur = []
        cur.append(w)
        if _CLAUSE_END.search(text[w.a : w.b]):
            groups.append(cur)
            cur = []
    if cur:
        groups.append(cur)
    return groups


_CLAUSE_END = re.compile(r"[,;:.!?…，、；：。！？،؛؟।]['\"”’»」』)]*$")


def _spaceless(word: str) -> bool:
    return any(linebreak.is_cjk_breakable(c) for c in word)
