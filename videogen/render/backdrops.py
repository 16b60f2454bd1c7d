"""Backgrounds and photos, drawn once per clip: generated backgrounds from the template's
palette (gradient, blurred discs, light bands, grain against banding), photos cropped around
their subject or shown whole over a blurred copy, and the blurred photo behind a card. Inputs in,
``PIL.Image`` out."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from videogen.render.framing import CENTRE, Box, Subject, crop_for
from videogen.render.templates import Template, hex_to_rgb

RGB = tuple[int, int, int]


def gradient(size: tuple[int, int], c0: RGB, c1: RGB, angle_deg: float = 90.0) -> np.ndarray:
    """Linear gradient (uint8 HxWx3) from c0 to c1 along ``angle_deg`` (90 = top to bottom)."""
    w, h = size
    a = math.radians(angle_deg)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    proj = xs * math.cos(a) / max(w, 1) + ys * math.sin(a) / max(h, 1)
    proj = (proj - proj.min()) / max(float(np.ptp(proj)), 1e-6)
    out = np.asarray(c0, np.float32) + proj[..., None] * (np.asarray(c1, np.float32) - np.asarray(c0, np.float32))
    return out


def _dither(arr: np.ndarray, seed: int, amount: float = 1.6) -> np.ndarray:
    """Add faint grain so smooth gradients do not band after 8-bit H.264 encoding. Works in
    bands of rows: a 1080p canvas never needs several full-size float copies at once."""
    rng = np.random.default_rng(seed)
    out = np.empty(arr.shape, np.uint8)
    for y in range(0, arr.shape[0], 128):
        part = arr[y : y + 128]
        noise = rng.standard_normal(part.shape[:2], dtype=np.float32)
        noise *= amount
        grained = part + noise[..., None] if part.ndim == 3 else part + noise
        np.clip(grained, 0, 255, out=grained)
        out[y : y + 128] = grained  # truncated, as astype(np.uint8) does
    return out


def generated_background(template: Template, seed: int, size: tuple[int, int]) -> Image.Image:
    """An abstract background from the template palette: a diagonal gradient, soft blurred
    discs and a few light bands. Different for every seed; never a flat frame."""
    rng = random.Random(seed)
    w, h = size
    pal = template.palette
    c0, c1 = hex_to_rgb(pal.background[0]), hex_to_rgb(pal.background[1])
    # Work at half size for the blurred parts: they upscale without visible loss.
    sw, sh = max(8, w // 2), max(8, h // 2)
    base = gradient((sw, sh), c0, c1, rng.uniform(30, 150))
    layer = Image.new("RGBA", (sw, sh), (0, 0, 0, 0))
    d = ImageDraw.Draw(layer)
    shapes = [hex_to_rgb(c) for c in pal.shapes]
    for _ in range(rng.randint(4, 7)):
        col = rng.choice(shapes)
        r = rng.uniform(0.15, 0.45) * max(sw, sh)
        cx, cy = rng.uniform(-0.1, 1.1) * sw, rng.uniform(-0.1, 1.1) * sh
        d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=(*col, rng.randint(60, 120)))
    layer = layer.filter(ImageFilter.GaussianBlur(max(sw, sh) * 0.06))
    img = Image.alpha_composite(Image.fromarray(base.astype(np.uint8)).convert("RGBA"), layer)
    bands = Image.new("RGBA", (sw, sh), (0, 0, 0, 0))
    d = ImageDraw.Draw(bands)
    accent = hex_to_rgb(pal.accent)
    slope = rng.uniform(0.3, 0.8)
    for _ in range(rng.randint(2, 4)):
        x0 = rng.uniform(-0.5, 1.0) * sw
        bw = rng.uniform(0.01, 0.05) * sw
        col = rng.choice([accent, (255, 255, 255)])
        d.polygon([(x0, sh), (x0 + bw, sh), (x0 + bw + slope * sh, 0), (x0 + slope * sh, 0)], fill=(*col, rng.randint(14, 34)))
    img = Image.alpha_composite(img, bands.filter(ImageFilter.GaussianBlur(2)))
    big = img.convert("RGB").resize((w, h), Image.Resampling.BICUBIC)
    return Image.fromarray(_dither(np.asarray(big), seed))


# --- photos ----------------------------------------------------------------------------------

def _resize(img: Image.Image, size: tuple[int, int]) -> Image.Image:
    out = img.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
    if size[0] > img.width * 1.5:
        # Upscaled a lot: a gentle unsharp mask keeps edges from looking soft (OpenCV: 13 ms
        # at 2400x1350 where Pillow's UnsharpMask takes 140 ms; within 1 level on average).
        arr = np.asarray(out)
        blurred = cv2.GaussianBlur(arr, (0, 0), 2)
        out = Image.fromarray(cv2.addWeighted(arr, 1.6, blurred, -0.6, 0))
    return out


def cover(img: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Scale to cover ``size`` and centre-crop: no bars, no stretching."""
    w, h = size
    s = max(w / img.width, h / img.height)
    # Crop first in source pixels (cheaper), then resize.
    cw, ch = w / s, h / s
    left, top = (img.width - cw) / 2, (img.height - ch) / 2
    box = (round(left), round(top), round(left + cw), round(top + ch))
    return _resize(img.crop(box), size)


