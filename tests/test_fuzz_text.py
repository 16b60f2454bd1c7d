"""Property tests (hypothesis) on the article model, the sentence splitter, the speech
normaliser and the caption writer: never crash, never lose or repeat text, cue times in order."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from videogen.errors import InvalidArticle
from videogen.render.article import clean_text, parse_article
from videogen.render.captions import parse_webvtt, to_webvtt
from videogen.render.script import build_script
from videogen.render.templates import Timing
from videogen.render.text.normalize import normalize_for_speech
from videogen.render.text.sentences import split_sentences
from videogen.render.timeline import LineAudio, build_timeline

LANGS = ["en", "fr", "de", "es", "ru", "el", "ar", "he", "hi", "zh", "ja", "ko", "xx"]
WORDS = st.sampled_from([
    "M.", "Dr.", "U.S.", "etc.", "3 000", "1.5", "1,5", "45 %", "5 €", "$3", "«", "»", "l’IA", "AI", "IA", "...", "…",
    "?", "!", "—", "\"", "'", "(", ")", "1er", "2e", "21st", "中文。", "你好！", "مرحبا؟", "नमस्ते।", "Ναι;", "Привет.",
    "word", "Word.", "another", "Capital", "end.", "é", "œuvre", "🚀", "&", "<b>", "-->", "\u0301", "\u200b",
])
TEXT = st.lists(st.one_of(WORDS, st.text(min_size=1, max_size=8)), min_size=1, max_size=40).map(" ".join)
JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
FIELDS = st.fixed_dictionaries({}, optional={
    "title": st.one_of(TEXT, JSONISH), "summary": st.one_of(TEXT, JSONISH), "body": st.one_of(TEXT, JSONISH),
    "language": st.one_of(st.sampled_from(LANGS + ["en-GB", "fr_CA", "", "123"]), JSONISH),
    "images": st.one_of(st.lists(st.fixed_dictionaries({"src": st.text(max_size=20)}), max_size=3), JSONISH),
    "id": st.one_of(st.text(max_size=20), JSONISH), "url": st.one_of(st.text(max_size=20), JSONISH),
    "published_at": st.one_of(st.text(max_size=20), JSONISH), "source": st.one_of(TEXT, JSONISH),
    "extra": JSONISH,
})
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def words(text: str) -> list[str]:
    return clean_text(text).split()


@FAST
@given(FIELDS)
def test_article_model_accepts_or_names_the_field(data):
    try:
        article = parse_article(data)
    except InvalidArticle as e:
        assert e.errors and all(field and message for field, message in e.errors)
        return
    assert article.title and (article.summary or article.body) and article.id


@FAST
@given(TEXT, st.sampled_from(LANGS))
def test_splitter_never_loses_or_repeats_text(text, lang):
    sentences = split_sentences(text, lang)
    assert all(s.strip() for s in sentences)
    assert "".join("".join(sentences).split()) == "".join(text.split())


@FAST
@given(TEXT, st.sampled_from(LANGS))
def test_normaliser_never_crashes(text, lang):
    out = normalize_for_speech(text, lang)
    assert isinstance(out, str) and "\n" not in out


@FAST
@given(st.lists(TEXT, min_size=1, max_size=8), st.lists(st.floats(0.2, 12.0), min_size=8, max_size=8),
       st.sampled_from(["en", "fr", "zh", "ar"]))
def test_captions_hold_every_word_once_in_time_order(parts, durations, lang):
    summary = " ".join(p if re.search(r"[.!?。！？]$", p) else p + "." for p in parts)
    data = {"title": "A title", "summary": summary, "language": lang}
    try:
        article = parse_article(data)
    except InvalidArticle:
        return  # e.g. a summary with no narratable text: refused, never crashing
    script = build_script(article)
    lines = script.lines
    audio = [LineAudio(durations[i % len(durations)]) for i in range(len(lines))]
    tl = build_timeline(script.title.text, LineAudio(1.0), [ln.text for ln in lines], audio,
                        [[ln.text] for ln in lines], [tuple(range(len(lines)))] if lines else [], Timing(), 25)
    cues = parse_webvtt(to_webvtt(tl.cues, lang))
    assert len(cues) == 1 + len(lines)
    body = " ".join(text for _, _, text in cues[1:])
    # Every character of the summary, in order, exactly once (spacing aside: CJK has none).
    assert "".join(body.split()) == "".join(words(article.summary or "")), "text of the summary lost or repeated"
    starts = [a for a, _, _ in cues]
    assert starts == sorted(starts)
    for (a, b, _), (c, _, _) in zip(cues, cues[1:], strict=False):
        assert a < b <= c + 1e-3
    assert cues[-1][1] <= tl.duration + 1e-3
