"""Composition: the frame function of a clip.

Every layer is rendered once with Pillow (cards.py, backdrops.py; put together in scenes.py)
and converted to YUV 4:2:0 planes; a frame is then a few OpenCV operations on those planes:
a sub-pixel resize per Ken Burns layer (``view``: slow moves do not jitter), a weighted sum
for crossfades and an alpha blend of the caption box. Working in 4:2:0 halves the pixels
touched and lets the encoder take frames as they are, with no RGB→YUV conversion per frame.
The same frames are available as RGB and as a MoviePy ``VideoClip`` (``as_moviepy_clip``)."""

from __future__ import annotations

import math
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np
from PIL import Image

from videogen.render.cards import Overlay
from videogen.render.framing import Box, ken_burns_window
from videogen.render.timeline import Segment, Timeline

if TYPE_CHECKING:
    from moviepy import VideoClip


def limit_opencv_threads() -> None:
    """One OpenCV thread for the whole process (OpenCV's setting is global), called when a
    render starts: frames are produced while x264 uses the other cores. Measured on two
    shared cores, the benchmark article at 1080p30: 2-3.5 s less wall and 1-2 CPU-s less per
    render than OpenCV's default of a thread per core; at 720p within the noise."""
    cv2.setNumThreads(1)


class Planes:
    """A YUV 4:2:0 (I420) image: one contiguous buffer, with views on its three planes."""

    __slots__ = ("w", "h", "buf", "y", "u", "v")

    def __init__(self, w: int, h: int, buf: np.ndarray | None = None):
        self.w, self.h = w, h
        self.buf = np.empty(w * h * 3 // 2, np.uint8) if buf is None else buf.reshape(-1)
        n = w * h
        self.y = self.buf[:n].reshape(h, w)
        self.u = self.buf[n : n + n // 4].reshape(h // 2, w // 2)
        self.v = self.buf[n + n // 4 :].reshape(h // 2, w // 2)

    @classmethod
    def from_rgb(cls, rgb: np.ndarray | Image.Image) -> Planes:
        arr = np.asarray(rgb.convert("RGB") if isinstance(rgb, Image.Image) else rgb)
        h, w = arr.shape[:2]
        if w % 2 or h % 2:
            arr = arr[: h - h % 2, : w - w % 2]
            h, w = arr.shape[:2]
        return cls(w, h, cv2.cvtColor(np.ascontiguousarray(arr), cv2.COLOR_RGB2YUV_I420))

    def to_rgb(self) -> np.ndarray:
        return cv2.cvtColor(self.buf.reshape(self.h * 3 // 2, self.w), cv2.COLOR_YUV2RGB_I420)

    def copy_from(self, other: Planes) -> None:
        np.copyto(self.buf, other.buf)


@dataclass(frozen=True)
class Move:
    """A Ken Burns move over a canvas ``max_zoom`` times the frame: zoom from ``z0`` to ``z1``
    about ``focus`` and pan horizontally by ``pan`` (fraction of the frame width), eased at
    both ends, never cutting ``keep`` (see ``framing.ken_burns_window``; fractions of the
    canvas)."""

    z0: float
    z1: float
    pan: float
    duration: float
    focus: tuple[float, float] = (0.5, 0.5)
    keep: Box | None = None

    def at(self, t: float) -> tuple[float, float]:
        u = min(1.0, max(0.0, t / self.duration)) if self.duration > 0 else 0.0
        e = u * u * (3 - 2 * u) * 0.35 + u * 0.65  # mostly linear, softened at the ends
        return self.z0 + (self.z1 - self.z0) * e, self.pan * (e - 0.5)


class MovingLayer:
    """A canvas (photo, generated background or card) seen through a moving window."""

    def __init__(self, canvas: Planes, out_w: int, out_h: int, move: Move):
        self.canvas = canvas
        self.out_w, self.out_h = out_w, out_h
        self.move = move
        self.static = move.z0 == move.z1 == 1.0 and move.pan == 0 and canvas.w == out_w and canvas.h == out_h
        self._padded: tuple[np.ndarray, ...] | None = None

    def padded(self) -> tuple[np.ndarray, ...]:
        """The canvas planes with a replicated border of PAD pixels: room for the resize's
        extra rows and columns (see ``view``), so the fast path almost never falls back. Made
        when the segment first shows and dropped when it ends: memory does not grow with the
        number of scenes."""
        if self._padded is None:
            c = self.canvas
            self._padded = tuple(cv2.copyMakeBorder(p, PAD, PAD, PAD, PAD, cv2.BORDER_REPLICATE) for p in (c.y, c.u, c.v))
        return self._padded

    def drop(self) -> None:
        self._padded = None

    def matrix(self, t: float) -> tuple[float, float, float]:
        """Source-pixels-per-output-pixel scale and the source position of the output's
        top-left corner, for time ``t``. The window never leaves the canvas."""
        z, pan = self.move.at(t)
        cw, ch = self.canvas.w, self.canvas.h
        # The canvas covers the frame at its largest zoom; at zoom z the window is 1/z of it.
        full = min(cw / self.out_w, ch / self.out_h)
        z, fx, fy = ken_burns_window(z, pan, (self.out_w * full / cw, self.out_h * full / ch), self.move.focus, self.move.keep)
        scale = full / z
        win_w, win_h = self.out_w * scale, self.out_h * scale
        return scale, fx * cw - win_w / 2, fy * ch - win_h / 2

    def render(self, t: float, out: Planes) -> None:
        if self.static:
            out.copy_from(self.canvas)
            return
        s, x0, y0 = self.matrix(t)
        py, pu, pv = self.padded()
        view(py, out.y, s, x0 + PAD, y0 + PAD)
        view(pu, out.u, s, x0 / 2 + PAD, y0 / 2 + PAD)
        view(pv, out.v, s, x0 / 2 + PAD, y0 / 2 + PAD)


# Ken Burns: dst[y, x] = src at ((x + 0.5) s - 0.5 + ox, (y + 0.5) s - 0.5 + oy), bilinear. OpenCV's
# resize does that 3-5x faster than warpAffine, with the scale exact (fx = 1/s) but the window
# starting on a whole source pixel. The sub-pixel start comes from taking the output from k
# pixels into a slightly larger resize of a crop starting at L: L + k s lands within
# MAX_POSITION_ERROR of the wanted start for some k unless s is within ~1/MAX_SHIFT of 1, or
# close to a fraction with a small denominator; warpAffine does those frames. No whole-pixel
# steps: no jitter. Canvases are made OVERSAMPLE times larger than the window at the closest
# zoom (title and outro cards included), so s stays >= OVERSAMPLE, away from 1.
OVERSAMPLE = 1.1
# MAX_SHIFT 256 rather than 96: half as many plane views fall back to warpAffine (about 1.4 %
# instead of 3 % on the news template's moves), each 2-3x the cost of a resize. The border
# stays 128 px (320 px peaked 19 MB higher in a 1080p render): a shift whose crop would start before it
# is simply not a fit, and the search goes on.
MAX_SHIFT = 256
PAD = 128  # > 96 * the largest scale used (1.14 * OVERSAMPLE / 1.04 for the news template)
MAX_POSITION_ERROR = 1 / 32  # source pixels: the step in which warpAffine itself places its samples
_scratch: dict[int, np.ndarray] = {}


def _axis_plan(o: float, s: float, n_out: int, n_src: int) -> tuple[int, int, int] | None:
    """(crop start L, crop length, output offset k) for one axis, or None: the smallest k whose
    start o - k s is within MAX_POSITION_ERROR of a whole pixel and whose crop fits. A plain
    loop: it stops at the first hit (about the 16th k on average), where the same search as
    numpy arrays over all MAX_SHIFT values of k took 0.6 CPU-s a minute of 1080p."""
    for k in range(MAX_SHIFT):
        start = o - k * s
        lo = round(start)
        if abs(lo - start) <= MAX_POSITION_ERROR:
            length = math.ceil((n_out + k + 1) * s) + 1
            if lo >= 0 and lo + length <= n_src:
                return lo, length, k
    return None


def view(src: np.ndarray, dst: np.ndarray, s: float, ox: float, oy: float) -> None:
    """Fill ``dst`` with the window of ``src`` whose top-left is (ox, oy), ``s`` source pixels per
    output pixel, bilinear: the same picture as the affine warp, computed faster."""
    h, w = dst.shape
    px = _axis_plan(ox, s, w, src.shape[1]) if s > 0 else None
    py = _axis_plan(oy, s, h, src.shape[0]) if px is not None else None
    if px is None or py is None:
        m = np.array([[s, 0.0, ox + 0.5 * s - 0.5], [0.0, s, oy + 0.5 * s - 0.5]])
        cv2.warpAffine(src, m, (w, h), dst=dst, flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                       borderMode=cv2.BORDER_REPLICATE)
        return
    (lx, cw, kx), (ly, ch, ky) = px, py
    crop = src[ly : ly + ch, lx : lx + cw]
    rw, rh = round(cw / s), round(ch / s)  # the size OpenCV gives for fx = fy = 1/s
    buf = _scratch.get(dst.size)
    if buf is None or buf.size < rw * rh:
        buf = _scratch[dst.size] = np.empty(rw * rh + 4 * (rw + rh), np.uint8)
    tmp = cv2.resize(crop, None, dst=buf[: rw * rh].reshape(rh, rw), fx=1 / s, fy=1 / s, interpolation=cv2.INTER_LINEAR)
    np.copyto(dst, tmp[ky : ky + h, kx : kx + w])


class OverlayPlanes:
    """An RGBA overlay converted to 4:2:0 with premultiplied planes, blended in place."""

    def __init__(self, overlay: Overlay, frame_w: int, frame_h: int):
        img = overlay.image
        x, y = overlay.x - overlay.x % 2, overlay.y - overlay.y % 2
        w, h = img.width + img.width % 2, img.height + img.height % 2
        # Clip to the frame.
        x0, y0 = max(0, x), max(0, y)
        x1, y1 = min(frame_w, x + w), min(frame_h, y + h)
        if x1 - x0 < 2 or y1 - y0 < 2:
            self.empty = True
            return
        self.empty = False
        rgba = Image.new("RGBA", (w, h), (0, 0, 0, 0))
        rgba.paste(img, (0, 0))
        arr = np.asarray(rgba)[y0 - y : y1 - y, x0 - x : x1 - x]
        self.x, self.y = x0, y0
        self.w, self.h = arr.shape[1] - arr.shape[1] % 2, arr.shape[0] - arr.shape[0] % 2
        arr = arr[: self.h, : self.w]
        alpha = arr[..., 3].astype(np.float32) / 255.0
        planes = Planes.from_rgb(np.ascontiguousarray(arr[..., :3]))
        a_c = cv2.resize(alpha, (self.w // 2, self.h // 2), interpolation=cv2.INTER_AREA)
        self.layers = [
            (planes.y.astype(np.float32) * alpha, alpha, 1),
            (planes.u.astype(np.float32) * a_c, a_c, 2),
            (planes.v.astype(np.float32) * a_c, a_c, 2),
        ]
        # Fully shown (most frames), the blend is done in 8.8 fixed point, about twice as fast:
        # (region * (256 - a) + colour * a + 128) >> 8, which never exceeds 16 bits.
        self.fixed = []
        for premul, a, _ in self.layers:
            a256 = np.rint(a * 256).astype(np.uint16)
            self.fixed.append(((256 - a256).astype(np.uint16), (np.rint(premul * 256) + 128).astype(np.uint16),
                               np.empty(a.shape, np.uint16)))

    def blend(self, out: Planes, opacity: float = 1.0) -> None:
        if self.empty or opacity <= 0:
            return
        planes = (out.y, out.u, out.v)
        for (premul, alpha, div), (inv, colour, scratch), plane in zip(self.layers, self.fixed, planes, strict=True):
            y, x, h, w = self.y // div, self.x // div, self.h // div, self.w // div
            region = plane[y : y + h, x : x + w]
            if opacity >= 1:
                np.multiply(region, inv, out=scratch)
                scratch += colour
                scratch >>= 8
                np.copyto(region, scratch, casting="unsafe")
            else:
                res = region * (1.0 - alpha * opacity) + premul * opacity
                np.copyto(region, res, casting="unsafe")


class LazyOverlay:
    """An overlay drawn (Pillow) and converted the first time a frame needs it, and dropped
    once its page is over: only the caption pages on screen are held in memory, and drawing
    them overlaps with the encoder instead of delaying the first frame."""

    def __init__(self, make: Callable[[], Overlay], frame_w: int, frame_h: int):
        self._make = make
        self._size = (frame_w, frame_h)
        self._planes: OverlayPlanes | None = None

    def get(self) -> OverlayPlanes:
        if self._planes is None:
            self._planes = OverlayPlanes(self._make(), *self._size)
        return self._planes

    def blend(self, out: Planes, opacity: float = 1.0) -> None:
        if opacity > 0:
            self.get().blend(out, opacity)

    def drop(self) -> None:
        self._planes = None


@dataclass
class BodyLayers:
    """The layers shown after the title card."""

    scenes: list[MovingLayer]
    outro: MovingLayer
    credits: list[OverlayPlanes | None]  # one per scene
    header: OverlayPlanes | None = None  # source and title, over every scene


@dataclass
class SceneLayers:
    """Everything pre-rendered for one clip, ready for the frame function. ``body`` may be a
    future: the title card's frames are encoded while another thread draws the rest."""

    title: MovingLayer
    body: BodyLayers | Future[BodyLayers]
    pages: list[OverlayPlanes | LazyOverlay]  # one per timeline page
    logo: OverlayPlanes | None = None  # the brand's logo bug, drawn once
    logo_span: tuple[float, float, float] = (0.0, math.inf, 0.0)  # shown from, until, fade seconds

    def ready_body(self) -> BodyLayers:
        if isinstance(self.body, Future):
            self.body = self.body.result()  # re-raises what went wrong in the other thread
        return self.body


class FrameRenderer:
    """``frame(i)`` → the I420 planes of frame ``i``; buffers are reused between calls."""

    def __init__(self, timeline: Timeline, layers: SceneLayers, width: int, height: int):
        self.tl = timeline
        self.layers = layers
        self.w, self.h = width, height
        self._b = Planes(width, height)  # the incoming scene of a crossfade
        self._out: Planes | None = None  # made on the first call without a destination
        self._next_drop = 0  # segments before this one are over: their padded canvases are freed
        self._scenes = [s for s in timeline.segments if s.kind == "scene"]
        # Caption pages fade in and out only where the screen has no caption before or after
        # them; where one page follows another without a gap (pages of one sentence, or a
        # sentence held through a short pause) the text changes with a hard cut, never two
        # texts dissolving into each other.
        pages = timeline.pages
        self._page_times: list[tuple[float, float, float, float]] = []
        for k, p in enumerate(pages):
            before = pages[k - 1].end if k else None
            after = pages[k + 1].start if k + 1 < len(pages) else None
            fade_in = PAGE_FADE if before is None or p.start - before >= 2 * PAGE_FADE else 0.0
            fade_out = PAGE_FADE if after is None or after - p.end >= 2 * PAGE_FADE else 0.0
            self._page_times.append((p.start, p.end, fade_in, fade_out))

    def _layer(self, seg: Segment) -> MovingLayer:
        if seg.kind == "title":
            return self.layers.title
        body = self.layers.ready_body()
        if seg.kind == "outro":
            return body.outro
        assert seg.scene is not None
        return body.scenes[seg.scene]

    def active(self, t: float) -> list[tuple[Segment, float]]:
        """Segments visible at ``t`` with their opacity (a crossfade shows two)."""
        out = []
        for seg in self.tl.segments:
            if seg.start <= t < seg.end or (seg is self.tl.segments[-1] and t >= seg.start):
                a = 1.0 if seg.fade_in <= 0 else min(1.0, (t - seg.start) / seg.fade_in)
                out.append((seg, a))
        return out[-2:]

    def frame(self, i: int, out: Planes | None = None) -> Planes:
        """Frame ``i`` drawn into ``out`` (e.g. a buffer of the encoder) or into a buffer of
        the renderer's own, reused by the next call; every pixel is written."""
        if out is None:
            out = self._out = self._out or Planes(self.w, self.h)
        t = (i + 0.5) / self.tl.fps  # the middle of the frame's display interval
        visible = self.active(t)
        if not visible:
            visible = [(self.tl.segments[-1], 1.0)]
        base_seg, _ = visible[0]
        while self._next_drop < len(self.tl.segments) and self.tl.segments[self._next_drop].end <= base_seg.start:
            self._layer(self.tl.segments[self._next_drop]).drop()
            self._next_drop += 1
        self._layer(base_seg).render(t - base_seg.start, out)
        if len(visible) == 2 and visible[1][1] < 1.0:
            seg, a = visible[1]
            self._layer(seg).render(t - seg.start, self._b)
            cv2.addWeighted(self._b.buf, a, out.buf, 1.0 - a, 0.0, dst=out.buf)
        elif len(visible) == 2:
            seg = visible[1][0]
            self._layer(seg).render(t - seg.start, out)
        top_seg = visible[-1][0] if visible[-1][1] >= 0.5 else visible[0][0]
        scenes = self._scenes
        header_opacity = _fade(t, scenes[0].start + scenes[0].fade_in, scenes[-1].end - scenes[-1].fade_in, 0.4) if scenes else 0.0
        if header_opacity > 0:
            header = self.layers.ready_body().header
            if header is not None:
                header.blend(out, header_opacity)
        if top_seg.kind == "scene" and top_seg.scene is not None:
            credit = self.layers.ready_body().credits[top_seg.scene]
            if credit is not None:
                credit.blend(out, _fade(t, top_seg.start + top_seg.fade_in, top_seg.end - 0.1, 0.3))
        if self.layers.logo is not None:
            start, end, fade = self.layers.logo_span
            self.layers.logo.blend(out, _fade(t, start + fade, end - fade, fade) if fade > 0 else float(start <= t < end))
        for k, (start, end, fade_in, fade_out) in enumerate(self._page_times):
            page = self.layers.pages[k]
            if start - fade_in <= t < end + fade_out:
                page.blend(out, _page_opacity(t, start, end, fade_in, fade_out))
            elif t >= end + fade_out and isinstance(page, LazyOverlay):
                page.drop()
        return out

    def frame_rgb(self, t: float) -> np.ndarray:
        i = min(self.tl.n_frames - 1, max(0, int(math.floor(t * self.tl.fps + 1e-6))))
        return self.frame(i).to_rgb()


PAGE_FADE = 0.1  # seconds a caption page takes to appear or go where no other page is next to it


def _page_opacity(t: float, start: float, end: float, fade_in: float, fade_out: float) -> float:
    if t < start:
        return (t - (start - fade_in)) / fade_in if fade_in > 0 else 0.0
    if t >= end:
        return (end + fade_out - t) / fade_out if fade_out > 0 else 0.0
    return 1.0


def _fade(t: float, start: float, end: float, ramp: float) -> float:
    """Opacity of something shown from ``start`` to ``end`` with ``ramp``-second fades."""
    if t < start - ramp or t >= end + ramp:
        return 0.0
    return max(0.0, min(1.0, (t - (start - ramp)) / ramp, (end + ramp - t) / ramp))


def as_moviepy_clip(renderer: FrameRenderer, audio: np.ndarray | None = None, sample_rate: int = 22050) -> VideoClip:
    """The clip as a MoviePy 2 ``VideoClip`` (RGB frames), e.g. to preview it or combine it
    with other MoviePy clips."""
    from moviepy import AudioArrayClip, VideoClip

    clip = VideoClip(frame_function=renderer.frame_rgb, duration=renderer.tl.duration)
    clip = clip.with_fps(renderer.tl.fps)
    if audio is not None:
        stereo = np.repeat(audio.reshape(-1, 1), 2, axis=1)
        clip = clip.with_audio(AudioArrayClip(stereo, fps=sample_rate).with_duration(renderer.tl.duration))
    return clip
