"""Where finished videos live. One folder (or prefix) per render, named by its storage key;
a set of files is published atomically: a reader sees the old set or the new one, never a
half-written file. ``LocalStorage`` is the default; other backends implement ``Storage``."""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from .errors import StorageError

FILES = ("video.mp4", "poster.jpg", "captions.vtt", "manifest.json")
CONTENT_TYPES = {
    "video.mp4": "video/mp4",
    "poster.jpg": "image/jpeg",
    "captions.vtt": "text/vtt; charset=utf-8",
    "manifest.json": "application/json",
}
KEY_RE = re.compile(r"^[a-f0-9]{16,64}$")


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


def check_name(name: str) -> str:
    if name not in FILES:
        raise StorageError(f"unknown file {name!r}")
    return name


@runtime_checkable
class Storage(Protocol):
    def staging_dir(self) -> Path:
        """A fresh local folder to render into before publishing."""
        ...

    def publish(self, key: str, folder: Path, replace: bool = False) -> bool:
        """Publish the files of ``folder`` under ``key``. Without ``replace``, an existing
        complete set is kept and False is returned (someone published it first)."""
        ...

    def exists(self, key: str) -> bool: ...

    def stat(self, key: str, name: str) -> StoredFile: ...

    def read(self, key: str, name: str, start: int = 0, end: int | None = None, chunk: int = 1 << 16) -> Iterator[bytes]:
        """Bytes ``start``..``end`` (inclusive) of a stored file, in chunks."""
        ...

    def manifest(self, key: str) -> dict: ...

    def delete(self, key: str) -> None: ...

    def check(self) -> None:
        """Raise StorageError if the storage cannot be written."""
        ...


class LocalStorage:
    def __init__(self, root: Path):
        self.root = Path(root)

    def _dir(self, key: str) -> Path:
        return self.root / check_key(key)

    def staging_dir(self) -> Path:
        return new_staging_dir(self.root / ".staging")

    def publish(self, key: str, folder: Path, replace: bool = False) -> bool:
        target = self._dir(key)
        check_complete(folder)
        try:
            if not target.exists():
                try:
                    os.rename(folder, target)  # the whole set appears at once
                    return True
                except OSError:
                    if not target.exists():
                        raise
            if not replace and (target / "manifest.json").is_file():
                shutil.rmtree(folder, ignore_errors=True)
                return False
            for name in FILES:  # the manifest last: it commits the set
                os.replace(folder / name, target / name)
            shutil.rmtree(folder, ignore_errors=True)
            return True
        except OSError as e:
            raise StorageError(f"could not publish {key}: {e.strerror or e}") from e

    def exists(self, key: str) -> bool:
        return (self._dir(key) / "manifest.json").is_file()

    def clean_staging(self, older_than: float) -> int:
        """Remove staging folders untouched for ``older_than`` seconds (left by killed
        workers). Returns how many were removed."""
        return remove_stale_dirs(self.root / ".staging", older_than)

    def stat(self, key: str, name: str) -> StoredFile:
        path = self._dir(key) / check_name(name)
        try:
            st = path.stat()
        except FileNotFoundError:
            raise StorageError(f"{key}/{name} not found") from None
        return StoredFile(key, name, st.st_size, f'"{st.st_size:x}-{int(st.st_mtime_ns):x}"', CONTENT_TYPES[name])

    def read(self, key: str, name: str, start: int = 0, end: int | None = None, chunk: int = 1 << 16) -> Iterator[bytes]:
        path = self._dir(key) / check_name(name)
        with open(path, "rb") as f:
            f.seek(start)
            remaining = None if end is None else end - start + 1
            while remaining is None or remaining > 0:
                data = f.read(chunk if remaining is None else min(chunk, remaining))
                if not data:
                    break
                if remaining is not None:
                    remaining -= len(data)
                yield data

    def local_path(self, key: str, name: str) -> Path:
        return self._dir(key) / check_name(name)

    def manifest(self, key: str) -> dict:
        try:
            return json.loads((self._dir(key) / "manifest.json").read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise StorageError(f"{key} has no manifest") from None

    def delete(self, key: str) -> None:
        shutil.rmtree(self._dir(key), ignore_errors=True)

    def check(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self.root, prefix=".check-"):
                pass
        except OSError as e:
            raise StorageError(f"media folder {self.root} is not writable: {e.strerror or e}") from e


def open_storage(url: str | None, default_root: Path, settings=None) -> Storage:  # type: ignore[no-untyped-def]
    """``None`` or ``file:///path`` → LocalStorage; ``s3://bucket/prefix`` → S3Storage
    (endpoint, region and credentials from ``settings``)."""
    if not url:
        return LocalStorage(default_root)
    if url.startswith("file://"):
        return LocalStorage(Path(url[len("file://") :]))
    if url.startswith("s3://"):
        from .settings import Settings
        from .storage_s3 import S3Storage

        return S3Storage.from_settings(url, settings or Settings())
    raise StorageError(f"unsupported storage URL {url!r} (use file:///path or s3://bucket/prefix)")


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
    import shutil
    import time

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
