"""Word timings and word-by-word captions: the engines' own timings (Piper alignments,
espeak-ng word events) and the fallback, carried onto the shown text, written to the manifest,
captions.vtt (cue timestamps) and captions.srt, and the ``words`` and ``none`` caption styles
in real renders."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import srt
import webvtt

from videogen.render import cards
from videogen.render.article import parse_article
from videogen.render.audio import find_pauses
from videogen.render.captions import parse_webvtt, to_srt, to_webvtt
from videogen.render.narration.align import dtw_anchors
from videogen.render.narration.base import Speech, VoiceInfo
from videogen.render.narration.cache import SpeechCache
from videogen.render.narration.chain import NarrationChain, fallback_timing
from videogen.render.narration.espeak_engine import EspeakEngine
from videogen.render.narration.piper_engine import PiperEngine
from videogen.render.pipeline import RenderOptions, render_article
from videogen.render.templates import hex_to_rgb, load_template
from videogen.render.timeline import Cue
from videogen.render.words import (
    group_words,
    map_anchors,
    proportional_anchors,
    word_spans,
    word_times,
)

from .helpers import EXAMPLES, decode_frame, ffprobe, short_article, stream

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = {
    "en": "In the year two thousand, the city of Paris opened three new parks.",
    "fr": "Le président a annoncé trois réformes, puis il est parti.",
    "de": "Der Stadtrat hat am Dienstag den Ausbau des Radwegenetzes beschlossen.",
    "ar": "قال الرئيس إن الحكومة ستعمل على خطة جديدة.",
    "zh": "今天天气很好，我们去公园散步。",
}


# --- words of a text -------------------------------------------------------------------------

def test_word_spans_keep_punctuation_with_words_and_split_cjk_into_characters():
    text = "Hello, world — “quoted” words."
    assert [text[a:b] for a, b in word_spans(text)] == ["Hello,", "world —", "“quoted”", "words."]
    zh = "今天很好，我们去。"
    assert [zh[a:b] for a, b in word_spans(zh)] == ["今", "天", "很", "好，", "我", "们", "去。"]
    ar = "قال الرئيس إن"
    assert [ar[a:b] for a, b in word_spans(ar)] == ["قال", "الرئيس", "إن"]


def test_word_times_fill_missing_anchors_in_order_and_end_at_pauses():
    text = "one two three four"
    words = word_times(text, [(0, 0.0), (8, 1.0)], 2.0, pauses=[(1.5, 1.7)])
    assert [w.start for w in words] == [0.0, 0.5, 1.0, 1.7]  # 1.56 by length: inside the pause
    assert words[2].end == 1.5  # the pause after "three" ends it
    assert words[-1].end == 2.0


def test_anchors_follow_the_spoken_text_onto_the_shown_text():
    spoken, shown = "In the year two thousand twenty four, we met.", "In the year 2024, we met."
    anchors = [(a, float(k)) for k, (a, _) in enumerate(word_spans(spoken))]
    words = word_times(shown, map_anchors(spoken, anchors, shown), 10.0)
    assert [shown[w.a : w.b] for w in words] == ["In", "the", "year", "2024,", "we", "met."]
    assert [w.start for w in words] == [0.0, 1.0, 2.0, 3.0, 7.0, 8.0]


def test_proportional_fallback_starts_the_word_after_a_pause_at_its_end():
    anchors = proportional_anchors("aaaa bbbb, cccc dddd", 4.0, (0.0, 4.0), [(1.8, 2.2)])
    # By length (4, 5, 4, 4 over 3.6 s of voice) "cccc" would start at 2.31: after the comma
    # it starts where the pause ends.
    assert [t for _, t in anchors] == pytest.approx([0.0, 0.847, 2.2, 3.153], abs=0.001)


def test_dtw_carries_reference_words_onto_a_slower_rendition():
    """The same espeak-ng sentence at two speeds: the reference's word starts land on the
    slower audio's own word starts."""
    from videogen.render.narration.espeak_engine import _espeak

    es = _espeak()
    text = SAMPLES["en"]
    fast, fast_words = es.synth(text, "en", 190)
    slow, slow_words = es.synth(text, "en", 130)
    anchors = dtw_anchors(slow, es.sample_rate, fast, es.sample_rate, [(p, s / es.sample_rate) for p, s in fast_words])
    truth = {p: s / es.sample_rate for p, s in slow_words}
    errors = [abs(t - truth[p]) for p, t in anchors if p in truth]
    assert len(errors) >= 10 and float(np.median(errors)) < 0.05


