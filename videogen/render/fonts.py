"""Fonts shipped with videogen, permissively licensed (SIL OFL 1.1), so rendering never depends
on the fonts installed on the machine:

- ``videogen/fonts/``: Noto Sans (Latin, Greek, Cyrillic), Noto Sans Arabic, Hebrew and
  Devanagari (static Regular and Bold instances of the Noto variable fonts);
- the ``rendercv-fonts`` wheel (a dependency): Noto Sans SC, JP and KR (Chinese, Japanese,
  Korean), too large to keep in git.

A template names one font (e.g. ``NotoSans-Bold``); text is set in it where it has the glyphs,
and every other character falls back, one character at a time, to the first font of the same
weight that covers it, the article language's own script first (``FontStack``)."""

from __future__ import annotations

import functools
import struct
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import overload

from PIL import ImageFont, features

from videogen.errors import InvalidInput

FONTS_DIR = Path(__file__).resolve().parent / "fontfiles"
HAS_RAQM = features.check("raqm")

# Fallback families, in the order tried for a character the template's font lacks.
FALLBACK_FAMILIES = ("NotoSans", "NotoSansArabic", "NotoSansHebrew", "NotoSansDevanagari",
                     "NotoSansSC", "NotoSansJP", "NotoSansKR")
# Families tried first for a language (Han characters look different in China and Japan).
LANGUAGE_FAMILIES: dict[str, tuple[str, ...]] = {
    "ar": ("NotoSansArabic",), "fa": ("NotoSansArabic",), "ur": ("NotoSansArabic",),
    "he": ("NotoSansHebrew",), "yi": ("NotoSansHebrew",),
    "hi": ("NotoSansDevanagari",), "mr": ("NotoSansDevanagari",), "ne": ("NotoSansDevanagari",),
    "zh": ("NotoSansSC",), "ja": ("NotoSansJP",), "ko": ("NotoSansKR",),
}


def _cjk_font_files() -> dict[str, Path]:
    import rendercv_fonts

    folder = Path(rendercv_fonts.__file__).resolve().parent / "Noto Sans"
    return {p.stem: p for p in sorted(folder.glob("NotoSans[JKS][PRC]-*.ttf"))}


@functools.lru_cache(maxsize=1)
def font_files() -> dict[str, Path]:
    """Font name (file stem, e.g. ``NotoSans-Bold``) → file."""
    shipped = {p.stem: p for p in sorted(FONTS_DIR.iterdir()) if p.suffix.lower() in (".ttf", ".otf", ".ttc")}
    return {**_cjk_font_files(), **shipped}


def font_path(name: str) -> Path | None:
    """The file of a font: a shipped font's name, or a brand's font file (an absolute path,
    as a loaded template names it)."""
    files = font_files()
    if name in files:
        return files[name]
    path = Path(name)
    if path.is_absolute() and path.suffix.lower() in (".ttf", ".otf") and path.is_file():
        return path
    return None


def _known(name: str) -> Path:
    path = font_path(name)
    if path is None:
        shown = Path(name).name if Path(name).is_absolute() else name
        raise InvalidInput("template", f"unknown font {shown!r} (shipped: {', '.join(font_files())}; or a font file of the brand)")
    return path


@functools.lru_cache(maxsize=256)
def get_font(name: str, size: int) -> ImageFont.FreeTypeFont:
    path = _known(name)
    layout = ImageFont.Layout.RAQM if HAS_RAQM else ImageFont.Layout.BASIC
    try:
        return ImageFont.truetype(str(path), size=max(1, int(size)), layout_engine=layout)
    except OSError as e:
        raise InvalidInput("template", f"font {path.name} cannot be read: {e}") from None


@functools.lru_cache(maxsize=32)
def charset(name: str) -> frozenset[int]:
    """Code points the font ``name`` has a glyph for (its best cmap)."""
    path = _known(name)
    try:
        return frozenset(read_cmap(path.read_bytes()))
    except (struct.error, ValueError, IndexError, OSError) as e:
        raise InvalidInput("template", f"font {path.name} has no readable character map: {e}") from None


# The subtables fontTools' getBestCmap prefers, in order: (platform, encoding, format).
_CMAP_PREFERENCE = ((3, 10, 12), (0, 6, 12), (0, 4, 12), (3, 1, 4), (0, 3, 4), (0, 2, 4), (0, 1, 4), (0, 0, 4))


