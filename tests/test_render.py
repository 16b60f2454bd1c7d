"""End-to-end renders checked on the real output files: streams, sizes, durations, layout of
the MP4, captions against the audio, frames and poster."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from videogen.render.captions import parse_webvtt
from videogen.render.manifest import sha256_file

from .helpers import decode_audio, decode_frame, ffprobe, stream, top_level_atoms

TEMPLATE_SIZES = {"news": (16, 9), "vertical": (9, 16), "square": (1, 1)}


@pytest.mark.parametrize("template", ["news", "vertical", "square"])
def test_clip_streams_and_sizes(rendered, template):
    out = rendered(template)
    info = ffprobe(out / "video.mp4")
    v, a = stream(info, "video"), stream(info, "audio")
    assert v["codec_name"] == "h264" and v["pix_fmt"] == "yuv420p"
    assert v["profile"] in ("High", "Main", "Constrained Baseline")
    assert a["codec_name"] == "aac" and a["channels"] == 1 and a["sample_rate"] == "48000"  # the narration is mono
    manifest = json.loads((out / "manifest.json").read_text())
    assert (v["width"], v["height"]) == (manifest["template"]["width"], manifest["template"]["height"])
    aw, ah = TEMPLATE_SIZES[template]
    assert v["height"] == 240 and abs(v["width"] / v["height"] - aw / ah) < 0.02
    num, den = map(int, v["avg_frame_rate"].split("/"))
    assert num / den == pytest.approx(15.0)
    vdur, adur = float(v["duration"]), float(a["duration"])
    assert abs(vdur - adur) <= 0.1, (vdur, adur)
    assert abs(vdur - manifest["duration"]) <= 0.1
    assert top_level_atoms(out / "video.mp4").index("moov") < top_level_atoms(out / "video.mp4").index("mdat")


def test_manifest_records_files_engine_and_stages(rendered):
    out = rendered("news")
    m = json.loads((out / "manifest.json").read_text())
    for name in ("video.mp4", "poster.jpg", "captions.vtt"):
        assert m["files"][name]["sha256"] == sha256_file(out / name)
        assert m["files"][name]["bytes"] == (out / name).stat().st_size
    assert m["narration"]["engine"] == "piper" and m["narration"]["offline"] is True
    assert m["narration"]["voice"] == "piper:en_US-joe-medium"
    for stage in ("script", "narration", "timeline", "layers", "frames", "publish", "total"):
        assert m["timings"][stage] >= 0
    assert len(m["content_key"]) == 64
    assert not list(out.parent.glob(".*tmp")), "staging folders left behind"


def test_caption_cues_follow_the_narration_audio(rendered):
    """Every cue starts when its sentence starts being heard and ends when it stops: speech
    inside each cue, silence in the pauses between cues."""
    out = rendered("news")
    cues = parse_webvtt((out / "captions.vtt").read_text())
    assert len(cues) == 3  # the title, then one cue per sentence of the summary
    assert cues[0][2] == "Museum opens a new space exhibition"
    rate = 16000
    pcm = decode_audio(out / "video.mp4", rate)
    win = rate // 100
    rms = np.sqrt((pcm[: len(pcm) // win * win].reshape(-1, win) ** 2).mean(axis=1))
    loud = rms.max()

    def level(a: float, b: float) -> float:
        return float(rms[int(a * 100) : max(int(a * 100) + 1, int(b * 100))].max()) / loud

    assert level(0.0, cues[0][0] - 0.05) < 0.02, "sound before the first cue"
    for start, end, _ in cues:
        assert level(start, start + 0.15) > 0.1, f"no speech at the start of the cue at {start}"
        assert level(end - 0.15, end) > 0.03, f"speech already over before the cue end at {end}"
    for (_, end, _), (start, _, _) in zip(cues, cues[1:], strict=False):
        assert level(end + 0.06, start - 0.06) < 0.05, f"sound in the pause {end}-{start}"
    assert level(cues[-1][1] + 0.06, len(rms) / 100) < 0.05, "sound after the last cue"


def test_frames_title_card_scene_and_poster(rendered):
    out = rendered("news")
    cues = parse_webvtt((out / "captions.vtt").read_text())
    title_frame = decode_frame(out / "video.mp4", cues[0][0] + 0.2)
    assert title_frame.std() > 20, "title card looks uniform"
    scene_frame = decode_frame(out / "video.mp4", cues[1][0] + 0.5)
    assert scene_frame.std() > 20
    assert np.abs(scene_frame.astype(int) - title_frame.astype(int)).mean() > 10, "scene looks like the title card"
    # The caption box is drawn in the lower part of the frame while a sentence is spoken.
    h = scene_frame.shape[0]
    band = scene_frame[int(h * 0.7) : int(h * 0.9)].astype(int)
    assert (band.max(axis=2) > 225).mean() > 0.002, "no white caption text in the caption band"
    poster = Image.open(out / "poster.jpg")
    poster.load()
    assert poster.size == (title_frame.shape[1], title_frame.shape[0])
    assert np.asarray(poster).std() > 20


def test_no_image_article_gets_generated_backgrounds_not_black(rendered):
    out = rendered("square", lang="fr", with_images=False)
    m = json.loads((out / "manifest.json").read_text())
    assert m["narration"]["engine"] == "espeak" and m["article"]["language"] == "fr"
    cues = parse_webvtt((out / "captions.vtt").read_text())
    frame = decode_frame(out / "video.mp4", cues[1][0] + 0.3)
    assert frame.mean() > 25, "scene frame is nearly black"
    assert frame.std() > 8, "scene frame is flat"
    assert cues[0][2] == "Le musée ouvre une exposition sur l’espace"


def test_moviepy_engine_writes_an_equivalent_file(rendered):
    fast = rendered("news", engine="fast", height=180, fps=10)
    slow = rendered("news", engine="moviepy", height=180, fps=10)
    fi, si = ffprobe(fast / "video.mp4"), ffprobe(slow / "video.mp4")
    for info in (fi, si):
        assert stream(info, "video")["codec_name"] == "h264" and stream(info, "audio")["codec_name"] == "aac"
        assert stream(info, "video")["pix_fmt"] == "yuv420p"
    assert abs(float(fi["format"]["duration"]) - float(si["format"]["duration"])) < 0.15
    cues = parse_webvtt((fast / "captions.vtt").read_text())
    t = cues[1][0] + 0.5
    a, b = decode_frame(fast / "video.mp4", t).astype(int), decode_frame(slow / "video.mp4", t).astype(int)
    assert np.abs(a - b).mean() < 6, "the two writers do not show the same picture"


@pytest.mark.slow
def test_full_size_render_of_the_sample_article(settings, tmp_path):
    from videogen.render.article import load_article
    from videogen.render.pipeline import RenderOptions, render_article

    from .helpers import EXAMPLES

    article = load_article(EXAMPLES / "en-space-exhibition.json")
    result = render_article(article, RenderOptions(), tmp_path / "full", settings.render_config())
    info = ffprobe(result.video)
    v = stream(info, "video")
    assert (v["width"], v["height"]) == (1920, 1080)
    assert v["avg_frame_rate"] in ("30/1", "30000/1000")
    m = result.manifest
    assert m["images_used"] == 4 and m["scenes"] == 4
    assert 25 < m["duration"] < 60
    assert abs(float(v["duration"]) - float(stream(info, "audio")["duration"])) <= 0.1


@pytest.mark.parametrize("max_duration", [6.0, 12.0])
def test_one_long_sentence_is_bounded_by_max_duration(settings, tmp_path, max_duration):
    """Issue 16: a 3,000-character summary with no sentence break made a 163 s clip of a
    6 s cap. The clip (title card and outro included) lasts at most max_duration, and no
    caption cue holds more than a narration unit."""
    from videogen.render.article import parse_article
    from videogen.render.pipeline import RenderOptions, render_article
    from videogen.render.text.units import UNIT_CHARS

    from .helpers import short_article

    words = "the council met again to discuss the delayed plan for schools roads and clinics in the valley".split()
    summary = " ".join(words[i % len(words)] for i in range(520))[:3000].capitalize() + "."
    article = parse_article(short_article("en", title="Valley plan", summary=summary))
    opts = RenderOptions(height=144, fps=10, max_duration=max_duration)
    result = render_article(article, opts, tmp_path / "clip", settings.render_config())
    info = ffprobe(result.video)
    assert float(info["format"]["duration"]) <= max_duration
    assert float(stream(info, "audio")["duration"]) <= max_duration
    cues = parse_webvtt((result.out_dir / "captions.vtt").read_text())
    assert all(len(text) <= UNIT_CHARS + 1 for _, _, text in cues), [len(t) for _, _, t in cues]
    assert any("narration capped" in w for w in result.manifest["warnings"])
    if max_duration == 12.0:
        assert len(cues) >= 2  # the title and some of the summary are read
