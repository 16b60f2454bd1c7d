"""Prepared layers kept on disk by content, so a new version of a clip (a corrected sentence,
a reordered picture) draws only what changed: generated backgrounds, framed photos, title and
outro cards, and the subject found in a photo (face detection). A layer's key is a hash of
everything that draws it (the template as data, the texts, the seed, the photo's bytes, the
canvas size, the renderer version): a hit is exactly what drawing it again would give.

Safe across processes: a layer is written to a temporary file and renamed into place (a reader
sees the whole file or none); a file that cannot be read counts as a miss. Bounded: past
``max_bytes`` the least recently used files go (a hit refreshes a file's time)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from videogen.outputs import atomic_file
from videogen.render import RENDERER_VERSION
from videogen.render.templates import Template

log = logging.getLogger(__name__)

Arrays = dict[str, np.ndarray]
_META = "__meta__"  # the JSON side of an entry, stored as bytes beside its arrays


def layer_key(kind: str, *parts: Any) -> str:
    """The key of a layer of ``kind`` drawn from ``parts`` (JSON-able; bytes as hex)."""
    def plain(v: Any) -> Any:
        return v.hex() if isinstance(v, bytes) else v

    blob = json.dumps([RENDERER_VERSION, kind, *[plain(p) for p in parts]], sort_keys=True, ensure_ascii=False,
                      separators=(",", ":"), default=str)
    return f"{kind}-{hashlib.sha256(blob.encode()).hexdigest()[:40]}"


def template_digest(template: Template) -> str:
    """The template as data (palette, fonts, layout, brand, size...), hashed with the size and
    time of every file it names (a brand's font or logo replaced in place): part of every layer
    key, so an edited template draws its layers again."""
    data = template.model_dump(mode="json")
    files: dict[str, list[int]] = {}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
        elif isinstance(node, str) and ("/" in node or "\\" in node) and len(node) < 4096:
            try:
                st = os.stat(node)
            except (OSError, ValueError):
                return
            files[node] = [st.st_size, st.st_mtime_ns]

    walk(data)
    blob = json.dumps([data, files], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


class LayerCache:
    """A folder of prepared layers (``root``; None: nothing is kept, every lookup draws)."""

    def __init__(self, root: Path | None, max_bytes: int = 1 << 30):
        self.root = Path(root) if root is not None and max_bytes > 0 else None  # 0 bytes: no cache at all
        self.max_bytes = max_bytes
        self.hits = 0
        self.misses = 0
        self._lock = threading.Lock()

    def counts(self) -> dict[str, int]:
        return {"hits": self.hits, "misses": self.misses}

    def get_or_make(self, key: str, make: Callable[[], tuple[Arrays, dict[str, Any]]]) -> tuple[Arrays, dict[str, Any]]:
        """The arrays and metadata kept under ``key``, else ``make()``'s, kept for next time."""
        found = self._read(key)
        if found is not None:
            with self._lock:
                self.hits += 1
            return found
        with self._lock:
            self.misses += 1
        arrays, meta = make()
        self._write(key, arrays, meta)
        return arrays, meta

    def _path(self, key: str) -> Path:
        assert self.root is not None
        return self.root / f"{key}.npz"

    def _read(self, key: str) -> tuple[Arrays, dict[str, Any]] | None:
        if self.root is None:
            return None
        path = self._path(key)
        try:
            with np.load(path, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files if k != _META}
                meta = json.loads(bytes(z[_META]).decode()) if _META in z.files else {}
            os.utime(path)  # recently used: evicted last
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError) as e:  # a damaged entry is drawn again (and replaced)
            log.warning("layer cache: %s unreadable (%s); drawing it again", path.name, e)
            return None
        return arrays, meta

    def _write(self, key: str, arrays: Arrays, meta: dict[str, Any]) -> None:
        """Keep an entry (never raises: a cache that cannot be written only costs time)."""
        if self.root is None or self.max_bytes <= 0:
            return
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            with atomic_file(self._path(key)) as f:
                entry: dict[str, Any] = {**arrays, _META: np.frombuffer(json.dumps(meta).encode(), np.uint8)}
                np.savez(f, **entry)
            self._evict(keep=self._path(key))
        except OSError as e:
            log.warning("layer cache: cannot keep %s (%s)", key, e)

    def _evict(self, keep: Path) -> None:
        """Remove the least recently used entries beyond ``max_bytes`` (never ``keep``, the
        entry just written: times within one clock tick tie)."""
        assert self.root is not None
        entries = []
        for p in self.root.glob("*.npz"):
            if p == keep:
                continue
            try:
                st = p.stat()
            except FileNotFoundError:  # removed by another process meanwhile
                continue
            entries.append((st.st_mtime, st.st_size, p))
        total = sum(size for _t, size, _p in entries) + keep.stat().st_size
        for _t, size, p in sorted(entries, key=lambda e: e[0]):
            if total <= self.max_bytes:
                break
            p.unlink(missing_ok=True)
            total -= size
