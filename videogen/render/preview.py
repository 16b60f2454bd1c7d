"""A brand's contact sheet: the title card, a photo scene with its captions, header, credit and
logo, and the outro card (and a picture of each sting), side by side, drawn with the same functions as a clip's layers but
without narration or encoding (``videogen templates preview``)."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

from videogen.render import backdrops, brand, cards, i18n, stings
from videogen.render.article import Article
from videogen.render.fonts import get_font
from videogen.render.templates import Template

SAMPLE_ARTICLE = Article(
    title="City council approves new riverside park after two-year debate",
    summary="The council voted seven to two on Tuesday to turn the old freight yard into a public park. "
            "Work is due to start in the spring.",
    language="en", source="The Riverside Gazette", url="https://gazette.example/park",
)


def _photo(article: Article, template: Template) -> tuple[Image.Image, str | None]:
    """The article's first image when it is a readable local file (no network here), else a
    generated backdrop; and its credit."""
    for img in article.images:
        path = Path(img.src)
        if not img.is_url and path.is_file():
            try:
                with Image.open(path) as im:
                    return im.convert("RGB"), img.credit
            except OSError:
                continue
    return backdrops.generated_background(template, 7, template.size), "Photo: Sample"


def _paste(frame: Image.Image, overlay: cards.Overlay) -> None:
    frame.alpha_composite(overlay.image.convert("RGBA"), (max(0, overlay.x), max(0, overlay.y)))


def frames(template: Template, article: Article = SAMPLE_ARTICLE) -> list[tuple[str, Image.Image]]:
    """The three frames of the sheet (label, RGB image at the template's size): the title card
    as the poster shows it (no logo), the scene and the outro with the logo where a clip
    shows it; before them a picture of the intro sting and after them one of the outro sting,
    when the template has them."""
    lang = article.lang
    direction = i18n.text_direction(lang)
    date = i18n.long_date(article.published_at, lang) if article.published_at else None
    photo, credit = _photo(article, template)
    title = cards.title_card(template, cards.TitleCardText(article.title, article.source, date, direction),
                             seed=1, photo=photo).convert("RGBA")
    scene = backdrops.frame_photo(photo, template.size, min_kept=template.framing.kept_floor).image.convert("RGBA")
    _paste(scene, cards.header_overlay(template, article.source, article.title, direction, lang))
    if credit:
        _paste(scene, cards.credit_overlay(i18n.photo_credit(credit, lang), template, direction, lang))
    line = (article.summary or article.body or article.title).split(". ")[0].strip()
    if template.layout.caption_style != "none":
        page = cards.caption_pages(line, template, lang)[0]
        _paste(scene, cards.caption_overlay(page, template, direction, lang))
    site = article.url.split("/")[2].removeprefix("www.") if article.url and "//" in article.url else None
    outro = cards.outro_card(template, article.source or site or i18n.text("thanks", lang),
                             [i18n.text("read_more", lang, site=site) if site else i18n.text("thanks", lang)],
                             seed=2, direction=direction).convert("RGBA")
    shown = [("title card (poster)", title, False),
             ("scene", scene, template.logo is not None),
             ("outro", outro, template.logo is not None and template.logo.until == "end")]
    logo = brand.logo_overlay(template) if template.logo is not None else None
    out = []
    for label, img, with_logo in shown:
        if logo is not None and with_logo:
            _paste(img, logo)
        out.append((label, img.convert("RGB")))
    for key, where in (("intro", 0), ("outro", len(out))):
        spec = getattr(template, key)
        if spec is not None:
            picture = stings.sting_picture(spec, stings.probe_sting(spec), template.width, template.height)
            out.insert(where, (f"{key} sting", picture))
    return out


def contact_sheet(template: Template, article: Article = SAMPLE_ARTICLE, thumb_height: int = 360) -> Image.Image:
    """The sheet: the frames (three, and one per sting) in a row, ``thumb_height`` pixels high, each labelled."""
    shots = frames(template, article)
    tw = round(template.width * thumb_height / template.height)
    gap, label_h = 16, 28
    sheet = Image.new("RGB", (gap + len(shots) * (tw + gap), thumb_height + label_h + 2 * gap), (32, 32, 36))
    d = ImageDraw.Draw(sheet)
    font = get_font("NotoSans-Regular", 16)
    for k, (label, img) in enumerate(shots):
        x = gap + k * (tw + gap)
        sheet.paste(img.resize((tw, thumb_height), Image.Resampling.LANCZOS), (x, gap))
        d.text((x, gap + thumb_height + 6), f"{template.name} — {label}", fill=(220, 220, 220), font=font)
    return sheet
