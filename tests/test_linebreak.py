"""Line breaking per script, long words, caption pages by display width, and the bidi order of
runs."""

from __future__ import annotations

import pytest

from videogen.render import cards, textlayout
from videogen.render.fonts import font_stack
from videogen.render.templates import load_template
from videogen.render.text import linebreak
from videogen.render.text.bidi import embedding_levels, visual_order, visual_runs

from .helpers import ROOT


def test_tokens_break_cjk_between_characters_but_not_before_closing_punctuation():
    toks = linebreak.tokens("博物馆开幕。“太空”展览！")
    assert "".join(toks) == "博物馆开幕。“太空”展览！"
    assert "幕。" in toks and "览！" in toks  # 。 and ！ never start a line
    assert not any(t[0] in linebreak.NO_LINE_START for t in toks)
    assert not any(t[-1] in linebreak.NO_LINE_END for t in toks)
    ja = linebreak.tokens("「きぼう」の模型、ショー")
    assert ja[0] == "「き" and "う」" in ja and "型、" in ja and "ョー" in ja[-1]


def test_latin_words_inside_cjk_stay_whole_and_spaced_scripts_break_at_spaces():
    assert linebreak.tokens("OpenAI与Google的2025年") == ["OpenAI", "与", "Google", "的", "2025", "年"]
    assert linebreak.tokens("박물관이 열렸다") == ["박물관이 ", "열렸다"]
    assert linebreak.tokens("افتتح المتحف") == ["افتتح ", "المتحف"]


@pytest.mark.parametrize("lang,text", [
    ("de", "Die Donaudampfschifffahrtsgesellschaftskapitänsmützen sind da"),
    ("zh", "参观者可以走进一比一的太空舱复制品，并试穿真正的飞行服。"),
    ("ja", "来館者は実物大のカプセルの模型に入り、本物の飛行服を試着することができる。"),
    ("hi", "आगंतुक असली आकार के अंतरिक्ष कैप्सूल की प्रतिकृति में जा सकते हैं"),
    ("ar", "يمكن للزوار دخول نسخة طبق الأصل من كبسولة فضائية بالحجم الطبيعي"),
])
def test_wrap_never_overflows_and_loses_nothing(lang, text):
    stack = font_stack("NotoSans-Bold", 30, lang)
    max_w = 260
    lines = textlayout.wrap_text(text, stack, max_w)
    assert len(lines) >= 2
    assert all(stack.getlength(line) <= max_w for line in lines), [stack.getlength(x) for x in lines]
    joined = "".join(line.removesuffix("-") if lang == "de" else line for line in lines)
    assert joined.replace(" ", "") == text.replace(" ", "")
    assert not any(line[0] in linebreak.NO_LINE_START for line in lines)


def test_long_words_are_cut_between_graphemes_with_a_hyphen_only_where_it_belongs():
    pieces = linebreak.split_long_word("Donaudampfschifffahrtsgesellschaft", lambda p: len(p) <= 12)
    assert all(len(p) <= 12 for p in pieces) and pieces[0].endswith("-") and not pieces[-1].endswith("-")
    assert "".join(p.rstrip("-") for p in pieces) == "Donaudampfschifffahrtsgesellschaft"
    deva = linebreak.split_long_word("प्रदर्शनीक्षत्रिय", lambda p: len(p) <= 4)
    assert "".join(deva) == "प्रदर्शनीक्षत्रिय" and not any(p.endswith("-") for p in deva)
    for p in deva[1:]:  # no piece starts with a vowel sign or follows a virama
        assert p[0] not in "\u093e\u093f\u0940\u0941\u0942\u0947\u0948\u094b\u094c\u0902\u094d"
    for p in deva[:-1]:
        assert not p.endswith("\u094d")


def test_caption_pages_split_by_display_width_for_scripts_without_spaces():
    template = load_template("news", ROOT / "templates").at_size(360, 10)
    text = ("参观者可以走进一比一的太空舱复制品，并试穿真正的飞行服，还能在模拟驾驶舱里体验发射倒计时，"
            "工作人员会讲解每一次任务的历史和意义。")
    pages = cards.caption_pages(text, template, "zh")
    assert len(pages) >= 2 and "".join(pages) == text
    stack = font_stack(template.fonts.caption, int(template.unit * template.layout.caption_size), "zh")
    max_w = cards._caption_max_width(template)
    for page in pages:
        assert len(textlayout.wrap_text(page, stack, max_w)) <= template.layout.caption_max_lines
        assert page[0] not in linebreak.NO_LINE_START
    widths = [stack.getlength(p) for p in pages]
    assert max(widths) < 2.2 * min(widths), widths  # even pages, not one long and one stub


def test_bidi_levels_and_visual_order():
    # Hebrew paragraph with a Latin name and a number: the Latin and the digits stay LTR.
    text = "עם NASA ב-2025"
    levels = embedding_levels(text, rtl=True)
    assert levels[0] == 1 and levels[text.index("N")] == 2 and levels[text.index("2")] == 2
    assert visual_order([0, 0, 1, 1, 0]) == [0, 1, 3, 2, 4]
    assert visual_order([1, 1, 2, 2, 1]) == [4, 2, 3, 1, 0]
    runs = visual_runs("שלום OpenAI", [0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1], rtl=True)
    assert [(t, rtl) for t, _, rtl in runs] == [("OpenAI", False), ("שלום ", True)]
