from pathlib import Path

import pytest

from videogen.errors import InvalidInput, UnknownTemplate
from videogen.render.templates import available_templates, load_template

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def test_three_templates_with_their_shapes():
    assert {"news", "vertical", "square"} <= set(available_templates(TEMPLATES))
    sizes = {n: load_template(n, TEMPLATES) for n in ("news", "vertical", "square")}
    assert (sizes["news"].width, sizes["news"].height, sizes["news"].fps) == (1920, 1080, 30)
    assert (sizes["vertical"].width, sizes["vertical"].height) == (1080, 1920)
    assert (sizes["square"].width, sizes["square"].height) == (1080, 1080)
    assert sizes["vertical"].aspect == "9:16"


def test_at_size_keeps_aspect_and_even_sizes():
    t = load_template("news", TEMPLATES).at_size(270, 12)
    assert (t.width, t.height, t.fps) == (480, 270, 12)
    v = load_template("vertical", TEMPLATES).at_size(301)
    assert v.width % 2 == 0 and v.height % 2 == 0


def test_unknown_template_lists_the_available_ones():
    with pytest.raises(UnknownTemplate) as e:
        load_template("cinema", TEMPLATES)
    assert e.value.field == "template" and "news" in str(e.value)
    with pytest.raises(UnknownTemplate):
        load_template("../etc/passwd", TEMPLATES)


def test_template_file_errors_name_the_key(tmp_path):
    src = (TEMPLATES / "news.toml").read_text()
    bad = tmp_path / "bad.toml"
    bad.write_text(src.replace('accent = "#ff5a36"', 'accent = "orange"'))
    with pytest.raises(InvalidInput, match=r"palette.accent"):
        load_template(bad, tmp_path)
    bad.write_text(src.replace("width = 1920", "width = 1921"))
    with pytest.raises(InvalidInput, match="even"):
        load_template(bad, tmp_path)
    bad.write_text(src + "\nunknown_key = 1\n")
    with pytest.raises(InvalidInput, match="unknown_key"):
        load_template(bad, tmp_path)
    bad.write_text("width = ")
    with pytest.raises(InvalidInput, match="bad.toml"):
        load_template(bad, tmp_path)
