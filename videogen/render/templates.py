"""Video templates: declarative TOML files in ``templates/`` (canvas, palette, fonts, layout,
timing, motion, framing, audio, encoding, logo, intro/outro stings). A newsroom restyles its clips by editing one, not code.

A brand is a folder: its template (``template.toml``, or ``<name>.toml``) with its assets next to
it (logo, fonts, stings). Paths in a template are relative to the template's folder and are resolved
when it is loaded. Templates are found by name in a list of folders, searched in order."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
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
    """A shipped font's name (``NotoSans-Bold``) or a font file of the brand (``fonts/X.otf``,
    relative to the template's folder; an absolute path once loaded)."""

    title: str = "NotoSans-Bold"
    body: str = "NotoSans-Regular"
    caption: str = "NotoSans-Bold"


#: Font files a brand may name in ``[fonts]``.
FONT_SUFFIXES = (".ttf", ".otf")

LogoPosition = Literal["top-left", "top-right", "bottom-left", "bottom-right"]


class Logo(_Strict):
    """The logo bug: an image (PNG with alpha; absolute once loaded) in a corner of the safe
    area, ``size`` its height as a fraction of the short side, ``margin`` an extra inset inside
    the safe area (fraction of the short side). Shown from ``start`` seconds into the clip (after its intro sting, if any)
    (default: the end of the title card's first second) until the end of the clip, or until
    the outro card starts (``until = "outro"``)."""

    path: Path
    position: LogoPosition = "top-right"
    size: float = Field(0.08, gt=0, le=0.5)
    opacity: float = Field(1.0, gt=0, le=1)
    margin: float = Field(0.0, ge=0, le=0.3)
    start: float = Field(1.0, ge=0, le=60)
    fade: float = Field(0.3, ge=0, le=3)
    until: Literal["end", "outro"] = "end"


#: The longest a sting (intro or outro) may last, seconds: a sting file longer than this is refused.
MAX_STING_SECONDS = 15.0
#: Sting files shown as a still image (anything else must be a video with sound).
STILL_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
#: How long a still sting is shown when its ``duration`` is not given, seconds.
STILL_SECONDS = 2.0


class Sting(_Strict):
    """An intro or outro sting, before or after the narrated part: a still image (``.png``,
    ``.jpg``, ``.webp``) shown ``duration`` seconds (default 2), or a short video with its own
    sound (absolute once loaded), played whole or only its first ``duration`` seconds. Scaled
    to fit the canvas (letterboxed on black). Its sound is levelled to the template's loudness
    like the narration, then ``volume`` (a gain, 1 = as loud as the narration) applied; a still
    is silent. ``fade``: seconds of fade to black (and to silence) at the end of an intro, from
    black at the start of an outro."""

    path: Path
    duration: float | None = Field(None, gt=0, le=MAX_STING_SECONDS)
    volume: float = Field(1.0, ge=0, le=2)
    fade: float = Field(0.0, ge=0, le=3)

    @property
    def still(self) -> bool:
        return self.path.suffix.lower() in STILL_SUFFIXES


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
    logo: Logo | None = None
    intro: Sting | None = None
    outro: Sting | None = None

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


TemplateDirs = Path | Sequence[Path]


def _dirs(templates_dir: TemplateDirs) -> list[Path]:
    return [Path(templates_dir)] if isinstance(templates_dir, (str, Path)) else [Path(d) for d in templates_dir]


def template_file(name: str, templates_dir: TemplateDirs) -> Path | None:
    """Where the template ``name`` is: ``<folder>/<name>.toml`` or a brand folder
    ``<folder>/<name>/template.toml``, the first folder that has it winning."""
    for folder in _dirs(templates_dir):
        for path in (folder / f"{name}.toml", folder / name / "template.toml"):
            if path.is_file():
                return path
    return None


def available_templates(templates_dir: TemplateDirs) -> list[str]:
    """The names of the templates in ``templates_dir`` (one folder or several): ``*.toml``
    files and brand folders holding a ``template.toml``."""
    names: set[str] = set()
    for folder in _dirs(templates_dir):
        names.update(p.stem for p in folder.glob("*.toml"))
        names.update(p.parent.name for p in folder.glob("*/template.toml"))
    return sorted(n for n in names if TEMPLATE_NAME.match(n))


def template_path(name_or_path: str | Path, templates_dir: TemplateDirs) -> Path:
    """The ``.toml`` file of a template given by name (searched in ``templates_dir``), by path
    to a ``.toml`` file or by path to a brand folder (its ``template.toml``)."""
    candidate = Path(name_or_path)
    if candidate.suffix == ".toml":
        if not candidate.is_file():
            raise InvalidInput("template", f"template file {candidate} does not exist")
        return candidate
    name = str(name_or_path)
    if TEMPLATE_NAME.match(name):
        found = template_file(name, templates_dir)
        if found is not None:
            return found
    if candidate.is_dir():  # a brand folder by path (the API takes names only: see check_template_name)
        if (candidate / "template.toml").is_file():
            return candidate / "template.toml"
        raise InvalidInput("template", f"brand folder {candidate} has no template.toml")
    raise UnknownTemplate(name, available_templates(templates_dir))


def _resolve_assets(data: dict[str, object], folder: Path) -> None:
    """Paths of the brand's assets (logo, font files) made absolute, relative to ``folder``."""
    logo = data.get("logo")
    if isinstance(logo, dict):
        if logo.get("path"):
            data["logo"] = {**logo, "path": (folder / str(logo["path"])).resolve()}
        else:
            data["logo"] = None
    for key in ("intro", "outro"):
        sting = data.get(key)
        if isinstance(sting, dict) and isinstance(sting.get("path"), str):
            data[key] = {**sting, "path": (folder / sting["path"]).resolve()}
    fonts = data.get("fonts")
    if isinstance(fonts, dict):
        data["fonts"] = {k: str((folder / v).resolve()) if isinstance(v, str) and v.lower().endswith(FONT_SUFFIXES) else v
                         for k, v in fonts.items()}


def _problem(loc: tuple[int | str, ...], msg: str) -> str:
    """A schema error as ``key.path: message`` (the message alone for the whole file)."""
    where = ".".join(str(p) for p in loc)
    return f"{where}: {msg}" if where else msg


def template_problems(name_or_path: str | Path, templates_dir: TemplateDirs) -> tuple[Template | None, list[str]]:
    """The template and no problem, or None and every schema problem, each naming its key
    (``load_template`` stops at the first): for ``videogen templates check``."""
    try:
        path = template_path(name_or_path, templates_dir)
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except InvalidInput as e:
        return None, [e.message]
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        return None, [f"{Path(name_or_path).name}: {e}"]
    _resolve_assets(data, path.parent)
    try:
        return Template.model_validate(data), []
    except ValidationError as err:
        return None, [_problem(e["loc"], e["msg"]) for e in err.errors()]


def load_template(name_or_path: str | Path, templates_dir: TemplateDirs) -> Template:
    """A template by name (``news``) from ``templates_dir`` (one folder or several, searched in
    order), or by path to a ``.toml`` file or a brand folder."""
    path = template_path(name_or_path, templates_dir)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise InvalidInput("template", f"{path.name}: {e}") from None
    _resolve_assets(data, path.parent)
    try:
        return Template.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        raise InvalidInput("template", f"{path.name}: {_problem(first['loc'], first['msg'])}") from None
