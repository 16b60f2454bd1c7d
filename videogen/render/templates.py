"""Video templates: declarative TOML files in ``templates/`` (canvas, palette, fonts, layout,
timing, motion, framing, audio, encoding). A newsroom restyles its clips by editing one, not code."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from videogen.errors import InvalidInput, UnknownTemplate

_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")
#: What a template name looks like (a file stem in the templates folder, never a path).
TEMPLATE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,40}$")


def hex_to_rgb(value: str) -> tuple[int, int, int]:
    return (int(value[1:3], 16), int(value[3:5], 16), int(value[5:7], 16))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_colour(v: str) -> str:
    if not _HEX.match(v):
        raise ValueError(f"{v!r} is not a #rrggbb colour")
    return v


class Palette(_Strict):
    background: tuple[str, str]
    accent: str
    text: str
    muted: str
    shapes: list[str] = Field(min_length=1)
    caption_box: str = "#000000"

    @field_validator("accent", "text", "muted", "caption_box")
    @classmethod
    def _c(cls, v: str) -> str:
        return _check_colour(v)

    @field_validator("background", "shapes")
    @classmethod
    def _cs(cls, v: list[str]) -> list[str]:
        for c in v:
            _check_colour(c)
        return v

    def rgb(self, name: str) -> tuple[int, int, int]:
        return hex_to_rgb(getattr(self, name))


class Fonts(_Strict):
    title: str = "NotoSans-Bold"
    body: str = "NotoSans-Regular"
    caption: str = "NotoSans-Bold"


class Layout(_Strict):
    margin_x: float = Field(0.075, ge=0, lt=0.4)
    margin_y: float = Field(0.085, ge=0, lt=0.4)
    title_max_size: float = Field(0.09, gt=0, le=0.3)
    title_min_size: float = Field(0.05, gt=0, le=0.3)
    title_max_lines: int = Field(4, ge=1, le=12)
    title_align: Literal["left", "center"] = "left"
    caption_size: float = Field(0.05, gt=0, le=0.2)
    caption_max_lines: int = Field(2, ge=1, le=4)
    caption_box_opacity: float = Field(0.65, ge=0, le=1)
    caption_bottom: float = Field(0.9, gt=0.3, le=1)
    #: "sentence": pages of a sentence, up to ``caption_max_lines`` lines; "words": groups of
    #: at most ``caption_words`` words on one line, the word being said in the accent colour;
    #: "none": no burned-in captions (captions.vtt and captions.srt are written all the same).
    caption_style: Literal["sentence", "words", "none"] = "sentence"
    caption_words: int = Field(3, ge=1, le=8)
    meta_size: float = Field(0.034, gt=0, le=0.2)
    credit_size: float = Field(0.024, gt=0, le=0.2)

    @model_validator(mode="after")
    def _sizes(self) -> Layout:
        if self.title_min_size > self.title_max_size:
            raise ValueError("title_min_size is larger than title_max_size")
        return self


class Timing(_Strict):
    lead_in: float = Field(0.5, ge=0, le=5)
    title_hold: float = Field(0.7, ge=0, le=5)
    sentence_pause: float = Field(0.3, ge=0, le=3)
    crossfade: float = Field(0.5, ge=0, le=3)
    tail: float = Field(0.6, ge=0, le=5)
    outro: float = Field(3.0, ge=0.5, le=15)


class Motion(_Strict):
    zoom_start: float = Field(1.04, ge=1, le=2)
    zoom_end: float = Field(1.14, ge=1, le=2)
    pan: float = Field(0.03, ge=0, le=0.3)
    title_zoom: float = Field(1.03, ge=1, le=1.5)

    @property
    def max_zoom(self) -> float:
        return max(self.zoom_start, self.zoom_end)


class Framing(_Strict):
    """How photos fill the frame. ``cover``: cropped to fill it, the crop and the Ken Burns
    move placed on the photo's subject (the article's focus point, else faces, else detail),
    shown whole over a blurred copy only when the subject cannot fit or the crop would keep
    less than ``min_kept`` of the photo. ``contain``: shown whole over a blurred copy unless a
    crop keeps at least ``min_kept`` of it (a photo of nearly the frame's shape); that crop,
    too, is placed on the subject and never cuts a face."""

    fit: Literal["cover", "contain"] = "contain"
    min_kept: float | None = Field(None, gt=0, le=1)  # default: 0.25 for cover, 0.6 for contain

    @property
    def kept_floor(self) -> float:
        """The smallest share of a photo a crop may keep."""
        if self.min_kept is not None:
            return self.min_kept
        return 0.25 if self.fit == "cover" else 0.6


class AudioStyle(_Strict):
    loudness_lufs: float = Field(-16.0, ge=-40, le=-5)
    peak_dbfs: float = Field(-1.5, ge=-20, le=0)
    bed: bool = False
    bed_level_db: float = Field(-30.0, ge=-60, le=-10)


class Encoding(_Strict):
    crf: int = Field(23, ge=0, le=51)
    preset: Literal["ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow"] = "veryfast"
    audio_bitrate: str = Field("128k", pattern=r"^\d{2,3}k$")


class Template(_Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,40}$")
    description: str = ""
    width: int = Field(ge=64, le=3840)
    height: int = Field(ge=64, le=3840)
    fps: float = Field(ge=5, le=60)
    palette: Palette
    fonts: Fonts = Fonts()
    layout: Layout = Layout()
    timing: Timing = Timing()
    motion: Motion = Motion()
    framing: Framing = Framing()
    audio: AudioStyle = AudioStyle()
    encoding: Encoding = Encoding()
    logo: Path | None = None

    @field_validator("width", "height")
    @classmethod
    def _even(cls, v: int) -> int:
        if v % 2:
            raise ValueError("must be even (H.264 with 4:2:0 chroma needs even sizes)")
        return v

    @property
    def size(self) -> tuple[int, int]:
        return (self.width, self.height)

    @property
    def unit(self) -> int:
        """The short side: font sizes and paddings are fractions of it."""
        return min(self.width, self.height)

    @property
    def aspect(self) -> str:
        from math import gcd

        g = gcd(self.width, self.height)
        return f"{self.width // g}:{self.height // g}"

    def at_size(self, height: int | None = None, fps: float | None = None) -> Template:
        """The same template at another height (width follows the aspect, rounded to even)
        and/or frame rate: for previews and fast tests."""
        updates: dict[str, object] = {}
        if height:
            width = round(self.width * height / self.height / 2) * 2
            updates.update(width=width, height=int(height) // 2 * 2)
        if fps:
            updates["fps"] = fps
        return self.model_copy(update=updates)


def available_templates(templates_dir: Path) -> list[str]:
    """The names of the templates in ``templates_dir``."""
    return sorted(p.stem for p in Path(templates_dir).glob("*.toml") if TEMPLATE_NAME.match(p.stem))


def load_template(name_or_path: str | Path, templates_dir: Path) -> Template:
    """A template by name (``news``) from ``templates_dir``, or by path to a ``.toml`` file."""
    candidate = Path(name_or_path)
    if candidate.suffix == ".toml":
        path = candidate
        if not path.is_file():
            raise InvalidInput("template", f"template file {path} does not exist")
    else:
        name = str(name_or_path)
        if not TEMPLATE_NAME.match(name):
            raise UnknownTemplate(name, available_templates(templates_dir))
        path = Path(templates_dir) / f"{name}.toml"
        if not path.is_file():
            raise UnknownTemplate(name, available_templates(templates_dir))
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise InvalidInput("template", f"{path.name}: {e}") from None
    if isinstance(data.get("logo"), dict):
        logo = data["logo"].get("path") or None
        data["logo"] = (path.parent / logo).resolve() if logo else None
    try:
        return Template.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise InvalidInput("template", f"{path.name}: {loc}: {first['msg']}") from None
