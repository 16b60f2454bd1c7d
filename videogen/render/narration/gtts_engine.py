"""gTTS (Google Translate's voice, online). Used only when chosen, always with a timeout of at
most 5 s per request; any failure makes the chain fall back to the offline engines. Nothing is
written to disk until a whole sentence has been received and decoded."""

from __future__ import annotations

import io
import logging
import subprocess
import threading
from importlib import metadata

import numpy as np

from videogen.errors import EngineUnavailable, NarrationError
from videogen.render.narration.base import Speech, VoiceInfo

log = logging.getLogger(__name__)
SAMPLE_RATE = 24000
# gTTS still names some languages by their withdrawn ISO 639 codes: the voice keeps gTTS's code
# (it is what gTTS is asked for) and speaks the article language's current code.
LEGACY_CODES = {"iw": "he", "jw": "jv", "in": "id"}


def decode_mp3(data: bytes, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """MP3 bytes → mono float32 samples, with the ffmpeg that imageio-ffmpeg ships."""
    import imageio_ffmpeg

    proc = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", "pipe:0", "-f", "f32le", "-ac", "1", "-ar", str(sample_rate), "pipe:1"],
        input=data, capture_output=True, timeout=60, check=False,
    )
    if proc.returncode != 0:
        raise NarrationError(f"could not decode gTTS audio: {proc.stderr.decode(errors='replace')[-300:]}")
    return np.frombuffer(proc.stdout, np.float32).copy()


class GttsEngine:
    name = "gtts"

    def __init__(self, timeout: float = 5.0):
        self.timeout = min(float(timeout), 5.0)

    def voices(self) -> list[VoiceInfo]:
        try:
            from gtts.lang import tts_langs
        except ImportError:
            return []
        out = []
        for code, label in sorted(tts_langs().items()):
            family = code.split("-")[0].lower()
            if code != family:
                continue
            family = LEGACY_CODES.get(family, family)
            out.append(VoiceInfo(engine="gtts", voice_id=f"gtts:{code}", language=family,
                                 name=f"gTTS {label} (online)", offline=False, quality=20, extra={"tld": "com"}))
        return out

    def fingerprint(self, voice: VoiceInfo) -> str:
        return f"gtts {metadata.version('gtts')} tld {voice.extra.get('tld', 'com')}"

    def synthesize(self, text: str, voice: VoiceInfo) -> Speech:
        from gtts import gTTS, gTTSError

        result: dict[str, object] = {}

        def work() -> None:
            try:
                buf = io.BytesIO()
                gTTS(text, lang=voice.voice_id.split(":", 1)[1], tld=voice.extra.get("tld", "com"),
                     timeout=self.timeout).write_to_fp(buf)
                result["mp3"] = buf.getvalue()
            except (gTTSError, OSError, ValueError, AssertionError, RuntimeError) as e:
                result["error"] = e

        # requests' timeout covers connect and each read, not a DNS lookup that never answers:
        # a watchdog bounds the whole call, and a stuck thread is abandoned (it is a daemon).
        t = threading.Thread(target=work, name="gtts", daemon=True)
        t.start()
        t.join(self.timeout * 2 + 1)
        if t.is_alive():
            raise EngineUnavailable(f"gTTS did not answer within {self.timeout * 2 + 1:.0f} s")
        if "error" in result:
            raise EngineUnavailable(f"gTTS failed: {result['error']}")
        mp3 = result.get("mp3")
        if not isinstance(mp3, bytes) or not mp3:
            raise EngineUnavailable("gTTS returned no audio")
        return Speech(decode_mp3(mp3), SAMPLE_RATE)