def read_cmap(font: bytes) -> list[int]:
    """The code points of a TrueType/OpenType font's best Unicode cmap subtable (format 12 or
    4), read straight from the bytes: what fontTools' ``getBestCmap`` gives, without building
    glyph names (a second per render for the fallback fonts)."""
    n_tables = struct.unpack_from(">H", font, 4)[0]
    cmap = next((off for tag, _, off, _ in (struct.unpack_from(">4sIII", font, 12 + 16 * i) for i in range(n_tables))
                 if tag == b"cmap"), None)
    if cmap is None:
        return []
    n_sub = struct.unpack_from(">H", font, cmap + 2)[0]
    subtables: dict[tuple[int, int, int], int] = {}  # (platform, encoding, format) → offset
    for i in range(n_sub):
        platform, encoding, offset = struct.unpack_from(">HHI", font, cmap + 4 + 8 * i)
        fmt = struct.unpack_from(">H", font, cmap + offset)[0]
        subtables.setdefault((platform, encoding, fmt), cmap + offset)
    for key in _CMAP_PREFERENCE:
        if key in subtables:
            return _format12(font, subtables[key]) if key[2] == 12 else _format4(font, subtables[key])
    return []


def _format12(font: bytes, at: int) -> list[int]:
    n_groups = struct.unpack_from(">I", font, at + 12)[0]
    out: list[int] = []
    for g in range(n_groups):
        start, end, glyph = struct.unpack_from(">III", font, at + 16 + 12 * g)
        out += range(start, end + 1) if glyph else range(start + 1, end + 1)  # glyph 0 is .notdef
    return out


def _format4(font: bytes, at: int) -> list[int]:
    seg_x2 = struct.unpack_from(">H", font, at + 6)[0]
    n = seg_x2 // 2
    ends = struct.unpack_from(f">{n}H", font, at + 14)
    starts = struct.unpack_from(f">{n}H", font, at + 16 + seg_x2)
    deltas = struct.unpack_from(f">{n}h", font, at + 16 + 2 * seg_x2)
    range_at = at + 16 + 3 * seg_x2
    offsets = struct.unpack_from(f">{n}H", font, range_at)
    out: list[int] = []
    for i in range(n):
        start, end, delta, ro = starts[i], ends[i], deltas[i], offsets[i]
        if start == 0xFFFF:
            continue
        for c in range(start, end + 1):
            if ro == 0:
                glyph = (c + delta) & 0xFFFF
            else:
                glyph = struct.unpack_from(">H", font, range_at + 2 * i + ro + 2 * (c - start))[0]
                glyph = (glyph + delta) & 0xFFFF if glyph else 0
            if glyph:
                out.append(c)
    return out


class Charsets(Sequence[frozenset[int]]):
    """The charsets of a list of fonts, each read only when a lookup reaches it: Latin text
    never loads the CJK fonts' tables."""

    def __init__(self, names: Sequence[str]):
        self.names = tuple(names)

    @overload
    def __getitem__(self, i: int) -> frozenset[int]: ...

    @overload
    def __getitem__(self, i: slice) -> Sequence[frozenset[int]]: ...

    def __getitem__(self, i: int | slice) -> frozenset[int] | Sequence[frozenset[int]]:
        if isinstance(i, slice):
            return Charsets(self.names[i])
        return charset(self.names[i])

    def __len__(self) -> int:
        return len(self.names)


def weight_of(name: str) -> str:
    return "Bold" if "bold" in name.lower() else "Regular"


def primary_language(lang: str | None) -> str | None:
    return lang.split("-")[0].lower() if lang else None


def fallback_names(primary: str, lang: str | None = None) -> tuple[str, ...]:
    """The template's font, then the fallbacks of its weight, the language's own first."""
    weight = weight_of(primary)
    preferred = LANGUAGE_FAMILIES.get(primary_language(lang) or "", ())
    families = list(preferred) + [f for f in FALLBACK_FAMILIES if f not in preferred]
    names = [primary] + [f"{fam}-{weight}" for fam in families]
    return tuple(dict.fromkeys(n for n in names if font_path(n) is not None))


def ignorable(ch: str) -> bool:
    """Characters that need no glyph of their own: controls, format characters (ZWJ, ZWNJ,
    bidi marks, variation selectors) and line breaks."""
    cat = unicodedata.category(ch)
    return cat in ("Cc", "Cf") or 0xFE00 <= ord(ch) <= 0xFE0F or ch in "\n\r\t"


def missing_glyphs(text: str, names: tuple[str, ...] | list[str]) -> list[str]:
    """Characters of ``text`` that none of the fonts ``names`` can draw (they would show as
    tofu boxes), in order of first appearance."""
    todo = [ch for ch in dict.fromkeys(text) if not ignorable(ch)]
    for name in names:  # each font only for what the ones before it lack
        if not todo:
            break
        have = charset(name)
        todo = [ch for ch in todo if ord(ch) not in have]
    return todo


def drop_missing(text: str, primary: str = "NotoSans-Regular", lang: str | None = None) -> tuple[str, list[str]]:
    """``text`` without the characters no shipped font can draw (emoji, rare symbols), so
    nothing shows as a tofu box; and the characters dropped."""
    missing = missing_glyphs(text, fallback_names(primary, lang))
    if not missing:
        return text, []
    gone = set(missing)
    kept = "".join(ch for ch in text if ch not in gone)
    # An emoji may carry a skin-tone modifier or variation selector: drop what it leaves.
    kept = "".join(ch for ch in kept if not (0x1F3FB <= ord(ch) <= 0x1F3FF or ord(ch) in (0xFE0F, 0x200D)))
    return " ".join(kept.split()), missing


