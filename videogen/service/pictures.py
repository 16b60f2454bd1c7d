"""A version's pictures: what the API shows of them (``pictures_of``), an editor's new list
checked (``parse_pictures``), images added by upload (kept in storage as ``upload:<sha256>``)
or by URL (fetched now through the SSRF-checked fetch), and the uploads a job names read back
for the worker (``StoredUploads``). Every image is checked as the render checks it
(``videogen.render.images.inspect_image``): a real JPEG, PNG or WebP within the byte and
pixel limits; a decompression bomb is refused before its pixels are decoded."""

from __future__ import annotations

import hashlib
import ipaddress
import math
import re
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from videogen.errors import ImageError, InvalidInput, NetError, StorageError
from videogen.net import check_url, is_public_address
from videogen.render.article import Article
from videogen.render.images import ImageLimits, fetch_image_bytes, inspect_image
from videogen.service.storage import Storage

UPLOAD_RE = re.compile(r"^upload:([0-9a-f]{64})$")
PICTURE_FIELDS = ("src", "caption", "credit", "focus")


@dataclass(frozen=True)
class Picture:
    """An image checked and ready to be named in ``PUT /v1/videos/{id}/pictures``."""

    src: str
    width: int
    height: int

    def as_json(self) -> dict[str, Any]:
        return {"src": self.src, "width": self.width, "height": self.height}


def upload_digest(src: str) -> str | None:
    """The SHA-256 an ``upload:`` source names, None for any other source."""
    m = UPLOAD_RE.match(src)
    return m.group(1) if m else None


def pictures_of(article: dict[str, Any]) -> list[dict[str, Any]]:
    """A stored article's images in the API's shape: ``focus`` as ``[x, y]`` or null."""
    out = []
    for img in article.get("images") or []:
        img = {"src": img} if isinstance(img, str) else img
        focus = img.get("focus")
        out.append({"src": img["src"], "caption": img.get("caption"), "credit": img.get("credit"),
                    "focus": [focus["x"], focus["y"]] if focus else None})
    return out


def parse_pictures(raw: object, max_images: int) -> list[dict[str, Any]]:
    """An editor's list of pictures (the ``pictures_of`` shape) as article images (``focus``
    as ``{"x", "y"}``), or InvalidInput naming the field (``images[2].focus``). The sources
    and texts are checked by the article model afterwards (``Article``'s own validators)."""
    if not isinstance(raw, list):
        raise InvalidInput("images", "must be a list of {src, caption, credit, focus}")
    if len(raw) > max_images:
        raise InvalidInput("images", f"has {len(raw)} images; at most {max_images} are allowed")
    out: list[dict[str, Any]] = []
    for i, item in enumerate(raw):
        where = f"images[{i}]"
        if not isinstance(item, dict):
            raise InvalidInput(where, "must be an object {src, caption, credit, focus}")
        for key in item:
            if key not in PICTURE_FIELDS:
                raise InvalidInput(f"{where}.{key}", "unknown field")
        src = item.get("src")
        if not isinstance(src, str) or not src.strip():
            raise InvalidInput(f"{where}.src", "is required: an http(s) URL or an upload:<sha256> from POST pictures")
        image: dict[str, Any] = {"src": src.strip()}
        for key in ("caption", "credit"):
            value = item.get(key)
            if value is not None and not isinstance(value, str):
                raise InvalidInput(f"{where}.{key}", "must be a string or null")
            if value is not None:
                image[key] = value
        focus = item.get("focus")
        if focus is not None:
            image["focus"] = _focus(focus, f"{where}.focus")
        out.append(image)
    return out


def _focus(value: object, where: str) -> dict[str, float]:
    """``[x, y]``, fractions of the image's width and height, as the article's ``{"x", "y"}``."""
    if (not isinstance(value, list) or len(value) != 2
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)):
        raise InvalidInput(where, "must be [x, y]: two numbers, fractions of the width and height, or null")
    x, y = float(value[0]), float(value[1])
    if not (math.isfinite(x) and math.isfinite(y) and 0 <= x <= 1 and 0 <= y <= 1):
        raise InvalidInput(where, f"[{value[0]}, {value[1]}] is outside the image: x and y must be between 0 and 1")
    return {"x": x, "y": y}


