"""Cards and overlays, drawn once per clip with Pillow: the title and outro cards (frame-sized
RGB images) and the RGBA overlays drawn over scenes (caption pages, photo credits, the
header), each an ``Overlay`` placed on the frame. Also how a sentence is split into caption
pages, which depends on the caption box drawn here."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from videogen.render.backdrops import card_background, generated_background
from videogen.render.fonts import FontStack, infer_language
from videogen.render.templates import Template
from videogen.render.text import linebreak
from videogen.render.textlayout import (
    FittedText,
    balance_lines,
    cut_to_width,
    draw_lines,
    draw_text,
    fit_text,
    line_height,
    split_even,
    stack_for,
    text_width,
    wrap_text,
)


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
    img = card_background(template, seed, photo)
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
        pages = split_even(words, widths, n_pages)
        if all(len(wrap_text(p, stack, max_w)) <= max_lines for p in pages) or n_pages > len(words):
            return pages
        n_pages += 1


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


def caption_fits(template: Template, language: str | None = None) -> Callable[[str], bool]:
    """Whether a text fits on one caption line (the ``words`` caption style)."""
    max_w = _caption_max_width(template)

    def fits(text: str) -> bool:
        return _caption_stack(text, template, language).getlength(text) <= max_w

    return fits


@dataclass(frozen=True)
class _WordLine:
    """A ``words`` caption line drawn once in the text colour and once in the accent colour."""

    plain: Image.Image
    accent: Image.Image
    stack: FontStack
    lx: float  # where the line starts in the box
    lw: float  # its width


_last_word_line: list[tuple[tuple[object, ...], _WordLine]] = []


def _word_line(text: str, template: Template, direction: str, language: str | None) -> _WordLine:
    """The two drawings of a group's line; the last one is kept, as a group's states are made
    one after the other."""
    pal = template.palette
    key = (text, direction, language, template.size, template.fonts.caption, template.layout, pal.text, pal.accent,
           pal.caption_box)
    if _last_word_line and _last_word_line[0][0] == key:
        return _last_word_line[0][1]
    lay = template.layout
    stack = _caption_stack(text, template, language)
    max_w = _caption_max_width(template)
    if stack.getlength(text) > max_w:  # one word wider than the line (a script without spaces)
        size = template.unit * lay.caption_size * max_w / stack.getlength(text)
        stack = stack_for(template.fonts.caption, size, text, language)
    pad_x, pad_y = _caption_pad(template)
    ascent, descent = stack.metrics(text)
    lh = int((ascent + descent) * 1.08)
    lw = text_width(text, stack, direction)
    bw, bh = int(lw + 2 * pad_x), int(lh + 2 * pad_y)
    lx = bw - pad_x - lw if direction == "rtl" else (bw - lw) / 2
    box = (*template.palette.rgb("caption_box"), int(255 * lay.caption_box_opacity))
    drawn = []
    for colour in ("text", "accent"):
        img = Image.new("RGBA", (bw, bh), (0, 0, 0, 0))
        d = ImageDraw.Draw(img)
        d.rounded_rectangle([0, 0, bw - 1, bh - 1], radius=int(pad_y * 1.2), fill=box)
        draw_text(d, lx, pad_y + ascent, text, stack, (*template.palette.rgb(colour), 255), direction)
        drawn.append(img)
    line = _WordLine(drawn[0], drawn[1], stack, lx, lw)
    _last_word_line[:] = [(key, line)]
    return line


def word_caption_overlay(text: str, words: tuple[tuple[int, int], ...], highlight: int, template: Template,
                         direction: str = "ltr", language: str | None = None) -> Overlay:
    """One state of a ``words`` caption: ``text`` (a few words) on one line in a box like a
    caption page's, the word ``text[a:b]`` of ``words[highlight]`` in the accent colour. The
    line is drawn whole twice (text and accent colours, so shaping and bidi order are those of
    the whole line) and the highlighted word's columns are taken from the accent drawing. A
    text wider than the caption line (a single long word) is drawn smaller to fit."""
    line = _word_line(text, template, direction, language)
    img = line.plain.copy()
    bw, bh = img.size
    if 0 <= highlight < len(words):
        a, b = words[highlight]
        stack, lx, lw = line.stack, line.lx, line.lw
        before, through = stack.getlength(text[:a].rstrip(), direction), stack.getlength(text[:b], direction)
        if a and text[a - 1].isspace():
            before = stack.getlength(text[:a], direction)
        x0, x1 = (lx + lw - through, lx + lw - before) if direction == "rtl" else (lx + before, lx + through)
        left, right = max(0, int(math.floor(x0)) - 1), min(bw, int(math.ceil(x1)) + 1)
        if right > left:
            img.paste(line.accent.crop((left, 0, right, bh)), (left, 0))
    x = (template.width - bw) // 2
    y = int(template.height * template.layout.caption_bottom - bh)
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
        t = cut_to_width(title, body, max_w - kw) + "…"
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


def caption_area_top(template: Template) -> int | None:
    """The highest row a caption box reaches (its top when it has the most lines), or None
    when the template burns in no captions: what a logo in a bottom corner must stay above."""
    lay = template.layout
    if lay.caption_style == "none":
        return None
    sample = "HÉgjpqy"
    stack = _caption_stack(sample, template, None)
    _, pad_y = _caption_pad(template)
    ascent, descent = stack.metrics(sample)
    lines = 1 if lay.caption_style == "words" else lay.caption_max_lines
    return int(template.height * lay.caption_bottom - (int((ascent + descent) * 1.08) * lines + 2 * pad_y))
