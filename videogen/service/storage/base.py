"""What every storage backend offers, declared once (dramatiq's ``Broker`` is the model):
callers use these methods and never probe a backend with ``getattr``. One folder (or prefix)
per render, named by its storage key; a set of files is published atomically: a reader sees
the old set or the new one, never a half-written file, because the manifest is written last
(see ``videogen.outputs``)."""

from __future__ import annotations

import re
import shutil
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from videogen.errors import StorageError
from videogen.outputs import FILES

KEY_RE = re.compile(r"^[a-f0-9]{16,64}$")
DIGEST_RE = re.compile(r"^[a-f0-9]{64}$")
#: Where uploads live beside the renders (not a storage key: no render can take the name).
UPLOADS = "uploads"
ServeMode = Literal["stream", "redirect"]


@dataclass(frozen=True)
class StoredFile:
    key: str
    name: str
    size: int
    etag: str
    content_type: str


def check_key(key: str) -> str:
    if not KEY_RE.match(key):
        raise StorageError(f"invalid storage key {key!r}")
    return key


def check_digest(digest: str) -> str:
    if not DIGEST_RE.match(digest):
        raise StorageError(f"invalid upload digest {digest!r}")
    return digest


def check_name(name: str) -> str:
    if name not in FILES:
        raise StorageError(f"unknown file {name!r}")
    return name


class Storage(ABC):
    """A place finished renders are published to and served from."""

    #: How the API hands media out: ``stream`` (the API reads and sends the bytes) or
    #: ``redirect`` (302 to a URL the storage serves itself; see ``presigned_url``).
    serve_mode: ServeMode = "stream"

    @abstractmethod
    def staging_dir(self) -> Path:
        """A fresh local folder to render into before publishing. Raises StorageError."""

    @abstractmethod
    def publish(self, key: str, folder: Path, replace: bool = False) -> bool:
        """Publish the files of ``folder`` under ``key``, the manifest last, and remove the
        folder. Without ``replace``, an existing complete set is kept and False is returned
        (someone published it first). Raises StorageError (nothing becomes visible then)."""

    @abstractmethod
    def exists(self, key: str) -> bool:
        """Whether a complete set (its manifest) is published under ``key``."""

    @abstractmethod
    def stat(self, key: str, name: str) -> StoredFile:
        """Size, ETag and content type of one file. Raises StorageError if it is missing."""

    @abstractmethod
    def read(self, key: str, name: str, start: int = 0, end: int | None = None,
             chunk: int = 1 << 16) -> Iterator[bytes]:
        """Bytes ``start``..``end`` (inclusive) of a stored file, in chunks."""

    @abstractmethod
    def manifest(self, key: str) -> dict[str, Any]:
        """The parsed ``manifest.json`` of ``key``. Raises StorageError if there is none."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove a published set, the manifest first (readers stop seeing it at once)."""

    @abstractmethod
    def check(self) -> None:
        """Raise StorageError if the storage cannot be written."""

    @abstractmethod
    def clean_staging(self, older_than: float) -> int:
        """Remove staging folders untouched for ``older_than`` seconds (left by killed
        workers). Returns how many were removed."""

    @abstractmethod
    def put_upload(self, digest: str, data: bytes) -> None:
        """Keep an editor's uploaded image under the SHA-256 ``digest`` of ``data`` (the same
        bytes twice are stored once). Whole or not at all: a reader never sees a part of it.
        Raises StorageError."""

    @abstractmethod
    def read_upload(self, digest: str) -> bytes:
        """The bytes of an upload. Raises StorageError (message with "not found" if missing)."""

    @abstractmethod
    def has_upload(self, digest: str) -> bool:
        """Whether an upload with this digest is stored."""

    def presigned_url(self, key: str, name: str, expires: int | None = None) -> str:
        """A URL the storage serves ``name`` from itself (``serve_mode == "redirect"``).
        Raises StorageError where the backend cannot do that."""
        raise StorageError(f"{type(self).__name__} cannot hand out presigned URLs")


def new_staging_dir(base: Path) -> Path:
    """A fresh folder under ``base`` to render into before publishing."""
    try:
        base.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(dir=base))
    except OSError as e:
        raise StorageError(f"cannot create a staging folder in {base}: {e.strerror or e}") from e


def check_complete(folder: Path) -> None:
    """Raise unless ``folder`` holds every file of a render."""
    missing = [n for n in FILES if not (folder / n).is_file()]
    if missing:
        raise StorageError(f"incomplete render, missing {', '.join(missing)}")


def remove_stale_dirs(base: Path, older_than: float) -> int:
    """Remove the folders in ``base`` with nothing modified for ``older_than`` seconds
    (staging left behind by killed workers). Returns how many were removed."""
    if not base.is_dir():
        return 0
    removed, cutoff = 0, time.time() - older_than
    for d in base.iterdir():
        try:
            newest = max([d.stat().st_mtime] + [p.stat().st_mtime for p in d.rglob("*")])
        except OSError:
            continue
        if newest < cutoff:
            shutil.rmtree(d, ignore_errors=True)
            removed += 1
    return removed
