"""The pronunciation lexicon: matching rules, bad input, what changes in a render (what is
read, never what is shown), the narration cache keys, the API (CRUD, preview WAV, auth) and
the CLI."""

from __future__ import annotations

import io
import json
import wave

import pytest
from fastapi.testclient import TestClient

from videogen.cli import main
from videogen.errors import InvalidInput
from videogen.http.app import create_app
from videogen.render.article import Article
from videogen.render.keys import content_key
from videogen.render.narration import NarrationChain
from videogen.render.narration.cache import SpeechCache
from videogen.render.narration.espeak_engine import EspeakEngine
from videogen.render.script import build_script
from videogen.render.templates import load_template
from videogen.render.text.lexicon import apply_lexicon, check_lexicon, entries_in
from videogen.service.videos import VideoService
from videogen.settings import Settings

from .helpers import short_article

KEY = "lexicon-key-0123456789"
AUTH = {"Authorization": f"Bearer {KEY}"}


# --- matching ------------------------------------------------------------------------------

def test_whole_words_and_multi_word_names_only():
    entries = {"Li Qiang": "Lee Chyahng", "Li": "Lee"}
    assert apply_lexicon("Li Qiang met Li and Lisa.", entries) == "Lee Chyahng met Lee and Lisa."
    assert apply_lexicon("Premier Li\n  Qiang spoke.", entries) == "Premier Lee Chyahng spoke."
    assert apply_lexicon("Lithium", entries) == "Lithium"


def test_case_rules_lowercase_matches_any_case_capitals_match_exactly():
    entries = {"nguyen": "Nwin", "US": "you ess"}
    assert apply_lexicon("NGUYEN, Nguyen and nguyen", entries) == "Nwin, Nwin and Nwin"
    assert apply_lexicon("The US and us", entries) == "The you ess and us"


def test_a_spoken_form_is_not_looked_up_again():
    assert apply_lexicon("Kyiv", {"Kyiv": "Keev", "Keev": "Kiev"}) == "Keev"


def test_phoneme_entries_only_for_engines_that_read_phonemes():
    entries = {"Nguyen": "[[w'In]]"}
    assert apply_lexicon("Mr Nguyen", entries) == "Mr Nguyen"
    assert apply_lexicon("Mr Nguyen", entries, phonemes=True) == "Mr [[w'In]]"


@pytest.mark.parametrize(("entries", "field"), [
    ({"": "x"}, "entries"),
    ({"Nguyen": ""}, "entries['Nguyen']"),
    ({"Nguyen": "   "}, "entries['Nguyen']"),
    ({"Nguyen": "[[]]"}, "entries['Nguyen']"),
    ({"Nguyen": "Mr [[w'In]]"}, "entries['Nguyen']"),
    ({"A": "B", "B": "A"}, "entries['A']"),
    ({"A": "A A"}, "entries['A']"),
    ({"Ngu\x07yen": "Nwin"}, "entries['Ngu\\x07yen']"),
    ({"Nguyen": "Nw\x00in"}, "entries['Nguyen']"),
    ({"x" * 101: "y"}, f"entries['{'x' * 101}']"),
    ({f"w{i}": "y" for i in range(2001)}, "entries"),
    ({"...": "dots"}, "entries['...']"),
])
def test_bad_entries_are_refused_naming_the_field(entries, field):
    with pytest.raises(InvalidInput) as e:
        check_lexicon(entries)
    assert e.value.field == field


def test_entries_in_keeps_only_those_the_text_uses():
    assert entries_in("Li Qiang spoke.", {"Li Qiang": "Lee Chyahng", "Nguyen": "Nwin"}) == {"Li Qiang": "Lee Chyahng"}


# --- the render core ---------------------------------------------------------------------------

ARTICLE = Article.model_validate({"id": "lx", "title": "Nguyen meets Li Qiang",
                                  "summary": "Prime minister Li Qiang met Nguyen on Monday. The talks were short.",
                                  "language": "en"})


def test_lexicon_changes_what_is_read_never_what_is_shown():
    before, after = build_script(ARTICLE), build_script(ARTICLE, {"Li Qiang": "Lee Chyahng", "nguyen": "Win"})
    assert [ln.text for ln in after.lines] == [ln.text for ln in before.lines]
    assert after.title.text == before.title.text == "Nguyen meets Li Qiang"
    assert after.title.spoken == "Win meets Lee Chyahng."
    assert "Lee Chyahng" in after.lines[0].spoken and "Li Qiang" not in after.lines[0].spoken
    assert after.lines[1].spoken == before.lines[1].spoken


