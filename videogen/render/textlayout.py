"""Text layout with Pillow: fonts with their fallbacks for a text, wrapping and balancing lines
by rendered width, fitting a text into a box, cutting it with an ellipsis, and drawing lines
run by run in bidi visual order. Linguistic text processing (where lines may break, bidi
runs) is in ``render/text/``; this module measures and draws."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import TypedDict

from PIL import ImageDraw

from videogen.errors import RenderError
from videogen.render.fonts import (
    HAS_RAQM,
    FontStack,
    font_stack,
    infer_language,
    needs_complex_layout,
)
from videogen.render.text import linebreak
from videogen.render.text.bidi import visual_runs


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


def cut_to_width(text: str, stack: FontStack, max_width: float, suffix: str = "…") -> str:
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
        lines[-1] = cut_to_width(lines[-1], stack, max_width) + "…"
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


class _LayoutArgs(TypedDict, total=False):
    direction: str
    language: str


def _layout_args(direction: str, stack: FontStack) -> _LayoutArgs:
    """Direction and language for raqm (Pillow's basic layout takes neither)."""
    if not HAS_RAQM:
        return {}
    args: _LayoutArgs = {"direction": direction}
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


_PAGE_BREAK_AFTER = re.compile(r"[,;:—–)»”，、；：，」』）،؛]\s*$")


def split_even(tokens: list[str], widths: list[float], n: int) -> list[str]:
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
