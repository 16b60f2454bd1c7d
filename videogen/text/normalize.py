"""Text normalisation for speech: what the TTS engine should read, not what is displayed.

Numbers ("3 000", "1.5", "3,5"), ordinals ("1er", "2e", "21st"), percentages, currencies,
degrees, abbreviations ("M.", "Dr.") and acronyms ("IA", "l’IA", "AI") are written out in the
article's language, so every engine (Piper, espeak-ng, gTTS) reads them the same way.
Captions keep the original text; only the narration uses this.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from num2words import CONVERTER_CLASSES, num2words


@dataclass(frozen=True)
class SpeechRules:
    decimal_sep: str
    thousands_seps: str
    percent: str
    degree: str
    celsius: str
    and_word: str
    currencies: dict[str, tuple[str, str]]  # symbol -> (singular, plural)
    abbreviations: dict[str, str] = field(default_factory=dict)  # "M." -> "Monsieur"
    ordinal_suffix: str = ""  # regex of ordinal suffixes after digits
    millions: dict[str, str] = field(default_factory=dict)  # "million" word forms that take "de"
    currency_joiner: str = " "  # "3 millions d'euros": joiner after a large-number word
    acronyms_as_words: frozenset[str] = frozenset()
    spell_letters: Callable[[str], str] = staticmethod(lambda s: ".".join(s) + ".")


_SPACES = " \u00a0\u202f"

RULES: dict[str, SpeechRules] = {
    "en": SpeechRules(
        decimal_sep=".",
        thousands_seps=",",
        percent="percent",
        degree="degrees",
        celsius="Celsius",
        and_word="and",
        currencies={"€": ("euro", "euros"), "$": ("dollar", "dollars"), "£": ("pound", "pounds"), "¥": ("yen", "yen")},
        abbreviations={
            "Mr.": "Mister", "Mrs.": "Missus", "Ms.": "Miz", "Dr.": "Doctor", "Prof.": "Professor",
            "St.": "Saint", "Jr.": "Junior", "Sr.": "Senior", "Gen.": "General", "Gov.": "Governor",
            "Sen.": "Senator", "Rep.": "Representative", "No.": "number", "vs.": "versus",
            "etc.": "et cetera", "e.g.": "for example", "i.e.": "that is", "approx.": "approximately",
        },
        ordinal_suffix=r"(?:st|nd|rd|th)",
        currency_joiner=" ",
        acronyms_as_words=frozenset({"NASA", "NATO", "UNESCO", "UNICEF", "OPEC", "COVID", "FIFA", "NASDAQ", "LASER", "RADAR"}),
    ),
    "fr": SpeechRules(
        decimal_sep=",",
        thousands_seps=_SPACES + ".",
        percent="pour cent",
        degree="degrés",
        celsius="Celsius",
        and_word="et",
        currencies={"€": ("euro", "euros"), "$": ("dollar", "dollars"), "£": ("livre", "livres"), "¥": ("yen", "yens")},
        abbreviations={
            "M.": "Monsieur", "MM.": "Messieurs", "Mme": "Madame", "Mmes": "Mesdames", "Mlle": "Mademoiselle",
            "Dr": "Docteur", "Dr.": "Docteur", "Pr": "Professeur", "Me": "Maître", "Mgr": "Monseigneur",
            "St": "Saint", "Ste": "Sainte", "etc.": "et cetera", "c.-à-d.": "c'est-à-dire", "av. J.-C.": "avant Jésus-Christ",
            "apr. J.-C.": "après Jésus-Christ", "n°": "numéro", "N°": "numéro",
        },
        ordinal_suffix=r"(?:er|re|ère|e|ème|eme|nd|nde)",
        millions={"million": "millions", "milliard": "milliards", "billion": "billions"},
        currency_joiner=" d'",
        acronyms_as_words=frozenset({"ONU", "OTAN", "UNESCO", "UNICEF", "OPEP", "NASA", "COVID", "FIFA", "CAC", "SIDA", "ENA", "INSEE", "OCDE", "BCE"}),
    ),
    "de": SpeechRules(
        decimal_sep=",", thousands_seps=_SPACES + ".", percent="Prozent", degree="Grad", celsius="Celsius",
        and_word="und", currencies={"€": ("Euro", "Euro"), "$": ("Dollar", "Dollar"), "£": ("Pfund", "Pfund")},
        abbreviations={"Dr.": "Doktor", "Prof.": "Professor", "z.B.": "zum Beispiel", "bzw.": "beziehungsweise", "usw.": "und so weiter", "Nr.": "Nummer"},
        ordinal_suffix=r"\.(?=\s+[a-zäöüß])",
        acronyms_as_words=frozenset({"NATO", "UNESCO", "NASA"}),
    ),
    "es": SpeechRules(
        decimal_sep=",", thousands_seps=_SPACES + ".", percent="por ciento", degree="grados", celsius="Celsius",
        and_word="y", currencies={"€": ("euro", "euros"), "$": ("dólar", "dólares"), "£": ("libra", "libras")},
        abbreviations={"Sr.": "señor", "Sra.": "señora", "Dr.": "doctor", "Dra.": "doctora", "etc.": "etcétera"},
        ordinal_suffix=r"(?:º|ª|\.º|\.ª)",
        acronyms_as_words=frozenset({"OTAN", "ONU", "UNESCO", "NASA"}),
    ),
}

_DEFAULT = SpeechRules(
    decimal_sep=".", thousands_seps=",", percent="%", degree="°", celsius="C", and_word="&",
    currencies={},
)


def rules_for(lang: str) -> SpeechRules:
    return RULES.get(lang.split("-")[0].lower(), _DEFAULT)


def _n2w_lang(lang: str) -> str | None:
    lang = lang.split("-")[0].lower()
    return lang if lang in CONVERTER_CLASSES else None


def number_to_words(value: float | int, lang: str, to: str = "cardinal") -> str | None:
    nl = _n2w_lang(lang)
    if nl is None:
        return None
    try:
        return num2words(value, lang=nl, to=to)
    except (NotImplementedError, OverflowError, ValueError, TypeError, IndexError, KeyError):
        return None


def _number_pattern(rules: SpeechRules) -> re.Pattern[str]:
    """'3 000', '3,000', '1.5', '1,5', '2025': digits with thousands groups and/or a fraction."""
    tsep = "".join(re.escape(c) for c in rules.thousands_seps)
    grouped = rf"\d{{1,3}}(?:[{tsep}]\d{{3}})+" if tsep else r"(?!)"
    return re.compile(rf"(?<![\w.,])(?:{grouped}|\d+)(?:[.,]\d+)?(?![\w])(?![.,]\d)")


def _split_number(text: str, rules: SpeechRules) -> tuple[str, str | None]:
    """Integer digits and fraction digits of a written number. The last '.' or ',' is a
    decimal separator when it is the language's, or when it is not followed by exactly three
    digits (so '1.5' reads as a decimal in French and '3,000' as a thousand in English)."""
    m = re.search(r"[.,](\d+)$", text)
    frac = None
    if m and (m.group(0)[0] == rules.decimal_sep or len(m.group(1)) != 3 or m.group(0)[0] not in rules.thousands_seps):
        frac = m.group(1)
        text = text[: m.start()]
    return re.sub(r"\D", "", text), frac


def _parse_number(text: str, rules: SpeechRules) -> float | int | None:
    whole, frac = _split_number(text, rules)
    if not whole:
        return None
    return float(f"{whole}.{frac}") if frac else int(whole)


def _say_number(match_text: str, rules: SpeechRules, lang: str) -> str:
    whole, frac = _split_number(match_text, rules)
    if not whole:
        return match_text
    if frac is not None:
        words = _decimal_words(int(whole), frac, lang)
    elif lang == "en" and len(match_text) == 4 and match_text.isdigit() and 1100 <= int(whole) <= 2099 and int(whole) % 100:
        words = number_to_words(int(whole), lang, "year")
    else:
        words = number_to_words(int(whole), lang)
    return words or match_text


def _decimal_words(whole: int, frac: str, lang: str) -> str | None:
    """'1,05' → 'un virgule zéro cinq': digits after the separator keep their leading zeros."""
    w = number_to_words(whole, lang)
    point = number_to_words(1.5, lang)  # the language's word for the decimal separator
    if w is None or point is None:
        return None
    parts = point.split()
    sep_word = parts[1] if len(parts) == 3 else ("virgule" if lang == "fr" else "point")
    if frac.startswith("0") or len(frac) > 2:
        frac_words = " ".join(number_to_words(int(d), lang) or d for d in frac)
    else:
        frac_words = number_to_words(int(frac), lang) or frac
    return f"{w} {sep_word} {frac_words}"


def normalize_for_speech(text: str, lang: str) -> str:
    """Rewrite ``text`` so a TTS engine reads it correctly in ``lang``."""
    lang = lang.split("-")[0].lower()
    rules = rules_for(lang)
    t = text
    # Typographic apostrophes and quotes: engines read the plain ones best.
    t = t.replace("’", "'").replace("‘", "'").replace("ʼ", "'")
    t = re.sub(r"[«»“”„‟]", " ", t)
    t = t.replace("…", "...")
    t = re.sub(r"[\u00a0\u202f\u2009]", " ", t)

    # Abbreviations ("M. Dupont" -> "Monsieur Dupont"); longest first.
    for abbr in sorted(rules.abbreviations, key=len, reverse=True):
        expansion = rules.abbreviations[abbr]
        t = re.sub(rf"(?<![\w.]){re.escape(abbr)}(?=[\s,;:!?)]|$)", expansion, t)

    num = _number_pattern(rules).pattern
    mult_words = "|".join(list(rules.millions) + list(rules.millions.values())) or "million|millions|billion|billions"

    # Currencies: "5 €", "5€", "€5", "$3.5 million", "3,5 millions d'euros" (the last is already fine).
    for sym, (sing, plur) in rules.currencies.items():
        s = re.escape(sym)

        def cur(m: re.Match[str], sing: str = sing, plur: str = plur) -> str:
            amount, mult = m.group("n"), m.group("m")
            value = _parse_number(amount, rules)
            unit = sing if value is not None and abs(value) <= 1 and not mult else plur
            if mult:
                joiner = rules.currency_joiner
                sep = joiner if not joiner.endswith("'") or unit[0].lower() in "aeiouéè" else joiner[:-1] + "e "
                return f"{amount} {mult}{sep}{unit}"
            return f"{amount} {unit}"

        t = re.sub(rf"{s}\s?(?P<n>{num})(?:\s(?P<m>{mult_words}))?", cur, t)
        t = re.sub(rf"(?P<n>{num})(?:\s(?P<m>{mult_words}))?\s?{s}", cur, t)

    # Percent and degrees.
    t = re.sub(rf"({num})\s?%", rf"\1 {rules.percent}", t)
    t = re.sub(rf"({num})\s?°\s?C\b", rf"\1 {rules.degree} {rules.celsius}", t)
    t = re.sub(rf"({num})\s?°", rf"\1 {rules.degree}", t)

    # Ordinals: "1er", "2e", "XXIe" (fr), "21st" (en).
    if rules.ordinal_suffix:
        def ordinal(m: re.Match[str]) -> str:
            n = int(m.group(1)) if m.group(1).isdigit() else _roman(m.group(1))
            if n is None:
                return m.group(0)
            return number_to_words(n, lang, "ordinal") or m.group(0)

        t = re.sub(rf"\b(\d+){rules.ordinal_suffix}\b", ordinal, t)
        if lang == "fr":
            t = re.sub(r"\b([IVXLC]{1,7})(?:e|ème|er)\b(?=\s+(?:siècle|arrondissement|République|édition|congrès))", ordinal, t)

    # Plain numbers.
    t = re.sub(num, lambda m: _say_number(m.group(0), rules, lang), t)

    # Acronyms: spell out short all-capital words ("IA" -> "I.A.") unless read as words.
    def acronym(m: re.Match[str]) -> str:
        word = m.group(0)
        if word in rules.acronyms_as_words:
            return word
        if len(word) <= 3 or not re.search(r"[AEIOUY]", word):
            return rules.spell_letters(word)
        return word

    t = re.sub(r"(?<![\w.])[A-Z]{2,5}(?!\w)(?!\.\w)", acronym, t)
    t = re.sub(r"(?<!\.)\.\.(?!\.)", ".", t)  # "l'I.A.." at a sentence end
    # Elided article before an acronym ("l'I.A.") stays; symbols read aloud.
    t = t.replace("&", f" {rules.and_word} ") if rules.and_word != "&" else t
    t = re.sub(r"\s+", " ", t).strip()
    return t


_ROMAN = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100, "D": 500, "M": 1000}


def _roman(s: str) -> int | None:
    total, prev = 0, 0
    for ch in reversed(s.upper()):
        v = _ROMAN.get(ch)
        if v is None:
            return None
        total = total - v if v < prev else total + v
        prev = max(prev, v)
    return total or None
