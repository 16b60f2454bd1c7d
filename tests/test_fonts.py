"""Shipped fonts cover every script the newsroom writes in, fall back per character, and the
Pillow in use shapes complex scripts (raqm)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw, features

from videogen.render import textlayout
from videogen.render.fonts import (
    assign_fonts,
    charset,
    covers,
    fallback_names,
    font_files,
    font_stack,
    get_font,
    infer_language,
    missing_glyphs,
    read_cmap,
)

SAMPLES = {
    "fr": "L’œuvre « Cœur » coûte 3 000 € — déjà vu ?",
    "de": "Größere Straßenbahn: „Grüße“ für 5 %",
    "ru": "Ёжик в тумане: «Щука» и 10 ₽",
    "el": "Ψυχή και ζωή· τι γίνεται;",
    "ar": "هل افتتح المتحف؟ نعم، ٢٠٢٥ ﷼",
    "he": "שלום עולם, ב־2025 ₪",
    "hi": "संग्रहालय में क्षत्रिय श्रद्धा। ₹ १२३",
    "zh": "博物馆开幕。“太空”展览！",
    "ja": "「きぼう」の模型、ヶ月ー々",
    "ko": "박물관이 열렸다. 관람객 ‘환영’",
}


def test_pillow_has_raqm_for_shaping_and_bidi():
    assert features.check("raqm"), "Pillow without raqm cannot shape Arabic or Devanagari"


@pytest.mark.parametrize("lang", list(SAMPLES))
def test_every_script_is_covered(lang):
    for primary in ("NotoSans-Regular", "NotoSans-Bold"):
        assert missing_glyphs(SAMPLES[lang], fallback_names(primary, lang)) == []


def test_coverage_check_reports_what_is_missing():
    assert missing_glyphs("OK 😀 done", ["NotoSans-Regular"]) == ["😀"]
    assert missing_glyphs("中文", ["NotoSans-Regular"]) == ["中", "文"]
    assert covers("中文 et français") and not covers("emoji 😀")
    assert 0x4E2D in charset("NotoSansSC-Regular") and 0x4E2D not in charset("NotoSans-Regular")


@pytest.mark.parametrize("name", sorted(font_files()))
def test_cmap_reader_agrees_with_fonttools(name):
    from fontTools.ttLib import TTFont

    path = font_files()[name]
    with TTFont(str(path), lazy=True) as f:
        expected = f.getBestCmap()
    assert set(read_cmap(path.read_bytes())) == set(expected) and len(expected) > 400


def test_latin_text_does_not_load_the_fallback_fonts():
    charset.cache_clear()
    assert missing_glyphs("Déjà « vu » — 3 000 €", fallback_names("NotoSans-Bold", "fr")) == []
    stack = font_stack("NotoSans-Regular", 30, "fr")
    stack.runs("Le cœur de l’affaire, à 20 %")
    assert charset.cache_info().currsize == 2  # NotoSans Bold and Regular only


def test_fallbacks_keep_the_weight_and_put_the_language_first():
    assert fallback_names("NotoSans-Bold", "ja")[:2] == ("NotoSans-Bold", "NotoSansJP-Bold")
    assert fallback_names("NotoSans-Regular", "zh")[1] == "NotoSansSC-Regular"
    assert fallback_names("NotoSans-Regular", "ar")[1] == "NotoSansArabic-Regular"
    assert all(n.endswith("-Bold") for n in fallback_names("NotoSans-Bold", "ko"))
    assert (infer_language("東京の空"), infer_language("서울"), infer_language("北京"), infer_language("Paris")) == ("ja", "ko", "zh", None)


def test_a_mixed_title_falls_back_per_character():
    stack = font_stack("NotoSans-Bold", 40, "zh")
    runs = stack.runs("OpenAI 与 Google")
    assert [(t, stack.names[i]) for t, i in runs] == [
        ("OpenAI ", "NotoSans-Bold"), ("与 ", "NotoSansSC-Bold"), ("Google", "NotoSans-Bold")]
    # Arabic keeps its own comma and spaces in its run; a Latin name gets the Latin font.
    sets = [charset(n) for n in fallback_names("NotoSans-Regular", "ar")]
    idx = assign_fonts("نعم، OpenAI", sets)
    assert idx[:5] == [1] * 5 and idx[5:] == [0] * 6


def _ink(text: str, stack, direction: str = "ltr") -> np.ndarray:
    img = Image.new("L", (int(stack.getlength(text)) + 40, stack.size * 2), 0)
    textlayout.draw_text(ImageDraw.Draw(img), 20, stack.size * 1.4, text, stack, 255, direction)
    return np.asarray(img)


def test_mixed_title_renders_without_tofu():
    """Each character drawn with the fallback looks like the CJK font's glyph, not like the
    Latin font's .notdef box."""
    stack = font_stack("NotoSans-Bold", 40, "zh")
    drawn = _ink("与", stack)
    tofu = np.asarray(_draw_with(get_font("NotoSans-Bold", 40), "与"))
    right = np.asarray(_draw_with(get_font("NotoSansSC-Bold", 40), "与"))
    assert np.array_equal(drawn, right) and not np.array_equal(drawn, tofu)


def _draw_with(font, text: str) -> Image.Image:
    img = Image.new("L", (int(font.getlength(text)) + 40, font.size * 2), 0)
    ImageDraw.Draw(img).text((20, font.size * 1.4), text, font=font, fill=255, anchor="ls", direction="ltr")
    return img


def test_arabic_is_joined_and_devanagari_conjuncts_are_formed():
    """Shaped text is narrower than its letters set one by one (joined Arabic forms, Devanagari
    conjuncts), which it would not be without raqm."""
    for lang, word in (("ar", "المتحف"), ("hi", "क्षत्रिय")):
        stack = font_stack("NotoSans-Regular", 60, lang)
        whole = stack.getlength(word, "rtl" if lang == "ar" else "ltr")
        apart = sum(stack.getlength(ch) for ch in word)
        assert whole < apart * 0.92, (lang, whole, apart)


def test_rtl_line_puts_the_first_word_on_the_right():
    stack = font_stack("NotoSans-Bold", 40, "he")
    first, second = "שלום", "NASA"
    ink = _ink(f"{first} {second}", stack, "rtl")
    cols = np.flatnonzero(ink.max(axis=0) > 128)
    lone_first = _ink(first, stack, "rtl")
    w_first = np.flatnonzero(lone_first.max(axis=0) > 128)
    # The Hebrew word ends the line on the right: the rightmost ink belongs to it.
    right_part = ink[:, cols.max() - (w_first.max() - w_first.min()) : cols.max() + 1]
    left_of_first = lone_first[:, w_first.min() : w_first.max() + 1]
    assert right_part.shape == left_of_first.shape
    assert np.abs(right_part.astype(int) - left_of_first.astype(int)).mean() < 20
