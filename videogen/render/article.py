"""The article model: what a newsroom sends, validated, with clear errors naming the field."""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from videogen.errors import InvalidArticle
from videogen.render.config import ArticleLimits

DEFAULT_LIMITS = ArticleLimits()

ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
LANG_RE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")


def _limits(info: ValidationInfo) -> ArticleLimits:
    """The limits ``parse_article`` was given (through pydantic's validation context)."""
    limits = info.context.get("limits") if isinstance(info.context, dict) else None
    return limits if isinstance(limits, ArticleLimits) else DEFAULT_LIMITS


# Bidi embeddings, overrides and isolates can make text display in an order other than it
# reads (a spoofing trick); layout gets direction from the text itself.
_BIDI_OVERRIDES = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def clean_text(text: str) -> str:
    """NFC-normalise, drop control characters and bidi overrides (keep newlines), collapse
    runs of spaces."""
    text = unicodedata.normalize("NFC", text)
    text = "".join(
        ch for ch in text
        if ch in "\n\t" or (unicodedata.category(ch) not in ("Cc", "Cs", "Co") and ch not in _BIDI_OVERRIDES)
    )
    text = re.sub(r"[ \t\u00a0\u202f]+", lambda m: " " if "\u202f" not in m.group() else "\u202f", text)
    return re.sub(r"\n\s*\n+", "\n\n", text).strip()


def slugify(text: str, max_len: int = 60) -> str:
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    text = re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()
    return text[:max_len].rstrip("-") or "article"


