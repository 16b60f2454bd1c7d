import pytest

from videogen.render.text.normalize import normalize_for_speech


@pytest.mark.parametrize(
    ("lang", "text", "expected"),
    [
        ("fr", "sur l’IA.", "sur l'I.A."),
        ("fr", "plus de 3 000 innovations", "plus de trois mille innovations"),
        ("fr", "800 entreprises", "huit cents entreprises"),
        ("fr", "1,5 % et 45%", "un virgule cinq pour cent et quarante-cinq pour cent"),
        ("fr", "de 1.5 %", "de un virgule cinq pour cent"),
        ("fr", "5 € et €5", "cinq euros et cinq euros"),
        ("fr", "3,5 millions d’euros", "trois virgule cinq millions d'euros"),
        ("fr", "20 °C", "vingt degrés Celsius"),
        ("fr", "le 1er mai, la 2e fois, au XXIe siècle", "le premier mai, la deuxième fois, au vingt et unième siècle"),
        ("fr", "M. Dupont et Mme Martin", "Monsieur Dupont et Madame Martin"),
        ("fr", "l'ONU et l'UE", "l'ONU et l'U.E."),
        ("en", "The AI costs $3.5 million", "The A.I. costs three point five million dollars"),
        ("en", "45% of 3,000 people in 2025", "forty-five percent of three thousand people in twenty twenty-five"),
        ("en", "Dr. Smith was 1st", "Doctor Smith was first"),
        ("en", "NASA & the EU", "NASA and the E.U."),
        ("en", "1.05 m", "one point zero five m"),
    ],
)
def test_normalisation(lang, text, expected):
    assert normalize_for_speech(text, lang) == expected


@pytest.mark.parametrize(
    ("lang", "text", "expected"),
    [
        ("ru", "21%, 1%, 3% и 5%", "двадцать один процент, один процент, три процента и пять процентов"),
        ("ru", "3,5 млн $ в 2025 г.", "три целых пять десятых миллионов долларов в две тысячи двадцать пять года"),
        ("ru", "США и НАТО, 5-й раз", "С.Ш.А. и НАТО, пятый раз"),
        ("el", "Κόστος 3.000 € και 1,5%; Ναι", "Κόστος 3000 ευρώ και 1,5 τοις εκατό? Ναι"),
        ("ar", "ارتفع ٤٥٪ إلى 3.5 مليون $", "ارتفع خمسة و أربعون بالمئة إلى ثلاثة فاصلة خمسة مليون دولار"),
        ("he", "עלה ב־45%", "עלה ב־ארבעים וחמש אחוז"),
        ("hi", "2,500 लोग, ४५%", "2500 लोग, 45 प्रतिशत"),
        ("zh", "增长45%，达到3,000亿美元", "增长百分之45，达到3000亿美元"),
        ("ja", "東京で2025年に「きぼう」", "とうきょうでにせんにじゅうごねんにきぼう"),
        ("ko", "2025년에 45% 증가, $3.5", "이천이십오년에 사십오 퍼센트 증가, 삼 점 오 달러"),
        ("de", "Am 3. März stieg der Kurs um 2,5 %.", "Am dritte März stieg der Kurs um zwei Komma fünf Prozent."),
        ("fr", "« Bonjour » dit-il", "Bonjour dit-il"),
        ("de", "„Hallo“ sagte er", "Hallo sagte er"),
    ],
)
def test_normalisation_per_language(lang, text, expected):
    assert normalize_for_speech(text, lang) == expected


def test_languages_without_num2words_keep_digits_for_the_engine():
    from videogen.render.text.normalize import speaks_numbers

    assert normalize_for_speech("Ναι 12", "el") == "Ναι 12"
    assert not speaks_numbers("el") and not speaks_numbers("hi") and not speaks_numbers("zh")
    assert speaks_numbers("ru") and speaks_numbers("ja") and speaks_numbers("ar")
