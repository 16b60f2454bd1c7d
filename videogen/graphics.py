"""Pillow graphics, rendered once per clip: cards, captions, credits, generated backgrounds and
photos prepared for Ken Burns. Pure functions: inputs in, ``PIL.Image`` out."""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from .fonts import get_font
from .templates import Template, hex_to_rgb

RGB = tuple[int, int, int]


# --- text layout -------------------------------------------------------------------------

def text_width(text: str, font: ImageFont.FreeTypeFont) -> float:
    return font.getlength(text)


def _tokens(text: str) -> list[str]:
    """Words with their trailing spaces; scripts without spaces (CJK) break between characters."""
    parts = re.findall(r"[\u3000-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef][、。，！？」』）]*|[^\s\u3000-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]+\s*|\s+", text)
    return [p for p in parts if p]


def wrap_text(text: str, font: ImageFont.FreeTypeFont, max_width: float) -> list[str]:
    """Greedy wrap by rendered width; a word wider than the line is broken by characters."""
    lines: list[str] = []
    cur = ""
    for tok in _tokens(text):
        cand = cur + tok
        if text_width(cand.rstrip(), font) <= max_width or not cur.strip():
            if not cur.strip() and text_width(tok.rstrip(), font) > max_width:
                # A single word too wide for a line (a German compound, a URL): split it.
                for ch in tok:
                    if text_width((cur + ch).rstrip(), font) > max_width and cur.strip():
                        lines.append(cur.rstrip())
                        cur = ""
                    cur += ch
                continue
            cur = cand
        else:
            lines.append(cur.rstrip())
            cur = tok.lstrip()
    if cur.strip():
        lines.append(cur.rstrip())
    return lines


def balance_lines(text: str, font: ImageFont.FreeTypeFont, max_width: float) -> list[str]:
    """Wrap into as few lines as greedy wrapping needs, but with lengths evened out
    (no long first line followed by a lone last word)."""
    lines = wrap_text(text, font, max_width)
    if len(lines) < 2:
        return lines
    lo, hi = max_width * 0.5, max_width
    best = lines
    for _ in range(12):
        mid = (lo + hi) / 2
        trial = wrap_text(text, font, mid)
        if len(trial) <= len(lines):
            best, hi = trial, mid
        else:
            lo = mid
    return best


@dataclass(frozen=True)
class FittedText:
    lines: list[str]
    font: ImageFont.FreeTypeFont
    line_height: int


def fit_text(text: str, font_name: str, max_width: float, max_height: float, max_lines: int,
             max_size: int, min_size: int, line_spacing: float = 1.18) -> FittedText:
    """The largest font size in [min_size, max_size] at which ``text`` fits the box in at most
    ``max_lines`` lines. At the minimum size, extra lines are cut with an ellipsis."""
    size = max_size
    while True:
        font = get_font(font_name, size)
        lines = balance_lines(text, font, max_width)
        lh = int(round(size * line_spacing))
        if (len(lines) <= max_lines and lh * len(lines) <= max_height) or size <= min_size:
            break
        size = max(min_size, int(size * 0.94))
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        last = lines[-1]
        while last and text_width(last + "…", font) > max_width:
            last = last[:-1].rstrip()
        lines[-1] = last + "…"
    return FittedText(lines, font, lh)


