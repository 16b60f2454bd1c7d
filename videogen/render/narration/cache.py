"""Content-addressed cache of synthesised sentences: (engine, voice, engine fingerprint, text)
→ 16-bit WAV, with its word timings beside it (``{key}.json``: the speech's ``anchors`` and
``timing``). Writes go to a temporary name and are renamed into place, the timings first."""

from __future__ import annotations

import hashlib
import json
import wave
from pathlib import Path

import numpy as np

from videogen.outputs import atomic_file
from videogen.render.narration.base import Speech, VoiceInfo

#: Bumped when how word timings are derived changes: older sidecars are then ignored (an
#: offline engine speaks the line again, with timings made the new way).
TIMING_VERSION = 1


class SpeechCache:
    def __init__(self, root: Path | None):
        self.root = Path(root) / "narration" if root else None

    @staticmethod
    def key(voice: VoiceInfo, fingerprint: str, text: str) -> str:
        blob = json.dumps([voice.engine, voice.voice_id, fingerprint, text], ensure_ascii=False)
        return hashlib.sha256(blob.encode()).hexdigest()

    def _path(self, key: str) -> Path:
        assert self.root is not None
        return self.root / key[:2] / f"{key}.wav"

    def _read_timing(self, key: str) -> tuple[tuple[tuple[int, float], ...], str]:
        try:
            data = json.loads(self._path(key).with_suffix(".json").read_text(encoding="utf-8"))
            if data.get("version") != TIMING_VERSION:
                return (), ""
            anchors = tuple((int(p), float(t)) for p, t in data["anchors"])
            return anchors, str(data["timing"])
        except (OSError, ValueError, KeyError, TypeError):
            return (), ""  # written before word timings existed: the caller re-times it

    def get(self, key: str) -> Speech | None:
        if self.root is None:
            return None
        path = self._path(key)
        try:
            with wave.open(str(path), "rb") as w:
                rate = w.getframerate()
                data = w.readframes(w.getnframes())
        except (FileNotFoundError, EOFError, wave.Error):
            return None
        samples = np.frombuffer(data, np.int16).astype(np.float32) / 32767.0
        if not samples.size:
            return None
        anchors, timing = self._read_timing(key)
        return Speech(samples, rate, anchors, timing)

    def put(self, key: str, speech: Speech) -> Speech:
        """Store and return the speech as it will be read back (quantised to 16 bits), so a
        cold and a warm render give identical samples."""
        pcm = np.clip(np.round(speech.samples * 32767.0), -32767, 32767).astype(np.int16)
        quantised = Speech(pcm.astype(np.float32) / 32767.0, speech.sample_rate, speech.anchors, speech.timing)
        if self.root is None:
            return quantised
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        timing = json.dumps({"version": TIMING_VERSION, "timing": speech.timing,
                             "anchors": [list(a) for a in speech.anchors]})
        with atomic_file(path.with_suffix(".json")) as f:
            f.write(timing.encode())
        with atomic_file(path) as f, wave.open(f, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(speech.sample_rate)
            w.writeframes(pcm.tobytes())
        return quantised
