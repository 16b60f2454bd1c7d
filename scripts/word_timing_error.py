"""How far the word times videogen gives are from an independent aligner: median and p90
onset error, per engine, and for the fallbacks used with engines that report no timings.

    PYTHONPATH=. python scripts/word_timing_error.py [--json out.json]

Offline, no model download. The references:

- **English**: PocketSphinx (``pocketsphinx`` wheel, test extra; it ships its en-us acoustic
  model and dictionary) in forced-alignment mode on the audio resampled to 16 kHz: an
  acoustic model that shares nothing with the engines. Words it does not know are spelt as
  two known words when they can be (``spaceflight`` = space + flight), else the sentence is
  skipped (counted).
- **French, German**: no offline aligner for them ships in a pip package; the reference is
  DTW (``videogen.render.narration.align``) against the same text said by espeak-ng in
  another voice variant at another speed (its own word events): independent of the timings
  under test only in that the audio aligned and its timing are different syntheses. Its own
  error is shown on English, against PocketSphinx.

Measured: the engine's own timings (Piper en, espeak-ng fr and de), and on the same audio
with those timings removed, the two fallbacks for engines without timings (gTTS: it needs
the network, which this machine does not have): ``proportional`` (words spread over the
voiced time between the pauses found in the audio) and ``dtw`` (DTW against espeak-ng's
default voice for the language). Not a test: prints numbers."""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from videogen.render.audio import find_pauses
from videogen.render.narration.align import dtw_anchors
from videogen.render.narration.base import Speech, trim_speech
from videogen.render.narration.chain import dtw_timing, fallback_timing
from videogen.render.narration.espeak_engine import EspeakEngine, _espeak
from videogen.render.narration.piper_engine import PiperEngine
from videogen.render.text.normalize import normalize_for_speech
from videogen.render.words import word_spans, word_times

SENTENCES = {
    "en": [
        "The city science museum opened a new exhibition on Monday that traces sixty years of human spaceflight.",
        "Visitors can sit in a full-size replica of a space capsule and try on a real training helmet.",
        "The council voted on Tuesday to expand the bicycle network across the northern districts.",
        "Officials said the new bridge would open to traffic before the end of the summer.",
        "Heavy rain caused flooding in several villages, and schools were closed for two days.",
        "The company reported strong sales in Europe but warned that costs were still rising.",
        "Scientists found that the glacier has lost almost half of its ice since the last survey.",
        "The festival will return next year with more music, more food and a larger stage.",
        "Police asked drivers to avoid the main road while workers repaired a broken water pipe.",
        "The library will stay open late during the exam period to give students more space to study.",
        "Farmers in the valley expect a good harvest after a mild and wet spring.",
        "The team won the final in front of a home crowd and celebrated late into the night.",
    ],
    "fr": [
        "Le musée des sciences a ouvert lundi une nouvelle exposition sur la conquête spatiale.",
        "Les visiteurs peuvent s'asseoir dans une réplique grandeur nature d'une capsule.",
        "Le conseil municipal a voté mardi l'extension du réseau cyclable dans le nord de la ville.",
        "De fortes pluies ont provoqué des inondations dans plusieurs villages de la région.",
        "L'entreprise a annoncé de bonnes ventes en Europe mais les coûts continuent d'augmenter.",
        "Les scientifiques ont constaté que le glacier a perdu près de la moitié de sa glace.",
        "Le festival reviendra l'année prochaine avec plus de musique et une scène plus grande.",
        "La police demande aux automobilistes d'éviter la route principale pendant les travaux.",
        "La bibliothèque restera ouverte plus tard pendant la période des examens.",
        "Les agriculteurs de la vallée attendent une bonne récolte après un printemps doux.",
    ],
    "de": [
        "Das Wissenschaftsmuseum hat am Montag eine neue Ausstellung über die Raumfahrt eröffnet.",
        "Besucher können in einem Nachbau einer Raumkapsel in voller Größe Platz nehmen.",
        "Der Stadtrat hat am Dienstag den Ausbau des Radwegenetzes im Norden beschlossen.",
        "Starker Regen hat in mehreren Dörfern der Region zu Überschwemmungen geführt.",
        "Das Unternehmen meldete gute Verkäufe in Europa, warnte aber vor steigenden Kosten.",
        "Forscher stellten fest, dass der Gletscher fast die Hälfte seines Eises verloren hat.",
        "Das Festival kommt im nächsten Jahr mit mehr Musik und einer größeren Bühne zurück.",
        "Die Polizei bittet Autofahrer, die Hauptstraße während der Bauarbeiten zu meiden.",
        "Die Bibliothek bleibt während der Prüfungszeit länger geöffnet.",
        "Die Bauern im Tal erwarten nach einem milden Frühling eine gute Ernte.",
    ],
}


def resample(x: np.ndarray, rate: int, to: int) -> np.ndarray:
    n = int(len(x) * to / rate)
    return np.interp(np.arange(n) * rate / to, np.arange(len(x)), x).astype(np.float32)


