"""Sentence splitting that survives news copy: abbreviations ("M.", "Dr.", "U.S.", "т.е."),
initials, decimal and grouped numbers ("1.5", "3 000"), German ordinals ("am 3. März"), quotes
(« », “ ”, „ “, ’, 「」), ellipses, and scripts whose sentences end with 。！？ and no space
(Chinese, Japanese), । (Devanagari), ؟ (Arabic) or ; (the Greek question mark)."""

from __future__ import annotations

import re

# Abbreviations after which a period does not end a sentence (lower-cased, without the period).
_ABBREV_COMMON = {
    "etc", "vs", "cf", "no", "nos", "vol", "p", "pp", "ch", "fig", "ed", "éd", "approx", "ca",
    "jan", "janv", "feb", "fév", "févr", "mar", "apr", "avr", "jun", "jul", "juil", "aug",
    "sep", "sept", "oct", "nov", "dec", "déc", "e.g", "i.e", "a.m", "p.m", "u.s", "u.k", "u.n",
}
ABBREVIATIONS: dict[str, set[str]] = {
    "en": _ABBREV_COMMON | {
        "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "mt", "gen", "gov", "sen", "rep",
        "lt", "col", "sgt", "capt", "cmdr", "adm", "rev", "hon", "inc", "ltd", "co", "corp",
        "dept", "univ", "est", "al", "ave", "blvd", "rd",
    },
    "fr": _ABBREV_COMMON | {
        "m", "mm", "mme", "mmes", "mlle", "mlles", "dr", "pr", "me", "mgr", "st", "ste", "av",
        "bd", "art", "env", "hab", "min", "max", "tél", "c.-à-d", "j.-c", "apr. j.-c", "av. j.-c",
        "gén", "lt", "col", "cie", "éd", "sq", "coll", "dir", "trad", "chap",
    },
    "de": _ABBREV_COMMON | {"hr", "fr", "dr", "prof", "bzw", "usw", "z.b", "d.h", "ca", "nr", "str", "st"},
    "es": _ABBREV_COMMON | {"sr", "sra", "srta", "dr", "dra", "ud", "uds", "pág", "núm", "av", "avda"},
    "ru": _ABBREV_COMMON | {"т.е", "т.д", "т.п", "т.к", "т.н", "и.о", "г", "гг", "им", "ул", "пр", "д", "млн",
                            "млрд", "тыс", "руб", "коп", "долл", "см", "рис", "стр", "проф", "акад", "в", "вв"},
    "el": _ABBREV_COMMON | {"κ", "κα", "δρ", "π.χ", "κτλ", "χλμ", "εκατ", "δισ", "αι", "μ.χ"},
}
# Abbreviations that also end a sentence when a capital follows ("… в 2025 г. Посетители").
_SENTENCE_FINAL_ABBREV = {"etc", "al", "inc", "ltd", "co", "corp", "г", "гг", "руб", "долл", "κτλ"}
# The Greek question mark is ';' (U+037E, usually typed as U+003B).
_QUESTION_SEMICOLON = {"el"}

_TERMINAL_CJK = "。！？!?．"
_TERMINALS_NO_SPACE = _TERMINAL_CJK + "।॥؟۔\u037e"
_CLOSERS = "\"'»”’)]}」』）›"
_OPENERS = "\"'«“‘([{「『（‹¡¿—–-"

# A run of terminal punctuation, optional closing quotes/brackets, then whitespace.
_BOUNDARY = re.compile(
    r"(\.\.\.|…|[.!?]+|[" + re.escape(_TERMINALS_NO_SPACE) + r"]+)"
    r"((?:[\s\u00a0\u202f]?[" + re.escape(_CLOSERS) + r"])*)(\s+|$)"
)
_BOUNDARY_SEMICOLON = re.compile(
    r"(\.\.\.|…|[.!?;]+|[" + re.escape(_TERMINALS_NO_SPACE) + r"]+)"
    r"((?:[\s\u00a0\u202f]?[" + re.escape(_CLOSERS) + r"])*)(\s+|$)"
)
_NO_SPACE_BOUNDARY = re.compile(
    r"([" + re.escape(_TERMINALS_NO_SPACE) + r"]+)([" + re.escape(_CLOSERS) + r"]*)"
    r"(?=[^\s.,;:!?…" + re.escape(_TERMINALS_NO_SPACE) + r"])"  # not before more punctuation
)


def _word_before(text: str, end: int) -> str:
    """The token just before position ``end`` (the period), e.g. 'M' in 'M.' or 'c.-à-d'."""
    start = end
    while start > 0 and not text[start - 1].isspace() and text[start - 1] not in _OPENERS.replace("-", ""):
        start -= 1
    return text[start:end]