def check_sources(article: Article, storage: Storage) -> None:
    """Every image of an API article is an http(s) URL or an upload this storage holds;
    InvalidInput naming the image otherwise."""
    for i, img in enumerate(article.images):
        where = f"images[{i}].src"
        digest = upload_digest(img.src)
        if digest is not None:
            if not storage.has_upload(digest):
                raise InvalidInput(where, f"no upload {img.src}: POST the file to /v1/videos/{{id}}/pictures first")
        elif not img.is_url:
            raise InvalidInput(where, "must be an http(s) URL or an upload:<sha256> (file paths are accepted from the CLI only)")


def check_addresses(article: Article, allowed: Collection[str] = ()) -> None:
    """An editor's picture URL naming a non-public address (``allowed`` hosts aside) is refused
    now, InvalidInput naming the image; the worker's fetch checks each resolved address again
    when it connects."""
    for i, img in enumerate(article.images):
        if not img.is_url:
            continue
        where = f"images[{i}].src"
        try:
            _scheme, host, port = check_url(img.src)
        except NetError as e:
            raise InvalidInput(where, str(e)) from None
        try:
            ipaddress.ip_address(host)
        except ValueError:
            continue  # a name: resolved (and checked) by the fetch
        if host not in allowed and f"{host}:{port}" not in allowed and not is_public_address(host):
            raise InvalidInput(where, f"{host} is not a public address; refused")


def store_upload(storage: Storage, data: bytes, limits: ImageLimits) -> Picture:
    """Check an uploaded file as an image and keep it; InvalidInput naming ``file``."""
    try:
        info = inspect_image(data, limits)
    except ImageError as e:
        raise InvalidInput("file", str(e)) from None
    digest = hashlib.sha256(data).hexdigest()
    storage.put_upload(digest, data)
    return Picture(f"upload:{digest}", info.width, info.height)


def fetch_picture(url: object, limits: ImageLimits) -> Picture:
    """Fetch an image now (the SSRF-checked fetch: public addresses only unless allowed) and
    check it; InvalidInput naming ``url``. Nothing is stored: the URL is the source."""
    if not isinstance(url, str) or not re.match(r"^https?://", url, re.I):
        raise InvalidInput("url", "must be an http(s) URL")
    if len(url) > 4096:
        raise InvalidInput("url", "is longer than 4096 characters")
    try:
        info = inspect_image(fetch_image_bytes(url, limits), limits)
    except ImageError as e:
        raise InvalidInput("url", str(e)) from None
    return Picture(url, info.width, info.height)


class StoredUploads(Mapping[str, bytes]):
    """The ``upload:`` sources of an article, for the render (``RenderOptions.image_bytes``),
    each read from the storage when the render asks for it: a clip of many uploads never holds
    them all at once. An upload no longer stored is an ``ImageError`` (the render skips that
    image with a warning, as it skips a photo whose URL went away); a storage that cannot be
    read, a ``StorageError`` (transient: the job is retried)."""

    def __init__(self, article: Article, storage: Storage):
        self._sources = sorted({img.src for img in article.images if upload_digest(img.src)})
        self._storage = storage

    def __getitem__(self, src: str) -> bytes:
        digest = upload_digest(src)
        if digest is None or src not in self._sources:
            raise KeyError(src)
        try:
            return self._storage.read_upload(digest)
        except StorageError as e:
            if "not found" in str(e):
                raise ImageError(f"{src} is no longer stored") from None
            raise

    def __contains__(self, src: object) -> bool:  # without reading it (Mapping's own would)
        return src in self._sources

    def __iter__(self) -> Iterator[str]:
        return iter(self._sources)

    def __len__(self) -> int:
        return len(self._sources)
