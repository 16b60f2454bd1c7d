"""The few words videogen puts on screen and on pages, per language (English as fallback),
the direction each language is written in, and dates in the article's language."""

from __future__ import annotations

import re
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
        "watch_video_about": "Regarder la vidéo : {title}",
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
    "ru": {
        "watch_video_about": "Смотреть видео: {title}",
        "read_more": "Читайте полностью на {site}",
        "photo": "Фото: {credit}",
        "thanks": "Спасибо за просмотр",
        "video": "Видео",
    },
    "el": {
        "watch_video_about": "Δείτε το βίντεο: {title}",
        "read_more": "Διαβάστε ολόκληρο το άρθρο στο {site}",
        "photo": "Φωτογραφία: {credit}",
        "thanks": "Ευχαριστούμε που παρακολουθήσατε",
        "video": "Βίντεο",
    },
    "ar": {
        "watch_video_about": "شاهد الفيديو عن {title}",
        "read_more": "اقرأ القصة كاملة على {site}",
        "photo": "صورة: {credit}",
        "thanks": "شكرًا للمشاهدة",
        "video": "فيديو",
    },
    "he": {
        "watch_video_about": "צפו בסרטון על {title}",
        "read_more": "לכתבה המלאה באתר {site}",
        "photo": "צילום: {credit}",
        "thanks": "תודה על הצפייה",
        "video": "וידאו",
    },
    "hi": {
        "watch_video_about": "{title} के बारे में वीडियो देखें",
        "read_more": "पूरी ख़बर {site} पर पढ़ें",
        "photo": "फ़ोटो: {credit}",
        "thanks": "देखने के लिए धन्यवाद",
        "video": "वीडियो",
    },
    "zh": {
        "watch_video_about": "观看视频：{title}",
        "read_more": "在 {site} 阅读全文",
        "photo": "图片：{credit}",
        "thanks": "感谢收看",
        "video": "视频",
    },
    "ja": {
        "watch_video_about": "動画を見る：{title}",
        "read_more": "記事の全文は {site} で",
        "photo": "写真：{credit}",
        "thanks": "ご覧いただきありがとうございました",
        "video": "動画",
    },
    "ko": {
        "watch_video_about": "{title} 관련 영상 보기",
        "read_more": "{site}에서 기사 전문 읽기",
        "photo": "사진: {credit}",
        "thanks": "시청해 주셔서 감사합니다",
        "video": "영상",
    },
}

RTL_LANGUAGES = frozenset({"ar", "he", "fa", "ur", "yi", "ps", "sd", "ug", "dv", "ckb"})


def text_direction(lang: str) -> str:
    """'rtl' for languages written right to left (Arabic, Hebrew, Persian, Urdu...), else 'ltr'."""
    return "rtl" if lang.split("-")[0].lower() in RTL_LANGUAGES else "ltr"


def text(key: str, lang: str, **values: str) -> str:
    table = STRINGS.get(lang.split("-")[0].lower(), STRINGS["en"])
    return table.get(key, STRINGS["en"][key]).format(**values)


def _credit_label_pattern() -> re.Pattern[str]:
    """The credit labels of every language ("Photo", "Foto", "写真"...) followed by a colon
    (also a full-width one), at the start of a text, in any case."""
    labels = {t["photo"].split("{credit}")[0].strip().rstrip(":：").strip() for t in STRINGS.values() if "photo" in t}
    alternatives = "|".join(re.escape(label) for label in sorted(labels, key=len, reverse=True))
    return re.compile(rf"\s*(?:{alternatives})\s*[:：]\s*", re.IGNORECASE)


_CREDIT_LABEL = _credit_label_pattern()


def photo_credit(credit: str, lang: str) -> str:
    """A photo credit as shown: "Photo: NASA" in the article's language. A credit that already
    starts with such a label ("Photo: NASA", "photo : AFP", "Foto: dpa", in any of the
    languages here) is not labelled twice: its label gives way to the article's language's."""
    m = _CREDIT_LABEL.match(credit)
    rest = credit[m.end() :].strip() if m else credit
    return text("photo", lang, credit=rest) if rest else credit.strip()


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