def test_groups_hold_at_most_n_words_and_close_at_clause_ends():
    text = "one two three four, five six"
    words = word_times(text, [], 6.0)
    groups = group_words(text, words, 3, lambda s: True)
    assert [[text[w.a : w.b] for w in g] for g in groups] == [["one", "two", "three"], ["four,"], ["five", "six"]]
    narrow = group_words(text, words, 3, lambda s: len(s) <= 8)
    assert all(len(text[g[0].a : g[-1].b]) <= 8 or len(g) == 1 for g in narrow)
    zh = "今天天气很好我们去公园散步吧。"
    cjk = group_words(zh, word_times(zh, [], 5.0), 3, lambda s: True)
    assert [len(g) for g in cjk] == [9, 5]  # 吧。 is one word


# --- the engines' own timings --------------------------------------------------------------

@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> tuple[NarrationChain, Path]:
    cache = tmp_path_factory.mktemp("cache")
    return NarrationChain([PiperEngine(None, cache), EspeakEngine()], SpeechCache(cache)), cache


@pytest.mark.parametrize("lang", sorted(SAMPLES))
def test_engine_timings_are_monotonic_and_inside_the_audio(chain, lang):
    narration = chain[0].narrate([SAMPLES[lang]], lang)
    speech = narration.speeches[0]
    assert speech.timing == narration.voice.engine  # the engine's own, not a fallback
    words = word_times(SAMPLES[lang], speech.anchors, speech.duration, find_pauses(speech.samples, speech.sample_rate))
    assert len(words) == len(word_spans(SAMPLES[lang])) >= 6
    starts = [w.start for w in words]
    assert starts == sorted(starts) and len(set(starts)) >= len(starts) - 2
    assert all(0 <= w.start <= w.end <= speech.duration + 1e-6 for w in words)
    # The first word starts with the speech, the last one in the last third of it.
    assert starts[0] < 0.3 and starts[-1] > speech.duration * 0.6


def test_piper_voice_is_patched_once_into_the_cache_and_timings_are_cached(chain):
    ch, cache = chain
    ch.narrate([SAMPLES["en"]], "en")
    assert len(list((cache / "piper-aligned").glob("*.onnx"))) == 1
    sidecars = list((cache / "narration").rglob("*.json"))
    assert sidecars and all(json.loads(p.read_text())["anchors"] for p in sidecars)
    again = ch.narrate([SAMPLES["en"]], "en")
    assert again.cache_hits == 1 and again.speeches[0].timing == "piper"


def test_engine_without_timings_gets_the_fallback():
    class Silent:
        """An online-like engine that reports no timings: espeak-ng's audio, events dropped."""

        name = "gtts"

        def voices(self):
            return [VoiceInfo("gtts", "gtts:fr", "fr", "test", False, 20)]

        def fingerprint(self, voice):
            return "test"

        def synthesize(self, text, voice):
            es = EspeakEngine()
            sp = es.synthesize(text, next(v for v in es.voices() if v.language == "fr"))
            return Speech(sp.samples * 0.8, sp.sample_rate)

    narration = NarrationChain([Silent(), EspeakEngine()]).narrate([SAMPLES["fr"]], "fr", tts="gtts")
    speech = narration.speeches[0]
    assert narration.voice.engine == "gtts" and speech.timing == "dtw"
    assert len(speech.anchors) >= len(word_spans(SAMPLES["fr"])) - 1
    assert fallback_timing(Speech(speech.samples, speech.sample_rate), SAMPLES["fr"]).timing == "proportional"


# --- captions files ------------------------------------------------------------------------

_TS = r"\d{2}:\d{2}:\d{2}\.\d{3}"


