"""Subject-aware framing (issue 19): the subject of a photo (focus point, faces, detail), the
crop that fills a frame around it, and a Ken Burns path that never cuts it.

The real face photo is ``examples/articles/images/astronaut.jpg`` (NASA portrait of Eileen
Collins, public domain; the same picture as scikit-image's ``data.astronaut()``)."""

from __future__ import annotations

import os
import random

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw

from tests.helpers import EXAMPLES, decode_frame, short_article
from videogen.errors import InvalidArticle, InvalidInput
from videogen.render import backdrops
from videogen.render.article import parse_article
from videogen.render.compose import OVERSAMPLE, Move, MovingLayer, Planes
from videogen.render.framing import (
    CENTRE,
    Box,
    Subject,
    crop_for,
    energy_centre,
    ken_burns_window,
    subject_box,
)
from videogen.render.images import ImageLimits, load_images
from videogen.render.pipeline import RenderOptions, render_article
from videogen.render.templates import load_template

ASTRONAUT = EXAMPLES / "images" / "astronaut.jpg"
TEMPLATES = EXAMPLES.parents[1] / "templates"


def astronaut() -> Image.Image:
    return Image.open(ASTRONAUT).convert("RGB")


def landscape_with_face(face_x: float) -> Image.Image:
    """A 16:9 photo (grey, lightly textured) with the astronaut's portrait pasted at
    ``face_x`` (its centre, a fraction of the width)."""
    rng = np.random.default_rng(1)
    bg = Image.fromarray((120 + rng.normal(0, 4, (540, 960, 3))).clip(0, 255).astype(np.uint8))
    portrait = astronaut().resize((360, 360))
    bg.paste(portrait, (round(face_x * 960 - 180), 90))
    return bg