def test_only_affected_sentences_get_new_cache_keys_and_narration_changes(tmp_path):
    chain = NarrationChain([EspeakEngine()], SpeechCache(tmp_path))
    before = build_script(ARTICLE)
    n1 = chain.narrate(before.spoken, "en", "espeak")
    lexicon = {"Li Qiang": "Leeee Chyahng Chyahng"}
    after = build_script(ARTICLE, lexicon)
    n2 = chain.narrate(after.spoken, "en", "espeak", lexicon=lexicon)
    assert n1.cache_hits == 0 and n2.cache_hits == 1  # the second sentence is unchanged
    assert n2.speeches[1].duration > n1.speeches[1].duration  # the respelling is what is said
    assert n2.speeches[2].duration == n1.speeches[2].duration


def test_phoneme_entries_are_spoken_by_espeak_and_keyed_apart(tmp_path):
    chain = NarrationChain([EspeakEngine()], SpeechCache(tmp_path))
    text = "Mr Nguyen spoke."
    plain = chain.narrate([text], "en", "espeak").speeches[0]
    spoken = chain.narrate([text], "en", "espeak", lexicon={"Nguyen": "[[w'In]]"})
    assert spoken.cache_hits == 0  # a different key: the phonemes are what espeak-ng read
    assert spoken.speeches[0].duration != plain.duration
    assert all(0 <= pos < len(text) for pos, _ in spoken.speeches[0].anchors)  # on the spoken text


def test_content_key_includes_only_entries_the_article_uses(settings):
    template = load_template("news", settings.templates_dirs)
    key = content_key(ARTICLE, template, None, "auto", 60)
    assert content_key(ARTICLE, template, None, "auto", 60, {}) == key
    assert content_key(ARTICLE, template, None, "auto", 60, {"Obama": "Oh bahma"}) == key
    assert content_key(ARTICLE, template, None, "auto", 60, {"Li Qiang": "Lee Chyahng"}) != key


# --- the API -------------------------------------------------------------------------------------

@pytest.fixture()
def api(tmp_path, settings):
    s = Settings(home=tmp_path / "home", cache_dir=settings.cache_path, api_keys=KEY)
    svc = VideoService(s)
    with TestClient(create_app(s, svc, run_sweeper=False)) as client:
        client.service = svc
        yield client


def test_api_put_get_and_auth(api):
    body = {"entries": {"Li Qiang": "Lee Chyahng", "nguyen": "[[w'In]]"}}
    assert api.put("/v1/lexicon/en", json=body).status_code == 401
    r = api.put("/v1/lexicon/en-GB", json=body, headers=AUTH)
    assert r.status_code == 200, r.text
    assert r.json() == {"lang": "en", "entries": {"Li Qiang": "Lee Chyahng", "nguyen": "[[w'In]]"}}
    assert api.get("/v1/lexicon/en").status_code == 401
    assert api.get("/v1/lexicon/en", headers=AUTH).json()["entries"] == body["entries"]
    assert api.get("/v1/lexicon/fr", headers=AUTH).json()["entries"] == {}
    assert api.put("/v1/lexicon/en", json={"entries": {}}, headers=AUTH).json()["entries"] == {}


@pytest.mark.parametrize(("body", "field"), [
    ({"entries": {"A": "B", "B": "A"}}, "entries['A']"),
    ({"entries": {"Nguyen": ""}}, "entries['Nguyen']"),
    ({"entries": {"Nguyen": "Nw\u0007in"}}, "entries['Nguyen']"),
    ({"entries": {"Nguyen": 5}}, "entries['Nguyen']"),
    ({"entries": ["Nguyen"]}, "entries"),
    ({"entries": {}, "extra": 1}, "extra"),
    ([], "body"),
])
def test_api_bad_lexicon_is_422_naming_the_field_and_changes_nothing(api, body, field):
    api.put("/v1/lexicon/en", json={"entries": {"Li Qiang": "Lee Chyahng"}}, headers=AUTH)
    r = api.put("/v1/lexicon/en", json=body, headers=AUTH)
    assert r.status_code == 422, r.text
    assert field in [e["field"] for e in r.json()["errors"]]
    assert api.get("/v1/lexicon/en", headers=AUTH).json()["entries"] == {"Li Qiang": "Lee Chyahng"}