@dataclass(frozen=True)
class FramedPhoto:
    """A photo drawn at a canvas size, and where its subject landed on it (fractions of the
    canvas): the point the Ken Burns zoom closes in on and the box no frame may cut."""

    image: Image.Image
    focus: tuple[float, float]
    keep: Box | None
    cropped: bool  # False: shown whole over a blurred copy of itself (letterbox)


def frame_photo(img: Image.Image, size: tuple[int, int], subject: Subject = CENTRE, min_kept: float = 0.6) -> FramedPhoto:
    """A photo filling ``size``: cropped around its subject (``framing.crop_for``) when that
    crop keeps at least ``min_kept`` of it and its subject's box whole; otherwise the whole
    photo over a blurred, darkened copy of itself."""
    img = img.convert("RGB")
    crop = crop_for(subject, img.size, size[0] / size[1], min_kept)
    if crop is not None:
        box = (round(crop[0]), round(crop[1]), round(crop[2]), round(crop[3]))
        out = _resize(img.crop(box), size)
        return FramedPhoto(out, *_moved(subject, img.size, box[0], box[1], box[2] - box[0], box[3] - box[1]), cropped=True)
    w, h = size
    small = cover(img.resize((max(1, img.width // 4), max(1, img.height // 4))), (max(2, w // 4), max(2, h // 4)))
    back = small.filter(ImageFilter.GaussianBlur(max(w, h) / 160)).resize(size, Image.Resampling.BICUBIC)
    back = back.point(lambda v: int(v * 0.55))  # darkened (a lookup table: no float copy)
    s = min(w / img.width, h / img.height) * 0.96
    fg = _resize(img, (max(1, round(img.width * s)), max(1, round(img.height * s))))
    x, y = (w - fg.width) // 2, (h - fg.height) // 2
    back.paste(fg, (x, y))
    # The photo's pixels, seen from the canvas: it starts at -x / sx and spans w / sx of them.
    sx, sy = fg.width / img.width, fg.height / img.height
    return FramedPhoto(back, *_moved(subject, img.size, -x / sx, -y / sy, w / sx, h / sy), cropped=False)


def _moved(subject: Subject, size: tuple[int, int], left: float, top: float, width: float,
           height: float) -> tuple[tuple[float, float], Box | None]:
    """The subject's focus and box in fractions of a canvas showing the photo's pixels from
    (left, top), ``width`` by ``height`` of them."""
    iw, ih = size

    def x(v: float) -> float:
        return (v * iw - left) / width

    def y(v: float) -> float:
        return (v * ih - top) / height

    b = subject.box
    keep = Box(x(b.x0), y(b.y0), x(b.x1), y(b.y1)).clipped() if b is not None else None
    return (x(subject.focus[0]), y(subject.focus[1])), keep


def card_background(template: Template, seed: int, photo: Image.Image | None) -> Image.Image:
    """The background of a card at the frame size: the photo cover-cropped, blurred and tinted
    with the palette's background colour; a generated background when there is no photo."""
    w, h = template.size
    if photo is None:
        return generated_background(template, seed, (w, h))
    back = cover(photo.convert("RGB"), (max(2, w // 6), max(2, h // 6)))
    back = back.filter(ImageFilter.GaussianBlur(max(w, h) / 300))
    # Tinted at the small size (the resize is linear), then enlarged: no full-size float copy.
    tint = np.asarray(hex_to_rgb(template.palette.background[0]), np.float32)
    small = np.asarray(back, np.float32) * 0.35 + tint * 0.45
    big = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    return Image.fromarray(_dither(big, seed))