def check_webvtt(text: str) -> list[tuple[float, float, list[float]]]:
    """A strict reading of a WebVTT file as videogen writes it: the header, then blocks of
    identifier, timing line and one payload line whose cue timestamps are strictly increasing
    and strictly inside the cue; text escaped. Returns (start, end, timestamps) per cue."""

    def secs(s: str) -> float:
        h, m, rest = s.split(":")
        return int(h) * 3600 + int(m) * 60 + float(rest)

    blocks = text.split("\n\n")
    assert re.fullmatch(r"WEBVTT(\nLanguage: [A-Za-z-]+)?", blocks[0]), blocks[0]
    out = []
    for n, block in enumerate([b for b in blocks[1:] if b.strip()], 1):
        lines = block.split("\n")
        assert lines[0] == str(n)
        m = re.fullmatch(rf"({_TS}) --> ({_TS})", lines[1])
        assert m, lines[1]
        start, end = secs(m.group(1)), secs(m.group(2))
        assert end > start
        payload = "\n".join(lines[2:])
        assert payload and "-->" not in payload
        stamps = [secs(s) for s in re.findall(rf"<({_TS})>", payload)]
        rest = re.sub(rf"<{_TS}>", "", payload)
        assert "<" not in rest and ">" not in rest and not re.search(r"&(?!amp;|lt;|gt;)", rest)
        chain = [start, *stamps, end]
        assert all(a < b for a, b in zip(chain, chain[1:], strict=False)), (chain, payload)
        out.append((start, end, stamps))
    return out


def test_webvtt_with_word_timestamps_is_strictly_valid_and_parses():
    cues = [Cue(0.5, 2.0, "Tom & Jerry <live>", -1), Cue(2.3, 4.0, "今天很好。", 0)]
    words = [[(0, 0.5), (4, 0.9), (6, 0.9), (12, 1.4)], [(0, 2.3), (1, 2.6), (2, 3.0), (3, 3.5)]]
    vtt = to_webvtt(cues, "en", words)
    parsed = check_webvtt(vtt)
    assert parsed == [(0.5, 2.0, [0.9, 1.4]), (2.3, 4.0, [2.6, 3.0, 3.5])]  # 0.9 twice: only once
    assert "Tom <00:00:00.900>&amp; Jerry <00:00:01.400>&lt;live&gt;" in vtt
    assert [c[2] for c in parse_webvtt(vtt)] == ["Tom & Jerry <live>", "今天很好。"]
    read = webvtt.from_string(vtt)
    assert [c.text for c in read] == ["Tom &amp; Jerry &lt;live&gt;", "今天很好。"]  # read as escaped, tags dropped


def test_srt_is_valid_subrip():
    cues = [Cue(0.5, 2.0, "First line", -1), Cue(62.25, 3725.5, "Second, much later", 0)]
    subs = list(srt.parse(to_srt(cues)))
    assert [(s.index, s.start.total_seconds(), s.end.total_seconds(), s.content) for s in subs] == [
        (1, 0.5, 2.0, "First line"), (2, 62.25, 3725.5, "Second, much later")]
    assert "01:02:05,500" in to_srt(cues)


# --- the words overlay -----------------------------------------------------------------------

def _accent_columns(img, accent) -> np.ndarray:
    arr = np.asarray(img)
    near = (np.abs(arr[..., :3].astype(int) - accent).sum(axis=2) < 60) & (arr[..., 3] > 200)
    return np.flatnonzero(near.any(axis=0))


@pytest.mark.parametrize("text, direction, first_side", [
    ("one two three", "ltr", "left"), ("قال الرئيس إن", "rtl", "right"), ("今天很好", "ltr", "left")])
def test_word_overlay_highlights_the_word_being_said(text, direction, first_side):
    template = load_template("vertical", ROOT / "templates").at_size(960)
    accent = np.array(hex_to_rgb(template.palette.accent))
    spans = tuple(word_spans(text))
    first = cards.word_caption_overlay(text, spans, 0, template, direction).image
    last = cards.word_caption_overlay(text, spans, len(spans) - 1, template, direction).image
    none = cards.word_caption_overlay(text, spans, -1, template, direction).image
    assert first.size == last.size == none.size
    a, b = _accent_columns(first, accent), _accent_columns(last, accent)
    assert a.size and b.size and not _accent_columns(none, accent).size
    middle = first.width / 2
    if first_side == "left":
        assert a.mean() < middle < b.mean()
    else:
        assert b.mean() < middle < a.mean()


# --- renders -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def renders(tmp_path_factory: pytest.TempPathFactory, settings) -> dict[str, Path]:
    """The short English article in ``vertical`` at 144p, with the words style and with none."""
    root = tmp_path_factory.mktemp("words")
    none = root / "vertical-none.toml"
    none.write_text((ROOT / "templates" / "vertical.toml").read_text().replace(
        'caption_style = "words"', 'caption_style = "none"'), encoding="utf-8")
    article = parse_article(short_article("en"), base_dir=EXAMPLES)
    out = {}
    for style, template in (("words", "vertical"), ("none", str(none))):
        out[style] = root / style
        render_article(article, RenderOptions(template=template, height=144, fps=10), out[style],
                       settings.render_config())
    return out


