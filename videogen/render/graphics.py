"""Pillow graphics, rendered once per clip: cards, captions, credits, generated backgrounds and
photos prepared for Ken Burns. Pure functions: inputs in, ``PIL.Image`` out."""

from __future__ import annotations

import math
import random
import re
import unicodedata
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from videogen.errors import RenderError
from videogen.render.fonts import (
    HAS_RAQM,
    FontStack,
    font_stack,
    infer_language,
    needs_complex_layout,
)
from videogen.render.templates import Template, hex_to_rgb
from videogen.render.text import linebreak
from videogen.render.text.bidi import visual_runs

RGB = tuple[int, int, int]


# --- text layout -------------------------------------------------------------------------

def stack_for(font_name: str, size: float, text: str, language: str | None = None) -> FontStack:
    """The template font ``font_name`` at ``size`` with its fallbacks, for ``text`` in
    ``language`` (guessed from the text's script when not given, to pick among CJK fonts)."""
    return font_stack(font_name, max(1, int(size)), language or infer_language(text))


def text_width(text: str, stack: FontStack, direction: str | None = None) -> float:
    return stack.getlength(text, direction)


def wrap_text(text: str, stack: FontStack, max_width: float) -> list[str]:
    """Greedy wrap by rendered width, breaking where the script allows (spaces; between CJK
    characters but not before closing punctuation); a word wider than the line is cut."""
    return linebreak.wrap(text, stack.getlength, max_width)


def balance_lines(text: str, stack: FontStack, max_width: float) -> list[str]:
    """Wrap into as few lines as greedy wrapping needs, but with lengths evened out
    (no long first line followed by a lone last word)."""
    lines = wrap_text(text, stack, max_width)
    if len(lines) < 2:
        return lines
    lo, hi = max_width * 0.5, max_width
    best = lines
    for _ in range(12):
        mid = (lo + hi) / 2
        trial = wrap_text(text, stack, mid)
        if len(trial) <= len(lines):
            best, hi = trial, mid
        else:
            lo = mid
    return best


@dataclass(frozen=True)
class FittedText:
    lines: list[str]
    stack: FontStack
    line_height: int

    @property
    def size(self) -> int:
        return self.stack.size


def _cut_to_width(text: str, stack: FontStack, max_width: float, suffix: str = "…") -> str:
    """``text`` shortened by whole graphemes until it fits with ``suffix``."""
    starts = linebreak.grapheme_starts(text)
    k = len(starts)
    while k > 0 and stack.getlength(text[: starts[k - 1]].rstrip() + suffix) > max_width:
        k -= 1
    return text[: starts[k - 1]].rstrip() if k > 0 else ""


def fit_text(text: str, font_name: str, max_width: float, max_height: float, max_lines: int,
             max_size: int, min_size: int, line_spacing: float = 1.18, language: str | None = None) -> FittedText:
    """The largest font size in [min_size, max_size] at which ``text`` fits the box in at most
    ``max_lines`` lines. At the minimum size, extra lines are cut with an ellipsis."""
    size = max_size
    while True:
        stack = stack_for(font_name, size, text, language)
        lines = balance_lines(text, stack, max_width)
        lh = line_height(stack, text, line_spacing)
        if (len(lines) <= max_lines and lh * len(lines) <= max_height) or size <= min_size:
            break
        size = max(min_size, int(size * 0.94))
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = _cut_to_width(lines[-1], stack, max_width) + "…"
    return FittedText(lines, stack, lh)


def line_height(stack: FontStack, text: str, line_spacing: float = 1.18) -> int:
    """Distance between baselines: ``line_spacing`` times the size, more for scripts whose
    glyphs reach far above and below (Devanagari, Arabic, CJK fonts' taller metrics)."""
    ascent, descent = stack.metrics(text)
    primary_a, primary_d = stack.metrics()
    extra = max(0, (ascent + descent) - (primary_a + primary_d))
    return int(round(stack.size * line_spacing + extra * 0.8))


