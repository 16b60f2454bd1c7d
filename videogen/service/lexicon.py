"""Pronunciation lexicons in the job store (table ``lexicon``, migration 7): per language, the
written forms an editor wants read another way and how (``render.text.lexicon`` says how they
apply). Every write checks the language's whole lexicon as it would be after the write (bad
entries, loops across entries) and changes nothing when it is refused."""

from __future__ import annotations

import io
import re
import unicodedata
import wave
from collections.abc import Mapping

import numpy as np
from sqlalchemy import delete, select
from sqlalchemy.engine import Engine

from videogen.errors import InvalidInput
from videogen.render.config import TtsChoice
from videogen.render.narration import NarrationChain
from videogen.render.script import spoken_form
from videogen.render.text.lexicon import check_lexicon
from videogen.service.schema import lexicon

LANG = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$")


def lexicon_lang(lang: str, field: str = "lang") -> str:
    """The primary language subtag a lexicon is kept under ('fr' for 'fr-CA'), or InvalidInput."""
    if not isinstance(lang, str) or not LANG.match(lang):
        raise InvalidInput(field, f"{lang!r} is not a language tag such as 'fr' or 'en-US'")
    return lang.split("-")[0].lower()


class Lexicons:
    """Read and write the ``lexicon`` table of a job store's database."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def get(self, lang: str) -> dict[str, str]:
        """The entries of ``lang``, {written: spoken}, sorted by written form."""
        code = lexicon_lang(lang)
        with self.engine.connect() as c:
            rows = c.execute(select(lexicon.c.written, lexicon.c.spoken).where(lexicon.c.lang == code)
                             .order_by(lexicon.c.written)).all()
        return {r.written: r.spoken for r in rows}

    def replace(self, lang: str, entries: Mapping[str, str]) -> dict[str, str]:
        """Make ``entries`` the whole lexicon of ``lang`` (checked first); returns it."""
        code = lexicon_lang(lang)
        checked = check_lexicon(entries)
        with self.engine.begin() as c:
            c.execute(delete(lexicon).where(lexicon.c.lang == code))
            if checked:
                c.execute(lexicon.insert(), [{"lang": code, "written": w, "spoken": s} for w, s in checked.items()])
        return dict(sorted(checked.items()))

    def set(self, lang: str, written: str, spoken: str) -> dict[str, str]:
        """Add or change one entry of ``lang``; returns the lexicon."""
        entries = self.get(lang)
        entries[" ".join(written.split())] = spoken
        return self.replace(lang, entries)

    def remove(self, lang: str, written: str) -> bool:
        """Drop one entry; whether it existed."""
        code = lexicon_lang(lang)
        with self.engine.begin() as c:
            n = c.execute(delete(lexicon).where(lexicon.c.lang == code, lexicon.c.written == " ".join(written.split())))
        return bool(n.rowcount)


MAX_PREVIEW_CHARS = 1000


def preview_wav(chain: NarrationChain, lang: str, text: object, entries: Mapping[str, str],
                tts: TtsChoice = "auto", voice: str | None = None) -> bytes:
    """``text`` spoken as a render in ``lang`` would speak it with ``entries``: a 16-bit mono WAV."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput("text", "is required")
    if len(text) > MAX_PREVIEW_CHARS:
        raise InvalidInput("text", f"{len(text)} characters, at most {MAX_PREVIEW_CHARS}")
    if any(unicodedata.category(c) == "Cc" and c not in "\n\t" for c in text):
        raise InvalidInput("text", "control characters are not allowed")
    code = lexicon_lang(lang)
    spoken = spoken_form(" ".join(text.split()), code, entries)
    speech = chain.narrate([spoken], code, tts, voice, lexicon=entries).speeches[0]
    pcm = np.clip(np.round(speech.samples * 32767.0), -32767, 32767).astype(np.int16)
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(speech.sample_rate)
        w.writeframes(pcm.tobytes())
    return out.getvalue()
