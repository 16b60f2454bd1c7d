"""The frame function on its own: caption pages over a plain background, frame by frame."""

from __future__ import annotations

import numpy as np
from PIL import Image

from videogen.render.cards import Overlay
from videogen.render.compose import (
    BodyLayers,
    FrameRenderer,
    Move,
    MovingLayer,
    OverlayPlanes,
    Planes,
    SceneLayers,
)
from videogen.render.timeline import Page, Segment, Timeline

W, H, FPS = 160, 96, 30.0
RED, BLUE, GREEN, GREY = (220, 30, 30), (30, 40, 220), (30, 200, 40), (90, 90, 90)


def _renderer(pages: list[tuple[float, float, tuple[int, int, int]]], duration: float = 6.0) -> FrameRenderer:
    n = int(duration * FPS)
    tl = Timeline(FPS, n, [Segment("title", 0.0, duration, 0.0)], [],
                  [Page(a, b, f"p{k}", 1) for k, (a, b, _) in enumerate(pages)], [0.0])
    background = Planes.from_rgb(np.full((H, W, 3), GREY, np.uint8))
    layer = MovingLayer(background, W, H, Move(1.0, 1.0, 0.0, duration))
    overlays = [OverlayPlanes(Overlay(Image.new("RGBA", (64, 32), (*c, 255)), 48, 40), W, H) for *_, c in pages]
    return FrameRenderer(tl, SceneLayers(layer, BodyLayers([], layer, []), overlays), W, H)


def _caption_colour(r: FrameRenderer, i: int) -> np.ndarray:
    return r.frame(i).to_rgb()[56, 80].astype(int)


def _is(c: np.ndarray, rgb: tuple[int, int, int]) -> bool:
    return bool(np.abs(c - np.asarray(rgb)).max() <= 6)


def test_contiguous_caption_pages_cut_without_a_dissolve():
    """Two pages of one sentence (the second starts when the first ends), then a gap and a
    third page: the first change is a hard cut (no frame shows both texts mixed); captions
    fade only in and out of the empty gaps."""
    r = _renderer([(1.0, 2.0, RED), (2.0, 3.0, BLUE), (4.0, 5.0, GREEN)])
    colours = [_caption_colour(r, i) for i in range(r.tl.n_frames)]
    times = [(i + 0.5) / FPS for i in range(r.tl.n_frames)]
    for t, c in zip(times, colours, strict=True):
        if 1.0 <= t < 2.0:
            assert _is(c, RED), (t, c)
        elif 2.0 <= t < 3.0:
            assert _is(c, BLUE), (t, c)
        elif 4.0 <= t < 5.0:
            assert _is(c, GREEN), (t, c)
    # At the cut: the last red frame is followed directly by a blue one.
    cut = next(i for i, t in enumerate(times) if t >= 2.0)
    assert _is(colours[cut - 1], RED) and _is(colours[cut], BLUE)
    # No frame anywhere mixes red and blue (a dissolve would give purple).
    for c in colours:
        assert not (c[0] > GREY[0] + 20 and c[2] > GREY[2] + 20), c
    # Where there is a gap, pages fade: frames between grey and full colour exist.
    fade_in_third = [c for t, c in zip(times, colours, strict=True) if 3.9 < t < 4.0]
    assert fade_in_third and all(not _is(c, GREY) and not _is(c, GREEN) for c in fade_in_third)
    fade_out_second = [c for t, c in zip(times, colours, strict=True) if 3.0 <= t < 3.1]
    assert fade_out_second and all(not _is(c, GREY) and not _is(c, BLUE) for c in fade_out_second)
    assert all(_is(c, GREY) for t, c in zip(times, colours, strict=True) if 3.1 < t < 3.9)


def test_lazy_caption_pages_are_drawn_when_shown_and_dropped_after():
    from videogen.render.compose import LazyOverlay

    made: list[int] = []

    def maker(k: int, colour: tuple[int, int, int]):
        def make() -> Overlay:
            made.append(k)
            return Overlay(Image.new("RGBA", (64, 32), (*colour, 255)), 48, 40)
        return make

    r = _renderer([(1.0, 2.0, RED), (3.0, 4.0, BLUE)])
    r.layers.pages = [LazyOverlay(maker(0, RED), W, H), LazyOverlay(maker(1, BLUE), W, H)]
    assert _is(_caption_colour(r, int(0.5 * FPS)), GREY) and made == []
    assert _is(_caption_colour(r, int(1.5 * FPS)), RED) and made == [0]
    assert _is(_caption_colour(r, int(2.5 * FPS)), GREY) and r.layers.pages[0]._planes is None
    assert _is(_caption_colour(r, int(3.5 * FPS)), BLUE) and made == [0, 1]


def test_ken_burns_view_matches_the_affine_warp_without_whole_pixel_steps():
    """The fast path (crop + resize + sub-window) shows the same picture as the affine warp at
    every zoom and sub-pixel position: a 0.1 px misplacement would already differ by more."""
    import cv2

    from videogen.render.compose import view

    rng = np.random.default_rng(0)
    src = cv2.resize(rng.integers(0, 255, (60, 100), dtype=np.uint8), (456, 256), interpolation=cv2.INTER_CUBIC)
    w, h = 400, 224
    out = np.empty((h, w), np.uint8)
    for z in np.linspace(1.0, 1.14, 57):
        s = 1.14 / z
        x0, y0 = (456 - w * s) / 2 + (z - 1.07) * 40, (256 - h * s) / 2
        view(src, out, s, x0, y0)
        m = np.array([[s, 0, x0 + 0.5 * s - 0.5], [0, s, y0 + 0.5 * s - 0.5]])
        ref = cv2.warpAffine(src, m, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE)
        shifted = cv2.warpAffine(src, m + [[0, 0, 0.1], [0, 0, 0]], (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                 borderMode=cv2.BORDER_REPLICATE)
        diff = np.abs(out.astype(int) - ref)[1:-1, 1:-1].mean()
        assert diff < 0.5 * np.abs(shifted.astype(int) - ref)[1:-1, 1:-1].mean(), (z, diff)