def sphinx_onsets(text: str, speech: Speech) -> list[float] | None:
    """PocketSphinx's forced alignment: the start of each word of ``text`` (None: a word it
    cannot spell)."""
    from pocketsphinx import Decoder

    d = Decoder(samprate=16000, loglevel="FATAL")
    words = ["".join(c for c in text[a:b].lower() if c.isalnum() or c == "'") for a, b in word_spans(text)]
    for w in words:
        if d.lookup_word(w) is None:
            for k in range(2, len(w) - 1):
                p, q = d.lookup_word(w[:k]), d.lookup_word(w[k:])
                if p and q:
                    d.add_word(w, f"{p} {q}", True)
                    break
            else:
                return None
    pcm = (np.clip(resample(speech.samples, speech.sample_rate, 16000), -1, 1) * 32767).astype(np.int16).tobytes()
    try:
        d.set_align_text(" ".join(words))
    except RuntimeError:
        return None
    d.start_utt()
    d.process_raw(pcm, full_utt=True)
    d.end_utt()
    segs = [s for s in d.seg() if s.word not in ("<s>", "</s>", "<sil>") and not s.word.startswith("+")]
    if len(segs) != len(words):
        return None
    return [s.start_frame / 100 for s in segs]


def espeak_reference(text: str, lang: str, variant: str, wpm: int) -> Speech:
    """``text`` said by espeak-ng's voice for ``lang`` with ``variant`` at ``wpm``, with its word events."""
    es = _espeak()
    voice = next(v for v in EspeakEngine().voices() if v.language == lang)
    samples, words = es.synth(text, voice.extra["espeak_voice"] + variant, wpm)
    anchors = tuple((p, s / es.sample_rate) for p, s in words if 0 <= p < len(text))
    return trim_speech(Speech(samples, es.sample_rate, anchors, "espeak"))


def dtw_onsets(text: str, speech: Speech, reference: Speech) -> list[float]:
    anchors = dtw_anchors(speech.samples, speech.sample_rate, reference.samples, reference.sample_rate, reference.anchors)
    return onsets(text, Speech(speech.samples, speech.sample_rate, tuple(anchors), "dtw"))


def onsets(text: str, speech: Speech) -> list[float]:
    pauses = find_pauses(speech.samples, speech.sample_rate)
    return [w.start for w in word_times(text, speech.anchors, speech.duration, pauses)]


def stats(errors: list[float]) -> dict[str, float]:
    if not errors:
        return {"words": 0}
    e = np.abs(np.array(errors))
    return {"words": len(errors), "median_ms": round(float(np.median(e)) * 1000, 1),
            "p90_ms": round(float(np.percentile(e, 90)) * 1000, 1), "mean_signed_ms": round(float(np.mean(errors)) * 1000, 1)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", help="also write the numbers here")
    args = ap.parse_args()
    piper, espeak = PiperEngine(), EspeakEngine()
    piper_voice = next(v for v in piper.voices() if v.language == "en")
    espeak_voices = {v.language: v for v in espeak.voices()}
    results: dict[str, dict[str, object]] = {}
    started = time.perf_counter()
    for lang, sentences in SENTENCES.items():
        errs: dict[str, list[float]] = {"engine": [], "proportional": [], "dtw": [], "dtw_reference_vs_sphinx": []}
        skipped = 0
        for sentence in sentences:
            text = normalize_for_speech(sentence, lang)
            if lang == "en":
                speech = trim_speech(piper.synthesize(text, piper_voice))
            else:
                speech = trim_speech(espeak.synthesize(text, espeak_voices[lang]))
            bare = Speech(speech.samples, speech.sample_rate)  # the engine's timings removed
            if lang == "en":
                ref = sphinx_onsets(text, speech)
                if ref is None:
                    skipped += 1
                    continue
                # How good the DTW reference used for fr and de is, here where PocketSphinx can judge it.
                other = dtw_onsets(text, speech, espeak_reference(text, lang, "+m3", 140))
                errs["dtw_reference_vs_sphinx"] += [a - b for a, b in zip(other, ref, strict=True)]
            else:
                ref = dtw_onsets(text, speech, espeak_reference(text, lang, "+m3", 140))
            for name, got in (("engine", onsets(text, speech)),
                              ("proportional", onsets(text, fallback_timing(bare, text))),
                              ("dtw", onsets(text, dtw_timing(bare, text, espeak_reference(text, lang, "", 165))))):
                errs[name] += [a - b for a, b in zip(got, ref, strict=True)]
        results[lang] = {"engine": "piper" if lang == "en" else "espeak-ng", "sentences": len(sentences),
                         "skipped": skipped, **{k: stats(v) for k, v in errs.items() if v}}
    json.dump(results, sys.stdout, indent=2)
    print(f"\n{time.perf_counter() - started:.1f} s", file=sys.stderr)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
