"""Finished renders in a local folder (the default: ``$VIDEOGEN_HOME/media``)."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from videogen.errors import StorageError
from videogen.outputs import CONTENT_TYPES, MANIFEST, atomic_file, publish_folder
from videogen.service.storage.base import (
    UPLOADS,
    Storage,
    StoredFile,
    check_complete,
    check_digest,
    check_key,
    check_name,
    new_staging_dir,
    remove_stale_dirs,
)


class LocalStorage(Storage):
    def __init__(self, root: Path):
        self.root = Path(root)

    def _dir(self, key: str) -> Path:
        return self.root / check_key(key)

    def staging_dir(self) -> Path:
        return new_staging_dir(self.root / ".staging")

    def publish(self, key: str, folder: Path, replace: bool = False) -> bool:
        check_complete(folder)
        published = publish_folder(folder, self._dir(key), replace, name=key)
        shutil.rmtree(folder, ignore_errors=True)  # emptied, or the set not published
        return published

    def exists(self, key: str) -> bool:
        return (self._dir(key) / MANIFEST).is_file()

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

    def manifest(self, key: str) -> dict[str, Any]:
        try:
            return json.loads((self._dir(key) / MANIFEST).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise StorageError(f"{key} has no manifest") from None

    def delete(self, key: str) -> None:
        shutil.rmtree(self._dir(key), ignore_errors=True)

    def _upload_path(self, digest: str) -> Path:
        return self.root / UPLOADS / check_digest(digest)

    def put_upload(self, digest: str, data: bytes) -> None:
        path = self._upload_path(digest)
        if path.is_file():
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_file(path) as f:  # readers see the whole file or none
                f.write(data)
        except OSError as e:
            raise StorageError(f"cannot store upload {digest[:12]}: {e.strerror or e}") from e

    def read_upload(self, digest: str) -> bytes:
        try:
            return self._upload_path(digest).read_bytes()
        except FileNotFoundError:
            raise StorageError(f"upload {digest} not found") from None
        except OSError as e:
            raise StorageError(f"cannot read upload {digest[:12]}: {e.strerror or e}") from e

    def has_upload(self, digest: str) -> bool:
        return self._upload_path(digest).is_file()

    def check(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self.root, prefix=".check-"):
                pass
        except OSError as e:
            raise StorageError(f"media folder {self.root} is not writable: {e.strerror or e}") from e