def draw_lines(draw: ImageDraw.ImageDraw, fitted: FittedText, x: float, y: float, width: float,
               fill: tuple[int, ...], align: str = "left", shadow: tuple[int, ...] | None = None) -> float:
    """Draw fitted lines in a box starting at (x, y); returns the y below the last line."""
    ascent, descent = fitted.font.getmetrics()
    for line in fitted.lines:
        w = text_width(line, fitted.font)
        lx = x + (width - w) / 2 if align == "center" else (x + width - w if align == "right" else x)
        if shadow is not None:
            off = max(1, fitted.font.size // 22)
            draw.text((lx + off, y + off), line, font=fitted.font, fill=shadow)
        draw.text((lx, y), line, font=fitted.font, fill=fill)
        y += fitted.line_height
    # The last line's descenders reach below its line box: leave room for them.
    return y + max(0, ascent + descent - fitted.line_height)


# --- backgrounds ---------------------------------------------------------------------------

def _mix(a: RGB, b: RGB, t: float) -> RGB:
    return tuple(int(round(a[i] + (b[i] - a[i]) * t)) for i in range(3))  # type: ignore[return-value]


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
    """Add faint grain so smooth gradients do not band after 8-bit H.264 encoding."""
    rng = np.random.default_rng(seed)
    noise = rng.normal(0.0, amount, arr.shape[:2]).astype(np.float32)[..., None]
    return np.clip(arr + noise, 0, 255).astype(np.uint8)


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
    return Image.fromarray(_dither(np.asarray(big, np.float32), seed))


# --- photos ----------------------------------------------------------------------------------

def kept_fraction(src_size: tuple[int, int], dst_size: tuple[int, int]) -> float:
    """Share of the source image left after a cover crop to the destination aspect."""
    sa = src_size[0] / src_size[1]
    da = dst_size[0] / dst_size[1]
    return min(sa / da, da / sa)


def _resize(img: Image.Image, size: tuple[int, int]) -> Image.Image:
    out = img.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
    if size[0] > img.width * 1.5:
        # Upscaled a lot: a gentle unsharp mask keeps edges from looking soft.
        out = out.filter(ImageFilter.UnsharpMask(radius=2, percent=60, threshold=2))
    return out


def cover(img: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Scale to cover ``size`` and centre-crop: no bars, no stretching."""
    w, h = size
    s = max(w / img.width, h / img.height)
    sw, sh = max(w, round(img.width * s)), max(h, round(img.height * s))
    # Crop first in source pixels (cheaper), then resize.
    cw, ch = w / s, h / s
    left, top = (img.width - cw) / 2, (img.height - ch) / 2
    box = (left, top, left + cw, top + ch)
    del sw, sh
    return _resize(img.crop(tuple(round(v) for v in box)), size)  # type: ignore[arg-type]


def prepare_photo(img: Image.Image, size: tuple[int, int], min_kept: float = 0.6) -> Image.Image:
    """A photo filling ``size``. When a cover crop would keep less than ``min_kept`` of it (a
    portrait photo in a landscape frame), the whole photo is shown over a blurred, darkened
    copy of itself instead."""
    img = img.convert("RGB")
    if kept_fraction(img.size, size) >= min_kept:
        return cover(img, size)
    w, h = size
    small = cover(img.resize((max(1, img.width // 4), max(1, img.height // 4))), (max(2, w // 4), max(2, h // 4)))
    back = small.filter(ImageFilter.GaussianBlur(max(w, h) / 160)).resize(size, Image.Resampling.BICUBIC)
    back = Image.fromarray((np.asarray(back, np.float32) * 0.55).astype(np.uint8))
    s = min(w / img.width, h / img.height) * 0.96
    fg = _resize(img, (max(1, round(img.width * s)), max(1, round(img.height * s))))
    back.paste(fg, ((w - fg.width) // 2, (h - fg.height) // 2))
    return back


# --- cards -----------------------------------------------------------------------------------

def _card_background(template: Template, seed: int, photo: Image.Image | None) -> Image.Image:
    w, h = template.size
    if photo is None:
        return generated_background(template, seed, (w, h))
    back = cover(photo.convert("RGB"), (max(2, w // 6), max(2, h // 6)))
    back = back.filter(ImageFilter.GaussianBlur(max(w, h) / 300)).resize((w, h), Image.Resampling.BICUBIC)
    arr = np.asarray(back, np.float32)
    tint = np.asarray(hex_to_rgb(template.palette.background[0]), np.float32)
    arr = arr * 0.35 + tint * 0.45
    return Image.fromarray(_dither(arr, seed))


@dataclass(frozen=True)
class TitleCardText:
    title: str
    kicker: str | None = None  # the source name, above the title
    meta: str | None = None  # the date, below the title
    direction: str = "ltr"


def title_card(template: Template, text: TitleCardText, seed: int = 0, photo: Image.Image | None = None) -> Image.Image:
    """The opening card: source name, accent bar, the title auto-fitted, the date."""
    w, h = template.size
    lay = template.layout
    u = template.unit
    img = _card_background(template, seed, photo)
    # Darken the text side for legibility on any background.
    shade = np.linspace(0.55, 0.0, w, dtype=np.float32)[None, :, None] if text.direction == "ltr" else np.linspace(0.0, 0.55, w, dtype=np.float32)[None, :, None]
    arr = np.asarray(img, np.float32) * (1 - shade * 0.6)
    img = Image.fromarray(arr.astype(np.uint8))
    d = ImageDraw.Draw(img)
    mx, my = int(w * lay.margin_x), int(h * lay.margin_y)
    box_w = w - 2 * mx
    text_rgb = template.palette.rgb("text")
    muted = template.palette.rgb("muted")
    accent = template.palette.rgb("accent")
    meta_font = get_font(template.fonts.body, u * lay.meta_size)
    kicker_font = get_font(template.fonts.title, u * lay.meta_size)
    bar_h = max(2, int(u * 0.008))
    top_block = (kicker_font.size * 1.6 if text.kicker else 0) + bar_h * 4
    bottom_block = meta_font.size * 2.0 if text.meta else 0
    avail_h = h - 2 * my - top_block - bottom_block
    fitted = fit_text(text.title, template.fonts.title, box_w, avail_h, lay.title_max_lines,
                      int(u * lay.title_max_size), int(u * lay.title_min_size))
    block_h = top_block + len(fitted.lines) * fitted.line_height + bottom_block
    y = max(my, (h - block_h) / 2)
    align = lay.title_align if text.direction == "ltr" else "right"
    if text.kicker:
        kx = mx if align == "left" else (w - mx - text_width(text.kicker.upper(), kicker_font) if align == "right" else (w - text_width(text.kicker.upper(), kicker_font)) / 2)
        d.text((kx, y), text.kicker.upper(), font=kicker_font, fill=accent)
        y += kicker_font.size * 1.6
    bar_w = int(u * 0.12)
    bx = mx if align == "left" else (w - mx - bar_w if align == "right" else (w - bar_w) / 2)
    d.rectangle([bx, y, bx + bar_w, y + bar_h], fill=accent)
    y += bar_h * 4
    y = draw_lines(d, fitted, mx, y, box_w, text_rgb, align, shadow=(0, 0, 0))
    if text.meta:
        y += meta_font.size * 0.6
        draw_lines(d, FittedText([text.meta], meta_font, meta_font.size), mx, y, box_w, muted, align)
    return img


def outro_card(template: Template, headline: str, lines: list[str], seed: int = 0, direction: str = "ltr") -> Image.Image:
    """The closing card: the source's name large, then a few short lines (where to read more)."""
    w, h = template.size
    lay = template.layout
    u = template.unit
    img = generated_background(template, seed, (w, h))
    d = ImageDraw.Draw(img)
    mx = int(w * lay.margin_x)
    box_w = w - 2 * mx
    big = fit_text(headline, template.fonts.title, box_w, h * 0.3, 2, int(u * lay.title_max_size), int(u * lay.title_min_size))
    small_font = get_font(template.fonts.body, u * lay.meta_size * 1.1)
    small = [FittedText(balance_lines(t, small_font, box_w), small_font, int(small_font.size * 1.35)) for t in lines if t]
    bar_h = max(2, int(u * 0.008))
    total = len(big.lines) * big.line_height + bar_h * 5 + sum(len(s.lines) * s.line_height for s in small)
    y = (h - total) / 2
    y = draw_lines(d, big, mx, y, box_w, template.palette.rgb("text"), "center", shadow=(0, 0, 0))
    bar_w = int(u * 0.12)
    d.rectangle([(w - bar_w) / 2, y + bar_h * 1.5, (w + bar_w) / 2, y + bar_h * 2.5], fill=template.palette.rgb("accent"))
    y += bar_h * 5
    for s in small:
        y = draw_lines(d, s, mx, y, box_w, template.palette.rgb("muted"), "center")
    return img


# --- overlays (RGBA) -----------------------------------------------------------------------

@dataclass(frozen=True)
class Overlay:
    """An RGBA image and where its top-left corner goes on the frame."""

    image: Image.Image
    x: int
    y: int


def caption_pages(text: str, template: Template) -> list[str]:
    """Split one spoken sentence into pages of at most ``caption_max_lines`` lines each, with
    pages of even length and breaks after punctuation where possible."""
    font = get_font(template.fonts.caption, template.unit * template.layout.caption_size)
    max_w = template.width * (1 - 2 * template.layout.margin_x) - _caption_pad(template)[0] * 2
    max_lines = template.layout.caption_max_lines
    if len(wrap_text(text, font, max_w)) <= max_lines:
        return [text]
    words = _tokens(text)
    total = sum(len(t) for t in words)
    n_pages = max(2, math.ceil(len(wrap_text(text, font, max_w)) / max_lines))
    while True:
        pages = _split_even(words, total, n_pages)
        if all(len(wrap_text(p, font, max_w)) <= max_lines for p in pages) or n_pages > len(words):
            return pages
        n_pages += 1


def _split_even(tokens: list[str], total: int, n: int) -> list[str]:
    pages: list[str] = []
    cur: list[str] = []
    done = 0
    for i, tok in enumerate(tokens):
        cur.append(tok)
        done += len(tok)
        remaining_pages = n - len(pages) - 1
        if remaining_pages <= 0 or i == len(tokens) - 1:
            continue
        target = total * (len(pages) + 1) / n
        at_punct = bool(re.search(r"[,;:—–)»”]\s*$", tok))
        slack = total * 0.12 if at_punct else 0
        if done >= target - slack:
            pages.append("".join(cur).strip())
            cur = []
    if cur:
        pages.append("".join(cur).strip())
    return [p for p in pages if p]


def _caption_pad(template: Template) -> tuple[int, int]:
    size = template.unit * template.layout.caption_size
    return int(size * 0.6), int(size * 0.32)


def caption_overlay(text: str, template: Template, direction: str = "ltr") -> Overlay:
    """A caption page: at most two centred lines on a rounded translucent box, placed in the
    lower part of the safe area; readable on any background."""
    lay = template.layout
    font = get_font(template.fonts.caption, template.unit * lay.caption_size)
    pad_x, pad_y = _caption_pad(template)
    max_w = template.width * (1 - 2 * lay.margin_x) - 2 * pad_x
    lines = balance_lines(text, font, max_w)[: lay.caption_max_lines + 1]
    ascent, descent = font.getmetrics()
    lh = int((ascent + descent) * 1.08)
    text_w = max(text_width(line, font) for line in lines)
    bw = int(text_w + 2 * pad_x)
    bh = int(lh * len(lines) + 2 * pad_y)
    img = Image.new("RGBA", (bw, bh), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    box = (*template.palette.rgb("caption_box"), int(255 * lay.caption_box_opacity))
    d.rounded_rectangle([0, 0, bw - 1, bh - 1], radius=int(pad_y * 1.2), fill=box)
    y = pad_y
    for line in lines:
        lw = text_width(line, font)
        d.text(((bw - lw) / 2, y), line, font=font, fill=(*template.palette.rgb("text"), 255))
        y += lh
    x = (template.width - bw) // 2
    y = int(template.height * lay.caption_bottom - bh)
    return Overlay(img, x, y)


def credit_overlay(text: str, template: Template, direction: str = "ltr") -> Overlay:
    """A small photo credit in the bottom corner, under the captions, with a soft shadow."""
    lay = template.layout
    font = get_font(template.fonts.body, template.unit * lay.credit_size)
    tw = int(text_width(text, font)) + 8
    ascent, descent = font.getmetrics()
    th = ascent + descent + 8
    img = Image.new("RGBA", (tw, th), (0, 0, 0, 0))
    shadow = Image.new("RGBA", (tw, th), (0, 0, 0, 0))
    ImageDraw.Draw(shadow).text((4, 4), text, font=font, fill=(0, 0, 0, 220))
    img = Image.alpha_composite(img, shadow.filter(ImageFilter.GaussianBlur(2)))
    ImageDraw.Draw(img).text((4, 4), text, font=font, fill=(*template.palette.rgb("muted"), 255))
    mx, my = int(template.width * lay.margin_x), int(template.height * lay.margin_y * 0.5)
    x = template.width - mx - tw if direction == "ltr" else mx
    return Overlay(img, x, template.height - my - th)


def header_overlay(template: Template, kicker: str | None, title: str, direction: str = "ltr") -> Overlay:
    """A small one-line header shown over scenes: the source in the accent colour, then the
    title cut to fit. Tells a viewer who joins mid-clip what it is about."""
    lay = template.layout
    size = template.unit * lay.credit_size * 1.15
    bold = get_font(template.fonts.title, size)
    body = get_font(template.fonts.body, size)
    max_w = template.width * (1 - 2 * lay.margin_x) * 0.62
    pad_x, pad_y = int(size * 0.5), int(size * 0.3)
    k = (kicker.upper() + "  ") if kicker else ""
    kw = text_width(k, bold)
    t = title
    while t and kw + text_width(t + "…", body) > max_w:
        t = t[:-1]
    t = t.rstrip() + ("…" if t != title else "")
    ascent, descent = body.getmetrics()
    w = int(kw + text_width(t, body) + 2 * pad_x)
    h = int(ascent + descent + 2 * pad_y)
    img = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    d.rounded_rectangle([0, 0, w - 1, h - 1], radius=pad_y, fill=(*template.palette.rgb("caption_box"), int(255 * 0.55)))
    if k:
        d.text((pad_x, pad_y), k, font=bold, fill=(*template.palette.rgb("accent"), 255))
    d.text((pad_x + kw, pad_y), t, font=body, fill=(*template.palette.rgb("text"), 235))
    mx, my = int(template.width * lay.margin_x), int(template.height * lay.margin_y * 0.6)
    x = mx if direction == "ltr" else template.width - mx - w
    return Overlay(img, x, my)
