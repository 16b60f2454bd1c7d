import json

import pytest

from videogen.errors import InvalidArticle
from videogen.render.article import load_article, load_articles, parse_article
from videogen.render.script import build_script

from .helpers import EXAMPLES, short_article


def fields(exc: InvalidArticle) -> dict[str, str]:
    return dict(exc.errors)


def test_sample_articles_load():
    fr = load_article(EXAMPLES / "fr-chine-ia.json")
    assert fr.lang == "fr" and fr.images == [] and fr.published_at.year == 2025
    en = load_article(EXAMPLES / "en-space-exhibition.json")
    assert len(en.images) == 4 and en.base_dir == EXAMPLES.resolve()
    batch = load_articles(EXAMPLES / "hot-news-fr.jsonl")
    assert len(batch) == 7 and all(a.language == "fr" for a in batch)


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"title": None}, "title", "required"),
        ({"title": "   "}, "title", "empty"),
        ({"title": 42}, "title", "string"),
        ({"title": "x" * 500}, "title", "at most 400"),
        ({"title": "!!! ???"}, "title", "no letters"),
        ({"summary": "", "body": None}, "summary", "must not be empty"),
        ({"summary": 3}, "summary", "string"),
        ({"language": "french!"}, "language", "BCP 47"),
        ({"images": [{"src": "ftp://x/y.jpg"}]}, "images[0].src", "http"),
        ({"images": "pic.jpg"}, "images", "list"),
        ({"colour": "red"}, "colour", "unknown field"),
        ({"url": "javascript:alert(1)"}, "url", "http"),
        ({"id": "../../etc/passwd"}, "id", "letters"),
        ({"published_at": "yesterday"}, "published_at", "datetime"),
    ],
)
def test_bad_fields_are_named(change, field, words):
    data = short_article()
    for k, v in change.items():
        if v is None:
            data.pop(k, None)
        else:
            data[k] = v
    with pytest.raises(InvalidArticle) as e:
        parse_article(data)
    errs = fields(e.value)
    assert field in errs, errs
    assert words.lower() in errs[field].lower(), errs


def test_missing_language_is_reported():
    data = short_article()
    del data["language"]
    with pytest.raises(InvalidArticle) as e:
        parse_article(data)
    assert fields(e.value)["language"] == "is required"


def test_not_an_object():
    with pytest.raises(InvalidArticle) as e:
        parse_article(["title"])
    assert "JSON object" in str(e.value)


def test_jsonl_errors_name_the_line(tmp_path):
    p = tmp_path / "batch.jsonl"
    good = json.dumps(short_article())
    bad = json.dumps({**short_article(), "title": ""})
    p.write_text(good + "\n" + bad + "\n")
    with pytest.raises(InvalidArticle) as e:
        load_articles(p)
    assert str(e.value).startswith("line 2: title")
    p.write_text(good + "\n{not json\n")
    with pytest.raises(InvalidArticle, match="line 2"):
        load_articles(p)


def test_missing_and_invalid_files(tmp_path):
    with pytest.raises(InvalidArticle, match="does not exist"):
        load_article(tmp_path / "nope.json")
    (tmp_path / "bad.json").write_text("{\"title\": ")
    with pytest.raises(InvalidArticle, match="invalid JSON"):
        load_article(tmp_path / "bad.json")


def test_text_is_cleaned_and_id_derived():
    a = parse_article({"title": "  Hello\u0007  world \n", "summary": "A\u200b b.", "language": "EN_us"})
    assert a.title == "Hello world"
    assert a.language == "en-US" and a.lang == "en"
    assert a.id.startswith("hello-world-") and len(a.id) <= 60


def test_body_is_summarised_when_there_is_no_summary():
    body = ("The council approved the new tram line on Tuesday. It will link the station to the university. "
            "Work starts in May. The line will cost 300 million euros. Critics say the money should go to buses. "
            "The mayor said the tram is the future. Residents will be consulted in March.")
    a = parse_article({"title": "Tram line approved", "body": body, "language": "en"})
    script = build_script(a)
    assert script.narrated_from == "body"
    assert 1 <= len(script.lines) <= 4
    assert script.lines[0].text == "The council approved the new tram line on Tuesday."
    assert all(line.text in body for line in script.lines)
