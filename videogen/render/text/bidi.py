"""The parts of the Unicode bidirectional algorithm (UAX #9) that a one-line title or caption
needs: resolved embedding levels (rules W1-W7, N1-N2, I1-I2, L1) without explicit embeddings,
and the visual order of runs (rule L2).

raqm applies the full algorithm to text drawn with one font; this is only used to order the
runs of a line set in several fonts (an Arabic title with a Latin brand name)."""

from __future__ import annotations

import unicodedata

_STRONG = {"L", "R", "AL"}
_NEUTRAL = {"B", "S", "WS", "ON", "BN", "LRE", "RLE", "LRO", "RLO", "PDF", "LRI", "RLI", "FSI", "PDI"}


def _types(text: str) -> list[str]:
    return [unicodedata.bidirectional(ch) or "L" for ch in text]


def embedding_levels(text: str, rtl: bool) -> list[int]:
    """Resolved level of each character of one line: even = left to right, odd = right to
    left. ``rtl`` is the paragraph direction."""
    base = 1 if rtl else 0
    sos = "R" if rtl else "L"
    t = _types(text)
    n = len(t)
    # W1: a non-spacing mark takes the type of the character before it.
    prev = sos
    for i in range(n):
        if t[i] == "NSM":
            t[i] = "ON" if prev in ("LRI", "RLI", "FSI", "PDI") else prev
        prev = t[i]
    # W2: European digits after Arabic letters are Arabic numbers.  W3: AL → R.
    last = sos
    for i in range(n):
        if t[i] in _STRONG:
            last = t[i]
        elif t[i] == "EN" and last == "AL":
            t[i] = "AN"
    t = ["R" if x == "AL" else x for x in t]
    # W4: one separator between two numbers of the same kind joins them.
    for i in range(1, n - 1):
        if t[i] == "ES" and t[i - 1] == "EN" and t[i + 1] == "EN":
            t[i] = "EN"
        elif t[i] == "CS" and t[i - 1] == t[i + 1] and t[i - 1] in ("EN", "AN"):
            t[i] = t[i - 1]
    # W5: terminators ($, %, °) next to European numbers are numbers.
    i = 0
    while i < n:
        if t[i] == "ET":
            j = i
            while j < n and t[j] == "ET":
                j += 1
            if (i > 0 and t[i - 1] == "EN") or (j < n and t[j] == "EN"):
                for k in range(i, j):
                    t[k] = "EN"
            i = j
        else:
            i += 1
    # W6: the remaining separators and terminators are neutral.
    t = ["ON" if x in ("ES", "ET", "CS") else x for x in t]
    # W7: European numbers after left-to-right text are left to right.
    last = sos
    for i in range(n):
        if t[i] in ("L", "R"):
            last = t[i]
        elif t[i] == "EN" and last == "L":
            t[i] = "L"
    # N1, N2: neutrals between two runs of the same direction take it; others the paragraph's.
    def strong_dir(x: str) -> str:
        return "R" if x in ("R", "EN", "AN") else x

    i = 0
    while i < n:
        if t[i] in _NEUTRAL:
            j = i
            while j < n and t[j] in _NEUTRAL:
                j += 1
            before = strong_dir(t[i - 1]) if i > 0 else sos
            after = strong_dir(t[j]) if j < n else sos
            fill = before if before == after else ("R" if rtl else "L")
            for k in range(i, j):
                t[k] = fill
            i = j
        else:
            i += 1
    # I1, I2: levels from the resolved types.
    levels = []
    for x in t:
        if base == 0:
            levels.append(1 if x == "R" else (2 if x in ("AN", "EN") else 0))
        else:
            levels.append(2 if x in ("L", "EN", "AN") else 1)
    # L1: whitespace at the end of the line goes back to the paragraph level.
    k = n - 1
    while k >= 0 and unicodedata.bidirectional(text[k]) in ("WS", "S", "B", "BN"):
        levels[k] = base
        k -= 1
    return levels


def visual_order(levels: list[int]) -> list[int]:
    """Rule L2: indices of the items in the order they are shown, left to right, given the
    level of each item in logical order."""
    order = list(range(len(levels)))
    if not levels:
        return order
    top = max(levels)
    low = min(lv for lv in levels if lv % 2) if any(lv % 2 for lv in levels) else top + 1
    for level in range(top, low - 1, -1):
        i = 0
        while i < len(order):
            if levels[order[i]] >= level:
                j = i
                while j < len(order) and levels[order[j]] >= level:
                    j += 1
                order[i:j] = reversed(order[i:j])
                i = j
            else:
                i += 1
    return order


def visual_runs(text: str, keys: list[int], rtl: bool) -> list[tuple[str, int, bool]]:
    """Split ``text`` where the bidi level or the key (a font index) changes, and return the
    pieces left to right as (text in logical order, key, right-to-left?)."""
    levels = embedding_levels(text, rtl)
    pieces: list[tuple[int, int, int, int]] = []  # start, end, level, key
    for i, (lv, key) in enumerate(zip(levels, keys, strict=True)):
        if pieces and pieces[-1][2] == lv and pieces[-1][3] == key:
            s, _, _, _ = pieces[-1]
            pieces[-1] = (s, i + 1, lv, key)
        else:
            pieces.append((i, i + 1, lv, key))
    order = visual_order([p[2] for p in pieces])
    return [(text[pieces[k][0] : pieces[k][1]], pieces[k][3], pieces[k][2] % 2 == 1) for k in order]