def _check_layout(text: str) -> None:
    if not HAS_RAQM and needs_complex_layout(text):
        raise RenderError(
            "this text needs complex shaping (Arabic, Hebrew, Indic) but Pillow was built without "
            "raqm: reinstall Pillow from its wheel (`pip install --force-reinstall pillow`)"
        )


def draw_text(draw: ImageDraw.ImageDraw, x: float, baseline: float, text: str, stack: FontStack,
              fill: tuple[int, ...], direction: str = "ltr") -> float:
    """Draw one line whose left edge is ``x``, on ``baseline``, each run of characters in the
    font that has them, runs in bidi visual order; returns the width drawn."""
    _check_layout(text)
    runs = stack.runs(text)
    if len(runs) == 1 and not (direction == "ltr" and needs_complex_layout(text) and _has_rtl(text)):
        font = stack.font(runs[0][1])
        draw.text((x, baseline), text, font=font, fill=fill, anchor="ls", **_layout_args(direction, stack))
        return stack.getlength(text, direction)
    keys = [i for t, i in runs for _ in t]
    start = x
    for piece, idx, rtl in visual_runs(text, keys, rtl=direction == "rtl"):
        d = "rtl" if rtl else "ltr"
        draw.text((x, baseline), piece, font=stack.font(idx), fill=fill, anchor="ls", **_layout_args(d, stack))
        x += stack.run_length(piece, idx, d)
    return x - start


def _has_rtl(text: str) -> bool:
    return any(unicodedata.bidirectional(ch) in ("R", "AL") for ch in text)


def _layout_args(direction: str, stack: FontStack) -> dict[str, str]:
    if not HAS_RAQM:
        return {}
    args = {"direction": direction}
    if stack.language:
        args["language"] = stack.language
    return args


