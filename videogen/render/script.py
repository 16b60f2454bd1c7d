"""Script: what is said and shown, before any audio exists. The title, then the narrated
text split into sentences, and long sentences into narration units (``text.units``); lines
grouped into scenes; a visual for every scene."""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from videogen.errors import InvalidInput
from videogen.render.article import Article
from videogen.render.text.lexicon import apply_lexicon
from videogen.render.text.normalize import normalize_for_speech
from videogen.render.text.sentences import split_sentences
from videogen.render.text.summarize import extractive_summary
from videogen.render.text.units import speech_length, split_units

CHARS_PER_SCENE = 190  # about 12 s of speech: one photo or background per 8-15 s


@dataclass(frozen=True)
class Line:
    """One spoken unit (a sentence, or a part of a long one): ``text`` is shown (captions),
    ``spoken`` is read by the TTS engine. ``whole`` is False for a part of a sentence."""

    text: str
    spoken: str
    role: Literal["title", "body"]
    whole: bool = True


@dataclass(frozen=True)
class Visual:
    kind: Literal["image", "generated"]
    seed: int
    image: int | None = None  # index into the usable images
    reverse: bool = False  # Ken Burns direction (zoom out / pan the other way)


@dataclass(frozen=True)
class Scene:
    lines: tuple[int, ...]  # indices into Script.lines
    visual: Visual


@dataclass
class Script:
    language: str
    title: Line
    lines: list[Line]
    narrated_from: Literal["summary", "body"]
    warnings: list[str] = field(default_factory=list)

    @property
    def spoken(self) -> list[str]:
        """Every text to synthesise, title first."""
        return [self.title.spoken] + [ln.spoken for ln in self.lines]


def _speakable(text: str) -> str:
    """End with punctuation so engines use a falling, final intonation (titles have none)."""
    return text if text[-1:] in ".!?…。！？।؟" else text + "."


def spoken_form(text: str, lang: str, lexicon: Mapping[str, str] | None = None) -> str:
    """What an engine is given for one sentence ``text``: the lexicon's respellings applied,
    then normalised for speech (a lexicon preview speaks exactly what a render would)."""
    return normalize_for_speech(_speakable(apply_lexicon(text, lexicon or {})), lang)


#: Bounds of an editor's corrected script.
MAX_SCRIPT_SENTENCES = 500
MAX_SENTENCE_CHARS = 2000


def check_corrections(sentences: object) -> list[tuple[str, str]]:
    """An editor's script (``[{"spoken": …, "caption": …}, …]``, the title first) as (caption,
    spoken) pairs, or InvalidInput naming the field: no sentences, too many, a sentence too
    long, empty, with control characters, or an unknown field."""
    if not isinstance(sentences, list) or not sentences:
        raise InvalidInput("sentences", "must be a non-empty list of {spoken, caption} (the title first)")
    if len(sentences) > MAX_SCRIPT_SENTENCES:
        raise InvalidInput("sentences", f"{len(sentences)} sentences, at most {MAX_SCRIPT_SENTENCES}")
    out = []
    for i, item in enumerate(sentences):
        if not isinstance(item, dict):
            raise InvalidInput(f"sentences[{i}]", "must be an object {spoken, caption}")
        for key in sorted(set(item) - {"spoken", "caption"}):
            raise InvalidInput(f"sentences[{i}].{key}", "unknown field")
        pair = []
        for key in ("caption", "spoken"):
            value = item.get(key)
            where = f"sentences[{i}].{key}"
            if not isinstance(value, str) or not value.strip():
                raise InvalidInput(where, "is required (a non-empty string)")
            if len(value) > MAX_SENTENCE_CHARS:
                raise InvalidInput(where, f"{len(value)} characters, at most {MAX_SENTENCE_CHARS}")
            if any(unicodedata.category(c) in ("Cc", "Cf", "Co", "Cs") for c in value):
                raise InvalidInput(where, "control characters are not allowed")
            pair.append(" ".join(value.split()))
        if not any(c.isalnum() for c in pair[1]):
            raise InvalidInput(f"sentences[{i}].spoken", "has nothing to say (no letter or digit)")
        out.append((pair[0], pair[1]))
    return out


def corrected_lines(edited: Sequence[tuple[str, str]], served: Sequence[tuple[str, str]], lang: str,
                    lexicon: Mapping[str, str] | None = None) -> list[tuple[str, str]]:
    """The (caption, spoken) pairs to render from an editor's ``edited`` script: a spoken text
    ``served`` already had (what the engine read before) is kept as it is, so its narration
    comes from the cache; a new one is read like an article's text (lexicon, numbers and
    abbreviations written out)."""
    known = {spoken for _, spoken in served}
    return [(caption, spoken if spoken in known else normalize_for_speech(apply_lexicon(spoken, lexicon or {}), lang))
            for caption, spoken in edited]


