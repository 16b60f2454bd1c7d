"""A lexicon entry before and after (issue 18's closing note): for each English sentence, the
narration length and what PocketSphinx (test extra; its en-us model and language model, free
recognition, no hint of the text) hears, spoken by Piper (auto) and espeak-ng, without and with
one entry. Run: ``PYTHONPATH=. python scripts/lexicon_before_after.py``."""

from __future__ import annotations

import sys

import numpy as np

from videogen.render.narration import NarrationChain
from videogen.render.narration.cache import SpeechCache
from videogen.render.narration.chain import Narration
from videogen.render.narration.espeak_engine import EspeakEngine
from videogen.render.narration.piper_engine import PiperEngine
from videogen.render.script import spoken_form

CASES = [
    ("The prime minister met Nguyen in Hanoi on Monday.", {"Nguyen": "Win"}),
    ("Engineers rewrote the SQL database over the weekend.", {"SQL": "sequel"}),
    ("Premier Li Qiang arrived in Berlin.", {"Li Qiang": "Lee Chang"}),
    ("The prime minister met Nguyen in Hanoi on Monday.", {"Nguyen": "[[w'In]]"}),  # espeak-ng phonemes
]


def hear(speech_samples: np.ndarray, rate: int) -> str:
    from pocketsphinx import Decoder

    n = int(len(speech_samples) * 16000 / rate)
    x = np.interp(np.arange(n) * rate / 16000, np.arange(len(speech_samples)), speech_samples)
    pcm = (np.clip(x, -1, 1) * 32767).astype(np.int16).tobytes()
    d = Decoder(samprate=16000, loglevel="FATAL")
    d.start_utt()
    d.process_raw(pcm, full_utt=True)
    d.end_utt()
    return d.hyp().hypstr if d.hyp() else ""


def main() -> int:
    chain = NarrationChain([PiperEngine(), EspeakEngine()], SpeechCache(None))
    for text, entry in CASES:
        for tts in ("piper", "espeak"):
            rows = []
            for lexicon in ({}, entry):
                spoken = spoken_form(text, "en", lexicon)
                n: Narration = chain.narrate([spoken], "en", tts, lexicon=lexicon)
                s = n.speeches[0]
                rows.append((spoken, s.duration, hear(s.samples, s.sample_rate)))
            print(f"{tts:<6} {entry}")
            for label, (spoken, dur, heard) in zip(("before", "after"), rows, strict=True):
                print(f"  {label:<6} {dur:5.2f} s  read: {spoken!r}\n{'':16}heard: {heard!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
