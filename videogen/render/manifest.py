"""manifest.json: what a render holds (each media file with its size, hash and type), what it
was made from (article, template, voice, renderer) and how it went (narration, warnings).
Written last: a set of files exists for readers once its manifest does."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from pathlib import Path
from typing import Any

from videogen import __version__
from videogen.outputs import CONTENT_TYPES, MEDIA_FILES
from videogen.render import RENDERER_VERSION
from videogen.render.article import Article
from videogen.render.narration import Narration
from videogen.render.script import Script
from videogen.render.templates import Template
from videogen.render.timeline import Timeline
from videogen.render.words import TimedWord


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def build_manifest(article: Article, template: Template, engine: str, narration: Narration, timeline: Timeline,
                   script: Script, folder: Path, key: str, warnings: list[str], started_at: datetime,
                   gain_db: float, n_images: int, cue_words: list[list[TimedWord]] | None = None,
                   word_timing: str = "none") -> dict[str, Any]:
    """The manifest of the render whose media files are in ``folder`` (their sizes and hashes
    are read there); the runner adds its ``timings``. ``words`` lists every spoken word as
    shown in the captions, in clip seconds; its ``sentence`` is the index of its cue in
    captions.vtt and captions.srt (0 is the title; a part of a long sentence is a cue of its
    own), from ``cue_words`` (per cue, times into the cue's speech). ``word_timing`` says where
    the times come from: the engine ("piper", "espeak") or a fallback measured on the audio
    ("dtw" against espeak-ng, else "proportional"), joined with "+" when lines differ."""
    files = {}
    for name in MEDIA_FILES:
        p = folder / name
        files[name] = {"bytes": p.stat().st_size, "sha256": sha256_file(p), "content_type": CONTENT_TYPES[name]}
    v = narration.voice
    return {
        "videogen": __version__,
        "renderer_version": RENDERER_VERSION,
        "content_key": key,
        "article": {
            "id": article.id, "title": article.title, "language": article.language, "url": article.url,
            "source": article.source, "published_at": article.published_at.isoformat() if article.published_at else None,
        },
        "template": {"name": template.name, "width": template.width, "height": template.height, "fps": template.fps, "aspect": template.aspect},
        "narration": {
            "engine": v.engine, "voice": v.voice_id, "voice_name": v.name, "offline": v.offline,
            "fingerprint": narration.fingerprint, "sample_rate": narration.sample_rate,
            "lines": 1 + len(script.lines), "cache_hits": narration.cache_hits, "narrated_from": script.narrated_from,
            "gain_db": round(gain_db, 2),
        },
        "duration": round(timeline.duration, 3),
        "frames": timeline.n_frames,
        "scenes": len(timeline.segments) - 2,
        "images_used": n_images,
        "captions": {"cues": len(timeline.cues), "pages": len(timeline.pages), "style": template.layout.caption_style,
                     "timing": word_timing},
        "words": [
            {"text": cue.text[w.a : w.b], "start": round(cue.start + w.start, 3), "end": round(cue.start + w.end, 3),
             "sentence": c}
            for c, (cue, ws) in enumerate(zip(timeline.cues, cue_words or [], strict=False)) for w in ws
        ],
        "files": files,
        "warnings": warnings,
        "created_at": started_at.isoformat(timespec="seconds"),
        "engine": engine,
    }


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
