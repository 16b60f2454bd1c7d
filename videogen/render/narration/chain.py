"""Picks who speaks an article and speaks it: the best engine able to speak the language
offline (Piper, then espeak-ng), gTTS only when chosen, falling back in order. One voice
speaks the whole article; the result records which one did."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from videogen.errors import (
    EngineUnavailable,
    InvalidInput,
    NarrationError,
    UnknownVoice,
    UnsupportedLanguage,
)
from videogen.render.audio import find_pauses
from videogen.render.config import RenderConfig
from videogen.render.narration.align import dtw_anchors
from videogen.render.narration.base import NarrationEngine, Speech, VoiceInfo, trim_speech
from videogen.render.narration.cache import SpeechCache
from videogen.render.narration.espeak_engine import EspeakEngine
from videogen.render.narration.gtts_engine import GttsEngine
from videogen.render.narration.piper_engine import PiperEngine
from videogen.render.text.lexicon import apply_lexicon
from videogen.render.words import map_anchors, proportional_anchors, speech_bounds

log = logging.getLogger(__name__)


def fallback_timing(speech: Speech, text: str) -> Speech:
    """``speech`` with word anchors measured on its audio, for an engine that reports none:
    the words of ``text`` spread by spoken length over its voiced time, around its pauses
    (``words.proportional_anchors``)."""
    pauses = find_pauses(speech.samples, speech.sample_rate)
    bounds = speech_bounds(speech.samples, speech.sample_rate)
    anchors = proportional_anchors(text, speech.duration, bounds, pauses)
    return Speech(speech.samples, speech.sample_rate, tuple(anchors), "proportional")


def dtw_timing(speech: Speech, text: str, reference: Speech) -> Speech:
    """``speech`` with word anchors carried over from ``reference`` (the same ``text`` said by
    an engine that times its words, e.g. espeak-ng) by DTW of the two audios (``align``)."""
    anchors = dtw_anchors(speech.samples, speech.sample_rate, reference.samples, reference.sample_rate, reference.anchors)
    return Speech(speech.samples, speech.sample_rate, tuple(anchors), "dtw")


@dataclass
class Narration:
    voice: VoiceInfo
    fingerprint: str
    speeches: list[Speech]
    sample_rate: int
    cache_hits: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def durations(self) -> list[float]:
        return [s.duration for s in self.speeches]


class NarrationChain:
    def __init__(self, engines: list[NarrationEngine], cache: SpeechCache | None = None,
                 default_voices: Mapping[str, str] | None = None):
        self.engines = {e.name: e for e in engines}
        self.default_voices = dict(default_voices or {})  # language → voice ``auto`` prefers
        self.cache = cache or SpeechCache(None)
        self._voices: list[VoiceInfo] | None = None

    @classmethod
    def from_config(cls, config: RenderConfig) -> NarrationChain:
        return cls(
            [PiperEngine(config.voices_dir, config.cache_dir), GttsEngine(config.gtts_timeout), EspeakEngine()],
            SpeechCache(config.cache_dir), config.default_voices,
        )

    def voices(self) -> list[VoiceInfo]:
        if self._voices is None:
            self._voices = [v for e in self.engines.values() for v in e.voices()]
        return self._voices

    def find_voice(self, voice: str) -> VoiceInfo:
        voices = self.voices()
        for v in voices:
            if voice in (v.voice_id, v.voice_id.split(":", 1)[1]):
                return v
        raise UnknownVoice(voice, "see `videogen voices` for the list")

    def candidates(self, lang: str, tts: str = "auto", voice: str | None = None) -> list[VoiceInfo]:
        """Voices to try, best first. Raises a clear error when nothing can speak ``lang``."""
        lang = lang.split("-")[0].lower()
        offline = sorted((v for v in self.voices() if v.offline and v.language == lang), key=lambda v: -v.quality)
        if voice:
            chosen = self.find_voice(voice)
            if chosen.language != lang:
                raise InvalidInput("voice", f"{chosen.voice_id} speaks {chosen.language!r}, the article is in {lang!r}")
            return [chosen] + [v for v in offline if v != chosen]
        if tts == "gtts":
            online = [v for v in self.voices() if v.engine == "gtts" and v.language == lang]
            if not online and not offline:
                raise UnsupportedLanguage(lang)
            return online + offline
        if tts in ("piper", "espeak"):
            picked = [v for v in offline if v.engine == tts]
            if not picked:
                hint = " (place a Piper voice for it in the voices folder, or use --tts auto)" if tts == "piper" else ""
                raise InvalidInput("tts", f"{tts} has no voice for {lang!r}{hint}")
            return picked
        if tts != "auto":
            raise InvalidInput("tts", f"unknown engine {tts!r} (auto, piper, espeak, gtts)")
        if not offline:
            raise UnsupportedLanguage(lang)
        preferred = self.default_voices.get(lang)
        if preferred:
            try:
                chosen = self.find_voice(preferred)
            except UnknownVoice:
                log.warning("default voice %r for %r is not installed: using %s", preferred, lang, offline[0].voice_id)
            else:
                if chosen.offline and chosen.language == lang:
                    return [chosen] + [v for v in offline if v != chosen]
                log.warning("default voice %r does not speak %r offline: ignored", preferred, lang)
        return offline

    def narrate(self, texts: list[str], lang: str, tts: str = "auto", voice: str | None = None,
                progress: Callable[[float], None] | None = None, lexicon: Mapping[str, str] | None = None) -> Narration:
        """Speak every text with one voice; if a voice fails, the next one speaks them all.
        ``lexicon``'s phoneme entries (``[[…]]``) are read by engines that take espeak-ng
        phonemes (``phonemes = True``); respellings are already in the texts (``build_script``)."""
        warnings: list[str] = []
        last_error: Exception | None = None
        for v in self.candidates(lang, tts, voice):
            engine = self.engines[v.engine]
            try:
                return self._speak_all(engine, v, texts, progress, warnings, lexicon)
            except (EngineUnavailable, NarrationError) as e:
                msg = f"{v.voice_id} failed, falling back: {e}"
                log.warning(msg)
                warnings.append(msg)
                last_error = e
        raise NarrationError(f"no engine could speak the article ({last_error})")

    def fallback_timing(self, speech: Speech, text: str, voice: VoiceInfo) -> Speech:
        """Word anchors for ``speech`` from an engine that reports none (gTTS): DTW against
        espeak-ng saying ``text`` (its word events) when espeak-ng speaks the language,
        otherwise spread over the voiced time (measured: 10 ms median and 50 ms p90 onset
        error against 81 and 243 ms; scripts/word_timing_error.py)."""
        espeak = self.engines.get("espeak")
        ref_voice = next((x for x in self.voices() if x.engine == "espeak" and x.language == voice.language), None)
        if espeak is not None and ref_voice is not None and ref_voice != voice:
            try:
                reference = trim_speech(espeak.synthesize(text, ref_voice))
            except (EngineUnavailable, NarrationError) as e:
                log.info("no espeak-ng reference to time %s: %s", voice.voice_id, e)
            else:
                if reference.anchors and reference.samples.size:
                    return dtw_timing(speech, text, reference)
        return fallback_timing(speech, text)

    def speak(self, voice: VoiceInfo, text: str, lexicon: Mapping[str, str] | None = None) -> Speech:
        """``text`` in the voice that spoke the rest of an article (no fallback: a voice change
        mid-article would be heard)."""
        return self._speak_all(self.engines[voice.engine], voice, [text], None, [], lexicon).speeches[0]

    def _speak_all(self, engine: NarrationEngine, v: VoiceInfo, texts: list[str],
                   progress: Callable[[float], None] | None, warnings: list[str],
                   lexicon: Mapping[str, str] | None = None) -> Narration:
        fp = engine.fingerprint(v)
        phonemes = bool(lexicon) and getattr(engine, "phonemes", False)
        speeches: list[Speech] = []
        hits = 0
        for i, spoken in enumerate(texts):
            # What the engine reads (phonemes in it) is the cache key; anchors are moved back
            # onto the spoken text, which captions are timed from.
            text = apply_lexicon(spoken, lexicon, phonemes=True) if phonemes and lexicon else spoken
            key = self.cache.key(v, fp, text)
            speech = self.cache.get(key)
            if speech is not None and not speech.timing and v.offline:
                speech = None  # cached before word timings: spoken again, with them
            if speech is None:
                trimmed = trim_speech(engine.synthesize(text, v))
                if trimmed.samples.size == 0:
                    raise NarrationError(f"{v.voice_id} produced only silence for {text[:60]!r}")
                speech = self.cache.put(key, trimmed if trimmed.timing else self.fallback_timing(trimmed, text, v))
            else:
                hits += 1
                if not speech.timing:
                    speech = self.fallback_timing(speech, text, v)
            if text != spoken and speech.anchors:
                speech = Speech(speech.samples, speech.sample_rate,
                                tuple(map_anchors(text, speech.anchors, spoken)), speech.timing)
            if speeches and speech.sample_rate != speeches[0].sample_rate:
                raise NarrationError(f"{v.voice_id} changed sample rate mid-article")
            speeches.append(speech)
            if progress:
                progress((i + 1) / len(texts))
        return Narration(v, fp, speeches, speeches[0].sample_rate if speeches else 22050, hits, list(warnings))
