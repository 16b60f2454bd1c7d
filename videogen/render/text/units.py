"""Narration units: a sentence cut into pieces short enough to be spoken (and captioned) as
one line. A unit is at most ``UNIT_CHARS`` (weighted: see ``speech_length``) long; a longer
sentence is cut at clause punctuation first, then between words, and in scripts written
without spaces (Chinese, Japanese, Thai…) between characters. Pure functions over strings."""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from collections.abc import Callable

#: Longest unit, in ``speech_length`` characters. Measured on this project's voices: Piper
#: (en, joe) 18.5 characters a second, espeak-ng 18.4 (en) and 21.4 (fr), 3.6 Chinese
#: characters a second: 160 is 8-9 s of English or French and 40 Chinese characters, about
#: 11 s; most news sentences stay whole. Piper's memory grows with the length of what it
#: reads at once (244 MB for 90 characters, 322 MB for 160, 489 MB for 300, 11.8 GB and
#: growing for 20,000): a bound on the unit is a bound on it.
UNIT_CHARS = 160

#: One wide (CJK, fullwidth) character takes about as long to say as this many latin ones
#: (18.4 / 3.6 with espeak-ng; people read Chinese at 4-5 characters a second).
WIDE_WEIGHT = 4

# After one of these (and a space in spaced scripts) a clause ends: latin, Arabic (، ؛),
# Ethiopic (፣ ፤), Greek ano teleia (·), Armenian (՝).
_CLAUSE_SPACED = re.compile(r"(?<=[,;:،؛፣፤\u0387\u055d])\s+|\s+(?=[–—]\s)")
# Fullwidth clause marks need no space after them: Chinese and Japanese (，、；：).
_CLAUSE_WIDE = re.compile(r"(?<=[，、；：﹐﹑])(?=\S)")
# Closing punctuation that must not start a piece cut between characters.
_NO_START = set("，、。；：！？）」』】》〉”’.,;:!?)]}»›…")


def speech_length(text: str) -> int:
    """Characters weighted by how long they take to say: a wide (CJK) one counts ``WIDE_WEIGHT``."""
    return sum(WIDE_WEIGHT if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def split_units(sentence: str, limit: int = UNIT_CHARS) -> list[str]:
    """``sentence`` as units of at most ``limit`` (``speech_length``), in order and of about
    even length; joined with spaces (none between wide characters) they give the sentence
    back. A sentence within the limit is one unit."""
    sentence = sentence.strip()
    if speech_length(sentence) <= limit:
        return [sentence] if sentence else []
    pieces: list[str] = []
    for clause in _clauses(sentence):
        pieces.extend([clause] if speech_length(clause) <= limit else _by_words(clause, limit))
    return _pack(pieces, limit, _join)


def _join(a: str, b: str) -> str:
    """Two pieces of one sentence side by side: a space between them unless both sides are wide."""
    if a and b and _wide(a[-1]) and _wide(b[0]):
        return a + b
    return f"{a} {b}"


def _glue(a: str, b: str) -> str:
    return a + b


def _wide(c: str) -> bool:
    return unicodedata.east_asian_width(c) in "WF"


def _spaceless(word: str) -> bool:
    """Whether ``word`` is in a script written without spaces (CJK, Thai, Lao, Khmer, Myanmar)."""
    return any(_wide(c) or "\u0e00" <= c <= "\u0eff" or "\u1000" <= c <= "\u109f" or "\u1780" <= c <= "\u17ff"
               for c in word)


def _pack(pieces: list[str], limit: int, join: Callable[[str, str], str]) -> list[str]:
    """Consecutive pieces joined into groups of at most ``limit`` and of about even length
    (a group closes when the next piece's middle would pass its share of the whole)."""
    total = speech_length(functools.reduce(join, pieces)) if pieces else 0
    # Shares a little under the limit, so groups that end short of theirs can catch up.
    share = total / max(1, math.ceil(total / (limit * 0.9)))
    out: list[str] = []
    done = 0
    cur = ""
    for p in pieces:
        if cur:
            joined = join(cur, p)
            n = speech_length(joined)
            if n > limit or done + speech_length(cur) + speech_length(p) / 2 > share * (len(out) + 1):
                out.append(cur)
                done += speech_length(cur)
                cur = p
            else:
                cur = joined
        else:
            cur = p
    if cur:
        out.append(cur)
    return out


def _clauses(sentence: str) -> list[str]:
    """The sentence cut after every clause mark (the mark stays with the text before it)."""
    out: list[str] = []
    for part in _CLAUSE_SPACED.split(sentence):
        out.extend(p for p in _CLAUSE_WIDE.split(part) if p.strip())
    return [p.strip() for p in out]


def _words(text: str, limit: int) -> list[str]:
    """Words of ``text``; one longer than ``limit`` (a run of CJK or Thai) cut between characters."""
    words: list[str] = []
    for w in text.split():
        words.extend([w] if speech_length(w) <= limit else _by_chars(w, limit))
    return words


def _by_words(text: str, limit: int) -> list[str]:
    """``text`` cut between words into about even pieces of at most ``limit``."""
    return _pack(_words(text, limit), limit, _join)


def _by_chars(word: str, limit: int) -> list[str]:
    """A run without spaces cut between characters into about even pieces: never before a
    combining mark, a joiner or a closing punctuation mark."""
    return _pack(_clusters(word), limit, _glue)


def _clusters(word: str) -> list[str]:
    """``word`` as pieces that must not be cut: a character with its combining marks, joiners
    and the closing punctuation after it."""
    clusters: list[str] = []
    for c in word:
        if clusters and (unicodedata.category(c) in ("Mn", "Mc", "Me") or c in _NO_START or c in "\u200d\ufe0f"
                         or clusters[-1][-1:] == "\u200d"):
            clusters[-1] += c
        else:
            clusters.append(c)
    return clusters


def prefix_words(text: str, max_length: float) -> str:
    """The longest start of ``text`` cut between words (between characters in scripts without
    spaces) whose ``speech_length`` is at most ``max_length``; at least one word (or character)."""
    limit = max(1, int(max_length))
    out = ""
    for w in text.split():
        joined = _join(out, w) if out else w
        if speech_length(joined) <= limit:
            out = joined
            continue
        if _spaceless(w) or speech_length(w) > UNIT_CHARS:
            for k, cl in enumerate(_clusters(w)):
                longer = (_join(out, cl) if out else cl) if k == 0 else out + cl
                if out and speech_length(longer) > limit:
                    break
                out = longer
        return out or w
    return out
