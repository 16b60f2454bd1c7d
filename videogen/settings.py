"""Settings from ``VIDEOGEN_*`` environment variables, every one with a working default.

Processes started in the same folder with the same environment share one home folder
(``./.videogen`` by default): media, cache, job store and embedded broker all live there.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PACKAGE_ROOT = Path(__file__).resolve().parent

TtsChoice = Literal["auto", "piper", "espeak", "gtts"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VIDEOGEN_", extra="ignore")

    home: Path = Field(Path(".videogen"), description="Folder for media, cache, job store and embedded broker.")
    media_dir: Path | None = Field(None, description="Where finished videos are published (default HOME/media).")
    cache_dir: Path | None = Field(None, description="Narration cache (default HOME/cache).")
    voices_dir: Path | None = Field(None, description="Extra Piper voices (*.onnx + *.onnx.json), default HOME/voices.")
    templates_dir: Path = Field(PROJECT_ROOT / "templates", description="Video templates (*.toml).")

    tts: TtsChoice = Field("auto", description="Narration engine: auto picks the best offline engine.")
    gtts_timeout: float = Field(5.0, gt=0, le=5.0, description="Seconds gTTS may take per request (at most 5).")
    max_duration: float = Field(120.0, gt=5, le=900, description="Narration longer than this is cut at a sentence.")
    max_image_pixels: int = Field(40_000_000, gt=0, description="Images with more pixels are skipped.")
    max_image_bytes: int = Field(25_000_000, gt=0, description="Images larger than this are skipped.")
    image_timeout: float = Field(10.0, gt=0, description="Seconds allowed to fetch one image.")

    @field_validator("home", mode="after")
    @classmethod
    def _absolute_home(cls, v: Path) -> Path:
        return v.expanduser().resolve()

    @property
    def media_path(self) -> Path:
        return (self.media_dir or self.home / "media").expanduser().resolve()

    @property
    def cache_path(self) -> Path:
        return (self.cache_dir or self.home / "cache").expanduser().resolve()

    @property
    def voices_path(self) -> Path:
        return (self.voices_dir or self.home / "voices").expanduser().resolve()


@functools.lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
