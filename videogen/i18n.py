"""The few words videogen puts on screen and on pages, per language (English as fallback)."""

from __future__ import annotations

from datetime import date, datetime

from babel.core import UnknownLocaleError
from babel.dates import format_date

STRINGS: dict[str, dict[str, str]] = {
    "en": {
        "watch_video_about": "Watch video about {title}",
        "read_more": "Read the full story on {site}",
        "photo": "Photo: {credit}",
        "thanks": "Thanks for watching",
        "video": "Video",
    },
    "fr": {
        "watch_video_about": "Voir la vidéo sur {title}",
        "read_more": "Lire l’article complet sur {site}",
        "photo": "Photo : {credit}",
        "thanks": "Merci de votre attention",
        "video": "Vidéo",
    },
    "de": {
        "watch_video_about": "Video ansehen: {title}",
        "read_more": "Den ganzen Artikel lesen auf {site}",
        "photo": "Foto: {credit}",
        "thanks": "Danke fürs Zuschauen",
        "video": "Video",
    },
    "es": {
        "watch_video_about": "Ver el vídeo sobre {title}",
        "read_more": "Lea el artículo completo en {site}",
        "photo": "Foto: {credit}",
        "thanks": "Gracias por ver",
        "video": "Vídeo",
    },
}


def text(key: str, lang: str, **values: str) -> str:
    table = STRINGS.get(lang.split("-")[0].lower(), STRINGS["en"])
    return table.get(key, STRINGS["en"][key]).format(**values)


def long_date(value: date | datetime, lang: str) -> str:
    """'18 décembre 2025' / 'December 18, 2025', in the article's language."""
    d = value.date() if isinstance(value, datetime) else value
    try:
        return format_date(d, format="long", locale=lang.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        try:
            return format_date(d, format="long", locale=lang.split("-")[0])
        except (UnknownLocaleError, ValueError):
            return d.isoformat()
