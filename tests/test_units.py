"""Narration units (issue 16): a long sentence is cut at clauses, then words, then characters,
into pieces of bounded length; the script speaks those pieces and the budget counts them."""

from __future__ import annotations

import math
import unicodedata

import numpy as np
import pytest

from videogen.render.article import Article
from videogen.render.narration import Narration, Speech, VoiceInfo
from videogen.render.pipeline import _fit_to_duration
from videogen.render.script import BUDGET_CHARS_PER_SECOND, build_script, lines_to_speak
from videogen.render.templates import load_template
from videogen.render.text.units import (
    UNIT_CHARS,
    WIDE_WEIGHT,
    prefix_words,
    speech_length,
    split_units,
)
from videogen.render.timeline import clip_length
from videogen.settings import Settings

EN_WORDS = ("the regional council met again on tuesday evening to discuss the long delayed plan for new schools "
            "roads and clinics across the valley while residents waited outside the hall").split()


def words_text(n_chars: int) -> str:
    out: list[str] = []
    while len(" ".join(out)) < n_chars:
        out.append(EN_WORDS[len(out) % len(EN_WORDS)])
    return " ".join(out)


LONG = {
    "en": "The council voted, after a debate that lasted most of the night, to fund the new schools; "
          "the roads, which residents had asked for since 2019, will wait: the budget of 3,000,000 euros "
          "is spent, the mayor said, and the works – delayed twice already – start at 10:30 on Monday "
          "with the first of the clinics, the one near the station, and then the others",
    "fr": "Le conseil a voté, après un débat qui a duré presque toute la nuit, le financement des écoles ; "
          "les routes, que les habitants réclament depuis 2019, attendront : le budget de 3 000 000 d’euros "
          "est dépensé, a dit le maire, et les travaux – déjà reportés deux fois – commencent lundi",
    "de": "Der Rat stimmte nach einer Debatte, die fast die ganze Nacht dauerte, für die neuen Schulen, "
          "während die Straßen, die die Bewohner seit 2019 fordern, warten müssen, weil das Budget von "
          "drei Millionen Euro ausgegeben ist, wie der Bürgermeister sagte, und die Arbeiten am Montag beginnen",
    "ru": "Совет проголосовал, после дебатов, которые длились почти всю ночь, за финансирование новых школ, "
          "а дороги, которых жители требуют с 2019 года, подождут, потому что бюджет в три миллиона евро "
          "уже израсходован, как сказал мэр, и работы начнутся в понедельник утром",
    "ar": "صوت المجلس، بعد نقاش استمر معظم الليل، على تمويل المدارس الجديدة؛ أما الطرق، التي يطالب بها "
          "السكان منذ عام 2019، فستنتظر، لأن الميزانية قد أنفقت، كما قال رئيس البلدية، وتبدأ الأعمال يوم "
          "الاثنين مع أول العيادات، تلك القريبة من المحطة، ثم العيادات الأخرى في الوادي",
    "hi": "परिषद ने पूरी रात चली बहस के बाद, नए स्कूलों के लिए धन देने के पक्ष में मतदान किया, जबकि सड़कें, "
          "जिनकी माँग निवासी 2019 से कर रहे हैं, इंतज़ार करेंगी, क्योंकि बजट खर्च हो चुका है, महापौर ने कहा, "
          "और काम सोमवार को पहले क्लिनिक से शुरू होगा",
    "zh": "市议会在经过几乎整夜的辩论之后，投票决定资助新建学校，而居民自二零一九年以来一直要求修建的道路，"
          "则要继续等待，因为三百万欧元的预算已经用完，市长说，工程将于星期一从车站附近的第一家诊所开始，"
          "然后再扩展到山谷里的其他诊所和社区中心",
    "ja": "市議会はほぼ一晩続いた議論の後、新しい学校への資金提供を可決したが、住民が二〇一九年から求めている"
          "道路の整備は、予算がすでに使われたため、市長によれば、月曜日に駅の近くの診療所から始まる工事の後に、"
          "回されることになった",
    "el": "Το συμβούλιο ψήφισε, μετά από μια συζήτηση που κράτησε σχεδόν όλη τη νύχτα, υπέρ της χρηματοδότησης "
          "των νέων σχολείων, ενώ οι δρόμοι, τους οποίους ζητούν οι κάτοικοι από το 2019, θα περιμένουν, "
          "επειδή ο προϋπολογισμός έχει ήδη δαπανηθεί, όπως είπε ο δήμαρχος",
}


