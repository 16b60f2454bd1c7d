"""The files of one render: names, content types and the order they are published in.

The one place these are written down: the render core writes them, storage publishes and
serves them, the API routes and the CLI's ``download`` list them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OutputFile:
    name: str
    content_type: str
    link: str  # key of the file in a job's ``links`` (API, ``videogen status --json``)


#: Every file of a render, in publishing order: ``manifest.json`` is last, because a set of
#: files exists for readers only once its manifest does ("publish atomically, manifest last").
OUTPUT_FILES: tuple[OutputFile, ...] = (
    OutputFile("video.mp4", "video/mp4", "video"),
    OutputFile("poster.jpg", "image/jpeg", "poster"),
    OutputFile("captions.vtt", "text/vtt; charset=utf-8", "captions"),
    OutputFile("manifest.json", "application/json", "manifest"),
)
FILES: tuple[str, ...] = tuple(f.name for f in OUTPUT_FILES)
MANIFEST = "manifest.json"
#: The files the manifest describes (everything but itself), uploaded before it.
MEDIA_FILES: tuple[str, ...] = tuple(n for n in FILES if n != MANIFEST)
CONTENT_TYPES: dict[str, str] = {f.name: f.content_type for f in OUTPUT_FILES}