def stock_faces(rgb: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Faces in a frame, found by OpenCV's cascade directly (not through the code tested)."""
    cascade = cv2.CascadeClassifier(os.path.join(cv2.data.haarcascades, "haarcascade_frontalface_default.xml"))
    gray = cv2.equalizeHist(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
    return [tuple(int(v) for v in f) for f in cascade.detectMultiScale(gray, 1.05, 5, minSize=(12, 12))]


# --- the subject --------------------------------------------------------------------------------

def test_the_face_of_a_real_photo_is_found_and_its_head_kept():
    subject = subject_box(astronaut())
    assert subject.kind == "face" and len(subject.faces) == 1
    face = subject.faces[0]
    # Her face is in the upper middle of the portrait (eyes at about y = 0.2).
    assert 0.3 < face.centre[0] < 0.55 and 0.12 < face.centre[1] < 0.32
    assert subject.box is not None and subject.box.contains(face)
    assert subject.box.height > face.height * 1.5  # hair and chin included


def test_a_photo_without_faces_is_framed_on_its_detail():
    flat = Image.new("RGB", (320, 180), (90, 90, 90))
    assert subject_box(flat) == Subject("saliency", (0.5, 0.5), None)
    busy = Image.new("RGB", (320, 180), (90, 90, 90))
    d = ImageDraw.Draw(busy)
    for k in range(0, 60, 6):  # stripes around (250, 60)
        d.rectangle([220 + k, 30, 222 + k, 90], fill=(250, 250, 250))
    fx, fy = energy_centre(busy)
    assert fx > 0.65 and fy < 0.45
    subject = subject_box(busy)
    assert subject.kind == "saliency" and subject.box is None


def test_the_editorial_focus_overrides_the_faces():
    subject = subject_box(astronaut(), focus=(0.9, 0.8))
    assert subject.kind == "focus" and subject.focus == (0.9, 0.8) and subject.faces == ()
    assert subject.box is not None and subject.box.contains(Box(0.9, 0.8, 0.9, 0.8))


def test_focus_is_validated_with_errors_naming_the_field():
    base = short_article(images=["a.jpg"])
    ok = parse_article({**base, "images": [{"src": "a.jpg", "focus": {"x": 0.25, "y": 1}}]})
    assert ok.images[0].focus is not None and (ok.images[0].focus.x, ok.images[0].focus.y) == (0.25, 1.0)
    bad = [({"x": 1.5, "y": 0}, "images[0].focus.x", "between 0 and 1"),
           ({"x": 0.5, "y": -0.1}, "images[0].focus.y", "between 0 and 1"),
           ({"x": 0.5}, "images[0].focus.y", "is required"),
           ({"x": 0.5, "y": 0.5, "z": 1}, "images[0].focus.z", "unknown field"),
           ("middle", "images[0].focus", "must be an object")]
    for focus, field, words in bad:
        with pytest.raises(InvalidArticle) as err:
            parse_article({**base, "images": [{"src": "a.jpg", "focus": focus}]})
        assert err.value.errors[0][0] == field and words in err.value.errors[0][1], err.value.errors


def test_loaded_images_carry_their_subject(tmp_path):
    data = short_article(images=[str(ASTRONAUT), str(ASTRONAUT)])
    data["images"][1]["focus"] = {"x": 0.1, "y": 0.9}
    article = parse_article(data, base_dir=EXAMPLES)
    loaded, notes = load_images(article, ImageLimits(allow_outside=True))
    assert not notes
    assert loaded[0].subject.kind == "face"
    assert loaded[1].subject.kind == "focus" and loaded[1].subject.focus == (0.1, 0.9)


# --- the crop -----------------------------------------------------------------------------------

def test_the_crop_follows_the_face_and_keeps_it_whole():
    for face_x in (0.2, 0.5, 0.8):
        img = landscape_with_face(face_x)
        subject = subject_box(img)
        assert subject.kind == "face"
        crop = crop_for(subject, img.size, 9 / 16, min_kept=0.25)
        assert crop is not None
        left, top, right, bottom = crop
        assert (top, bottom) == (0, 540) and abs((right - left) / (bottom - top) - 9 / 16) < 1e-9
        assert 0 <= left and right <= 960
        box = subject.box
        assert box is not None and left <= box.x0 * 960 and right >= box.x1 * 960
        # Centred on the face where the photo allows it.
        assert abs((left + right) / 2 - min(max(subject.focus[0] * 960, 152), 808)) < 1


def test_a_centred_subject_gives_the_plain_centre_crop():
    assert crop_for(CENTRE, (1600, 900), 1.0) == (350.0, 0.0, 1250.0, 900.0)
    assert crop_for(CENTRE, (900, 1600), 16 / 9) == (0.0, 546.875, 900.0, 1053.125)


def test_no_crop_when_the_faces_cannot_fit_or_too_little_would_be_kept():
    two_apart = Subject("face", (0.5, 0.4), Box(0.05, 0.2, 0.95, 0.6))  # heads at both ends
    assert crop_for(two_apart, (1600, 900), 9 / 16) is None
    assert crop_for(two_apart, (1600, 900), 16 / 9) is not None  # fits a landscape frame
    # Room for the zoom: a box filling 90 % of the crop's width fits at zoom 1, not at 1.2.
    wide = Subject("face", (0.5, 0.5), Box(0.5 - 0.45 * 9 / 16 * 900 / 1600, 0.3, 0.5 + 0.45 * 9 / 16 * 900 / 1600, 0.6))
    assert crop_for(wide, (1600, 900), 9 / 16, zoom=1.0) is not None
    assert crop_for(wide, (1600, 900), 9 / 16, zoom=1.2) is None
    panorama = (3200, 900)  # keeps 16 % of itself in 9:16
    assert crop_for(CENTRE, panorama, 9 / 16, min_kept=0.25) is None
    assert crop_for(CENTRE, panorama, 9 / 16, min_kept=0.1) is not None


def test_framed_photo_fills_the_frame_or_falls_back_to_the_letterbox():
    size = (440, 780)
    img = landscape_with_face(0.75)
    framed = backdrops.frame_photo(img, size, subject_box(img), min_kept=0.25)
    assert framed.cropped and framed.image.size == size
    assert framed.keep is not None and Box(0, 0, 1, 1).contains(framed.keep)
    # No bar: the top and bottom rows are the photo, not the darkened blur.
    arr = np.asarray(framed.image).astype(int)
    assert arr[:4].mean() > 100 and arr[-4:].mean() > 100
    # Two heads at both ends of a wide photo: shown whole, the heads mapped onto the canvas.
    two_apart = Subject("face", (0.5, 0.4), Box(0.05, 0.2, 0.95, 0.6))
    letterbox = backdrops.frame_photo(img, size, two_apart, min_kept=0.25)
    assert not letterbox.cropped and letterbox.keep is not None
    k = letterbox.keep
    assert 0.03 < k.x0 < 0.1 and 0.9 < k.x1 < 0.97 and 0.4 < k.centre[1] < 0.5


# --- the Ken Burns path -------------------------------------------------------------------------

def test_the_ken_burns_window_never_cuts_the_box_nor_leaves_the_canvas():
    rng = random.Random(7)
    for _ in range(5000):
        x0, y0 = rng.uniform(0, 0.9), rng.uniform(0, 0.9)
        keep = Box(x0, y0, min(1.0, x0 + rng.uniform(0, 0.9)), min(1.0, y0 + rng.uniform(0, 0.9)))
        focus = (rng.uniform(0, 1), rng.uniform(0, 1))
        full = (1.0, rng.uniform(0.95, 1.0))
        zoom, pan = rng.uniform(1.0, 1.3), rng.uniform(-0.05, 0.05)
        z, cx, cy = ken_burns_window(zoom, pan, full, focus, keep)
        ww, wh = full[0] / z, full[1] / z
        window = Box(cx - ww / 2, cy - wh / 2, cx + ww / 2, cy + wh / 2)
        assert Box(0, 0, 1, 1).contains(window, 1e-9)
        if keep.width <= full[0] and keep.height <= full[1]:
            assert window.contains(keep, 1e-9), (keep, focus, zoom, window)
        assert 1.0 <= z <= max(zoom, 1.0) + 1e-12


def test_without_a_subject_the_move_is_the_old_centred_one():
    for zoom, pan in ((1.04, 0.0), (1.14, 0.02), (1.1, -0.03)):
        z, cx, cy = ken_burns_window(zoom, pan, (1.0, 1.0))
        assert z == zoom and cy == 0.5 and abs(cx - (0.5 + pan / zoom)) < 1e-12


def test_no_frame_of_the_vertical_move_cuts_the_face():
    """The astronaut in the vertical template: cropped to fill the frame (no letterbox), and in
    every frame of both Ken Burns moves (zooming in and out), the head is inside the window and
    OpenCV's stock detector finds the face whole, taller than in the letterbox."""
    template = load_template("vertical", TEMPLATES).at_size(360)
    m = template.motion
    w, h = template.size
    size = round(w * m.max_zoom * OVERSAMPLE / 2) * 2, round(h * m.max_zoom * OVERSAMPLE / 2) * 2
    img = astronaut()
    framed = backdrops.frame_photo(img, size, subject_box(img), template.framing.kept_floor)
    assert framed.cropped and framed.keep is not None
    canvas = Planes.from_rgb(framed.image)
    out = Planes(w, h)
    keep_px = Box(framed.keep.x0 * canvas.w, framed.keep.y0 * canvas.h, framed.keep.x1 * canvas.w, framed.keep.y1 * canvas.h)
    for z0, z1, pan in ((m.zoom_start, m.zoom_end, m.pan), (m.zoom_end, m.zoom_start, -m.pan)):
        layer = MovingLayer(canvas, w, h, Move(z0, z1, pan, 6.0, framed.focus, framed.keep))
        for i in range(0, 181):
            t = i / 30
            s, x0, y0 = layer.matrix(t)
            window = Box(x0, y0, x0 + w * s, y0 + h * s)
            assert Box(0, 0, canvas.w, canvas.h).contains(window, 1e-6)
            assert window.contains(keep_px, 1e-6), (t, window, keep_px)
            if i % 30 == 0:
                layer.render(t, out)
                faces = stock_faces(out.to_rgb())
                assert faces, f"no face seen at t={t}"
                fx, fy, fw, fh = max(faces, key=lambda f: f[3])
                assert fx > 0 and fy > 0 and fx + fw < w and fy + fh < h
                assert fh / h > 0.15  # about 11 % when letterboxed


def test_templates_choose_how_photos_fill_the_frame(tmp_path):
    assert load_template("vertical", TEMPLATES).framing.fit == "cover"
    assert load_template("square", TEMPLATES).framing.fit == "cover"
    news = load_template("news", TEMPLATES).framing
    assert news.fit == "contain" and news.kept_floor == 0.6
    src = (TEMPLATES / "vertical.toml").read_text()
    bad = tmp_path / "bad.toml"
    bad.write_text(src.replace('fit = "cover"', 'fit = "fill"'))
    with pytest.raises(InvalidInput, match="framing.fit"):
        load_template(bad, tmp_path)


def test_a_vertical_render_fills_the_frame_with_the_face(tmp_path, settings):
    """End to end: the face photo in a vertical clip is cropped around the face (no letterbox):
    sampled twice a second, the clip shows her face whole and taller than 15 % of the frame."""
    article = parse_article(short_article(images=[str(ASTRONAUT)]), base_dir=EXAMPLES)
    out = tmp_path / "clip"
    res = render_article(article, RenderOptions(template="vertical", height=256, fps=10, allow_outside_paths=True),
                         out, settings.render_config())
    tallest = 0.0
    for k in range(int(res.manifest["duration"] * 2)):
        frame = decode_frame(out / "video.mp4", k / 2)
        for x, y, fw, fh in stock_faces(frame):
            assert x > 0 and y > 0 and x + fw < frame.shape[1] and y + fh < frame.shape[0]
            tallest = max(tallest, fh / frame.shape[0])
    assert tallest > 0.15, tallest


def test_the_api_names_a_bad_focus_point(tmp_path, settings):
    from fastapi.testclient import TestClient

    from videogen.http.app import create_app
    from videogen.service.videos import VideoService
    from videogen.settings import Settings

    s = Settings(home=tmp_path / "home", cache_dir=settings.cache_path)
    body = {**short_article(), "images": [{"src": "https://news.example.org/a.jpg", "focus": {"x": 0.4, "y": 2}}]}
    with TestClient(create_app(s, VideoService(s), run_sweeper=False)) as client:
        r = client.post("/v1/videos", json=body)
    assert r.status_code == 422, r.text
    errors = {e["field"]: e for e in r.json()["errors"]}
    assert "images[0].focus.y" in errors, errors


def test_a_letterboxed_face_stays_whole_through_the_move():
    """A portrait photo in the landscape news template (contain) is shown whole; its head,
    mapped onto the canvas, stays inside the window of every frame, the zoom held back if need be."""
    template = load_template("news", TEMPLATES).at_size(180)
    m = template.motion
    w, h = template.size
    size = round(w * m.max_zoom * OVERSAMPLE / 2) * 2, round(h * m.max_zoom * OVERSAMPLE / 2) * 2
    portrait = Image.new("RGB", (300, 450), (100, 100, 100))
    head = Subject("face", (0.5, 0.08), Box(0.3, 0.0, 0.7, 0.2))  # a head at the very top
    framed = backdrops.frame_photo(portrait, size, head, template.framing.kept_floor)
    assert not framed.cropped and framed.keep is not None
    k = framed.keep
    assert 0.01 < k.y0 < 0.05 and 0.4 < k.centre[0] < 0.6  # the photo's top, inside its 2 % border
    canvas = Planes.from_rgb(framed.image)
    for z0, z1 in ((m.zoom_start, m.zoom_end), (m.zoom_end, m.zoom_start)):
        layer = MovingLayer(canvas, w, h, Move(z0, z1, m.pan, 4.0, framed.focus, framed.keep))
        for i in range(121):
            s, x0, y0 = layer.matrix(i / 30)
            assert Box(x0, y0, x0 + w * s, y0 + h * s).contains(
                Box(k.x0 * canvas.w, k.y0 * canvas.h, k.x1 * canvas.w, k.y1 * canvas.h), 1e-6)


def test_a_photo_seen_lately_is_not_detected_again(monkeypatch):
    from videogen.render import images as images_module

    calls = []
    real = images_module.subject_box
    monkeypatch.setattr(images_module, "subject_box", lambda rgb, focus=None: calls.append(focus) or real(rgb, focus))
    monkeypatch.setattr(images_module, "_SUBJECTS", type(images_module._SUBJECTS)())
    data = short_article(images=[str(ASTRONAUT)])
    article = parse_article(data, base_dir=EXAMPLES)
    first, _ = load_images(article, ImageLimits(allow_outside=True))
    assert not calls  # found when first read (by the scenes' layers), not at load
    subject = first[0].subject
    assert first[0].subject is subject and len(calls) == 1  # once
    again, _ = load_images(article, ImageLimits(allow_outside=True))
    assert again[0].subject == subject and len(calls) == 1
    data["images"][0]["focus"] = {"x": 0.5, "y": 0.5}  # another focus point: another subject
    focused, _ = load_images(parse_article(data, base_dir=EXAMPLES), ImageLimits(allow_outside=True))
    assert focused[0].subject.kind == "focus" and len(calls) == 2