def draw_lines(draw: ImageDraw.ImageDraw, fitted: FittedText, x: float, y: float, width: float,
               fill: tuple[int, ...], align: str = "left", shadow: tuple[int, ...] | None = None,
               direction: str = "ltr") -> float:
    """Draw fitted lines in a box starting at (x, y); returns the y below the last line."""
    ascent, descent = fitted.stack.metrics()
    for line in fitted.lines:
        w = text_width(line, fitted.stack, direction)
        lx = x + (width - w) / 2 if align == "center" else (x + width - w if align == "right" else x)
        if shadow is not None:
            off = max(1, fitted.size // 22)
            draw_text(draw, lx + off, y + ascent + off, line, fitted.stack, shadow, direction)
        draw_text(draw, lx, y + ascent, line, fitted.stack, fill, direction)
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

def kept_fraction(src_size: tuple[int, int], dst_size: tuple[int, int]) -> float:
    """Share of the source image left after a cover crop to the destination aspect."""
    sa = src_size[0] / src_size[1]
    da = dst_size[0] / dst_size[1]
    return min(sa / da, da / sa)


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
    back = back.point(lambda v: int(v * 0.55))  # darkened (a lookup table: no float copy)
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
    back = back.filter(ImageFilter.GaussianBlur(max(w, h) / 300))
    # Tinted at the small size (the resize is linear), then enlarged: no full-size float copy.
    tint = np.asarray(hex_to_rgb(template.palette.background[0]), np.float32)
    small = np.asarray(back, np.float32) * 0.35 + tint * 0.45
    big = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    return Image.fromarray(_dither(big, seed))


@dataclass(frozen=True)
class TitleCardText:
    title: str
    kicker: str | None = None  # the source name, above the title
    meta: str | None = None  # the date, below the title
    direction: str = "ltr"
    language: str | None = None  # BCP 47; guessed from the title's script when missing


def title_card(template: Template, text: TitleCardText, seed: int = 0, photo: Image.Image | None = None) -> Image.Image:
    """The opening card: source name, accent bar, the title auto-fitted, the date. Right to
    left titles are right-aligned, with the darkened side on the right."""
    w, h = template.size
    lay = template.layout
    u = template.unit
    rtl = text.direction == "rtl"
    lang = text.language or infer_language(text.title)
    img = _card_background(template, seed, photo)
    # Darken the text side for legibility on any background.
    shade = np.linspace(0.0, 0.55, w, dtype=np.float32) if rtl else np.linspace(0.55, 0.0, w, dtype=np.float32)
    darkness = np.broadcast_to(np.rint(shade * 0.6 * 255).astype(np.uint8), (h, w))
    img = Image.composite(Image.new("RGB", (w, h)), img, Image.fromarray(np.ascontiguousarray(darkness)))
    d = ImageDraw.Draw(img)
    mx, my = int(w * lay.margin_x), int(h * lay.margin_y)
    box_w = w - 2 * mx
    text_rgb = template.palette.rgb("text")
    muted = template.palette.rgb("muted")
    accent = template.palette.rgb("accent")
    kicker = text.kicker.upper() if text.kicker else None
    meta_stack = stack_for(template.fonts.body, u * lay.meta_size, text.meta or "", lang)
    kicker_stack = stack_for(template.fonts.title, u * lay.meta_size, kicker or "", lang)
    bar_h = max(2, int(u * 0.008))
    top_block = (kicker_stack.size * 1.6 if kicker else 0) + bar_h * 4
    bottom_block = meta_stack.size * 2.0 if text.meta else 0
    avail_h = h - 2 * my - top_block - bottom_block
    fitted = fit_text(text.title, template.fonts.title, box_w, avail_h, lay.title_max_lines,
                      int(u * lay.title_max_size), int(u * lay.title_min_size), language=lang)
    block_h = top_block + len(fitted.lines) * fitted.line_height + bottom_block
    y = max(my, (h - block_h) / 2)
    align = "right" if rtl else lay.title_align
    if kicker:
        kicker_fit = FittedText([kicker], kicker_stack, kicker_stack.size)
        draw_lines(d, kicker_fit, mx, y, box_w, accent, align, direction=text.direction)
        y += kicker_stack.size * 1.6
    bar_w = int(u * 0.12)
    bx = mx if align == "left" else (w - mx - bar_w if align == "right" else (w - bar_w) / 2)
    d.rectangle([bx, y, bx + bar_w, y + bar_h], fill=accent)
    y += bar_h * 4
    y = draw_lines(d, fitted, mx, y, box_w, text_rgb, align, shadow=(0, 0, 0), direction=text.direction)
    if text.meta:
        y += meta_stack.size * 0.6
        draw_lines(d, FittedText([text.meta], meta_stack, meta_stack.size), mx, y, box_w, muted, align,
                   direction=text.direction)
    return img


def outro_card(template: Template, headline: str, lines: list[str], seed: int = 0, direction: str = "ltr",
               language: str | None = None) -> Image.Image:
    """The closing card: the source's name large, then a few short lines (where to read more)."""
    w, h = template.size
    lay = template.layout
    u = template.unit
    lang = language or infer_language(" ".join([headline, *lines]))
    img = generated_background(template, seed, (w, h))
    d = ImageDraw.Draw(img)
    mx = int(w * lay.margin_x)
    box_w = w - 2 * mx
    big = fit_text(headline, template.fonts.title, box_w, h * 0.3, 2, int(u * lay.title_max_size),
                   int(u * lay.title_min_size), language=lang)
    small = []
    for t in lines:
        if t:
            st = stack_for(template.fonts.body, u * lay.meta_size * 1.1, t, lang)
            small.append(FittedText(balance_lines(t, st, box_w), st, line_height(st, t, 1.35)))
    bar_h = max(2, int(u * 0.008))
    total = len(big.lines) * big.line_height + bar_h * 5 + sum(len(s.lines) * s.line_height for s in small)
    y = (h - total) / 2
    y = draw_lines(d, big, mx, y, box_w, template.palette.rgb("text"), "center", shadow=(0, 0, 0), direction=direction)
    bar_w = int(u * 0.12)
    d.rectangle([(w - bar_w) / 2, y + bar_h * 1.5, (w + bar_w) / 2, y + bar_h * 2.5], fill=template.palette.rgb("accent"))
    y += bar_h * 5
    for s in small:
        y = draw_lines(d, s, mx, y, box_w, template.palette.rgb("muted"), "center", direction=direction)
    return img


# --- overlays (RGBA) -----------------------------------------------------------------------

@dataclass(frozen=True)
class Overlay:
    """An RGBA image and where its top-left corner goes on the frame."""

    image: Image.Image
    x: int
    y: int


def _caption_stack(text: str, template: Template, language: str | None) -> FontStack:
    return stack_for(template.fonts.caption, template.unit * template.layout.caption_size, text, language)


def _caption_max_width(template: Template) -> float:
    return template.width * (1 - 2 * template.layout.margin_x) - _caption_pad(template)[0] * 2


def caption_pages(text: str, template: Template, language: str | None = None) -> list[str]:
    """Split one spoken sentence into pages of at most ``caption_max_lines`` lines each, with
    pages of even display width and breaks after punctuation where possible. Scripts without
    spaces (Chinese, Japanese) split between characters, never before closing punctuation."""
    stack = _caption_stack(text, template, language)
    max_w = _caption_max_width(template)
    max_lines = template.layout.caption_max_lines
    n_lines = len(wrap_text(text, stack, max_w))
    if n_lines <= max_lines:
        return [text]
    words = linebreak.tokens(" ".join(text.split()))
    widths = [stack.getlength(t) for t in words]
    n_pages = max(2, math.ceil(n_lines / max_lines))
    while True:
        pages = _split_even(words, widths, n_pages)
        if all(len(wrap_text(p, stack, max_w)) <= max_lines for p in pages) or n_pages > len(words):
            return pages
        n_pages += 1


_PAGE_BREAK_AFTER = re.compile(r"[,;:—–)»”，、；：，」』）،؛]\s*$")


def _split_even(tokens: list[str], widths: list[float], n: int) -> list[str]:
    """Group tokens into ``n`` pages of about equal display width, preferring to end a page
    after punctuation."""
    total = sum(widths)
    pages: list[str] = []
    cur: list[str] = []
    done = 0.0
    for i, (tok, tw) in enumerate(zip(tokens, widths, strict=True)):
        cur.append(tok)
        done += tw
        remaining_pages = n - len(pages) - 1
        if remaining_pages <= 0 or i == len(tokens) - 1:
            continue
        target = total * (len(pages) + 1) / n
        slack = total * 0.12 if _PAGE_BREAK_AFTER.search(tok) else 0
        if done >= target - slack:
            pages.append("".join(cur).strip())
            cur = []
    if cur:
        pages.append("".join(cur).strip())
    return [p for p in pages if p]


def _caption_pad(template: Template) -> tuple[int, int]:
    size = template.unit * template.layout.caption_size
    return int(size * 0.6), int(size * 0.32)


def caption_overlay(text: str, template: Template, direction: str = "ltr", language: str | None = None) -> Overlay:
    """A caption page: at most two lines on a rounded translucent box, placed in the lower
    part of the safe area; readable on any background. Lines are centred, right-aligned in
    right-to-left languages."""
    lay = template.layout
    stack = _caption_stack(text, template, language)
    pad_x, pad_y = _caption_pad(template)
    max_w = _caption_max_width(template)
    lines = balance_lines(text, stack, max_w)[: lay.caption_max_lines + 1]
    ascent, descent = stack.metrics(text)
    lh = int((ascent + descent) * 1.08)
    text_w = max(text_width(line, stack, direction) for line in lines)
    bw = int(text_w + 2 * pad_x)
    bh = int(lh * len(lines) + 2 * pad_y)
    img = Image.new("RGBA", (bw, bh), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    box = (*template.palette.rgb("caption_box"), int(255 * lay.caption_box_opacity))
    d.rounded_rectangle([0, 0, bw - 1, bh - 1], radius=int(pad_y * 1.2), fill=box)
    y = pad_y
    for line in lines:
        lw = text_width(line, stack, direction)
        lx = bw - pad_x - lw if direction == "rtl" else (bw - lw) / 2
        draw_text(d, lx, y + ascent, line, stack, (*template.palette.rgb("text"), 255), direction)
        y += lh
    x = (template.width - bw) // 2
    y = int(template.height * lay.caption_bottom - bh)
    return Overlay(img, x, y)


def credit_overlay(text: str, template: Template, direction: str = "ltr", language: str | None = None) -> Overlay:
    """A small photo credit in the bottom corner (left in right-to-left languages), under the
    captions, with a soft shadow."""
    lay = template.layout
    stack = stack_for(template.fonts.body, template.unit * lay.credit_size, text, language)
    tw = int(text_width(text, stack, direction)) + 8
    ascent, descent = stack.metrics(text)
    th = ascent + descent + 8
    img = Image.new("RGBA", (tw, th), (0, 0, 0, 0))
    shadow = Image.new("RGBA", (tw, th), (0, 0, 0, 0))
    draw_text(ImageDraw.Draw(shadow), 4, 4 + ascent, text, stack, (0, 0, 0, 220), direction)
    img = Image.alpha_composite(img, shadow.filter(ImageFilter.GaussianBlur(2)))
    draw_text(ImageDraw.Draw(img), 4, 4 + ascent, text, stack, (*template.palette.rgb("muted"), 255), direction)
    mx, my = int(template.width * lay.margin_x), int(template.height * lay.margin_y * 0.5)
    x = template.width - mx - tw if direction == "ltr" else mx
    return Overlay(img, x, template.height - my - th)


def header_overlay(template: Template, kicker: str | None, title: str, direction: str = "ltr",
                   language: str | None = None) -> Overlay:
    """A small one-line header shown over scenes: the source in the accent colour, then the
    title cut to fit (mirrored in right-to-left languages). Tells a viewer who joins mid-clip
    what it is about."""
    lay = template.layout
    size = template.unit * lay.credit_size * 1.15
    lang = language or infer_language(title)
    k = kicker.upper() if kicker else ""
    bold = stack_for(template.fonts.title, size, k, lang)
    body = stack_for(template.fonts.body, size, title, lang)
    max_w = template.width * (1 - 2 * lay.margin_x) * 0.62
    pad_x, pad_y = int(size * 0.5), int(size * 0.3)
    gap = bold.getlength("  ") if k else 0.0
    kw = (text_width(k, bold, direction) + gap) if k else 0.0
    t = title
    if kw + text_width(t, body, direction) > max_w:
        t = _cut_to_width(title, body, max_w - kw) + "…"
    ascent, descent = body.metrics(title + k)
    tw = text_width(t, body, direction)
    w = int(kw + tw + 2 * pad_x)
    h = int(ascent + descent + 2 * pad_y)
    img = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    d.rounded_rectangle([0, 0, w - 1, h - 1], radius=pad_y, fill=(*template.palette.rgb("caption_box"), int(255 * 0.55)))
    accent, text_rgb = (*template.palette.rgb("accent"), 255), (*template.palette.rgb("text"), 235)
    if direction == "rtl":
        if k:
            draw_text(d, w - pad_x - (kw - gap), pad_y + ascent, k, bold, accent, direction)
        draw_text(d, w - pad_x - kw - tw, pad_y + ascent, t, body, text_rgb, direction)
    else:
        if k:
            draw_text(d, pad_x, pad_y + ascent, k, bold, accent, direction)
        draw_text(d, pad_x + kw, pad_y + ascent, t, body, text_rgb, direction)
    mx, my = int(template.width * lay.margin_x), int(template.height * lay.margin_y * 0.6)
    x = mx if direction == "ltr" else template.width - mx - w
    return Overlay(img, x, my)
