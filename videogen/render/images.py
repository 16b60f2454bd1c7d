"""Article images: read from a path (CLI) or fetched over http(s), checked before decoding
(bytes, pixels, format), then normalised to upright 8-bit RGB. A bad image is skipped with a
warning; it never crashes a render."""

from __future__ import annotations

import functools
import hashlib
import io
import logging
import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from videogen.errors import ImageError, NetError, TransientImageError, TransientNetError
from videogen.net import fetch_bytes
from videogen.render.article import Article, ArticleImage
from videogen.render.framing import CENTRE, Box, Subject, subject_box
from videogen.render.layercache import LayerCache, layer_key

log = logging.getLogger(__name__)

RASTER_FORMATS = {"JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF", "MPO"}
#: What an editor may upload (``inspect_image``): the formats every browser shows.
UPLOAD_FORMATS = frozenset({"JPEG", "PNG", "WEBP"})
RASTER_CONTENT_TYPES = {"image/jpeg", "image/jpg", "image/pjpeg", "image/png", "image/webp", "image/gif", "image/bmp", "image/tiff"}


@dataclass(frozen=True)
class LoadedImage:
    index: int  # position in article.images
    image: Image.Image  # RGB, upright
    caption: str | None
    credit: str | None
    #: Finds what crops and moves keep in view (``find_subject``), called once, when ``subject``
    #: is first read.
    find_subject: Callable[[], Subject] = field(default=lambda: CENTRE, repr=False, compare=False)
    digest: bytes | None = None  # SHA-256 of the source's bytes: keys the layers drawn from it

    @functools.cached_property
    def subject(self) -> Subject:
        """What crops and moves keep in view. Found the first time it is read, not at load:
        only the scenes' canvases need it, and they are drawn while the title card's frames
        are encoded, so face detection (0.1-0.4 CPU-s a photo) no longer delays the first
        frame. Thread-safe: ``cached_property`` holds a lock while it computes (Python 3.11)."""
        return self.find_subject()


@dataclass(frozen=True)
class ImageLimits:
    max_bytes: int = 25_000_000
    max_pixels: int = 40_000_000
    timeout: float = 10.0
    allow_paths: bool = True  # False for articles that came through the API
    allow_outside: bool = False  # CLI paths may leave the article's folder only when asked
    skip_unreachable: bool = False  # last attempt: an image host that times out is skipped, not retried
    allowed_hosts: frozenset[str] = frozenset()  # fetched even when they resolve to private addresses


def fetch_image_bytes(url: str, limits: ImageLimits) -> bytes:
    """An image from the web, through the checked fetch of ``videogen.net``."""
    try:
        return fetch_bytes(url, max_bytes=limits.max_bytes, timeout=limits.timeout, content_types=RASTER_CONTENT_TYPES,
                           allowed=limits.allowed_hosts, accept="image/*", what="raster image")
    except TransientNetError as e:
        raise TransientImageError(str(e)) from None
    except NetError as e:
        raise ImageError(str(e)) from None


def read_source(img: ArticleImage, base_dir: Path | None, limits: ImageLimits,
                known: Mapping[str, bytes] | None = None) -> bytes:
    """The raw bytes of an image, within the byte limit: ``known`` holds sources the caller
    already has (an editor's uploads, by their ``upload:`` src)."""
    if known is not None and img.src in known:
        data = known[img.src]
        if len(data) > limits.max_bytes:
            raise ImageError(f"{img.src} is {len(data)} bytes; the limit is {limits.max_bytes}")
        return data
    if img.is_url:
        return fetch_image_bytes(img.src, limits)
    if not limits.allow_paths:
        raise ImageError("local paths are not accepted here; give an http(s) URL")
    path = Path(img.src)
    if not path.is_absolute():
        if base_dir is None:
            raise ImageError("a relative path needs the article's file to resolve against")
        path = base_dir / path
    path = path.resolve()
    if base_dir is not None and not limits.allow_outside and not path.is_relative_to(base_dir.resolve()):
        raise ImageError(f"{img.src} is outside the article's folder")
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise ImageError(f"{img.src}: file not found") from None
    except OSError as e:
        raise ImageError(f"{img.src}: {e.strerror}") from None
    if not path.is_file():
        raise ImageError(f"{img.src} is not a file")
    if size > limits.max_bytes:
        raise ImageError(f"{img.src} is {size} bytes; the limit is {limits.max_bytes}")
    return path.read_bytes()


