"""Shared fixtures: isolated settings, small real renders reused across tests, and helpers that
inspect real output files (ffprobe, decoded frames, decoded audio)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from videogen.render.article import parse_article
from videogen.render.encode import ffmpeg_exe
from videogen.render.pipeline import RenderOptions, render_article
from videogen.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "articles"


@pytest.fixture(scope="session")
def session_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("videogen-home")


@pytest.fixture(scope="session")
def settings(session_home: Path) -> Settings:
    """Settings with a private home; the narration cache is shared by the whole session."""
    return Settings(home=session_home)


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


@pytest.fixture(scope="session")
def rendered(settings: Settings, tmp_path_factory: pytest.TempPathFactory):
    """Render (once per session) a short article per template at a small size."""
    cache: dict[tuple, Path] = {}

    def get(template: str = "news", lang: str = "en", with_images: bool = True, height: int = 240,
            fps: float | None = 15, engine: str = "fast") -> Path:
        key = (template, lang, with_images, height, fps, engine)
        if key not in cache:
            images = [str(EXAMPLES / "images" / n) for n in ("astronaut.jpg", "rocket.jpg")] if with_images else None
            article = parse_article(short_article(lang, images), base_dir=EXAMPLES)
            out = tmp_path_factory.mktemp("render") / "clip"
            opts = RenderOptions(template=template, height=height, fps=fps, engine=engine, allow_outside_paths=True)
            render_article(article, opts, out, settings.render_config())
            cache[key] = out
        return cache[key]

    return get


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


# --- a real S3-compatible server ---------------------------------------------------------------

@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory):
    """moto's S3 server in its own process on 127.0.0.1 (installed by the test extra)."""
    from .s3server import start_s3_server

    try:
        server = start_s3_server(tmp_path_factory.mktemp("s3"))
    except (RuntimeError, FileNotFoundError) as e:
        pytest.fail(f"cannot start the S3 test server (moto[server], from the test extra): {e}")
    yield server
    server.stop()
