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
    """Mono audio of one spoken text: float32 samples in [-1, 1]."""

    samples: np.ndarray
    sample_rate: int

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


def trim_silence(samples: np.ndarray, sample_rate: int, threshold: float = 0.01, keep: float = 0.04) -> np.ndarray:
    """Cut leading and trailing silence, keeping ``keep`` seconds on each side, so the pauses
    between sentences come from the timeline, not from each engine's habits."""
    loud = np.flatnonzero(np.abs(samples) > threshold)
    if loud.size == 0:
        return samples[:0]
    pad = int(keep * sample_rate)
    return samples[max(0, loud[0] - pad) : min(len(samples), loud[-1] + pad + 1)]