@pytest.mark.parametrize("lang", sorted(LONG))
def test_long_sentences_become_bounded_units_at_clauses(lang):
    text = LONG[lang]
    limit = UNIT_CHARS if lang in ("zh", "ja") else 80  # the wide scripts' clauses weigh 75-115
    units = split_units(text, limit)
    assert len(units) > 1
    assert all(0 < speech_length(u) <= limit for u in units), [speech_length(u) for u in units]
    # Nothing lost, nothing reordered.
    assert "".join("".join(units).split()) == "".join(text.split())
    # Every cut falls after a clause mark or before a dash (the texts have enough of them).
    for u, nxt in zip(units, units[1:], strict=False):
        assert u[-1] in ",;:،؛，、；：" or nxt[0] in "–—", (lang, u, nxt)


def test_numbers_and_times_are_not_clauses():
    units = split_units(LONG["en"], 80)
    assert any("3,000,000" in u for u in units) and any("10:30" in u for u in units)


def test_a_sentence_without_punctuation_is_cut_between_words_into_even_units():
    text = words_text(3000)
    units = split_units(text)
    assert " ".join(units) == text
    assert all(speech_length(u) <= UNIT_CHARS for u in units)
    sizes = [len(u) for u in units]
    assert min(sizes) > UNIT_CHARS * 0.6, sizes  # no short leftover unit
    assert len(units) <= math.ceil(3000 / (UNIT_CHARS * 0.9)) + 1


@pytest.mark.parametrize("text", [
    "北京市政府周二宣布将在未来五年内投资建设新的学校医院和道路" * 8 + "。",
    "東京都は火曜日に新しい学校と病院と道路を今後五年間で建設すると発表した" * 6 + "」。",
    "รัฐบาลประกาศแผนการลงทุนใหม่สำหรับโรงเรียนและโรงพยาบาลในหุบเขา" * 8,
])
def test_scripts_without_spaces_are_cut_between_characters(text):
    units = split_units(text)
    assert len(units) > 1 and "".join(units) == text
    assert all(speech_length(u) <= UNIT_CHARS for u in units)
    for u in units[1:]:
        # Never a closing mark or a combining vowel sign at the start of a unit.
        assert u[0] not in "。」、，" and unicodedata.category(u[0]) not in ("Mn", "Mc"), u[:3]


def test_wide_characters_weigh_more():
    assert speech_length("abc") == 3
    assert speech_length("北京") == 2 * WIDE_WEIGHT
    n = UNIT_CHARS // (2 * WIDE_WEIGHT)
    assert split_units("北京" * n) == ["北京" * n]
    assert len(split_units("北京" * (n + 1))) == 2


def test_short_sentences_are_untouched():
    assert split_units("  A short sentence.  ") == ["A short sentence."]
    assert split_units("") == []


def test_prefix_words():
    text = words_text(400)
    p = prefix_words(text, 50)
    assert len(p) <= 50 and text.startswith(p) and text[len(p)] == " "
    assert len(prefix_words(text, 50)) > 40  # the longest start, not an even share
    assert prefix_words("Unbreakable", 3) == "Unbreakable"  # a word at least
    assert prefix_words("北京市政府周二宣布", 3 * WIDE_WEIGHT) == "北京市"
    assert prefix_words("Le 北京市政府周二宣布", 3 + 2 * WIDE_WEIGHT) == "Le 北京"
    assert prefix_words("北京", 1) == "北"  # a character at least


