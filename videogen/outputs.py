"""The files of one render: names, content types and the order they are published in, and
how a folder of them is published ("publish atomically, manifest last").

The one place these are written down: the render core writes them, storage publishes and
serves them, the API routes and the CLI's ``download`` list them."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from videogen.errors import StorageError


@dataclass(frozen=True)
class OutputFile:
    name: str
    content_type: str
    link: str  # key of the file in a job's ``links`` (API, ``videogen status --json``)


MANIFEST = "manifest.json"

#: Every file of a render, in publishing order: ``manifest.json`` is last, because a set of
#: files exists for readers only once its manifest does ("publish atomically, manifest last").
OUTPUT_FILES: tuple[OutputFile, ...] = (
    OutputFile("video.mp4", "video/mp4", "video"),
    OutputFile("poster.jpg", "image/jpeg", "poster"),
    OutputFile("captions.vtt", "text/vtt; charset=utf-8", "captions"),
    OutputFile("captions.srt", "application/x-subrip; charset=utf-8", "subtitles"),
    OutputFile(MANIFEST, "application/json", "manifest"),
)
FILES: tuple[str, ...] = tuple(f.name for f in OUTPUT_FILES)
#: The files the manifest describes (everything but itself), uploaded before it.
MEDIA_FILES: tuple[str, ...] = tuple(n for n in FILES if n != MANIFEST)
CONTENT_TYPES: dict[str, str] = {f.name: f.content_type for f in OUTPUT_FILES}


@contextmanager
def atomic_file(path: Path) -> Iterator[BinaryIO]:
    """A file opened for writing that appears at ``path`` whole when the block ends: written
    under a temporary name in the same folder (``.<name>.*.tmp``) and renamed into place, or
    removed if the block raises. A reader sees the old file, the new one, or none."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def publish_folder(staging: Path, target: Path, replace: bool = True, name: str | None = None) -> bool:
    """Move the complete set of files in ``staging`` into ``target``. A new folder appears whole
    (one rename); an existing one gets each file replaced atomically, the manifest last, so a
    reader sees the old set or the new one, never a mix. With ``replace=False`` an existing
    set (its manifest written) is kept and this returns False; True once published.

    ``staging`` is left to the caller to remove (emptied, or gone after a rename). Raises
    ``StorageError`` "could not publish {name}: ..." (``name`` defaults to the target)."""
    try:
        if not target.exists():
            try:
                os.rename(staging, target)  # the whole set appears at once
                return True
            except OSError:
                if not target.exists():
                    raise
                # Another publisher created it first: go on as with an existing folder.
        if not replace and (target / MANIFEST).is_file():
            return False
        for file in FILES:  # the manifest last: it commits the set
            os.replace(staging / file, target / file)
        return True
    except OSError as e:
        raise StorageError(f"could not publish {name or target}: {e.strerror or e}") from e
