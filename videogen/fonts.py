"""Fonts shipped with videogen (permissively licensed, in ``videogen/fonts/``): rendering never
depends on the fonts installed on the machine."""

from __future__ import annotations

import functools
from pathlib import Path

from PIL import ImageFont, features

from .errors import InvalidInput

FONTS_DIR = Path(__file__).resolve().parent / "fonts"
HAS_RAQM = features.check("raqm")


def font_files() -> dict[str, Path]:
    """Font name (file stem, e.g. ``NotoSans-Bold``) → file."""
    return {p.stem: p for p in sorted(FONTS_DIR.iterdir()) if p.suffix.lower() in (".ttf", ".otf", ".ttc")}


@functools.lru_cache(maxsize=256)
def get_font(name: str, size: int) -> ImageFont.FreeTypeFont:
    files = font_files()
    if name not in files:
        raise InvalidInput("template", f"unknown font {name!r} (shipped: {', '.join(files)})")
    layout = ImageFont.Layout.RAQM if HAS_RAQM else ImageFont.Layout.BASIC
    return ImageFont.truetype(str(files[name]), size=max(1, int(size)), layout_engine=layout)