def test_words_and_none_renders_are_valid_clips(renders):
    for style, out in renders.items():
        v = stream(ffprobe(out / "video.mp4"), "video")
        assert v["height"] == 144 and abs(v["width"] / 144 - 9 / 16) < 0.02
        m = json.loads((out / "manifest.json").read_text())
        assert m["captions"]["style"] == style and m["captions"]["timing"] == "piper"
        assert set(m["files"]) == {"video.mp4", "poster.jpg", "captions.vtt", "captions.srt"}
        assert (m["captions"]["pages"] > 0) == (style == "words")
        check_webvtt((out / "captions.vtt").read_text())
        assert len(list(srt.parse((out / "captions.srt").read_text()))) == m["captions"]["cues"]


def test_manifest_words_match_the_captions(renders):
    out = renders["words"]
    m = json.loads((out / "manifest.json").read_text())
    cues = check_webvtt((out / "captions.vtt").read_text())
    texts = [c[2] for c in parse_webvtt((out / "captions.vtt").read_text())]
    assert [c[2] for c in parse_webvtt((out / "captions.vtt").read_text())] == [
        s.content for s in srt.parse((out / "captions.srt").read_text())]
    words = m["words"]
    assert {w["sentence"] for w in words} == set(range(len(cues)))
    for c, ((start, end, stamps), text) in enumerate(zip(cues, texts, strict=True)):
        mine = [w for w in words if w["sentence"] == c]
        assert " ".join(w["text"] for w in mine) == text
        assert all(start - 1e-3 <= w["start"] <= w["end"] <= end + 1e-3 for w in mine)
        assert [w["start"] for w in mine] == sorted(w["start"] for w in mine)
        # Each cue timestamp is the start of one of the cue's words.
        assert stamps and set(stamps) <= {round(w["start"], 3) for w in mine}


def test_words_frames_highlight_word_by_word_and_none_draws_no_caption(renders):
    m = json.loads((renders["words"] / "manifest.json").read_text())
    words = m["words"]
    # Two words in a row, of one sentence, each said long enough to hold a frame (10 fps;
    # ffmpeg gives the first frame at or after the time asked).
    w0, w1 = next((a, b) for a, b in zip(words, words[1:], strict=False)
                  if a["sentence"] == b["sentence"] >= 1 and b["start"] - a["start"] >= 0.3 and b["end"] - b["start"] >= 0.3)

    def frame(style: str, w: dict) -> np.ndarray:
        return decode_frame(renders[style] / "video.mp4", w["start"] + 0.1).astype(int)

    band = slice(int(144 * 0.55), int(144 * 0.82))  # around the caption box (caption_bottom 0.8)
    diff = np.abs(frame("words", w0) - frame("none", w0)).sum(axis=2)
    assert diff[band].mean() > 4 * max(diff[: int(144 * 0.5)].mean(), 0.5), "no caption drawn in the words clip"
    moved = np.abs(frame("words", w0) - frame("words", w1)).sum(axis=2)
    still = np.abs(frame("none", w0) - frame("none", w1)).sum(axis=2)
    assert moved[band].mean() > still[band].mean() + 2, "the highlight did not move to the next word"


def test_a_cached_line_without_timings_is_spoken_again_with_them(tmp_path):
    chain = NarrationChain([EspeakEngine()], SpeechCache(tmp_path))
    chain.narrate([SAMPLES["de"]], "de")
    (sidecar,) = (tmp_path / "narration").rglob("*.json")
    sidecar.unlink()  # as written before word timings existed
    again = chain.narrate([SAMPLES["de"]], "de")
    assert again.cache_hits == 0 and again.speeches[0].timing == "espeak" and sidecar.is_file()
    assert chain.narrate([SAMPLES["de"]], "de").cache_hits == 1


def test_a_word_wider_than_the_line_is_drawn_smaller_to_fit():
    template = load_template("vertical", ROOT / "templates").at_size(480)
    thai = "ประเทศไทยมีประชากรประมาณหกสิบหกล้านคนและกรุงเทพเป็นเมืองหลวง"
    overlay = cards.word_caption_overlay(thai, ((0, len(thai)),), 0, template)
    assert overlay.x >= 0 and overlay.x + overlay.image.width <= template.width