def build_script(article: Article, lexicon: Mapping[str, str] | None = None,
                 corrected: Sequence[tuple[str, str]] | None = None) -> Script:
    """The script of ``article``; ``lexicon``'s respellings change what is read (``spoken``),
    never what is shown (``text``): see ``text.lexicon``. ``corrected``: an editor's (caption,
    spoken) pairs, the title first, used as they are (``corrected_lines``)."""
    lang = article.lang
    lexicon = lexicon or {}
    if corrected:
        (title_text, title_spoken), *rest = corrected
        lines = [Line(text, spoken, "body") for text, spoken in rest if any(c.isalnum() for c in spoken)]
        return Script(lang, Line(title_text, title_spoken, "title"), lines, "summary")
    source: Literal["summary", "body"]
    if article.summary:
        narrated, source = article.summary, "summary"
    else:
        narrated, source = extractive_summary(article.body or "", lang), "body"
    lines = []
    for sentence in split_sentences(narrated, lang):
        units = split_units(sentence)
        for k, unit in enumerate(units):
            # Only a sentence's last unit gets a final intonation.
            said = apply_lexicon(unit, lexicon)
            spoken = normalize_for_speech(_speakable(said) if k == len(units) - 1 else said, lang)
            lines.append(Line(unit, spoken, "body", whole=len(units) == 1))
    lines = [ln for ln in lines if any(c.isalnum() for c in ln.spoken)]
    title = Line(article.title, normalize_for_speech(_speakable(apply_lexicon(article.title, lexicon)), lang), "title")
    script = Script(lang, title, lines, source)
    if source == "body":
        script.warnings.append("no summary: narrating an extract of the body")
    return script


#: Characters a second assumed before any audio exists: a brisk reader (14) with a margin.
BUDGET_CHARS_PER_SECOND = 14 * 1.4


def lines_to_speak(script: Script, max_duration: float) -> int:
    """How many body lines to synthesise for a clip of at most ``max_duration`` seconds,
    from their length alone: the ones that may fit, and the first one always (a unit is short,
    so at most ``UNIT_CHARS`` characters are synthesised and then thrown away)."""
    budget = max_duration * BUDGET_CHARS_PER_SECOND
    keep, used = 0, speech_length(script.title.text)
    for ln in script.lines:
        used += speech_length(ln.text)
        if used > budget and keep:
            break
        keep += 1
    return keep


def seed_for(*parts: object) -> int:
    return int.from_bytes(hashlib.sha256("|".join(map(str, parts)).encode()).digest()[:4], "big")


def group_lines(lengths: list[int], n_groups: int) -> list[tuple[int, ...]]:
    """Split line indices into ``n_groups`` contiguous groups of similar total length."""
    n = len(lengths)
    n_groups = max(1, min(n_groups, n))
    total = sum(lengths)
    groups: list[tuple[int, ...]] = []
    cur: list[int] = []
    acc = 0
    for i, length in enumerate(lengths):
        cur.append(i)
        acc += length
        remaining_lines = n - i - 1
        remaining_groups = n_groups - len(groups) - 1
        if remaining_groups <= 0:
            continue
        target = total * (len(groups) + 1) / n_groups
        # Close the group when past its share, or when every later line must start a group.
        if acc >= target - length / 2 or remaining_lines == remaining_groups:
            groups.append(tuple(cur))
            cur = []
    if cur:
        groups.append(tuple(cur))
    return groups


def plan_scenes(script: Script, n_images: int, article_id: str) -> list[Scene]:
    """Scenes of about ``CHARS_PER_SCENE`` characters each; with images, at least one scene
    per image (when there are enough sentences). Images are used in order and repeat, with the
    opposite motion, when there are more scenes than images; without images every scene gets
    its own generated background."""
    lengths = [len(ln.text) for ln in script.lines]
    if not lengths:
        return []
    by_text = max(1, round(sum(lengths) / CHARS_PER_SCENE))
    n_scenes = min(len(lengths), max(by_text, n_images)) if n_images else min(len(lengths), by_text)
    scenes = []
    for k, group in enumerate(group_lines(lengths, n_scenes)):
        seed = seed_for(article_id, "scene", k)
        if n_images:
            visual = Visual("image", seed, image=k % n_images, reverse=bool((k // n_images + k) % 2))
        else:
            visual = Visual("generated", seed, reverse=bool(k % 2))
        scenes.append(Scene(group, visual))
    return scenes
