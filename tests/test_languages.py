"""Every language the newsroom publishes in, rendered end to end (small and fast: 180 px high,
10 fps, no images): narration that is heard and grows with the text, the engine in the
manifest, one caption cue per sentence, a title frame that matches the layout code's own
rendering of the title, and no character without a glyph."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from videogen.render import cards, i18n
from videogen.render.article import parse_article
from videogen.render.captions import parse_webvtt
from videogen.render.fonts import fallback_names, missing_glyphs
from videogen.render.pipeline import RenderOptions, render_article
from videogen.render.script import seed_for
from videogen.render.templates import load_template

from .helpers import ROOT, decode_audio, decode_frame

# title, a short sentence, a sentence at least twice as long
ARTICLES: dict[str, tuple[str, str, str]] = {
    "en": ("Museum opens a new space exhibition", "The museum opened on Monday.",
           "Visitors can step inside a full-size capsule replica and try on real flight suits."),
    "fr": ("Le musée ouvre une exposition sur l’espace", "Le musée a ouvert lundi.",
           "Les visiteurs peuvent entrer dans une réplique de capsule grandeur nature et essayer de vraies combinaisons."),
    "de": ("Museum eröffnet eine neue Weltraumausstellung", "Das Museum öffnete am Montag.",
           "Besucher können eine Raumkapsel in Originalgröße betreten und echte Raumanzüge anprobieren."),
    "es": ("El museo abre una nueva exposición espacial", "El museo abrió el lunes.",
           "Los visitantes pueden entrar en una réplica de cápsula a tamaño real y probarse trajes de vuelo auténticos."),
    "ru": ("Музей открыл новую космическую выставку", "Музей открылся в понедельник.",
           "Посетители могут войти в копию капсулы в натуральную величину и примерить настоящие лётные костюмы."),
    "el": ("Το μουσείο εγκαινιάζει νέα διαστημική έκθεση", "Το μουσείο άνοιξε τη Δευτέρα.",
           "Οι επισκέπτες μπορούν να μπουν σε ένα αντίγραφο κάψουλας σε φυσικό μέγεθος και να δοκιμάσουν αληθινές στολές πτήσης."),
    "ar": ("المتحف يفتتح معرضا جديدا عن الفضاء", "افتتح المتحف يوم الاثنين.",
           "يمكن للزوار دخول نسخة طبق الأصل من كبسولة فضائية بالحجم الطبيعي وتجربة بدلات طيران حقيقية."),
    "he": ("המוזיאון פותח תערוכת חלל חדשה", "המוזיאון נפתח ביום שני.",
           "המבקרים יכולים להיכנס להעתק של קפסולת חלל בגודל טבעי ולמדוד חליפות טיסה אמיתיות."),
    "hi": ("संग्रहालय में अंतरिक्ष पर नई प्रदर्शनी शुरू", "संग्रहालय सोमवार को खुला।",
           "आगंतुक असली आकार के अंतरिक्ष कैप्सूल की प्रतिकृति में जा सकते हैं और असली उड़ान सूट पहनकर देख सकते हैं।"),
    "zh": ("博物馆开设全新太空展览", "博物馆周一开幕。", "参观者可以走进一比一的太空舱复制品，并试穿真正的飞行服。"),
    "ja": ("博物館で新しい宇宙展が始まる", "博物館は月曜日に開館した。",
           "来館者は実物大のカプセルの模型に入り、本物の飛行服を試着することができる。"),
    "ko": ("박물관, 새로운 우주 전시회 개막", "박물관이 월요일에 문을 열었다.",
           "관람객들은 실물 크기의 우주 캡슐 모형에 들어가 보고 진짜 비행복을 입어 볼 수 있다."),
}
SPACE = {"zh", "ja"}  # sentences follow each other with no space
EXPECTED_ENGINE = {lang: "espeak" for lang in ARTICLES} | {"en": "piper"}
HEIGHT, FPS = 180, 10


def article_data(lang: str) -> dict:
    title, s1, s2 = ARTICLES[lang]
    return {"id": f"lang-{lang}", "title": title, "summary": ("" if lang in SPACE else " ").join([s1, s2]),
            "language": lang, "source": "Test Tribune", "url": "https://news.example.org/a",
            "published_at": "2026-03-02T09:30:00Z"}


@pytest.fixture(scope="module")
def renders(settings, tmp_path_factory):
    done: dict[str, Path] = {}

    def get(lang: str) -> Path:
        if lang not in done:
            out = tmp_path_factory.mktemp(f"lang-{lang}") / "clip"
            render_article(parse_article(article_data(lang)), RenderOptions(height=HEIGHT, fps=FPS), out, settings.render_config())
            done[lang] = out
        return done[lang]

    return get


def reference_title(lang: str, title: str | None = None, direction: str | None = None):
    """The title card as the layout code draws it, at the size of the test renders."""
    data = article_data(lang)
    template = load_template("news", ROOT / "templates").at_size(HEIGHT, FPS)
    meta = i18n.long_date(parse_article(data).published_at, lang)
    text = cards.TitleCardText(title or data["title"], data["source"], meta,
                               direction or i18n.text_direction(lang), lang)
    return np.asarray(cards.title_card(template, text, seed=seed_for(data["id"], "title")), np.float32)


@pytest.mark.parametrize("lang", list(ARTICLES))
def test_language_renders_with_narration_captions_and_title(renders, lang):
    out = renders(lang)
    manifest = json.loads((out / "manifest.json").read_text())
    title, s1, s2 = ARTICLES[lang]

    # Narration: the engine that spoke is recorded, offline.
    assert manifest["article"]["language"] == lang
    assert manifest["narration"]["engine"] == EXPECTED_ENGINE[lang]
    assert manifest["narration"]["offline"] is True
    assert manifest["narration"]["voice"].startswith(f"{EXPECTED_ENGINE[lang]}:")

    # Captions: the title, then one cue per sentence, with the displayed (not spoken) text.
    cues = parse_webvtt((out / "captions.vtt").read_text(encoding="utf-8"))
    assert [c[2] for c in cues] == [title, s1, s2]

    # The audio is heard inside every cue, and a longer sentence takes longer to say.
    rate = 16000
    pcm = decode_audio(out / "video.mp4", rate)
    for start, end, text in cues:
        seg = pcm[int(start * rate) : int(end * rate)]
        assert seg.size and np.sqrt(np.mean(seg**2)) > 0.01, f"silent cue {text!r}"
    durations = [end - start for start, end, _ in cues]
    assert durations[2] > durations[1] * 1.3, durations

    # Every character on screen has a glyph in the shipped fonts.
    template = load_template("news", ROOT / "templates")
    shown = " ".join([title, s1, s2, i18n.text("read_more", lang, site="news.example.org"),
                      i18n.text("photo", lang, credit="NASA"), i18n.long_date(parse_article(article_data(lang)).published_at, lang)])
    for font in {template.fonts.title, template.fonts.body, template.fonts.caption}:
        assert missing_glyphs(shown, fallback_names(font, lang)) == []

    # The first frame is the title card as the layout code draws it: where the right title and
    # a wrong one differ (the text), the frame is much closer to the right one.
    frame = decode_frame(out / "video.mp4", 0.0).astype(np.float32)
    ref = reference_title(lang)
    wrong = reference_title(lang, title=ARTICLES["en" if lang != "en" else "fr"][0])
    text_px = np.abs(ref - wrong).max(axis=2) > 60
    assert text_px.sum() > 200, "the title drew almost nothing"
    err_right = np.abs(frame - ref)[text_px].mean()
    err_wrong = np.abs(frame - wrong)[text_px].mean()
    assert err_right < 25 and err_right < err_wrong / 3, (err_right, err_wrong)

    # Right-to-left titles hug the right margin, the others the left one.
    w = frame.shape[1]
    cols = np.flatnonzero((ref.min(axis=2) > 235).any(axis=0))
    margin = int(w * template.layout.margin_x)
    if i18n.text_direction(lang) == "rtl":
        assert abs(cols.max() - (w - margin)) <= 3 and cols.min() > margin + 5
    else:
        assert abs(cols.min() - margin) <= 3
