"""A short extractive summary of an article body, used when the article has no summary."""

from __future__ import annotations

import re
from collections import Counter

from videogen.render.text.sentences import split_sentences

_STOPWORDS = {
    "en": set("a an the and or but of to in on at for with by from as is are was were be been it its this that these those he she they we you i his her their our not have has had will would can could said says".split()),
    "fr": set("le la les un une des et ou mais de du d l à au aux en dans sur pour par avec que qui quoi dont est sont été être a ont avait il elle ils elles nous vous je ce cette ces son sa ses leur leurs ne pas plus se s qu n y".split()),
}


def _words(text: str) -> list[str]:
    return [w.lower() for w in re.findall(r"\w+", text)]


def extractive_summary(body: str, lang: str, max_words: int = 90, max_sentences: int = 4) -> str:
    """Pick the body's most representative sentences (word-frequency score, with a bonus for
    the lead, as news puts the essentials first) and return them in their original order."""
    sentences = split_sentences(body, lang)
    if not sentences:
        return ""
    stop = _STOPWORDS.get(lang.split("-")[0], set())
    freq = Counter(w for s in sentences for w in _words(s) if w not in stop and len(w) > 2)
    if not freq:
        return " ".join(sentences[:max_sentences])
    top = max(freq.values())

    def score(i: int, s: str) -> float:
        ws = [w for w in _words(s) if w not in stop and len(w) > 2]
        base = sum(freq[w] / top for w in ws) / (len(ws) ** 0.5 or 1)
        return base * (1.6 if i == 0 else 1.0 / (1 + 0.05 * i))

    ranked = sorted(range(len(sentences)), key=lambda i: -score(i, sentences[i]))
    chosen: list[int] = []
    words = 0
    for i in ranked:
        n = len(sentences[i].split())
        if chosen and (words + n > max_words or len(chosen) >= max_sentences):
            continue
        chosen.append(i)
        words += n
    return " ".join(sentences[i] for i in sorted(chosen))
