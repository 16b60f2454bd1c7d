"""What identifies a render: the content key (same article content, template, voice and
renderer → same key: the service reuses a finished render instead of redoing it) and the
folder name the CLI gives a render."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from videogen.render import RENDERER_VERSION
from videogen.render.article import Article
from videogen.render.templates import Template
from videogen.render.text.lexicon import entries_in


def video_id(article: Article, template: str) -> str:
    """Folder name of a render in the CLI's output folder."""
    return f"{article.id}-{Path(template).stem}"


def lexicon_for(article: Article, lexicon: Mapping[str, str] | None) -> dict[str, str]:
    """The lexicon entries a render of ``article`` depends on: those whose written form occurs
    in its title, summary or body (an entry for other words changes nothing)."""
    if not lexicon:
        return {}
    text = "\n".join(t for t in (article.title, article.summary, article.body) if t)
    return dict(sorted(entries_in(text, lexicon).items()))


def content_key(article: Article, template: Template, voice: str | None, tts: str, max_duration: float,
                lexicon: Mapping[str, str] | None = None, script: Sequence[tuple[str, str]] | None = None) -> str:
    """Identifies a render: same article content, template, voice, lexicon entries that apply
    to it and renderer → same key."""
    data = article.content_dict()
    images = []
    for img in article.images:
        entry = img.model_dump(exclude_none=True)
        if not img.is_url and article.base_dir is not None:
            path = (article.base_dir / img.src).resolve()
            if path.is_file():  # a changed local file is a different render
                entry["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
        images.append(entry)
    data["images"] = images
    payload: dict[str, Any] = {
        "article": data,
        "template": template.model_dump(mode="json"),
        "voice": voice,
        "tts": tts,
        "max_duration": max_duration,
        "renderer": RENDERER_VERSION,
    }
    applied = lexicon_for(article, lexicon)
    if applied:  # no entry: the key renders had before lexicons existed
        payload["lexicon"] = applied
    if script:  # an editor's corrected script
        payload["script"] = [list(pair) for pair in script]
    blob = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()
