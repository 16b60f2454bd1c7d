import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .helpers import EXAMPLES, short_article


def run(*args, cwd: Path, env_home: Path):
    import os

    env = {**os.environ, "VIDEOGEN_HOME": str(env_home)}
    return subprocess.run([sys.executable, "-m", "videogen.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def write(tmp_path: Path, name: str, data) -> Path:
    p = tmp_path / name
    p.write_text(json.dumps(data, ensure_ascii=False))
    return p


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"title": ""}, "title: must not be empty"),
        ({"summary": ""}, "summary: must not be empty"),
        ({"summary": 12}, "summary: Input should be a valid string"),
        ({"language": "xx"}, "language: no narration engine can speak 'xx'"),
        ({"extra": 1}, "extra: unknown field"),
    ],
)
def test_bad_input_exits_2_and_writes_nothing(tmp_path, session_home, change, message):
    data = {**short_article(), **change}
    if change.get("summary") == "":
        data.pop("body", None)
    article = write(tmp_path, "a.json", data)
    r = run("render", str(article), "--out", "out", "--height", "120", cwd=tmp_path, env_home=session_home)
    assert r.returncode == 2, r.stderr
    assert message in r.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_unknown_template_exits_2(tmp_path, session_home):
    article = write(tmp_path, "a.json", short_article())
    r = run("render", str(article), "--template", "cinema", "--out", "out", cwd=tmp_path, env_home=session_home)
    assert r.returncode == 2 and "unknown template 'cinema'" in r.stderr
    assert not (tmp_path / "out").exists()


def test_one_bad_article_in_a_batch_renders_nothing(tmp_path, session_home):
    batch = tmp_path / "b.jsonl"
    batch.write_text(json.dumps(short_article()) + "\n" + json.dumps({**short_article(), "title": ""}) + "\n")
    r = run("render", str(batch), "--out", "out", "--height", "120", cwd=tmp_path, env_home=session_home)
    assert r.returncode == 2 and "line 2: title" in r.stderr
    assert not (tmp_path / "out").exists()


def test_render_prints_the_folder_and_lists(tmp_path, session_home):
    shutil.copytree(EXAMPLES, tmp_path / "articles")
    r = run("render", "articles/en-space-exhibition.json", "--template", "vertical", "--out", "out",
            "--height", "160", "--fps", "8", "--max-duration", "22", cwd=tmp_path, env_home=session_home)
    assert r.returncode == 0, r.stderr
    folder = tmp_path / r.stdout.strip()
    assert folder == tmp_path / "out" / "space-exhibition-opens-vertical"
    assert sorted(p.name for p in folder.iterdir()) == ["captions.srt", "captions.vtt", "manifest.json", "poster.jpg", "video.mp4"]
    m = json.loads((folder / "manifest.json").read_text())
    # The sample's long third sentence is read as two parts (issue 16): 5 lines for 4 sentences.
    assert m["duration"] <= 22 and any("capped at 22 s: kept 2 of 5 sentence parts" in w for w in m["warnings"])
    assert "capped at 22 s" in r.stderr and "done in" in r.stderr
    t = run("templates", cwd=tmp_path, env_home=session_home)
    assert t.returncode == 0 and "vertical" in t.stdout and "1080x1920" in t.stdout
    v = run("voices", "--language", "fr", cwd=tmp_path, env_home=session_home)
    assert v.returncode == 0 and "espeak:fr" in v.stdout and "gtts:fr (online)" in v.stdout
    v = run("voices", cwd=tmp_path, env_home=session_home)
    assert "piper:en_US-joe-medium" in v.stdout


def test_voices_shows_engine_voice_offline_and_numbers_per_language(tmp_path, session_home):
    v = run("voices", cwd=tmp_path, env_home=session_home)
    assert v.returncode == 0, v.stderr
    rows = {line.split()[0]: line for line in v.stdout.splitlines()[1:]}
    expected = {"en": "piper en_US-joe-medium", "zh": "espeak-ng sit/cmn", "ja": "espeak-ng jpx/ja",
                "ar": "espeak-ng sem/ar", "he": "espeak-ng sem/he", "hi": "espeak-ng inc/hi", "ko": "espeak-ng ko"}
    for lang, engine_voice in expected.items():
        assert engine_voice in rows[lang] and " yes " in rows[lang], rows[lang]
    assert " digits " in rows["zh"] and " words " in rows["ru"]


def test_serve_renders_the_given_articles_with_the_embedded_broker(tmp_path, session_home):
    """The README's run command in small: API + worker + embedded broker, no Redis."""
    import os

    from .stack import free_port

    article = write(tmp_path, "a.json", short_article("fr"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIDEOGEN_")}
    env["VIDEOGEN_CACHE_DIR"] = str(session_home / "cache")
    r = subprocess.run([sys.executable, "-m", "videogen.cli", "serve", str(article), "--height", "120", "--fps", "8",
                        "--exit-when-done", "--port", str(free_port())], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stderr[-2000:]
    job_id = r.stdout.strip()
    assert len(job_id) == 32
    home = tmp_path / ".videogen"
    assert (home / "broker.sqlite").exists() and (home / "jobs.sqlite").exists()
    status = run("status", job_id, "--json", cwd=tmp_path, env_home=home)
    assert json.loads(status.stdout)["status"] == "done"
    out = tmp_path / "clip.mp4"
    d = run("download", job_id, "-o", str(out), cwd=tmp_path, env_home=home)
    assert d.returncode == 0 and out.stat().st_size > 1000
