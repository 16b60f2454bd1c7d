"""Subject-aware framing of photos: where a photo's subject is, which crop of it fills a frame
without cutting the subject, and a Ken Burns window that keeps the subject in every frame.

The subject is, in order: the article's editorial focus point (``images[].focus``), else the
faces OpenCV's stock Haar cascades find (frontal and profile; they ship in the
``opencv-python-headless`` 4.x wheel, nothing is downloaded), else the centre of the photo's
edge energy (where the detail is, weighted towards the middle). Faces are a hard constraint:
the box around them (hair and chin included) is never cut, and a photo whose faces cannot fit
a crop is shown whole instead (the caller's letterbox). Pure functions over plain data; the
detection runs once per photo, when it is loaded, never per frame.

Boxes and points are fractions of the image (0..1, x to the right, y down)."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from typing import Literal

import cv2
import cv2.data
import numpy as np
from PIL import Image

#: Faces are looked for on a grey copy at most this many pixels on its long side: the frontal
#: cascade's 24 px window finds faces from 5 % of the long side up. Not equalised: on these
#: photos histogram equalisation made the cascade miss faces and take longer.
DETECT_SIDE = 480
#: The profile pass (two cascades: looking left and right) runs on a smaller copy.
PROFILE_SIDE = 360
#: Faces shorter than this share of the tallest face are background people: not kept whole.
MIN_FACE_SHARE = 0.3
#: Around a face box (eyebrows to mouth, roughly), the head kept whole: hair above, chin
#: below and ears on the sides, as fractions of the face box's width and height.
HEAD_MARGIN = (0.25, 0.5, 0.25, 0.35)  # left, top, right, bottom
#: Around an editorial focus point, the box kept in every frame (fraction of the image).
FOCUS_MARGIN = 0.02


@dataclass(frozen=True)
class Box:
    """A rectangle in fractions of the image."""

    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def width(self) -> float:
        return self.x1 - self.x0

    @property
    def height(self) -> float:
        return self.y1 - self.y0

    @property
    def centre(self) -> tuple[float, float]:
        return ((self.x0 + self.x1) / 2, (self.y0 + self.y1) / 2)

    def union(self, other: Box) -> Box:
        return Box(min(self.x0, other.x0), min(self.y0, other.y0), max(self.x1, other.x1), max(self.y1, other.y1))

    def clipped(self) -> Box:
        return Box(max(0.0, self.x0), max(0.0, self.y0), min(1.0, self.x1), min(1.0, self.y1))

    def contains(self, other: Box, tol: float = 1e-9) -> bool:
        return (self.x0 <= other.x0 + tol and self.y0 <= other.y0 + tol
                and self.x1 >= other.x1 - tol and self.y1 >= other.y1 - tol)

    def as_list(self) -> list[float]:
        return [round(v, 4) for v in (self.x0, self.y0, self.x1, self.y1)]


@dataclass(frozen=True)
class Subject:
    """What a photo shows: the point to centre on and the box no crop or frame may cut."""

    kind: Literal["focus", "face", "saliency"]
    focus: tuple[float, float]  # the point framed as close to the centre as the photo allows
    box: Box | None  # kept whole in every frame (the heads, or the focus point); None: nothing must be
    faces: tuple[Box, ...] = ()  # the face boxes found (for reports and tests)


CENTRE = Subject("saliency", (0.5, 0.5), None)


# --- finding the subject ------------------------------------------------------------------------

@functools.cache
def _cascade(name: str) -> cv2.CascadeClassifier:
    path = os.path.join(cv2.data.haarcascades, name)
    cascade = cv2.CascadeClassifier(path)
    if cascade.empty():
        raise RuntimeError(f"OpenCV's {name} is missing: install opencv-python-headless<5 (5.x ships no cascades)")
    return cascade


def _small_gray(image: Image.Image, side: int) -> np.ndarray:
    """A grey copy at most ``side`` pixels on its long side (area-averaged: no aliasing)."""
    gray = np.asarray(image.convert("L"))
    scale = side / max(gray.shape)
    if scale < 1.0:
        size = (max(1, round(gray.shape[1] * scale)), max(1, round(gray.shape[0] * scale)))
        gray = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
    return gray


def detect_faces(image: Image.Image) -> list[Box]:
    """The faces in a photo, as boxes around the face itself, tallest first: frontal faces,
    else profiles looking either way (a second, smaller pass: only when no frontal face is
    found). Background faces (less than ``MIN_FACE_SHARE`` of the tallest) are left out."""
    gray = _small_gray(image, DETECT_SIDE)
    h, w = gray.shape
    found = _detect(gray, "haarcascade_frontalface_default.xml")
    if not found:
        small = _small_gray(image, PROFILE_SIDE)
        scale, sw = w / small.shape[1], small.shape[1]
        profiles = _detect(small, "haarcascade_profileface.xml")
        profiles += [(sw - x - fw, y, fw, fh) for x, y, fw, fh in _detect(cv2.flip(small, 1), "haarcascade_profileface.xml")]
        found = [(x * scale, y * scale, fw * scale, fh * scale) for x, y, fw, fh in profiles]
    if not found:
        return []
    tallest = max(f[3] for f in found)
    boxes = [Box(x / w, y / h, (x + fw) / w, (y + fh) / h) for x, y, fw, fh in found if fh >= tallest * MIN_FACE_SHARE]
    return sorted(boxes, key=lambda b: -b.height)


def _detect(gray: np.ndarray, cascade: str) -> list[tuple[float, float, float, float]]:
    """Haar cascade detections (x, y, w, h in pixels). A scale step of 1.1: coarser steps miss
    faces between two scales; six neighbours: few false faces on textures."""
    found = _cascade(cascade).detectMultiScale(gray, scaleFactor=1.1, minNeighbors=6, minSize=(20, 20))
    return [(float(x), float(y), float(fw), float(fh)) for x, y, fw, fh in found]


def head_box(face: Box) -> Box:
    """The face box grown to the whole head (hair, chin, ears), within the image."""
    left, top, right, bottom = HEAD_MARGIN
    return Box(face.x0 - left * face.width, face.y0 - top * face.height,
               face.x1 + right * face.width, face.y1 + bottom * face.height).clipped()


def energy_centre(image: Image.Image) -> tuple[float, float]:
    """Where the detail is: the centroid of the edge energy (Sobel magnitude, smoothed) of a
    small grey copy, weighted by a soft centre prior. The middle for a flat image."""
    gray = _small_gray(image, 160).astype(np.float32)
    h, w = gray.shape
    if h < 3 or w < 3:
        return (0.5, 0.5)
    gx = cv2.Sobel(gray, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(gray, cv2.CV_32F, 0, 1, ksize=3)
    energy = cv2.GaussianBlur(cv2.magnitude(gx, gy), (0, 0), max(1.0, min(w, h) / 24))
    energy[:2], energy[-2:], energy[:, :2], energy[:, -2:] = 0, 0, 0, 0  # the image's own border is no edge
    ys, xs = (np.arange(h, dtype=np.float32) + 0.5) / h, (np.arange(w, dtype=np.float32) + 0.5) / w
    prior = np.exp(-((ys[:, None] - 0.5) ** 2 + (xs[None, :] - 0.5) ** 2) / (2 * 0.3**2))
    weight = energy * energy * prior
    total = float(weight.sum())
    if total <= 1e-6 * h * w:
        return (0.5, 0.5)
    return (float((weight.sum(axis=0) * xs).sum() / total), float((weight.sum(axis=1) * ys).sum() / total))


def subject_box(image: Image.Image, focus: tuple[float, float] | None = None) -> Subject:
    """The subject of a photo: the editorial ``focus`` point when given, else its faces (the
    heads kept whole), else its edge-energy centre."""
    if focus is not None:
        fx, fy = focus
        box = Box(fx - FOCUS_MARGIN, fy - FOCUS_MARGIN, fx + FOCUS_MARGIN, fy + FOCUS_MARGIN).clipped()
        return Subject("focus", (fx, fy), box)
    faces = detect_faces(image)
    if faces:
        keep = head_box(faces[0])
        for f in faces[1:]:
            keep = keep.union(head_box(f))
        return Subject("face", keep.centre, keep, tuple(faces))
    return Subject("saliency", energy_centre(image), None)


# --- the crop -----------------------------------------------------------------------------------

def crop_for(subject: Subject, size: tuple[int, int], aspect: float, min_kept: float = 0.0,
             zoom: float = 1.0) -> tuple[float, float, float, float] | None:
    """The crop (left, top, right, bottom in pixels of an image of ``size``) of aspect ``aspect``
    (width / height) that fills a frame: as large as the image allows, placed with the subject's
    focus as close to its centre as possible, keeping the subject's box whole with room for a
    Ken Burns ``zoom`` (the box fits in 1/zoom of the crop). None when no crop can (the box is
    too large) or the crop would keep less than ``min_kept`` of the image: show it whole."""
    w, h = size
    if w / h > aspect:
        cw, ch = h * aspect, float(h)
    else:
        cw, ch = float(w), w / aspect
    if cw * ch < min_kept * w * h - 1e-6:
        return None
    fx, fy = subject.focus[0] * w, subject.focus[1] * h
    b = subject.box
    left = _place(fx, cw, w, (b.x0 * w, b.x1 * w) if b else None, zoom)
    top = _place(fy, ch, h, (b.y0 * h, b.y1 * h) if b else None, zoom)
    if left is None or top is None:
        return None
    return (left, top, left + cw, top + ch)


def _place(centre: float, length: float, total: float, keep: tuple[float, float] | None, zoom: float) -> float | None:
    """The start of a span of ``length`` within ``total`` centred on ``centre`` as far as the
    ends and the ``keep`` span allow; None when ``keep`` is longer than ``length / zoom``."""
    lo, hi = 0.0, total - length
    if keep is not None:
        k0, k1 = keep
        if k1 - k0 > length / max(zoom, 1.0) + 1e-6:
            return None
        # Room for the zoom: the window at the closest zoom (length / zoom) can contain the
        # span and stay inside the crop wherever the span is in it.
        lo, hi = max(lo, k1 - length), min(hi, k0)
    return min(max(centre - length / 2, lo), max(lo, hi))


# --- the Ken Burns window -----------------------------------------------------------------------

def ken_burns_window(zoom: float, pan: float, full: tuple[float, float], focus: tuple[float, float] = (0.5, 0.5),
                     keep: Box | None = None) -> tuple[float, float, float]:
    """The window of a Ken Burns move on a canvas: (zoom used, centre x, centre y), all in
    fractions of the canvas. ``full`` is the window's size at zoom 1 (the frame's aspect
    fitted in the canvas); at ``zoom`` it is ``full / zoom``. The zoom is about ``focus`` (that
    point stays where it is in the frame while everything grows around it), ``pan`` shifts the
    window by that fraction of its width, and the window is then moved, as little as possible,
    to hold ``keep`` whole and stay on the canvas. The zoom is lowered when ``keep`` would not
    fit, so no frame ever cuts it. Called for every frame: plain arithmetic."""
    z = zoom if zoom > 1.0 else 1.0
    fw, fh = full
    if keep is not None:
        z = min(z, fw / max(keep.width, 1e-9), fh / max(keep.height, 1e-9))
        if z < 1.0:
            z = 1.0
    w, h = fw / z, fh / z
    cx = _follow(focus[0], fw, w) + pan * w
    cy = _follow(focus[1], fh, h)
    lo_x, hi_x, lo_y, hi_y = w / 2, 1 - w / 2, h / 2, 1 - h / 2
    if keep is not None:
        lo_x, hi_x = max(lo_x, keep.x1 - w / 2), min(hi_x, keep.x0 + w / 2)
        lo_y, hi_y = max(lo_y, keep.y1 - h / 2), min(hi_y, keep.y0 + h / 2)
    cx = lo_x if cx < lo_x else (cx if cx < hi_x else max(lo_x, hi_x))
    cy = lo_y if cy < lo_y else (cy if cy < hi_y else max(lo_y, hi_y))
    return z, cx, cy


def _follow(f: float, full: float, size: float) -> float:
    """The centre of a window of ``size`` that sees point ``f`` where the centred window of
    ``full`` sees it (both along one axis, fractions of the canvas)."""
    u = (f - (1 - full) / 2) / full
    u = 0.0 if u < 0.0 else (1.0 if u > 1.0 else u)
    return f - u * size + size / 2
