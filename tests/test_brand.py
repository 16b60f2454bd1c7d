"""Brand kits: templates found by path, by name and in several folders; the logo bug placed in
the safe area above the captions and drawn on the clip's frames; brand font files with the
Noto fallback; ``videogen templates check`` and ``preview``; bad brands refused by name."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from videogen.errors import InvalidInput, UnknownTemplate
from videogen.http.app import create_app
from videogen.render.article import parse_article
from videogen.render.brand import brand_problems, check_brand, logo_box, logo_overlay
from videogen.render.cards import caption_area_top
from videogen.render.encode import ffmpeg_exe
from videogen.render.fonts import fallback_names, font_path, get_font
from videogen.render.pipeline import RenderOptions, render_article
from videogen.render.templates import available_templates, load_template
from videogen.service.videos import VideoService
from videogen.settings import Settings

from .helpers import decode_audio, decode_frame, ffprobe, short_article

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "templates"
SAMPLE = ROOT / "examples" / "brands" / "gazette"
GREEN = (0, 230, 0)


def _brand(tmp_path: Path, name: str = "acme", logo: dict | None = None, fonts: str = "") -> Path:
    """A brand folder ``tmp_path/name`` from the sample, with a flat green logo (a transparent
    border around it) and the given ``[logo]`` keys."""
    folder = tmp_path / name
    shutil.copytree(SAMPLE, folder)
    img = Image.new("RGBA", (80, 40), (0, 0, 0, 0))
    img.paste(Image.new("RGBA", (72, 32), (*GREEN, 255)), (4, 4))
    img.save(folder / "logo.png")
    src = (folder / "template.toml").read_text()
    src = src.replace('name = "gazette"', f'name = "{name}"')
    head, _, _ = src.partition("[logo]")
    if fonts:
        before, _, after = head.partition("[fonts]")
        head = before + after.split("\n\n", 1)[1]
    keys = {"path": "logo.png", "position": "top-right", "size": 0.2, "opacity": 1.0, **(logo or {})}
    lines = [f"{k} = {v!r}".replace("'", '"') if isinstance(v, str) else f"{k} = {v}" for k, v in keys.items()]
    (folder / "template.toml").write_text(head + fonts + "[logo]\n" + "\n".join(lines) + "\n")
    return folder


# --- finding templates ----------------------------------------------------------------------

def test_templates_by_path_by_name_and_in_several_folders(tmp_path):
    brand = _brand(tmp_path / "brands")
    assert load_template(brand, SHIPPED).name == "acme"  # a brand folder by path
    assert load_template(brand / "template.toml", SHIPPED).name == "acme"  # its .toml by path
    other = tmp_path / "more"
    other.mkdir()
    (other / "flat.toml").write_text((SHIPPED / "square.toml").read_text().replace('name = "square"', 'name = "flat"'))
    dirs = (tmp_path / "brands", other, SHIPPED)
    assert {"acme", "flat", "news", "vertical", "square"} <= set(available_templates(dirs))
    t = load_template("acme", dirs)
    assert t.logo is not None and t.logo.path == (brand / "logo.png").resolve()
    assert Path(t.fonts.title) == (brand / "fonts" / "DejaVuSerifCondensed-Bold.ttf").resolve()
    assert load_template("flat", dirs).width == 1080
    assert load_template("news", dirs).width == 1920  # the shipped ones stay
    with pytest.raises(UnknownTemplate, match="acme"):  # the error lists what the folders hold
        load_template("nope", dirs)
    # the first folder that has a name wins: a newsroom may restyle "news" itself
    (other / "news.toml").write_text((SHIPPED / "square.toml").read_text())
    assert load_template("news", (other, SHIPPED)).width == 1080


def test_settings_split_the_folders_and_keep_the_shipped_ones(tmp_path):
    import os

    s = Settings(home=tmp_path, templates_dir=f"{tmp_path / 'a'}{os.pathsep}{tmp_path / 'b'},{tmp_path / 'c'}")
    assert s.templates_dirs == (tmp_path / "a", tmp_path / "b", tmp_path / "c", SHIPPED)
    assert Settings(home=tmp_path).templates_dirs == (SHIPPED,)
    assert s.render_config().templates_dir == s.templates_dirs


# --- the logo -------------------------------------------------------------------------------

@pytest.mark.parametrize("position", ["top-left", "top-right", "bottom-left", "bottom-right"])
def test_logo_in_the_safe_area_and_above_the_captions(tmp_path, position):
    t = load_template(_brand(tmp_path, logo={"position": position, "size": 0.1}), SHIPPED)
    x, y, w, h = logo_box(t, 80, 40)
    assert (w, h) == (216, 108)
    assert t.width * t.layout.margin_x <= x and x + w <= t.width * (1 - t.layout.margin_x)
    assert t.height * t.layout.margin_y <= y and y + h <= t.height * (1 - t.layout.margin_y)
    top = caption_area_top(t)
    assert top is not None
    if position.startswith("bottom"):
        assert y + h < top  # never under the captions
    assert (x < t.width / 2) == position.endswith("left")


def test_logo_opacity_is_baked_into_the_overlay(tmp_path):
    t = load_template(_brand(tmp_path, logo={"opacity": 0.5}), SHIPPED)
    ov = logo_overlay(t)
    alpha = np.asarray(ov.image.getchannel("A"))
    assert alpha.max() == pytest.approx(128, abs=2) and alpha.min() == 0


def test_logo_drawn_on_the_frames_from_its_start(tmp_path):
    """A tiny render: the corner is green once the logo shows, not before; nowhere else."""
    brand = _brand(tmp_path, logo={"start": 1.0, "fade": 0.0})
    settings = Settings(home=tmp_path / "home", templates_dir=str(tmp_path))
    article = parse_article(short_article("en"), base_dir=ROOT / "examples")
    out = tmp_path / "clip"
    render_article(article, RenderOptions(template="acme", height=144, fps=10, tts="espeak"), out,
                   settings.render_config())
    t = load_template(brand, SHIPPED).at_size(144)
    x, y, w, h = logo_box(t, 80, 40)

    def green(frame: np.ndarray) -> np.ndarray:
        r, g, b = (frame[..., i].astype(int) for i in range(3))
        return (g > 180) & (r < 90) & (b < 90)

    before, after = decode_frame(out / "video.mp4", 0.45), decode_frame(out / "video.mp4", 2.5)
    inner = (slice(y + 3, y + h - 3), slice(x + 3, x + w - 3))
    assert green(before)[inner].mean() < 0.05
    assert green(after)[inner].mean() > 0.9
    outside = green(after).copy()
    outside[y - 2 : y + h + 2, x - 2 : x + w + 2] = False
    assert outside.mean() < 0.002
    poster = np.asarray(Image.open(out / "poster.jpg").convert("RGB"))
    assert green(poster).mean() < 0.002  # the poster stays the title card, without the logo


# --- fonts ----------------------------------------------------------------------------------

def test_brand_font_file_with_noto_fallback(tmp_path):
    t = load_template(_brand(tmp_path), SHIPPED)
    assert font_path(t.fonts.title) == Path(t.fonts.title)
    names = fallback_names(t.fonts.title, "hi")
    assert names[0] == t.fonts.title and "NotoSansDevanagari-Bold" in names  # Devanagari falls back
    assert get_font(t.fonts.title, 20).getname()[0] == "DejaVu Serif"
    report = brand_problems(t, "hi")
    assert not report.problems
    assert any("falls back to Noto" in line for line in report.found)


# --- bad brands -----------------------------------------------------------------------------

def _broken(tmp_path: Path) -> Path:
    """Every bad input of the issue at once: a corrupt logo, a font file that is not a font,
    a font without Latin letters, a missing font file and a bad colour."""
    folder = _brand(tmp_path, "broken", fonts='[fonts]\ntitle = "fonts/fake.otf"\nbody = "fonts/hebrew.ttf"\n'
                    'caption = "fonts/missing.ttf"\n\n')
    (folder / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    (folder / "fonts" / "fake.otf").write_text("this is not a font")
    from fontTools import subset  # the test extra has it

    hebrew = subset.Subsetter()
    hebrew.populate(unicodes=range(0x05D0, 0x05EB))
    font = subset.load_font(str(ROOT / "videogen" / "render" / "fontfiles" / "NotoSansHebrew-Regular.ttf"), subset.Options())
    hebrew.subset(font)
    font.save(str(folder / "fonts" / "hebrew.ttf"))  # Hebrew letters only: no Latin
    return folder


def test_check_names_every_problem_and_a_render_fails_before_drawing(tmp_path):
    t = load_template(_broken(tmp_path), SHIPPED)
    problems = brand_problems(t).problems
    text = "\n".join(problems)
    assert len(problems) == 4, text
    assert "fonts.title: fake.otf is not a readable font" in text
    assert "fonts.body: hebrew.ttf lacks Latin characters" in text
    assert "fonts.caption: missing.ttf does not exist" in text
    assert "logo.path: logo.png is not a readable image" in text
    with pytest.raises(InvalidInput) as e:
        check_brand(t)
    for p in problems:
        assert p in str(e.value)
    settings = Settings(home=tmp_path / "home", templates_dir=str(tmp_path))
    article = parse_article(short_article("en"), base_dir=ROOT / "examples")
    with pytest.raises(InvalidInput, match="logo.png is not a readable image"):
        render_article(article, RenderOptions(template="broken", height=144, fps=10, tts="espeak"),
                       tmp_path / "clip", settings.render_config())
    assert not (tmp_path / "clip").exists()
    # Over the API the same brand is refused at enqueue, naming the field, and nothing is queued.
    with TestClient(create_app(settings, VideoService(settings), run_sweeper=False)) as api:
        r = api.post("/v1/videos", json={**short_article("en"), "options": {"template": "broken"}})
        assert r.status_code == 422, r.text
        assert r.json()["errors"][0]["field"] == "options.template"
        assert "logo.png is not a readable image" in r.text and str(tmp_path) not in r.text
        assert api.get("/v1/videos").json()["items"] == []


def test_logo_larger_than_the_canvas_and_a_missing_logo(tmp_path):
    wide = _brand(tmp_path, "wide", logo={"size": 0.3})
    Image.new("RGBA", (2000, 100), (0, 0, 0, 255)).save(wide / "logo.png")
    problems = brand_problems(load_template(wide, SHIPPED)).problems
    assert len(problems) == 1 and problems[0].startswith("logo.size: the logo drawn") and "larger than" in problems[0]
    gone = _brand(tmp_path, "gone")
    (gone / "logo.png").unlink()
    assert brand_problems(load_template(gone, SHIPPED)).problems == ["logo.path: logo.png does not exist"]


def test_svg_logo_without_a_rasteriser(tmp_path, monkeypatch):
    svg = _brand(tmp_path, "svg", logo={"path": "logo.svg"})
    (svg / "logo.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg" width="20" height="10"/>')
    monkeypatch.setitem(sys.modules, "cairosvg", None)  # as on a machine without the optional package
    problems = brand_problems(load_template(svg, SHIPPED)).problems
    assert len(problems) == 1 and "SVG logos need the optional cairosvg package" in problems[0]


# --- stings ---------------------------------------------------------------------------------

def _video(path: Path, seconds: float, colour: str = "blue", sound: bool = True, size: str = "64x36") -> Path:
    """A small test video: a flat colour, with a 440 Hz tone when ``sound``."""
    cmd = [ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i", f"color=c={colour}:s={size}:r=10:d={seconds}"]
    if sound:
        cmd += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=22050:duration={seconds}", "-c:a", "aac", "-shortest"]
    subprocess.run(cmd + ["-c:v", "libx264", "-pix_fmt", "yuv420p", str(path)], check=True, capture_output=True)
    return path


def _with_stings(folder: Path, intro: str = "", outro: str = "") -> Path:
    toml = folder / "template.toml"
    toml.write_text(toml.read_text() + (f"\n[intro]\n{intro}\n" if intro else "") + (f"\n[outro]\n{outro}\n" if outro else ""))
    return folder


def test_stings_before_and_after_the_narration(tmp_path):
    """A 144p render with a still intro (1 s, red) and a video outro (1 s, blue, 440 Hz): the
    clip is longer by both, starts red and ends blue, sounds the tone over the outro, its
    captions and words move by the intro's length and the poster stays the title card."""
    _brand(tmp_path, "plain")
    stung = _brand(tmp_path, "stung")
    Image.new("RGB", (320, 180), (230, 0, 0)).save(stung / "red.png")
    _video(stung / "out.mp4", 1.0)
    _with_stings(stung, 'path = "red.png"\nduration = 1.0', 'path = "out.mp4"')
    settings = Settings(home=tmp_path / "home", templates_dir=str(tmp_path))
    article = parse_article(short_article("en"), base_dir=ROOT / "examples")
    base, out = tmp_path / "base", tmp_path / "clip"
    for name, folder in (("plain", base), ("stung", out)):
        render_article(article, RenderOptions(template=name, height=144, fps=10, tts="espeak"), folder,
                       settings.render_config())
    m0 = json.loads((base / "manifest.json").read_text())
    m = json.loads((out / "manifest.json").read_text())
    assert m["frames"] == m0["frames"] + 10 + 10
    assert m["stings"] == {"intro": {"file": "red.png", "kind": "still", "start": 0.0, "duration": 1.0},
                           "outro": {"file": "out.mp4", "kind": "video", "duration": 1.0}}
    assert float(ffprobe(out / "video.mp4")["format"]["duration"]) == pytest.approx(m["duration"], abs=0.15)
    first, last = decode_frame(out / "video.mp4", 0.05), decode_frame(out / "video.mp4", m["duration"] - 0.15)
    assert first[..., 0].mean() > 180 and first[..., 1].mean() < 40  # the red still
    assert last[..., 2].mean() > 180 and last[..., 0].mean() < 40  # the blue video
    assert decode_frame(out / "video.mp4", 1.3)[..., 0].mean() < 150  # the title card after the intro
    sound = decode_audio(out / "video.mp4", 16000)
    rms = lambda a, b: float(np.sqrt(np.mean(sound[int(a * 16000) : int(b * 16000)] ** 2)))  # noqa: E731
    assert rms(0.0, 0.9) < 0.003  # a still is silent
    tail = sound[int((m["duration"] - 0.9) * 16000) : int((m["duration"] - 0.1) * 16000)]
    assert float(np.sqrt(np.mean(tail**2))) > 0.05
    spectrum = np.abs(np.fft.rfft(tail))
    assert abs(np.argmax(spectrum) * 16000 / len(tail) - 440) < 10  # the outro's own tone
    cues0, cues = _cue_starts(base / "captions.vtt"), _cue_starts(out / "captions.vtt")
    assert cues[0] >= 1.0 and cues == pytest.approx([c + 1.0 for c in cues0], abs=0.002)
    assert _cue_starts(out / "captions.srt") == pytest.approx(cues, abs=0.002)
    assert [w["start"] for w in m["words"]] == pytest.approx([w["start"] + 1.0 for w in m0["words"]], abs=0.002)
    poster0 = np.asarray(Image.open(base / "poster.jpg").convert("RGB")).astype(int)
    poster = np.asarray(Image.open(out / "poster.jpg").convert("RGB")).astype(int)
    assert np.abs(poster - poster0).mean() < 1.0  # the title card, not the intro


