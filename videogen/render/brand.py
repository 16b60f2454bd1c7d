"""Brand kits: what a template's brand folder brings (logo bug, font files, stings), checked before
anything is drawn, and the logo drawn once as an overlay.

The logo goes in a corner of the safe area (the layout's margins, plus the logo's own
``margin``), ``size`` times the canvas's short side high; in a bottom corner it stays above
the highest caption box. A check names every problem at once (``brand_problems``); a render
refuses a brand with problems before drawing, with the same messages."""

from __future__ import annotations

import importlib
import io
import math
import string
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageFont, UnidentifiedImageError

from videogen.render import i18n
from videogen.render.cards import Overlay, caption_area_top
from videogen.render.fonts import charset, font_files, font_path, ignorable
from videogen.render.stings import sting_problems
from videogen.render.templates import FONT_SUFFIXES, Template

#: Characters every font of a brand must have (it falls back to Noto for other scripts).
LATIN_SAMPLE = string.ascii_letters + string.digits
#: Space kept between a bottom-corner logo and the captions, as a fraction of the short side.
CAPTION_GAP = 0.015


@dataclass
class BrandReport:
    """What a check found (one line per finding) and every problem, each naming its key."""

    found: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def read_logo(path: Path, height: int | None = None) -> Image.Image:
    """The logo as RGBA, ``height`` pixels high when given (PNG, or any raster Pillow reads;
    SVG when the optional ``cairosvg`` package is installed). Raises ValueError naming what
    is wrong."""
    if not path.is_file():
        raise ValueError(f"{path.name} does not exist")
    if path.suffix.lower() == ".svg":
        try:
            cairosvg = importlib.import_module("cairosvg")
        except (ImportError, OSError):
            raise ValueError(f"{path.name}: SVG logos need the optional cairosvg package and the system cairo "
                             "library (pip install cairosvg); use a PNG with transparency") from None
        try:
            data = cairosvg.svg2png(url=str(path), output_height=height * 2 if height else None)
        except Exception as e:  # noqa: BLE001 - any failure of the SVG library is a bad file
            raise ValueError(f"{path.name} is not a readable SVG: {e}") from None
        src = io.BytesIO(data)
    else:
        src = io.BytesIO(path.read_bytes())
    try:
        with Image.open(src) as img:
            img.load()
            logo = img.convert("RGBA")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        detail = str(e).split(" <_io.")[0]  # Pillow names the buffer it read: not the user's business
        raise ValueError(f"{path.name} is not a readable image: {detail}") from None
    if logo.width < 1 or logo.height < 1:
        raise ValueError(f"{path.name} is empty")
    if height:
        width = max(1, round(logo.width * height / logo.height))
        logo = logo.resize((width, height), Image.Resampling.LANCZOS)
    return logo


def logo_box(template: Template, logo_w: int, logo_h: int) -> tuple[int, int, int, int]:
    """(x, y, w, h) of a logo of ``logo_w`` × ``logo_h`` (its file's pixels) on the frame, drawn
    ``size`` × the short side high. Raises ValueError when it does not fit the safe area (or
    the room above the captions for a bottom corner)."""
    assert template.logo is not None
    spec, lay = template.logo, template.layout
    h = max(2, round(spec.size * template.unit))
    w = max(2, round(logo_w * h / logo_h))
    inset = spec.margin * template.unit
    left, top = template.width * lay.margin_x + inset, template.height * lay.margin_y + inset
    right, bottom = template.width - left, template.height - top
    captions = caption_area_top(template)
    if spec.position.startswith("bottom") and captions is not None:
        bottom = min(bottom, captions - CAPTION_GAP * template.unit)
    if w > right - left or h > bottom - top:
        room = f"{int(right - left)}×{int(bottom - top)}"
        raise ValueError(f"logo.size: the logo drawn {w}×{h} px on the {template.width}×{template.height} canvas is "
                         f"larger than the room in the safe area ({room} px): make size smaller or the logo less wide")
    x = math.ceil(left) if spec.position.endswith("left") else math.floor(right - w)
    y = math.ceil(top) if spec.position.startswith("top") else math.floor(bottom - h)
    return x, y, w, h


