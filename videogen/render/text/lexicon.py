"""Pronunciation lexicon: written forms an editor wants read another way. Pure functions over
plain data (``{"written form": "spoken form"}``); the service stores lexicons, the core only
applies the entries it is handed.

A spoken form is a respelling ("Li Qiang" → "Lee Chyahng"), read by every engine, or espeak-ng
phoneme mnemonics in ``[[…]]`` ("Nguyen" → "[[N'w@n]]"), read by espeak-ng only: other engines
read the written form where an entry is phonemes (Piper's ``[[…]]`` takes IPA, gTTS none).

Matching: whole words and multi-word names (any run of spaces between the words matches), never
inside a word. An all-lowercase written form matches any case ("nguyen" matches "Nguyen" and
"NGUYEN"); a written form with a capital matches exactly that case ("US" but not "us"). Longer
written forms win over shorter ones, and the text is read once: a spoken form is never looked up
again. Entries never touch captions: only what an engine reads.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Mapping

from videogen.errors import InvalidInput

#: Bounds of one language's lexicon.
MAX_ENTRIES = 2000
MAX_WRITTEN_CHARS = 100
MAX_SPOKEN_CHARS = 300

_PHONEMES = re.compile(r"\[\[[^\[\]]+\]\]")


def is_phonemes(spoken: str) -> bool:
    """Whether a spoken form is espeak-ng phoneme mnemonics (``[[…]]``) rather than a respelling."""
    return _PHONEMES.fullmatch(spoken.strip()) is not None


def _word_pattern(written: str) -> str:
    body = r"\s+".join(re.escape(w) for w in written.split())
    flags = "(?i:" if written == written.lower() else "(?:"
    return rf"(?<!\w){flags}{body})(?!\w)"


@functools.lru_cache(maxsize=64)
def _compiled(items: tuple[tuple[str, str], ...]) -> tuple[re.Pattern[str], tuple[str, ...]]:
    ordered = sorted(items, key=lambda kv: -len(kv[0]))
    pattern = re.compile("|".join(f"({_word_pattern(w)})" for w, _ in ordered))
    return pattern, tuple(s for _, s in ordered)


def apply_lexicon(text: str, entries: Mapping[str, str], phonemes: bool = False) -> str:
    """``text`` with every written form of ``entries`` replaced by its spoken form. Phoneme
    entries (``[[…]]``) are used only when ``phonemes`` (an engine that reads espeak-ng
    mnemonics); otherwise they are left out and the written form is read."""
    items = tuple(sorted((w, s.strip()) for w, s in entries.items() if phonemes or not is_phonemes(s)))
    if not items or not text:
        return text
    pattern, spoken = _compiled(items)

    def sub(m: re.Match[str]) -> str:
        assert m.lastindex is not None
        return spoken[m.lastindex - 1]

    return pattern.sub(sub, text)


def entries_in(text: str, entries: Mapping[str, str]) -> dict[str, str]:
    """The entries whose written form occurs in ``text``: the ones a render of it depends on."""
    return {w: s for w, s in entries.items() if re.search(_word_pattern(w), text)}


def _bad_chars(value: str) -> bool:
    return any(unicodedata.category(c) in ("Cc", "Cf", "Co", "Cs") for c in value)


def check_lexicon(entries: Mapping[str, str], field: str = "entries") -> dict[str, str]:
    """``entries`` tidied (written forms' spaces collapsed, spoken forms stripped), or
    InvalidInput naming the bad entry: empty, too long, control characters, too many entries,
    two written forms that differ only in spacing, or a loop (a spoken form that contains its
    own written form, or A → B with B → A)."""
    if len(entries) > MAX_ENTRIES:
        raise InvalidInput(field, f"{len(entries)} entries, at most {MAX_ENTRIES}")
    out: dict[str, str] = {}
    for written, spoken in entries.items():
        where = f"{field}[{written!r}]"
        if not isinstance(written, str) or not isinstance(spoken, str):
            raise InvalidInput(where, "written and spoken forms must be strings")
        w, s = " ".join(written.split()), spoken.strip()
        if not w:
            raise InvalidInput(field, "an entry has an empty written form")
        if not s or (("[[" in s or "]]" in s) and not is_phonemes(s)):
            raise InvalidInput(where, "the spoken form is empty or not a respelling nor [[phonemes]]")
        if _bad_chars(written) or _bad_chars(spoken):
            raise InvalidInput(where, "control characters are not allowed")
        if len(w) > MAX_WRITTEN_CHARS or len(s) > MAX_SPOKEN_CHARS:
            raise InvalidInput(where, f"too long (written at most {MAX_WRITTEN_CHARS}, spoken at most {MAX_SPOKEN_CHARS} characters)")
        if not any(c.isalnum() for c in w):
            raise InvalidInput(where, "the written form has no letter or digit")
        if w in out:
            raise InvalidInput(where, f"the same written form as {w!r}")
        out[w] = s
    for w, s in out.items():
        if is_phonemes(s):
            continue
        if re.search(_word_pattern(w), s):
            raise InvalidInput(f"{field}[{w!r}]", "loops: the spoken form contains the written form")
        for other in entries_in(s, out):
            if other != w and not is_phonemes(out[other]) and re.search(_word_pattern(w), out[other]):
                raise InvalidInput(f"{field}[{w!r}]", f"loops with {other!r}: each is spoken as the other")
    return out