@dataclass(frozen=True)
class ImageInfo:
    format: str  # Pillow's name: JPEG, PNG, WEBP...
    width: int  # upright (EXIF orientation applied)
    height: int


def inspect_image(data: bytes, limits: ImageLimits, formats: frozenset[str] = UPLOAD_FORMATS) -> ImageInfo:
    """Check that ``data`` is a whole, decodable image of one of ``formats`` within the byte
    and pixel limits (a decompression bomb is refused before its pixels are decoded) and say
    what it is. Raises ``ImageError`` saying why not."""
    if len(data) > limits.max_bytes:
        raise ImageError(f"the image is {len(data)} bytes; the limit is {limits.max_bytes}")
    img = _open_checked(data, limits)
    if img.format not in formats:
        raise ImageError(f"{img.format} images are not accepted here; give a " + ", ".join(sorted(formats)))
    rgb = decode_image(data, limits)
    return ImageInfo(str(img.format), rgb.width, rgb.height)


def _open_checked(data: bytes, limits: ImageLimits) -> Image.Image:
    """The image's header read (no pixel decoded), its format and size checked."""
    if not data:
        raise ImageError("empty file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img: Image.Image = Image.open(io.BytesIO(data))
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise ImageError(f"image claims more pixels than the limit ({limits.max_pixels}): a decompression bomb?") from None
    except UnidentifiedImageError:
        raise ImageError("not a readable raster image") from None
    except (OSError, ValueError, SyntaxError) as e:
        raise ImageError(f"not a readable image: {e}") from None
    if img.format not in RASTER_FORMATS:
        raise ImageError(f"unsupported image format {img.format}")
    w, h = img.size
    if w < 2 or h < 2:
        raise ImageError(f"image is only {w}×{h} pixels")
    if w * h > limits.max_pixels:
        raise ImageError(f"image is {w}×{h} = {w * h} pixels; the limit is {limits.max_pixels}")
    return img


def decode_image(data: bytes, limits: ImageLimits, target: tuple[int, int] | None = None,
                 background: tuple[int, int, int] = (24, 24, 28)) -> Image.Image:
    """Bytes → upright RGB image. Size and format are checked before any pixel is decoded;
    transparency is flattened onto ``background``; 16-bit and CMYK images are converted."""
    img = _open_checked(data, limits)
    if img.format == "JPEG" and target:
        # Decode big JPEGs at a reduced scale directly (DCT scaling): much faster, same result.
        img.draft("RGB", (target[0], target[1]))
    try:
        img.load()
        img = ImageOps.exif_transpose(img)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
        raise ImageError(f"image is damaged or truncated: {e}") from None
    return to_rgb(img, background)


def to_rgb(img: Image.Image, background: tuple[int, int, int]) -> Image.Image:
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        hi = float(arr.max()) or 1.0
        img = Image.fromarray((arr / hi * 255).astype(np.uint8))
    if img.mode == "P":
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "RGB" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        flat = Image.new("RGB", rgba.size, background)
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return img.convert("RGB")


def load_images(article: Article, limits: ImageLimits, target: tuple[int, int] | None = None,
                background: tuple[int, int, int] = (24, 24, 28),
                known: Mapping[str, bytes] | None = None,
                cache: LayerCache | None = None) -> tuple[list[LoadedImage], list[str]]:
    """Every usable image of the article, and a warning for each one skipped (``known``: the
    bytes of sources the caller resolved, see ``read_source``; ``cache``: subjects found by
    earlier renders, see ``find_subject``).

    A transient failure (an image host that times out) is raised, so the job can be retried,
    unless ``limits.skip_unreachable`` (the last attempt: better a clip without that photo than
    no clip); a permanent one (404, not an image) only skips that image."""
    loaded: list[LoadedImage] = []
    notes: list[str] = []
    for i, img in enumerate(article.images):
        try:
            data = read_source(img, article.base_dir, limits, known)
            rgb = decode_image(data, limits, target, background)
        except TransientImageError as e:
            if not limits.skip_unreachable:
                raise
            notes.append(f"images[{i}] skipped: {e}")
            log.warning("images[%d] (%s) skipped after retries: %s", i, img.src[:200], e)
            continue
        except ImageError as e:
            notes.append(f"images[{i}] skipped: {e}")
            log.warning("images[%d] (%s) skipped: %s", i, img.src[:200], e)
            continue
        digest = hashlib.sha256(data).digest()
        loaded.append(LoadedImage(i, rgb, img.caption, img.credit,
                                  functools.partial(find_subject, rgb, img, i, digest, cache), digest))
    return loaded, notes


#: Subjects found lately in this process, by photo: rendering one article in several templates
#: (news, vertical, square) detects its faces once. Keyed by the photo's bytes and decoded size,
#: so a hit is exactly what detecting again would give.
_SUBJECTS: OrderedDict[tuple[bytes, tuple[int, int], tuple[float, float] | None], Subject] = OrderedDict()
_SUBJECTS_LOCK = threading.Lock()
SUBJECTS_KEPT = 64


def find_subject(rgb: Image.Image, img: ArticleImage, index: int, digest: bytes | None = None,
                 cache: LayerCache | None = None) -> Subject:
    """The subject of a loaded photo (the article's focus point, else faces, else detail); the
    middle when detection fails (never a reason to skip the photo). ``digest`` (of the photo's
    bytes) lets a photo seen lately in this process, or by an earlier render (``cache``), skip
    detection."""
    focus = (img.focus.x, img.focus.y) if img.focus else None
    key = (digest, rgb.size, focus) if digest is not None else None
    if key is not None:
        with _SUBJECTS_LOCK:
            if key in _SUBJECTS:
                _SUBJECTS.move_to_end(key)
                return _SUBJECTS[key]
    try:
        if key is not None and cache is not None and focus is None:  # a focus point is no detection
            _arrays, meta = cache.get_or_make(layer_key("subject", digest, rgb.size),
                                              lambda: ({}, subject_meta(subject_box(rgb, None))))
            subject = subject_from_meta(meta)
        else:
            subject = subject_box(rgb, focus)
    except Exception as e:  # noqa: BLE001 - OpenCV raises cv2.error, and a photo is better shown centred
        log.warning("images[%d]: no subject found (%s): framed on the middle", index, e)
        return CENTRE
    if key is not None:
        with _SUBJECTS_LOCK:
            _SUBJECTS[key] = subject
            while len(_SUBJECTS) > SUBJECTS_KEPT:
                _SUBJECTS.popitem(last=False)
    return subject


def subject_meta(subject: Subject) -> dict[str, object]:
    """A subject as JSON (the layer cache keeps it)."""
    def box(b: Box | None) -> list[float] | None:
        return [b.x0, b.y0, b.x1, b.y1] if b is not None else None

    return {"kind": subject.kind, "focus": list(subject.focus), "box": box(subject.box),
            "faces": [box(f) for f in subject.faces]}


def subject_from_meta(meta: dict[str, Any]) -> Subject:
    box = Box(*meta["box"]) if meta["box"] is not None else None
    return Subject(meta["kind"], (meta["focus"][0], meta["focus"][1]), box, tuple(Box(*f) for f in meta["faces"]))
