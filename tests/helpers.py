"""Helpers shared by the tests (fixtures and hooks are in conftest.py): where the project's
files are, a small article, and inspection of real output files (ffprobe, decoded frames and
audio, MP4 atoms)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from videogen.render.encode import ffmpeg_exe

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "articles"
ARTIFACTS = ROOT / "test-artifacts"  # screenshots of the browser tests


# --- small articles -------------------------------------------------------------------------

def short_article(lang: str = "en", images: list[str] | None = None, **extra) -> dict:
    texts = {
        "en": ("Museum opens a new space exhibition",
               "The city museum opened a new exhibition on Monday. Visitors can step inside a capsule replica."),
        "fr": ("Le musée ouvre une exposition sur l’espace",
               "Le musée de la ville a ouvert une exposition lundi. Les visiteurs peuvent entrer dans une capsule."),
    }
    title, summary = texts[lang]
    data = {"id": f"short-{lang}", "title": title, "summary": summary, "language": lang,
            "source": "Test Tribune", "url": "https://news.example.org/a", "published_at": "2026-03-02T09:30:00Z"}
    if images:
        data["images"] = [{"src": src, "credit": "NASA"} for src in images]
    data.update(extra)
    return data


# --- inspection helpers ---------------------------------------------------------------------

def ffprobe(path: Path) -> dict:
    exe = shutil.which("ffprobe")
    if exe is None:
        pytest.fail("ffprobe is not installed: run the README's test command (it installs Debian's ffmpeg)")
    out = subprocess.run([exe, "-v", "error", "-print_format", "json", "-show_format", "-show_streams", str(path)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def stream(info: dict, kind: str) -> dict:
    found = [s for s in info["streams"] if s["codec_type"] == kind]
    assert len(found) == 1, f"expected one {kind} stream, got {len(found)}"
    return found[0]


def decode_frame(path: Path, t: float) -> np.ndarray:
    """The RGB frame shown at ``t`` seconds, decoded by ffmpeg."""
    info = stream(ffprobe(path), "video")
    w, h = info["width"], info["height"]
    raw = subprocess.run([ffmpeg_exe(), "-v", "error", "-ss", f"{t:.3f}", "-i", str(path), "-frames:v", "1",
                          "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"], capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(h, w, 3)


def decode_audio(path: Path, rate: int = 16000) -> np.ndarray:
    raw = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(path), "-vn", "-ac", "1", "-ar", str(rate),
                          "-f", "f32le", "pipe:1"], capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.float32)


def top_level_atoms(path: Path) -> list[str]:
    atoms = []
    with open(path, "rb") as f:
        while True:
            head = f.read(8)
            if len(head) < 8:
                break
            size = int.from_bytes(head[:4], "big")
            kind = head[4:8].decode("latin-1")
            if size == 1:
                size = int.from_bytes(f.read(8), "big")
                f.seek(size - 16, 1)
            elif size == 0:
                atoms.append(kind)
                break
            else:
                f.seek(size - 8, 1)
            atoms.append(kind)
    return atoms


def watch_errors(page):
    """``page`` (Playwright) collecting its console errors and uncaught exceptions in ``page.errors``."""
    page.errors = []
    page.on("console", lambda m: page.errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: page.errors.append(f"pageerror: {e}"))
    return page