def test_api_bad_language_is_422(api):
    r = api.get("/v1/lexicon/x1!", headers=AUTH)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "lang"


def _wav(data: bytes) -> tuple[int, int]:
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE"
    with wave.open(io.BytesIO(data)) as w:
        return w.getnframes(), w.getframerate()


def test_preview_is_a_wav_and_hears_unsaved_entries(api):
    text = {"text": "Prime minister Li Qiang spoke.", "tts": "espeak"}
    r = api.post("/v1/lexicon/en/preview", json=text, headers=AUTH)
    assert r.status_code == 200 and r.headers["content-type"] == "audio/wav"
    frames, rate = _wav(r.content)
    assert frames > 0 and rate > 0
    r2 = api.post("/v1/lexicon/en/preview", headers=AUTH,
                  json={**text, "entries": {"Li Qiang": "Leeee Chyahng Chyahng Chyahng"}})
    assert _wav(r2.content)[0] > frames
    assert api.get("/v1/lexicon/en", headers=AUTH).json()["entries"] == {}  # a preview saves nothing
    assert api.post("/v1/lexicon/en/preview", json=text).status_code == 401


@pytest.mark.parametrize(("body", "field"), [
    ({}, "text"), ({"text": ""}, "text"), ({"text": "a" * 1001}, "text"), ({"text": "a\x07b"}, "text"),
    ({"text": "Hi", "entries": {"A": "A A"}}, "entries['A']"), ({"text": "Hi", "tts": "nope"}, "tts"),
])
def test_preview_bad_input(api, body, field):
    r = api.post("/v1/lexicon/en/preview", json=body, headers=AUTH)
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == field


def test_enqueue_snapshots_the_entries_the_article_uses(api):
    svc = api.service
    art = short_article()
    r1 = api.post("/v1/videos", json={**art, "options": {"height": 120, "fps": 8}}, headers=AUTH).json()
    api.put("/v1/lexicon/en", json={"entries": {"museum": "mew zee um", "Obama": "Oh bahma"}}, headers=AUTH)
    r2 = api.post("/v1/videos", json={**art, "options": {"height": 120, "fps": 8}}, headers=AUTH).json()
    assert r2["id"] != r1["id"]  # a new content key: the lexicon changed what is read
    job = svc.store.get(r2["id"])
    assert job.options["lexicon"] == {"museum": "mew zee um"}
    assert svc.run(job.id, "w").status == "done"
    manifest = json.loads(b"".join(svc.storage.read(job.content_key, "manifest.json")))
    assert manifest["narration"]["lines"] >= 2
    vtt = b"".join(svc.storage.read(job.content_key, "captions.vtt")).decode()
    assert "museum" in vtt and "mew zee um" not in vtt  # captions show what is written


# --- the CLI ---------------------------------------------------------------------------------------

def test_cli_set_list_remove(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("VIDEOGEN_HOME", str(tmp_path))
    monkeypatch.delenv("VIDEOGEN_DATABASE_URL", raising=False)
    from videogen.settings import get_settings
    get_settings.cache_clear()
    try:
        assert main(["lexicon", "set", "fr", "Li Qiang", "Li Tchiang"]) == 0
        assert main(["lexicon", "set", "fr", "Nguyen", "[[Nwi~]]"]) == 0
        capsys.readouterr()
        assert main(["lexicon", "list", "fr"]) == 0
        assert capsys.readouterr().out.splitlines() == ["Li Qiang\tLi Tchiang", "Nguyen\t[[Nwi~]]"]
        assert main(["lexicon", "set", "fr", "Li Tchiang", "Li Qiang"]) == 2  # a loop: refused
        assert main(["lexicon", "remove", "fr", "Nguyen"]) == 0
        assert main(["lexicon", "remove", "fr", "Nguyen"]) == 2
        capsys.readouterr()
        main(["lexicon", "list", "fr"])
        assert capsys.readouterr().out.splitlines() == ["Li Qiang\tLi Tchiang"]
    finally:
        get_settings.cache_clear()
