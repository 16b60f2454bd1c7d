import pytest

from videogen.text.normalize import normalize_for_speech


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


def test_unknown_language_passes_text_through():
    assert normalize_for_speech("Ναι 12", "el") == "Ναι 12"