def _starts_sentence(rest: str) -> bool:
    """Whether the text after a candidate boundary looks like a new sentence."""
    rest = rest.lstrip(_OPENERS + " \u00a0\u202f")
    if not rest:
        return True
    ch = rest[0]
    if ch.isdigit():
        return True
    if ch.isalpha():
        # Caseless scripts (CJK, Arabic, Devanagari...) always start a new sentence here.
        return ch.isupper() or not (ch.islower() or ch.isupper())
    return True


def _is_abbreviation(token: str, lang: str) -> bool:
    word = token.strip(_OPENERS + _CLOSERS).lower()
    if not word:
        return False
    if len(word) == 1 and word.isalpha():
        return True  # an initial: "J. K. Rowling", "M. Dupont"
    if re.fullmatch(r"(?:[a-zà-ÿ]\.)+[a-zà-ÿ]", word):
        return True  # dotted acronyms "U.S", "e.g", "c.-à-d" handled below
    abbrevs = ABBREVIATIONS.get(lang, _ABBREV_COMMON)
    return word in abbrevs or word.rstrip(".") in abbrevs


def split_sentences(text: str, lang: str = "en") -> list[str]:
    """Split ``text`` into sentences; each keeps its own punctuation and quotes.

    Paragraph breaks always end a sentence. A period ends one unless it closes a known
    abbreviation or an initial, or the next word starts in lower case."""
    lang = lang.split("-")[0].lower()
    sentences: list[str] = []
    for para in re.split(r"\n\s*\n|\n(?=\s*[-•*–—]\s)", text):
        para = " ".join(para.split())
        if not para:
            continue
        sentences.extend(_split_paragraph(para, lang))
    return sentences


def _split_paragraph(para: str, lang: str) -> list[str]:
    # Scripts without spaces between sentences: cut after 。！？ etc. even with no space.
    para = _NO_SPACE_BOUNDARY.sub(_no_space_cut, para)
    out: list[str] = []
    for chunk in para.split("\n"):
        out.extend(_split_spaced(chunk.strip(), lang))
    return _merge_fragments([s for s in out if s])


def _no_space_cut(m: re.Match[str]) -> str:
    """A sentence end with no space after it (CJK). A quotation closed after its full stop
    and followed by kana goes on: 「…です。」と語った is one sentence."""
    rest = m.string[m.end():]
    if m.group(2) and rest and 0x3040 <= ord(rest[0]) <= 0x309F:
        return m.group(0)
    return m.group(1) + m.group(2) + "\n"


def _split_spaced(para: str, lang: str) -> list[str]:
    out: list[str] = []
    start = 0
    boundary = _BOUNDARY_SEMICOLON if lang in _QUESTION_SEMICOLON else _BOUNDARY
    for m in boundary.finditer(para):
        punct, end = m.group(1), m.end()
        rest = para[end:]
        if not rest:
            break
        if punct == ".":
            token = _word_before(para, m.start(1))
            if _is_abbreviation(token, lang) and not _abbrev_then_capital_sentence(token, rest, lang):
                continue
            if re.search(r"\d$", token) and rest[:1].isdigit():
                continue  # "1. 5" style numbering oddities
            if lang == "de" and re.fullmatch(r"\d{1,2}", token):
                continue  # German ordinal: "am 3. März", "der 2. Teil"
        if not _starts_sentence(rest):
            continue
        # French puts a space before ? ! : « Vraiment ? » — the boundary comes after the closer.
        sentence = para[start : m.start(3)].strip()
        if sentence:
            out.append(sentence)
        start = end
    tail = para[start:].strip()
    if tail:
        out.append(tail)
    return _merge_fragments(out)


def _abbrev_then_capital_sentence(token: str, rest: str, lang: str) -> bool:
    """'etc.' and similar can end a sentence: treat it as one when a capital follows."""
    word = token.lower().strip(_OPENERS + _CLOSERS)
    return word in _SENTENCE_FINAL_ABBREV and _starts_sentence(rest) and rest.lstrip(_OPENERS)[:1].isupper()


def _merge_fragments(sentences: list[str]) -> list[str]:
    """Glue pieces with no letter or digit (a lone '»' or '...') to the sentence before, or to
    the one after when they come first: no text is dropped, none stands alone."""
    merged: list[str] = []
    pending = ""
    for s in sentences:
        if not any(c.isalnum() for c in s):
            if merged:
                merged[-1] = f"{merged[-1]} {s}"
            else:
                pending = f"{pending} {s}".strip()
            continue
        merged.append(f"{pending} {s}".strip() if pending else s)
        pending = ""
    if pending:
        merged.append(pending)
    return merged