def _cue_starts(path: Path) -> list[float]:
    import re

    starts = []
    for h, mi, sec, ms in re.findall(r"^(?:(\d+):)?(\d\d):(\d\d)[.,](\d{3}) -->", path.read_text(), re.M):
        starts.append(int(h or 0) * 3600 + int(mi) * 60 + int(sec) + int(ms) / 1000)
    return starts


def test_stings_count_in_the_clip_budget(tmp_path):
    stung = _with_stings(_brand(tmp_path, "stung"), 'path = "red.png"\nduration = 3.0')
    Image.new("RGB", (32, 18), (230, 0, 0)).save(stung / "red.png")
    settings = Settings(home=tmp_path / "home", templates_dir=str(tmp_path))
    article = parse_article(short_article("en"), base_dir=ROOT / "examples")
    result = render_article(article, RenderOptions(template="stung", height=144, fps=10, tts="espeak", max_duration=9),
                            tmp_path / "clip", settings.render_config())
    assert result.manifest["duration"] <= 9.0
    assert any(w.startswith("narration capped at 9 s, 3 s of them stings") for w in result.manifest["warnings"])
    with pytest.raises(InvalidInput, match="fast engine only"):
        render_article(article, RenderOptions(template="stung", height=144, fps=10, tts="espeak", engine="moviepy"),
                       tmp_path / "clip2", settings.render_config())