def test_script_lines_are_units_and_only_the_last_part_sounds_final():
    summary = words_text(3000) + "."
    script = build_script(Article(id="a", title="Title", summary=summary, language="en"))
    assert len(script.lines) > 10
    assert all(len(ln.text) <= UNIT_CHARS and not ln.whole for ln in script.lines)
    assert " ".join(ln.text for ln in script.lines) == summary
    assert [ln.spoken.endswith(".") for ln in script.lines] == [False] * (len(script.lines) - 1) + [True]
    short = build_script(Article(id="b", title="Title", summary="One. Two three.", language="en"))
    assert [ln.text for ln in short.lines] == ["One.", "Two three."] and all(ln.whole for ln in short.lines)


@pytest.mark.parametrize("n_chars", [1500, 3000, 20_000])
def test_what_is_synthesised_does_not_grow_with_the_sentence(n_chars):
    script = build_script(Article(id="a", title="Title", summary=words_text(n_chars - 20) + ".", language="en"))
    keep = lines_to_speak(script, 6.0)
    spoken = sum(speech_length(ln.text) for ln in script.lines[:keep])
    assert keep >= 1 and spoken <= 6.0 * BUDGET_CHARS_PER_SECOND + UNIT_CHARS


# --- fitting the narration into max_duration (pipeline._fit_to_duration) ---------------------

RATE = 1000  # samples a second of the fake voice, which says 15 characters a second


def fake_speech(text: str) -> Speech:
    return Speech(np.full(int(len(text) / 15 * RATE), 0.5, np.float32), RATE)


class FakeChain:
    """Speaks like a voice of 15 characters a second; records what it was asked to say."""

    def __init__(self) -> None:
        self.said: list[str] = []

    def speak(self, voice: VoiceInfo, text: str, lexicon: object = None) -> Speech:
        self.said.append(text)
        return fake_speech(text)


def fit(title: str, summary: str, max_duration: float) -> tuple[int, Narration, list[str], FakeChain, float]:
    template = load_template("news", Settings().templates_dirs).at_size(144, 10)
    script = build_script(Article(id="a", title=title, summary=summary, language="en"))
    keep = lines_to_speak(script, max_duration)
    voice = VoiceInfo("espeak", "espeak:en", "en", "fake", True, 10)
    narration = Narration(voice, "fp", [fake_speech(t) for t in script.spoken[: 1 + keep]], RATE)
    chain, warnings = FakeChain(), []
    n = _fit_to_duration(chain, narration, script, "en", template, max_duration, warnings)  # type: ignore[arg-type]
    d = narration.durations
    length = clip_length(d[0], d[1 : 1 + n], template.timing) + 1 / template.fps
    return n, narration, [script.title.text] + [ln.text for ln in script.lines[:n]], chain, length


def test_a_first_line_too_long_for_the_cap_is_cut_between_words():
    summary = words_text(3000) + "."
    n, narration, texts, chain, length = fit("Valley plan", summary, 12.0)
    assert n == 1 and length <= 12.0
    assert texts[1].endswith("…") and summary.startswith(texts[1][:-1]) and summary[len(texts[1]) - 1] == " "
    assert len(chain.said) <= 2 and all(len(t) < UNIT_CHARS for t in chain.said)


def test_a_title_too_long_for_the_cap_is_cut_and_nothing_else_is_read():
    n, narration, texts, chain, length = fit(words_text(300), words_text(500) + ".", 6.0)
    assert n == 0 and length <= 6.0 and texts[0].endswith("…")


def test_lines_that_fit_are_kept_whole():
    summary = " ".join(f"Sentence {i} is short." for i in range(30))
    n, narration, texts, chain, length = fit("Valley plan", summary, 20.0)
    assert n >= 3 and length <= 20.0 and chain.said == [] and not any(t.endswith("…") for t in texts)


def test_a_cap_too_short_for_any_word_still_reads_the_first_words_of_the_title():
    n, narration, texts, chain, length = fit(words_text(300), "Body.", 5.0)
    assert n == 0 and texts[0].endswith("…") and len(texts[0]) < 20  # not the 300-character title