def covers(text: str, primary: str = "NotoSans-Regular", lang: str | None = None) -> bool:
    """Whether the shipped fonts (``primary`` and its fallbacks) draw every character."""
    return not missing_glyphs(text, fallback_names(primary, lang))


def infer_language(text: str) -> str | None:
    """A language hint from the text alone, for choosing among the CJK fonts: kana → Japanese,
    Hangul → Korean, other Han → Chinese."""
    han = False
    for ch in text:
        cp = ord(ch)
        if 0x3040 <= cp <= 0x30FF or 0x31F0 <= cp <= 0x31FF or 0xFF66 <= cp <= 0xFF9F:
            return "ja"
        if 0xAC00 <= cp <= 0xD7AF or 0x1100 <= cp <= 0x11FF or 0x3130 <= cp <= 0x318F:
            return "ko"
        if 0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF:
            han = True
    return "zh" if han else None


def _sticky(ch: str) -> bool:
    """Characters that stay in the font of the run they are in when it has them: marks,
    joiners, digits, punctuation, symbols and spaces (not letters)."""
    return unicodedata.category(ch)[0] != "L"


def assign_fonts(text: str, sets: Sequence[frozenset[int]]) -> list[int]:
    """Index of the font that draws each character: the first that covers it, except that
    marks, digits, punctuation and spaces stay in the current run's font when it has them, so
    a run of Arabic keeps its own comma and spaces. 0 when no font covers a character."""
    out: list[int] = []
    cur: int | None = None
    for ch in text:
        cp = ord(ch)
        if cur is not None and (_sticky(ch) and (cp in sets[cur] or ignorable(ch))):
            out.append(cur)
            continue
        pick = next((i for i, s in enumerate(sets) if cp in s), None)
        if pick is None:
            pick = cur if cur is not None else 0
        out.append(pick)
        cur = pick
    return out


@dataclass(frozen=True)
class FontStack:
    """A font and its per-character fallbacks at one size: measures and splits text into
    runs each drawn with one font."""

    names: tuple[str, ...]
    size: int
    language: str | None = None  # BCP 47, passed to raqm (shaping, localised forms)

    def font(self, index: int) -> ImageFont.FreeTypeFont:
        """The stack's ``index``-th font, opened when first used (a CJK font held open costs
        several MB)."""
        return get_font(self.names[index], self.size)

    @property
    def primary(self) -> ImageFont.FreeTypeFont:
        return get_font(self.names[0], self.size)

    def runs(self, text: str) -> list[tuple[str, int]]:
        """(text, font index) runs in logical order."""
        return _runs(self.names, text)

    def getlength(self, text: str, direction: str | None = None) -> float:
        return sum(self.run_length(t, i, direction) for t, i in self.runs(text))

    def run_length(self, text: str, index: int, direction: str | None) -> float:
        return _run_length(self.names[index], self.size, text, direction, self.language)

    def metrics(self, text: str | None = None) -> tuple[int, int]:
        """(ascent, descent): the largest of the fonts ``text`` uses (of the primary font when
        no text is given)."""
        used = {i for _, i in self.runs(text)} if text else {0}
        ms = [get_font(self.names[i], self.size).getmetrics() for i in used or {0}]
        return max(a for a, _ in ms), max(d for _, d in ms)


@functools.lru_cache(maxsize=4096)
def _runs(names: tuple[str, ...], text: str) -> list[tuple[str, int]]:
    idx = assign_fonts(text, Charsets(names))
    runs: list[tuple[str, int]] = []
    for ch, i in zip(text, idx, strict=True):
        if runs and runs[-1][1] == i:
            runs[-1] = (runs[-1][0] + ch, i)
        else:
            runs.append((ch, i))
    return runs


@functools.lru_cache(maxsize=16384)
def _run_length(name: str, size: int, text: str, direction: str | None, language: str | None) -> float:
    font = get_font(name, size)
    if not HAS_RAQM:
        return font.getlength(text)
    return font.getlength(text, direction=direction, language=language)


@functools.lru_cache(maxsize=512)
def font_stack(primary: str, size: int, lang: str | None = None) -> FontStack:
    """The stack for a template font at a size, for text in ``lang``."""
    _known(primary)
    return FontStack(fallback_names(primary, lang), max(1, int(size)), lang)


def needs_complex_layout(text: str) -> bool:
    """Whether ``text`` needs shaping or bidi (Arabic, Hebrew, Indic...)."""
    for ch in text:
        cp = ord(ch)
        if 0x0590 <= cp <= 0x08FF or 0x0900 <= cp <= 0x0DFF or 0xFB1D <= cp <= 0xFEFF:
            return True
    return False
