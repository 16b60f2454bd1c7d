"""Text normalisation for speech: what the TTS engine should read, not what is displayed.

Numbers ("3 000", "1.5", "3,5", "٢٠٢٥"), ordinals ("1er", "2e", "21st", "3."), percentages,
currencies, degrees, abbreviations ("M.", "Dr.") and acronyms ("IA", "l’IA", "AI", "США") are
written out in the article's language, so every engine (Piper, espeak-ng, gTTS) reads them the
same way. Quotation marks of every language (« », „ “, 「」) are dropped; the Greek question mark
';' becomes '?'; Japanese kanji are turned into kana (espeak-ng reads only kana).
Captions keep the original text; only the narration uses this.

num2words has no Greek, Hindi or Chinese: there, numbers lose their thousands separators and
stay digits, which espeak-ng reads in those languages itself.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from babel import Locale
from num2words import CONVERTER_CLASSES, num2words

if TYPE_CHECKING:
    from pykakasi import kakasi as Kakasi


@dataclass(frozen=True)
class SpeechRules:
    decimal_sep: str
    thousands_seps: str
    percent: str
    degree: str
    celsius: str
    and_word: str
    currencies: dict[str, tuple[str, ...]]  # symbol -> (singular, plural) or (one, few, many)
    abbreviations: dict[str, str] = field(default_factory=dict)  # "M." -> "Monsieur"
    ordinal_suffix: str = ""  # regex of ordinal suffixes after digits
    millions: dict[str, str] = field(default_factory=dict)  # "million" word forms that take "de"
    currency_joiner: str = " "  # "3 millions d'euros": joiner after a large-number word
    acronyms_as_words: frozenset[str] = frozenset()
    spell_letters: Callable[[str], str] = staticmethod(lambda s: ".".join(s) + ".")
    decimal_word: str | None = None  # "point", "点": read between the whole and fraction digits
    native_decimals: bool = False  # num2words reads fractions itself (Russian "целых ... десятых")
    percent_prefix: bool = False  # Chinese says the percent first: 百分之四十五
    ordinal_to: str = "ordinal"  # num2words' ``to`` for ordinals
    percent_forms: tuple[str, str, str] | None = None  # (one, few, many) where the plural needs them


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
        ordinal_suffix=r"\.(?=\s+(?:[a-zäöüß]|Januar|Februar|März|April|Mai|Juni|Juli|August|September|Oktober|November|Dezember))",
        acronyms_as_words=frozenset({"NATO", "UNESCO", "NASA"}),
    ),
    "es": SpeechRules(
        decimal_sep=",", thousands_seps=_SPACES + ".", percent="por ciento", degree="grados", celsius="Celsius",
        and_word="y", currencies={"€": ("euro", "euros"), "$": ("dólar", "dólares"), "£": ("libra", "libras")},
        abbreviations={"Sr.": "señor", "Sra.": "señora", "Dr.": "doctor", "Dra.": "doctora", "etc.": "etcétera"},
        ordinal_suffix=r"(?:º|ª|\.º|\.ª)",
        acronyms_as_words=frozenset({"OTAN", "ONU", "UNESCO", "NASA"}),
    ),
    "ru": SpeechRules(
        decimal_sep=",", thousands_seps=_SPACES + ".", percent="процента", degree="градусов", celsius="по Цельсию",
        and_word="и",
        currencies={"€": ("евро", "евро", "евро"), "$": ("доллар", "доллара", "долларов"),
                    "₽": ("рубль", "рубля", "рублей"), "£": ("фунт", "фунта", "фунтов")},
        percent_forms=("процент", "процента", "процентов"),
        abbreviations={"т.е.": "то есть", "т.д.": "так далее", "т.п.": "тому подобное", "млн": "миллионов",
                       "млрд": "миллиардов", "тыс.": "тысяч", "руб.": "рублей", "г.": "года"},
        ordinal_suffix=r"-(?:й|я|е|го|му|м|х|ый|ой|ая|ое)",
        native_decimals=True,
        millions={"миллион": "миллионов", "миллиард": "миллиардов"},
        acronyms_as_words=frozenset({"НАТО", "ООН", "ЮНЕСКО", "МИД", "ВОЗ", "ОПЕК", "МАГАТЭ", "NASA", "NATO"}),
    ),
    "el": SpeechRules(
        decimal_sep=",", thousands_seps=_SPACES + ".", percent="τοις εκατό", degree="βαθμούς", celsius="Κελσίου",
        and_word="και", currencies={"€": ("ευρώ", "ευρώ"), "$": ("δολάριο", "δολάρια"), "£": ("λίρα", "λίρες")},
        abbreviations={"κ.": "κύριος", "κα": "κυρία", "π.χ.": "για παράδειγμα", "κτλ.": "και τα λοιπά"},
        acronyms_as_words=frozenset({"ΝΑΤΟ", "ΟΗΕ", "NASA", "NATO"}),
    ),
    "ar": SpeechRules(
        decimal_sep=".", thousands_seps=",\u066c", percent="بالمئة", degree="درجة", celsius="مئوية",
        and_word="و", currencies={"€": ("يورو", "يورو"), "$": ("دولار", "دولار"), "£": ("جنيه إسترليني", "جنيه إسترليني")},
        decimal_word="فاصلة", millions={"مليون": "ملايين", "مليار": "مليارات"},
        acronyms_as_words=frozenset({"NASA", "NATO", "UNESCO"}),
    ),
    "he": SpeechRules(
        decimal_sep=".", thousands_seps=",", percent="אחוז", degree="מעלות", celsius="צלזיוס",
        and_word="ו", currencies={"€": ("אירו", "אירו"), "$": ("דולר", "דולר"), "₪": ("שקל", "שקלים"), "£": ("לירה", "לירות")},
        decimal_word="נקודה",
        acronyms_as_words=frozenset({"NASA", "NATO", "UNESCO"}),
    ),
    "hi": SpeechRules(
        decimal_sep=".", thousands_seps=",", percent="प्रतिशत", degree="डिग्री", celsius="सेल्सियस",
        and_word="और", currencies={"₹": ("रुपये", "रुपये"), "$": ("डॉलर", "डॉलर"), "€": ("यूरो", "यूरो"), "£": ("पाउंड", "पाउंड")},
        acronyms_as_words=frozenset({"NASA", "NATO", "UNESCO"}),
    ),
    "zh": SpeechRules(
        decimal_sep=".", thousands_seps=",，", percent="百分之", degree="度", celsius="摄氏",
        and_word="和", currencies={"$": ("美元", "美元"), "€": ("欧元", "欧元"), "¥": ("元", "元"), "£": ("英镑", "英镑")},
        percent_prefix=True,
        acronyms_as_words=frozenset({"NASA", "NATO", "UNESCO"}),
    ),
    "ja": SpeechRules(
        decimal_sep=".", thousands_seps=",，", percent="パーセント", degree="度", celsius="",
        and_word="と", currencies={"$": ("ドル", "ドル"), "€": ("ユーロ", "ユーロ"), "¥": ("円", "円"), "£": ("ポンド", "ポンド")},
        decimal_word="点",
        acronyms_as_words=frozenset({"NASA", "NATO", "UNESCO"}),
    ),
    "ko": SpeechRules(
        decimal_sep=".", thousands_seps=",", percent="퍼센트", degree="도", celsius="섭씨",
        and_word="와", currencies={"$": ("달러", "달러"), "€": ("유로", "유로"), "₩": ("원", "원"), "£": ("파운드", "파운드")},
        decimal_word="점",
        acronyms_as_words=frozenset({"NASA", "NATO", "UNESCO"}),
    ),
}

_DEFAULT = SpeechRules(
    decimal_sep=".", thousands_seps=",", percent="%", degree="°", celsius="C", and_word="&",
    currencies={},
)

# Digits of other scripts (Arabic-Indic, Persian, Devanagari, full-width) → ASCII digits.
_DIGITS = str.maketrans({**{chr(0x0660 + i): str(i) for i in range(10)}, **{chr(0x06F0 + i): str(i) for i in range(10)},
                         **{chr(0x0966 + i): str(i) for i in range(10)}, **{chr(0xFF10 + i): str(i) for i in range(10)},
                         "\u066b": ".", "\u066a": "%", "\uff05": "%"})
_QUOTES = re.compile(r"[«»“”„‟‹›「」『』〝〞〟＂]")
_UPPER = "A-ZА-ЯЁΑ-ΩΆΈΉΊΌΎΏ"
_WORD = "0-9A-Za-z_\u00c0-\u024f\u0370-\u03ff\u0400-\u04ff"  # letters of Latin, Greek, Cyrillic
_VOWELS = "AEIOUYАЕЁИОУЫЭЮЯΑΕΗΙΟΥΩ"


def rules_for(lang: str) -> SpeechRules:
    return RULES.get(lang.split("-")[0].lower(), _DEFAULT)


def _n2w_lang(lang: str) -> str | None:
    lang = lang.split("-")[0].lower()
    return lang if lang in CONVERTER_CLASSES else None


def speaks_numbers(lang: str) -> bool:
    """Whether numbers are written out as words for ``lang`` (num2words knows it); otherwise
    the engine reads the digits itself."""
    return _n2w_lang(lang) is not None


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
    # Not glued to letters of spaced scripts ("A380"); CJK glue numbers to words ("2025年").
    return re.compile(rf"(?<![{_WORD}.,])(?:{grouped}|\d+)(?:[.,]\d+)?(?![{_WORD}])(?![.,]\d)")


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
    if not speaks_numbers(lang):
        # The engine reads digits itself: only drop the thousands separators it might misread.
        return whole + (rules.decimal_sep + frac if frac is not None else "")
    if frac is not None:
        if rules.native_decimals:
            words = number_to_words(float(f"{whole}.{frac}"), lang)
        else:
            words = _decimal_words(int(whole), frac, lang, rules.decimal_word)
    elif lang == "en" and len(match_text) == 4 and match_text.isdigit() and 1100 <= int(whole) <= 2099 and int(whole) % 100:
        words = number_to_words(int(whole), lang, "year")
    else:
        words = number_to_words(int(whole), lang)
    return words or match_text


def _decimal_words(whole: int, frac: str, lang: str, sep_word: str | None = None) -> str | None:
    """'1,05' → 'un virgule zéro cinq': digits after the separator keep their leading zeros."""
    w = number_to_words(whole, lang)
    if w is None:
        return None
    if sep_word is None:
        point = number_to_words(1.5, lang)  # the language's word for the decimal separator
        parts = (point or "").split()
        sep_word = parts[1] if len(parts) == 3 else ("virgule" if lang == "fr" else "point")
    if frac.startswith("0") or len(frac) > 2:
        frac_words = " ".join(number_to_words(int(d), lang) or d for d in frac)
    else:
        frac_words = number_to_words(int(frac), lang) or frac
    return f"{w} {sep_word} {frac_words}"


def _unit_form(forms: tuple[str, ...], value: float | int | None, lang: str, after_multiplier: bool) -> str:
    """The form of a unit after a number: (singular, plural), or (one, few, many) in the
    languages whose plural depends on the number's last digits (Russian), chosen by CLDR's
    plural rules."""
    if len(forms) == 3:
        if after_multiplier or value is None:
            return forms[2]
        if isinstance(value, float) and not value.is_integer():
            return forms[1]  # Russian: "3,5 процента" (genitive singular)
        category = Locale.parse(lang).plural_form(abs(value))
        return {"one": forms[0], "few": forms[1]}.get(category, forms[2])
    sing, plur = forms[0], forms[-1]
    return sing if value is not None and abs(value) <= 1 and not after_multiplier else plur


def _percent(m: re.Match[str], rules: SpeechRules, lang: str) -> str:
    amount = m.group(1)
    if rules.percent_prefix:
        return f"{rules.percent}{amount}"
    if rules.percent_forms:
        return f"{amount} {_unit_form(rules.percent_forms, _parse_number(amount, rules), lang, False)}"
    return f"{amount} {rules.percent}"


def _kana(text: str) -> str:
    """Japanese: kanji (and the numbers written out in kanji) → hiragana, so espeak-ng, which
    reads only kana, says every word. Kana, Latin and punctuation are kept."""
    out = []
    for item in _kakasi().convert(text):
        orig = item["orig"]
        has_han = any(0x3400 <= ord(c) <= 0x9FFF or c in "々〆" for c in orig)
        out.append(item["hira"] if has_han else orig)
    return "".join(out)


@functools.lru_cache(maxsize=1)
def _kakasi() -> Kakasi:
    import pykakasi

    return pykakasi.kakasi()


def normalize_for_speech(text: str, lang: str) -> str:
    """Rewrite ``text`` so a TTS engine reads it correctly in ``lang``."""
    lang = lang.split("-")[0].lower()
    rules = rules_for(lang)
    t = text.translate(_DIGITS)
    # Typographic apostrophes and quotes: engines read the plain ones best.
    t = t.replace("’", "'").replace("‘", "'").replace("ʼ", "'")
    t = _QUOTES.sub("" if lang in ("zh", "ja") else " ", t)
    t = t.replace("…", "...").replace("\u0640", "")  # Arabic tatweel only stretches letters
    t = re.sub(r"[\u00a0\u202f\u2009]", " ", t)
    if lang == "el":
        t = re.sub(r"[;\u037e](?=\s|$)", "?", t)  # the Greek question mark

    # Abbreviations ("M. Dupont" -> "Monsieur Dupont"); longest first.
    for abbr in sorted(rules.abbreviations, key=len, reverse=True):
        expansion = rules.abbreviations[abbr]
        t = re.sub(rf"(?<![\w.]){re.escape(abbr)}(?=[\s,;:!?)]|$)", expansion, t)

    num = _number_pattern(rules).pattern
    mult_words = "|".join(list(rules.millions) + list(rules.millions.values())) or "million|millions|billion|billions"

    # Currencies: "5 €", "5€", "€5", "$3.5 million", "3,5 millions d'euros" (the last is already fine).
    for sym, forms in rules.currencies.items():
        s = re.escape(sym)

        def cur(m: re.Match[str], forms: tuple[str, ...] = forms) -> str:
            amount, mult = m.group("n"), m.group("m")
            unit = _unit_form(forms, _parse_number(amount, rules), lang, bool(mult))
            if mult:
                joiner = rules.currency_joiner
                sep = joiner if not joiner.endswith("'") or unit[0].lower() in "aeiouéè" else joiner[:-1] + "e "
                return f"{amount} {mult}{sep}{unit}"
            return f"{amount} {unit}"

        t = re.sub(rf"{s}\s?(?P<n>{num})(?:\s(?P<m>{mult_words}))?", cur, t)
        t = re.sub(rf"(?P<n>{num})(?:\s(?P<m>{mult_words}))?\s?{s}", cur, t)

    # Percent and degrees.
    t = re.sub(rf"({num})\s?%", lambda m: _percent(m, rules, lang), t)
    t = re.sub(rf"({num})\s?°\s?C\b", rf"\1 {rules.degree} {rules.celsius}".rstrip(), t)
    t = re.sub(rf"({num})\s?°", rf"\1 {rules.degree}", t)

    # Ordinals: "1er", "2e", "XXIe" (fr), "21st" (en), "3." (de), "5-й" (ru).
    if rules.ordinal_suffix:
        def ordinal(m: re.Match[str]) -> str:
            n = int(m.group(1)) if m.group(1).isdigit() else _roman(m.group(1))
            if n is None:
                return m.group(0)
            return number_to_words(n, lang, rules.ordinal_to) or m.group(0)

        t = re.sub(rf"\b(\d+){rules.ordinal_suffix}(?!\w)", ordinal, t)
        if lang == "fr":
            t = re.sub(r"\b([IVXLC]{1,7})(?:e|ème|er)\b(?=\s+(?:siècle|arrondissement|République|édition|congrès))", ordinal, t)

    # Plain numbers.
    t = re.sub(num, lambda m: _say_number(m.group(0), rules, lang), t)

    # Acronyms: spell out short all-capital words ("IA" -> "I.A.", "США" -> "С.Ш.А.") unless read as words.
    def acronym(m: re.Match[str]) -> str:
        word = m.group(0)
        if word in rules.acronyms_as_words:
            return word
        if len(word) <= 3 or not re.search(f"[{_VOWELS}]", word):
            return rules.spell_letters(word)
        return word

    t = re.sub(rf"(?<![\w.])[{_UPPER}]{{2,5}}(?!\w)(?!\.\w)", acronym, t)
    t = re.sub(r"(?<!\.)\.\.(?!\.)", ".", t)  # "l'I.A.." at a sentence end
    # Elided article before an acronym ("l'I.A.") stays; symbols read aloud.
    t = t.replace("&", f" {rules.and_word} ") if rules.and_word != "&" else t
    if lang == "ja":
        t = _kana(t)
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
