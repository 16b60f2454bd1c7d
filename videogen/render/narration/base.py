"""The one interface every narration engine implements: text + language + voice → audio."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np


@dataclass(frozen=True)
class VoiceInfo:
    """One voice of one engine, as listed by ``videogen voices``."""

    engine: str  # "piper" | "espeak" | "gtts"
    voice_id: str  # unique across engines, e.g. "piper:en_US-joe-medium", "espeak:fr", "gtts:fr"
    language: str  # primary language subtag it speaks: "en", "fr"
    name: str  # human-readable
    offline: bool
    quality: int  # higher speaks better; the chain prefers it
    model_path: Path | None = None
    extra: dict[str, str] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class Speech:
    """Mono audio of one spoken text: float32 samples in [-1, 1]. ``anchors`` are the word
    starts the engine reported, (character offset in the text spoken, seconds into
    ``samples``; see ``render.words``), and ``timing`` says where they come from: the engine
    ("piper", "espeak"), a fallback measured on the audio ("dtw", "proportional"), or "" (none
    yet)."""

    samples: np.ndarray
    sample_rate: int
    anchors: tuple[tuple[int, float], ...] = ()
    timing: str = ""

    @property
    def duration(self) -> float:
        return len(self.samples) / self.sample_rate


@runtime_checkable
class NarrationEngine(Protocol):
    name: str

    def voices(self) -> list[VoiceInfo]:
        """Voices this engine can use on this machine."""
        ...

    def synthesize(self, text: str, voice: VoiceInfo) -> Speech:
        """Speak ``text`` (already normalised for speech). Same input, same samples."""
        ...

    def fingerprint(self, voice: VoiceInfo) -> str:
        """Everything besides the text that changes the audio (engine version, model file,
        settings): part of the cache key."""
        ...


def trim_bounds(samples: np.ndarray, sample_rate: int, threshold: float = 0.01, keep: float = 0.04) -> tuple[int, int]:
    """The [first, last) samples kept by ``trim_silence`` (0, 0 when all is silence)."""
    loud = np.flatnonzero(np.abs(samples) > threshold)
    if loud.size == 0:
        return 0, 0
    pad = int(keep * sample_rate)
    return max(0, int(loud[0]) - pad), min(len(samples), int(loud[-1]) + pad + 1)


def trim_silence(samples: np.ndarray, sample_rate: int, threshold: float = 0.01, keep: float = 0.04) -> np.ndarray:
    """Cut leading and trailing silence, keeping ``keep`` seconds on each side, so the pauses
    between sentences come from the timeline, not from each engine's habits."""
    a, b = trim_bounds(samples, sample_rate, threshold, keep)
    return samples[a:b]


def trim_speech(speech: Speech) -> Speech:
    """``speech`` with its silence trimmed (``trim_silence``) and its anchors moved with it."""
    a, b = trim_bounds(speech.samples, speech.sample_rate)
    shift = a / speech.sample_rate
    dur = (b - a) / speech.sample_rate
    anchors = tuple((pos, round(min(max(0.0, t - shift), dur), 4)) for pos, t in speech.anchors)
    return Speech(speech.samples[a:b], speech.sample_rate, anchors, speech.timing)