def test_bad_stings_are_named_by_check_and_by_render(tmp_path):
    bad = _brand(tmp_path, "bad")
    (bad / "text.mp4").write_text("not a video at all")
    _video(bad / "mute.mp4", 1.0, sound=False)
    _with_stings(bad, 'path = "text.mp4"', 'path = "mute.mp4"')
    problems = brand_problems(load_template(bad, SHIPPED)).problems
    assert problems == ["intro.path: text.mp4 is not a video or an image (a sting is a .png/.jpg/.webp still or a "
                        "video with sound)",
                        "outro.path: mute.mp4 has no sound: a video sting brings its own (add an audio track, "
                        "silent if need be, or use a still image)"]
    long = _brand(tmp_path, "long")
    _video(long / "long.mp4", 16.0, size="16x16")
    (long / "broken.png").write_bytes(b"\x89PNG not really")
    _with_stings(long, 'path = "long.mp4"', 'path = "broken.png"')
    problems = brand_problems(load_template(long, SHIPPED)).problems
    assert len(problems) == 2
    assert problems[0].startswith("intro.path: long.mp4 lasts 16.0 s: a sting lasts at most 15 s")
    assert problems[1].startswith("outro.path: broken.png is not a readable image")
    gone = _with_stings(_brand(tmp_path, "gone"), 'path = "nowhere.mp4"')
    assert brand_problems(load_template(gone, SHIPPED)).problems == ["intro.path: nowhere.mp4 does not exist"]
    with pytest.raises(InvalidInput, match="duration"):  # a still shown longer than a sting may last
        load_template(_with_stings(_brand(tmp_path, "slow"), 'path = "x.png"\nduration = 20'), SHIPPED)
    settings = Settings(home=tmp_path / "home", templates_dir=str(tmp_path))
    article = parse_article(short_article("en"), base_dir=ROOT / "examples")
    for name, message in (("bad", "text.mp4 is not a video or an image"), ("long", "long.mp4 lasts 16.0 s")):
        with pytest.raises(InvalidInput, match=message):
            render_article(article, RenderOptions(template=name, height=144, fps=10, tts="espeak"),
                           tmp_path / "clip", settings.render_config())
        assert not (tmp_path / "clip").exists()
    cli = _cli("templates", "check", str(bad), cwd=tmp_path)
    assert cli.returncode == 2 and "problem: intro.path: text.mp4 is not a video" in cli.stdout
    assert "problem: outro.path: mute.mp4 has no sound" in cli.stdout


