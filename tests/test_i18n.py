"""The words on screen: a photo credit is labelled once, in the article's language."""

from __future__ import annotations

import pytest

from videogen.render import i18n


@pytest.mark.parametrize("credit,lang,shown", [
    ("NASA", "en", "Photo: NASA"),
    ("NASA", "fr", "Photo : NASA"),
    ("Photo: NASA", "en", "Photo: NASA"),
    ("photo:NASA", "en", "Photo: NASA"),
    ("PHOTO : NASA", "en", "Photo: NASA"),
    ("Photo : AFP", "fr", "Photo : AFP"),
    ("Photo: AFP", "fr", "Photo : AFP"),
    ("Foto: dpa", "de", "Foto: dpa"),
    ("Foto: dpa", "en", "Photo: dpa"),
    ("写真：共同通信", "ja", "写真：共同通信"),
    ("Фото: ТАСС", "ru", "Фото: ТАСС"),
    ("Photographer Jane Doe", "en", "Photo: Photographer Jane Doe"),  # a word, not a label
    ("Photo:", "en", "Photo:"),  # nothing after the label: shown as given
])
def test_a_photo_credit_is_labelled_once(credit, lang, shown):
    assert i18n.photo_credit(credit, lang) == shown
