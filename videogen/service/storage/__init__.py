"""Where finished videos live: ``Storage`` (base.py) declares what every backend offers;
``LocalStorage`` (a folder, the default) and ``S3Storage`` (any S3 API) implement it."""

from __future__ import annotations

from pathlib import Path

from videogen.errors import StorageError
from videogen.service.storage.base import Storage, StoredFile
from videogen.service.storage.local import LocalStorage
from videogen.service.storage.s3 import S3Storage
from videogen.settings import Settings

__all__ = ["LocalStorage", "S3Storage", "Storage", "StoredFile", "open_storage"]


def open_storage(url: str | None, default_root: Path, settings: Settings | None = None) -> Storage:
    """``None`` or ``file:///path`` → LocalStorage; ``s3://bucket/prefix`` → S3Storage
    (endpoint, region and credentials from ``settings``)."""
    if not url:
        return LocalStorage(default_root)
    if url.startswith("file://"):
        return LocalStorage(Path(url[len("file://") :]))
    if url.startswith("s3://"):
        return S3Storage.from_settings(url, settings or Settings())
    raise StorageError(f"unsupported storage URL {url!r} (use file:///path or s3://bucket/prefix)")