class FocusPoint(BaseModel):
    """The editorial focal point of a photo, in fractions of its width and height (0 left or
    top, 1 right or bottom): crops and Ken Burns moves keep it in view, whatever is detected."""

    model_config = ConfigDict(extra="forbid")

    x: float = Field(..., allow_inf_nan=False, description="0 = left edge, 1 = right edge")
    y: float = Field(..., allow_inf_nan=False, description="0 = top edge, 1 = bottom edge")

    @model_validator(mode="before")
    @classmethod
    def _object(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            raise ValueError('must be an object {"x": 0..1, "y": 0..1} (fractions of the width and height)')
        return data

    @field_validator("x", "y")
    @classmethod
    def _fraction(cls, v: float, info: ValidationInfo) -> float:
        if not 0 <= v <= 1:
            side = "width, from the left" if info.field_name == "x" else "height, from the top"
            raise ValueError(f"is {v:g}; must be between 0 and 1 (a fraction of the image's {side})")
        return v


class ArticleImage(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    src: str = Field(..., min_length=1, max_length=4096, description="http(s) URL, or a path relative to the article file (CLI only).")
    caption: str | None = Field(None, max_length=500)
    credit: str | None = Field(None, max_length=200)
    focus: FocusPoint | None = Field(None, description="Editorial focal point; overrides the detected subject (faces).")

    @field_validator("src")
    @classmethod
    def _src(cls, v: str) -> str:
        if any(unicodedata.category(c) == "Cc" for c in v):
            raise ValueError("contains control characters")
        if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", v) and not re.match(r"^https?://", v, re.I):
            raise ValueError("only http(s) URLs or file paths are accepted")
        return v

    @property
    def is_url(self) -> bool:
        return bool(re.match(r"^https?://", self.src, re.I))


class Article(BaseModel):
    """A news article. ``summary`` is narrated; without one, an extract of ``body`` is."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id: str | None = Field(None, description="Stable article id; derived from the title when missing.")
    title: str = Field(..., description="Headline, read aloud first and shown on the title card.")
    summary: str | None = Field(None, description="Narrated text.")
    body: str | None = Field(None, description="Full text; narrated as an extract when there is no summary.")
    language: str = Field(..., description="BCP 47 language tag, e.g. 'fr' or 'en-GB'.")
    images: list[ArticleImage] = Field(default_factory=list)
    url: str | None = Field(None, max_length=2048, description="Canonical article URL.")
    published_at: datetime | None = None
    source: str | None = Field(None, max_length=200, description="Publication name shown on screen.")

    _base_dir: Path | None = PrivateAttr(default=None)

    @model_validator(mode="before")
    @classmethod
    def _coerce(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("images"), list):
            data = dict(data)
            data["images"] = [{"src": i} if isinstance(i, str) else i for i in data["images"]]
        return data

    @field_validator("id")
    @classmethod
    def _id(cls, v: str | None) -> str | None:
        if v is None:
            return v
        if not ID_RE.match(v):
            raise ValueError("must be 1-128 characters of letters, digits, '.', '_' or '-', starting with a letter or digit")
        return v

    @field_validator("title")
    @classmethod
    def _title(cls, v: str, info: ValidationInfo) -> str:
        v = clean_text(v).replace("\n", " ")
        if not v:
            raise ValueError("must not be empty")
        limit = _limits(info).max_title_chars
        if len(v) > limit:
            raise ValueError(f"is {len(v)} characters long; at most {limit} are allowed")
        if not any(c.isalnum() for c in v):
            raise ValueError("has no letters or digits")
        return v

    @field_validator("summary", "body")
    @classmethod
    def _text(cls, v: str | None, info: ValidationInfo) -> str | None:
        if v is None:
            return None
        v = clean_text(v)
        limit = _limits(info).max_text_chars
        if len(v) > limit:
            raise ValueError(f"is {len(v)} characters long; at most {limit} are allowed")
        if v and not any(c.isalnum() for c in v):
            raise ValueError("has no letters or digits to read aloud")
        return v or None

    @field_validator("language")
    @classmethod
    def _language(cls, v: str) -> str:
        v = v.strip().replace("_", "-")
        if not LANG_RE.match(v):
            raise ValueError("must be a BCP 47 language tag such as 'fr' or 'en-US'")
        parts = v.split("-")
        return "-".join([parts[0].lower()] + [p.upper() if len(p) == 2 else p for p in parts[1:]])

    @field_validator("images")
    @classmethod
    def _images(cls, v: list[ArticleImage], info: ValidationInfo) -> list[ArticleImage]:
        limit = _limits(info).max_images
        if len(v) > limit:
            raise ValueError(f"has {len(v)} images; at most {limit} are allowed")
        return v

    @field_validator("url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v and not re.match(r"^https?://[^\s/]+", v, re.I):
            raise ValueError("must be an http(s) URL")
        return v or None

    @field_validator("source")
    @classmethod
    def _source(cls, v: str | None) -> str | None:
        return clean_text(v).replace("\n", " ") or None if v else None

    @model_validator(mode="after")
    def _narratable(self) -> Article:
        if not self.summary and not self.body:
            raise ValueError("summary: must not be empty (give a summary, or a body to summarise)")
        if self.id is None:
            digest = hashlib.sha256(self.title.encode()).hexdigest()[:8]
            self.id = f"{slugify(self.title, 48)}-{digest}"
        return self

    # --- derived -------------------------------------------------------------------------
    @property
    def base_dir(self) -> Path | None:
        """Folder that relative image paths are resolved against (the article file's folder)."""
        return self._base_dir

    @property
    def lang(self) -> str:
        """Primary language subtag ('fr' for 'fr-CA')."""
        return self.language.split("-")[0]

    def with_base_dir(self, base_dir: Path | None) -> Article:
        self._base_dir = base_dir.resolve() if base_dir else None
        return self

    def content_dict(self) -> dict[str, Any]:
        """Everything that changes the rendered clip, in a canonical form (for content keys)."""
        return self.model_dump(mode="json", exclude_none=True)


def _format_errors(err: ValidationError, prefix: str = "") -> list[tuple[str, str]]:
    out = []
    for e in err.errors():
        loc = ""
        for part in e["loc"]:
            loc += f"[{part}]" if isinstance(part, int) else (f".{part}" if loc else str(part))
        msg = e["msg"]
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        if e["type"] == "extra_forbidden":
            msg = "unknown field"
        elif e["type"] == "missing":
            msg = "is required"
        if not loc and msg.startswith("summary: "):  # model-level check naming its field
            loc, msg = "summary", msg[len("summary: ") :]
        out.append((prefix + loc if loc else prefix.rstrip(".") or "article", msg))
    return out


def parse_article(data: Any, base_dir: Path | None = None, prefix: str = "",
                  limits: ArticleLimits = DEFAULT_LIMITS) -> Article:
    """Validate one article object within ``limits``; raise :class:`InvalidArticle` naming
    every bad field."""
    if not isinstance(data, dict):
        raise InvalidArticle([(prefix.rstrip(".") or "article", f"must be a JSON object, not {type(data).__name__}")])
    try:
        article = Article.model_validate(data, context={"limits": limits})
    except ValidationError as err:
        raise InvalidArticle(_format_errors(err, prefix)) from None
    return article.with_base_dir(base_dir)


def load_articles(path: str | Path, limits: ArticleLimits = DEFAULT_LIMITS) -> list[Article]:
    """Articles from a ``.json`` file (one object, a list, or ``{"articles": [...]}``) or a
    ``.jsonl`` file (one object a line). Image paths resolve against the file's folder."""
    path = Path(path)
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidArticle([("file", f"{path} does not exist")]) from None
    except (OSError, UnicodeDecodeError) as e:
        raise InvalidArticle([("file", f"{path} cannot be read: {e}")]) from None
    base = path.resolve().parent
    data: Any = None
    if path.suffix != ".jsonl":
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as e:
            if e.msg != "Extra data":  # "Extra data" means one object a line: read it as JSONL
                raise InvalidArticle([("file", f"invalid JSON at line {e.lineno} column {e.colno}: {e.msg}")]) from None
    if data is None:
        items = []
        for n, line in enumerate(raw.splitlines(), 1):
            if not line.strip():
                continue
            try:
                items.append((f"line {n}: ", json.loads(line)))
            except json.JSONDecodeError as e:
                raise InvalidArticle([(f"line {n}", f"invalid JSON: {e.msg} (column {e.colno})")]) from None
    else:
        if isinstance(data, dict) and "articles" in data and "title" not in data:
            data = data["articles"]
        items = [(f"articles[{i}].", d) for i, d in enumerate(data)] if isinstance(data, list) else [("", data)]
    if not items:
        raise InvalidArticle([("file", f"{path} holds no article")])
    return [parse_article(d, base, prefix, limits) for prefix, d in items]


def load_article(path: str | Path, limits: ArticleLimits = DEFAULT_LIMITS) -> Article:
    articles = load_articles(path, limits)
    if len(articles) != 1:
        raise InvalidArticle([("file", f"{path} holds {len(articles)} articles; expected one")])
    return articles[0]
