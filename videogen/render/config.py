"""What the render core is told from outside, as plain frozen objects: the edges (CLI, service)
build them from ``Settings`` (``Settings.render_config()``, ``Settings.article_limits()``) and
pass them in; the core reads no environment variable (arq's ``RedisSettings`` handed to its
``Worker`` is the model)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, get_args

#: Who may speak: ``auto`` picks the best engine that speaks the language offline.
TtsChoice = Literal["auto", "piper", "espeak", "gtts"]
TTS_CHOICES: tuple[str, ...] = get_args(TtsChoice)


@dataclass(frozen=True)
class ArticleLimits:
    """The largest article accepted (``VIDEOGEN_MAX_TITLE_CHARS``, ``_MAX_TEXT_CHARS``,
    ``_MAX_IMAGES``)."""

    max_title_chars: int = 400
    max_text_chars: int = 20_000
    max_images: int = 30


@dataclass(frozen=True)
class EncoderTuning:
    """x264 and frame-pipe options, measured on two cores (README, Performance).

    ``x264_threads``: x264 frame threads (None: x264's own choice). ``frames_nice``: nice levels
    below the encoder for the thread that draws frames (0: same priority). ``x264_sliced``:
    split each frame between threads instead of encoding several frames at once (less memory,
    about 5 % slower next to the frame generator). ``x264_sync_lookahead``: None for x264's
    default, 0 runs the look-ahead in the encoding thread. ``vmsplice``: hand frames to the
    pipe without copying them (Linux)."""

    x264_threads: int | None = 2
    frames_nice: int = 10
    x264_sliced: bool = False
    x264_sync_lookahead: int | None = None
    vmsplice: bool = True


@dataclass(frozen=True)
class RenderConfig:
    """Everything a render reads besides the article and its ``RenderOptions``."""

    templates_dir: Path | tuple[Path, ...]  # one folder or several, searched in order
    cache_dir: Path | None = None  # narration cache (and prepared layers in its layers/); None: no cache
    layer_cache_bytes: int = 1 << 30  # most bytes of prepared layers kept (0: none)
    voices_dir: Path | None = None  # extra Piper voices
    default_voices: Mapping[str, str] = field(default_factory=dict)  # language → voice of `auto`
    tts: TtsChoice = "auto"  # the default engine choice when the options name none
    gtts_timeout: float = 5.0
    max_duration: float = 120.0  # the default bound when the options name none
    max_image_bytes: int = 25_000_000
    max_image_pixels: int = 40_000_000
    image_timeout: float = 10.0
    image_hosts: frozenset[str] = frozenset()  # fetched even when they resolve to private addresses
    encoder: EncoderTuning = field(default_factory=EncoderTuning)
