"""Where a line may break, for every script the newsroom writes in, and greedy wrapping by
rendered width.

- Spaced scripts (Latin, Cyrillic, Greek, Arabic, Hebrew, Devanagari, Korean): after spaces.
- Chinese and Japanese: between any two characters, except before closing punctuation and
  small kana (。、，」』）ー ッ…) and after opening punctuation (「『（); a Latin word or a number
  inside them stays whole.
- A word wider than the line (a German compound, a URL) is cut between grapheme clusters, never
  inside a Devanagari conjunct, with a hyphen in alphabetic scripts.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

# Kinsoku: characters a line must not start with, and must not end with.
NO_LINE_START = set(
    "、。，．,.:;!?！？：；）)]｝}」』】〕〉》〙〗〟’”»›・ー～…‥%％‰゛゜"
    "ぁぃぅぇぉっゃゅょゎゕゖァィゥェォッャュョヮヵヶㇰㇱㇲㇳㇴㇵㇶㇷㇸㇹㇺㇻㇼㇽㇾㇿ々〻"
    "\u0964\u0965\u060c\u061b\u061f"
)
NO_LINE_END = set("（(［[｛{「『【〔〈《〘〖〝‘“«‹")


def is_cjk_breakable(ch: str) -> bool:
    """Characters of scripts written without spaces, between which a line may break: Han,
    kana, CJK symbols and punctuation, full-width forms."""
    cp = ord(ch)
    return (
        0x2E80 <= cp <= 0x2FDF  # radicals
        or 0x3000 <= cp <= 0x30FF  # CJK punctuation, hiragana, katakana
        or 0x3100 <= cp <= 0x312F or 0x31A0 <= cp <= 0x31FF
        or 0x3400 <= cp <= 0x4DBF or 0x4E00 <= cp <= 0x9FFF or 0xF900 <= cp <= 0xFAFF
        or 0xFF00 <= cp <= 0xFFEF  # full-width forms
        or 0x20000 <= cp <= 0x3FFFF
    )


def break_allowed(before: str, after: str) -> bool:
    """Whether a line may break between two adjacent non-space characters."""
    if after in NO_LINE_START or before in NO_LINE_END:
        return False
    return is_cjk_breakable(before) or is_cjk_breakable(after)


def tokens(text: str) -> list[str]:
    """Pieces of ``text`` after each of which a line may break; each keeps its trailing
    spaces, so ``"".join(tokens(t)) == t``."""
    out: list[str] = []
    cur = ""
    for i, ch in enumerate(text):
        if cur and not ch.isspace():
            prev = text[i - 1]
            if prev.isspace() or break_allowed(prev, ch):
                out.append(cur)
                cur = ""
        cur += ch
    if cur:
        out.append(cur)
    return out


def grapheme_starts(word: str) -> list[int]:
    """Indices where a grapheme cluster starts (approximately, UAX #29 for the scripts we
    set): not before a combining mark or a joiner, not after a virama or ZWJ."""
    starts = []
    for i, ch in enumerate(word):
        if i == 0:
            starts.append(0)
            continue
        prev = word[i - 1]
        if unicodedata.category(ch)[0] == "M" or ch in "\u200c\u200d":
            continue
        if unicodedata.combining(prev) == 9 or prev == "\u200d":  # virama: a conjunct goes on
            continue
        if 0xDC00 <= ord(ch) <= 0xDFFF:
            continue
        starts.append(i)
    return starts


def _hyphenates(word: str) -> bool:
    """Alphabetic scripts get a hyphen where a word is cut; Arabic, Hebrew, Indic and CJK do not."""
    for ch in word:
        if ch.isalpha():
            cp = ord(ch)
            return cp < 0x0590 or 0x1E00 <= cp <= 0x1FFF
    return False


def split_long_word(word: str, fits: Callable[[str], bool]) -> list[str]:
    """Cut ``word`` into pieces that each fit (at least one grapheme each), greedily."""
    core = word.rstrip()
    trail = word[len(core):]
    hyphen = "-" if _hyphenates(core) else ""
    starts = grapheme_starts(core) + [len(core)]
    pieces: list[str] = []
    a = 0
    while a < len(core):
        # The longest piece from a that fits (with a hyphen unless it is the last one).
        best = None
        for b in starts:
            if b <= a:
                continue
            last = b == len(core)
            piece = core[a:b] + ("" if last else hyphen)
            if fits(piece):
                best = b
            else:
                break
        if best is None:
            best = next(b for b in starts if b > a)
        last = best == len(core)
        pieces.append(core[a:best] + ("" if last else hyphen))
        a = best
    if pieces:
        pieces[-1] += trail
    return pieces


def wrap(text: str, width: Callable[[str], float], max_width: float) -> list[str]:
    """Greedy wrap of ``text`` by rendered ``width``; breaks only where ``tokens`` allow, and
    cuts a token wider than a whole line."""
    lines: list[str] = []
    cur = ""
    for tok in tokens(" ".join(text.split())):
        cand = cur + tok
        if width(cand.rstrip()) <= max_width:
            cur = cand
            continue
        if cur.strip():
            lines.append(cur.rstrip())
            cur = ""
        if width(tok.rstrip()) <= max_width:
            cur = tok
            continue
        pieces = split_long_word(tok, lambda p: width(p.rstrip()) <= max_width)
        lines.extend(p.rstrip() for p in pieces[:-1])
        cur = pieces[-1]
    if cur.strip():
        lines.append(cur.rstrip())
    return lines