# --- the CLI --------------------------------------------------------------------------------

def _cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    full = {**os.environ, "VIDEOGEN_HOME": str(cwd / "home"), **(env or {})}
    return subprocess.run([sys.executable, "-m", "videogen.cli", *args], cwd=cwd, env=full,
                          capture_output=True, text=True, timeout=120)


def test_cli_check_and_preview(tmp_path):
    ok = _cli("templates", "check", str(SAMPLE), cwd=tmp_path)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "logo: logo.png 420×120 with transparency" in ok.stdout and ok.stdout.strip().endswith(": ok")
    assert "intro: intro.mp4 (video 640×360, 2.00 s with sound, plays 2.00 s, volume 0.8, fade 0.3 s)" in ok.stdout
    broken = _broken(tmp_path)
    bad = _cli("templates", "check", "broken", cwd=tmp_path, env={"VIDEOGEN_TEMPLATES_DIR": str(tmp_path)})
    assert bad.returncode == 2
    assert bad.stdout.count("problem: ") == 4 and "broken: 4 problems" in bad.stdout
    (broken / "template.toml").write_text((broken / "template.toml").read_text()
                                          .replace('accent = "#c81e2d"', 'accent = "red"').replace("fps = 30", "fps = 1"))
    schema = _cli("templates", "check", str(broken), cwd=tmp_path)
    assert schema.returncode == 2 and "problem: fps:" in schema.stdout and "problem: palette.accent:" in schema.stdout
    listed = _cli("templates", cwd=tmp_path, env={"VIDEOGEN_TEMPLATES_DIR": str(SAMPLE.parent)})
    assert listed.returncode == 0 and "gazette" in listed.stdout and "news" in listed.stdout
    sheet = tmp_path / "sheet.png"
    shown = _cli("templates", "preview", "gazette", "-o", str(sheet), "--thumb-height", "180", cwd=tmp_path,
                 env={"VIDEOGEN_TEMPLATES_DIR": str(SAMPLE.parent)})
    assert shown.returncode == 0, shown.stderr
    img = Image.open(sheet)
    assert img.height == 180 + 28 + 32 and img.width == 16 + 4 * (320 + 16)  # the intro sting, then three frames
    refused = _cli("templates", "preview", str(broken), "-o", str(tmp_path / "no.png"), cwd=tmp_path)
    assert refused.returncode == 2 and not (tmp_path / "no.png").exists()