def logo_overlay(template: Template) -> Overlay:
    """The logo, scaled, its opacity applied, placed on the frame: drawn once per clip."""
    assert template.logo is not None
    source = read_logo(template.logo.path)
    x, y, w, h = logo_box(template, source.width, source.height)
    img = source.resize((w, h), Image.Resampling.LANCZOS) if (w, h) != source.size else source
    if template.logo.opacity < 1:
        alpha = img.getchannel("A").point(lambda a: round(a * template.logo.opacity) if template.logo else a)
        img.putalpha(alpha)
    return Overlay(img, x, y)


def _font_findings(template: Template, lang: str | None, report: BrandReport) -> None:
    roles = {"title": template.fonts.title, "body": template.fonts.body, "caption": template.fonts.caption}
    sample = i18n.text("read_more", lang, site="example.org") + i18n.text("thanks", lang) if lang else ""
    for role, name in roles.items():
        shown = Path(name).name if Path(name).is_absolute() else name
        key = f"fonts.{role}"
        if Path(name).is_absolute() and Path(name).suffix.lower() not in FONT_SUFFIXES:
            report.problems.append(f"{key}: {shown} is not a font file (.ttf or .otf)")
            continue
        path = font_path(name)
        if path is None:
            report.problems.append(f"{key}: {shown} does not exist" if Path(name).is_absolute()
                                   else f"{key}: unknown font {shown!r} (shipped: {', '.join(font_files())})")
            continue
        try:
            ImageFont.truetype(str(path), size=12)
            have = charset(name)
        except Exception as e:  # noqa: BLE001 - FreeType and the cmap reader fail in many ways on a bad file
            report.problems.append(f"{key}: {shown} is not a readable font: {str(e).removeprefix('template: ')}")
            continue
        lacking = sorted({c for c in LATIN_SAMPLE if ord(c) not in have})
        if lacking:
            report.problems.append(f"{key}: {shown} lacks Latin characters: {''.join(lacking)}")
            continue
        note = f"{key}: {shown} ({'brand font' if name not in font_files() else 'shipped'}, {len(have)} characters)"
        fallback = sorted({c for c in sample if not ignorable(c) and ord(c) not in have})
        if fallback:
            note += f"; for {lang} it falls back to Noto for {''.join(fallback)}"
        report.found.append(note)


def _logo_findings(template: Template, report: BrandReport) -> None:
    spec = template.logo
    if spec is None:
        report.found.append("logo: none")
        return
    try:
        source = read_logo(spec.path)
    except ValueError as e:
        report.problems.append(f"logo.path: {e}")
        return
    try:
        x, y, w, h = logo_box(template, source.width, source.height)
    except ValueError as e:
        report.problems.append(str(e))
        return
    lowest = source.getchannel("A").getextrema()[0]
    transparent = "with transparency" if isinstance(lowest, (int, float)) and lowest < 255 else "opaque (no transparency)"
    until = "the end" if spec.until == "end" else "the outro card"
    report.found.append(f"logo: {spec.path.name} {source.width}×{source.height} {transparent}, drawn {w}×{h} px at "
                        f"({x}, {y}) {spec.position} of {template.width}×{template.height}, opacity {spec.opacity}, "
                        f"from {spec.start:g} s to {until}")


def brand_problems(template: Template, lang: str | None = None) -> BrandReport:
    """Check a loaded template's brand: its fonts (readable, with Latin letters; what falls back
    to Noto in ``lang``), its logo (readable, fits the safe area) and its stings (a still or a
    video with sound, at most ``MAX_STING_SECONDS``)."""
    report = BrandReport()
    report.found.append(f"template: {template.name} {template.width}×{template.height} {template.fps:g} fps"
                        + (f" — {template.description}" if template.description else ""))
    p = template.palette
    report.found.append(f"palette: background {p.background[0]}→{p.background[1]}, accent {p.accent}, text {p.text}, "
                        f"muted {p.muted}, caption box {p.caption_box}, {len(p.shapes)} shape colours")
    _font_findings(template, lang, report)
    _logo_findings(template, report)
    found, problems = sting_problems(template)
    report.found += found
    report.problems += problems
    return report


def check_brand(template: Template) -> None:
    """Raise InvalidInput naming every problem of the template's brand (a render's first step)."""
    from videogen.errors import InvalidInput

    problems = brand_problems(template).problems
    if problems:
        raise InvalidInput("template", f"{template.name}: " + "; ".join(problems))
