"""espeak-ng, offline, ~100 languages, from the ``espeakng-loader`` wheel (no apt needed).
Robotic but intelligible enough as a last offline resort. Word timings come from the
library's own word events (``espeakEVENT_WORD``: text position and sample)."""

from __future__ import annotations

import ctypes
import functools
import logging
import threading
from importlib import metadata

import numpy as np

from videogen.errors import EngineUnavailable, NarrationError
from videogen.render.narration.base import Speech, VoiceInfo

log = logging.getLogger(__name__)

_AUDIO_OUTPUT_SYNCHRONOUS = 0x02
_CHARS_UTF8 = 1
_PHONEMES = 0x100  # espeakPHONEMES: [[…]] phoneme mnemonics in the text are read as such
_RATE = 1  # espeakRATE parameter
_WPM = 165


class _EspeakVoiceStruct(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_char_p),
        ("languages", ctypes.c_void_p),
        ("identifier", ctypes.c_char_p),
        ("gender", ctypes.c_ubyte),
        ("age", ctypes.c_ubyte),
        ("variant", ctypes.c_ubyte),
        ("xx1", ctypes.c_ubyte),
        ("score", ctypes.c_int),
        ("spare", ctypes.c_void_p),
    ]


class _EspeakEvent(ctypes.Structure):
    """espeak_EVENT (speak_lib.h): what the synth callback reports with each chunk of audio."""

    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),  # 1-based, in characters of the text
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),  # ms
        ("sample", ctypes.c_int),  # samples since the start of the synthesis
        ("user_data", ctypes.c_void_p),
        ("id", ctypes.c_void_p),
    ]


_EVENT_LIST_TERMINATED = 0
_EVENT_WORD = 1
_SYNTH_CB = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_EspeakEvent))


class _Espeak:
    """Process-wide espeak-ng state (the C library is global and not re-entrant)."""

    def __init__(self) -> None:
        import espeakng_loader

        self.lib = ctypes.CDLL(espeakng_loader.get_library_path())
        self.lib.espeak_ListVoices.restype = ctypes.POINTER(ctypes.POINTER(_EspeakVoiceStruct))
        self.sample_rate = self.lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, espeakng_loader.get_data_path().encode(), 0)
        if self.sample_rate <= 0:
            raise EngineUnavailable("espeak-ng failed to initialise")
        self.lock = threading.Lock()
        self._voices: list[tuple[str, str, list[str]]] | None = None
        self._chunks: list[np.ndarray] = []
        self._words: list[tuple[int, int]] = []  # (0-based character, sample) of each word start

        def _cb(wav: ctypes._Pointer[ctypes.c_short] | None, n: int, events: ctypes._Pointer[_EspeakEvent] | None) -> int:
            if n > 0 and wav:
                self._chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
            i = 0
            while events and events[i].type != _EVENT_LIST_TERMINATED:
                if events[i].type == _EVENT_WORD:
                    self._words.append((events[i].text_position - 1, events[i].sample))
                i += 1
            return 0

        self._cb = _SYNTH_CB(_cb)  # keep a reference: ctypes callbacks must outlive their use
        self.lib.espeak_SetSynthCallback(self._cb)

    def list_voices(self) -> list[tuple[str, str, list[str]]]:
        """(identifier, name, languages) of every espeak voice (read once: the library's list is
        static; under the lock, since the library is not re-entrant)."""
        with self.lock:
            if self._voices is None:
                self._voices = self._read_voices()
            return list(self._voices)

    def _read_voices(self) -> list[tuple[str, str, list[str]]]:
        out = []
        arr = self.lib.espeak_ListVoices(None)
        i = 0
        while arr[i]:
            v = arr[i].contents
            langs = []
            p = v.languages
            while p:
                priority = ctypes.c_ubyte.from_address(p).value
                if priority == 0:
                    break
                s = ctypes.string_at(p + 1)
                langs.append(s.decode("utf-8", "replace"))
                p += 1 + len(s) + 1
            out.append((v.identifier.decode(), v.name.decode("utf-8", "replace"), langs))
            i += 1
        return out

    def synth(self, text: str, voice_name: str, wpm: int = _WPM) -> tuple[np.ndarray, list[tuple[int, int]]]:
        """The samples of ``text`` and its word starts: (0-based character, sample index)."""
        with self.lock:
            if self.lib.espeak_SetVoiceByName(voice_name.encode()) != 0:
                raise NarrationError(f"espeak-ng has no voice {voice_name!r}")
            self.lib.espeak_SetParameter(_RATE, wpm, 0)
            self._chunks, self._words = [], []
            data = text.encode("utf-8")
            flags = _CHARS_UTF8 | (_PHONEMES if "[[" in text else 0)
            rc = self.lib.espeak_Synth(ctypes.c_char_p(data), len(data) + 1, 0, 0, 0, flags, None, None)
            self.lib.espeak_Synchronize()
            if rc != 0:
                raise NarrationError(f"espeak-ng failed (code {rc})")
            chunks, self._chunks = self._chunks, []
            words, self._words = self._words, []
        if not chunks:
            return np.zeros(0, np.float32), []
        return np.concatenate(chunks).astype(np.float32) / 32768.0, words


_INIT_LOCK = threading.Lock()


@functools.lru_cache(maxsize=1)
def _espeak_once() -> _Espeak:
    return _Espeak()


def _espeak() -> _Espeak:
    """The process's one espeak-ng instance: initialised once even when several threads ask
    at the same time (two initialisations of the global C library crash the process)."""
    with _INIT_LOCK:
        return _espeak_once()


class EspeakEngine:
    name = "espeak"
    phonemes = True  # reads espeak-ng phoneme mnemonics in [[…]] (lexicon entries)

    def voices(self) -> list[VoiceInfo]:
        try:
            es = _espeak()
        except (ImportError, OSError, EngineUnavailable) as e:
            log.warning("espeak-ng unavailable: %s", e)
            return []
        best: dict[str, tuple[int, str, str]] = {}  # family -> (rank, espeak voice file, name)
        for ident, name, langs in es.list_voices():
            if ident.startswith("mb/"):
                continue
            for pos, lang in enumerate(langs):
                family = lang.split("-")[0].lower()
                # Prefer the voice listed exactly as the family ("fr", "zh"), then "fr-fr".
                base = ident.rsplit("/", 1)[-1].lower()
                if base == family or base == lang.lower():
                    rank = 0 if lang == family else 1
                else:
                    rank = 2 if lang == family else (3 if lang.lower() == f"{family}-{family}" else 4 + pos)
                if family not in best or rank < best[family][0]:
                    best[family] = (rank, ident, name)
        return [
            VoiceInfo(
                engine="espeak",
                voice_id=f"espeak:{family}",
                language=family,
                name=f"espeak-ng {name}",
                offline=True,
                quality=10,
                extra={"espeak_voice": ident},
            )
            for family, (_, ident, name) in sorted(best.items())
        ]

    def fingerprint(self, voice: VoiceInfo) -> str:
        return f"espeakng-loader {metadata.version('espeakng-loader')} wpm {_WPM}"

    def synthesize(self, text: str, voice: VoiceInfo) -> Speech:
        es = _espeak()
        samples, words = es.synth(text, voice.extra["espeak_voice"])
        if samples.size == 0:
            raise NarrationError(f"espeak-ng produced no audio for {text[:60]!r}")
        anchors = tuple((pos, sample / es.sample_rate) for pos, sample in words if 0 <= pos < len(text))
        return Speech(samples, es.sample_rate, anchors, "espeak" if anchors else "")
