import pytest

from videogen.render.text.sentences import split_sentences


@pytest.mark.parametrize(
    ("lang", "text", "expected"),
    [
        ("fr", "M. Dupont est arrivé. Il a vu 3 000 personnes.", ["M. Dupont est arrivé.", "Il a vu 3 000 personnes."]),
        ("fr", "Le taux est de 1.5 % cette année. Il était de 2,5 %.", ["Le taux est de 1.5 % cette année.", "Il était de 2,5 %."]),
        ("fr", "« Nous y allons. » Puis il est parti.", ["« Nous y allons. »", "Puis il est parti."]),
        ("fr", "Il a dit : « Êtes-vous prêts ? » Personne n’a répondu.", ["Il a dit : « Êtes-vous prêts ? »", "Personne n’a répondu."]),
        ("fr", "Vraiment ? Oui ! C’est l’IA d’OpenAI.", ["Vraiment ?", "Oui !", "C’est l’IA d’OpenAI."]),
        ("fr", "Il hésite... puis repart. La suite demain… Fin.", ["Il hésite... puis repart.", "La suite demain…", "Fin."]),
        ("fr", "Mme Martin et le Dr. House sont là. J. K. Rowling aussi.", ["Mme Martin et le Dr. House sont là.", "J. K. Rowling aussi."]),
        ("en", "Dr. Smith met Mr. Jones in the U.S. on Monday. It rained.", ["Dr. Smith met Mr. Jones in the U.S. on Monday.", "It rained."]),
        ("en", "The rate rose 1.5 percent. \"We will go.\" Then he left.", ["The rate rose 1.5 percent.", "\"We will go.\"", "Then he left."]),
        ("en", "Apples, pears, etc. are fruit. We bought pears etc. Then we left.", ["Apples, pears, etc. are fruit.", "We bought pears etc.", "Then we left."]),
        ("en", "It costs $3.5 million, e.g. a lot. Wow!", ["It costs $3.5 million, e.g. a lot.", "Wow!"]),
        ("en", "First paragraph\n\nSecond one.", ["First paragraph", "Second one."]),
        ("zh", "中国提议成立新组织。总部设在上海！你同意吗？好的", ["中国提议成立新组织。", "总部设在上海！", "你同意吗？", "好的"]),
    ],
)
def test_tricky_sentences(lang, text, expected):
    assert split_sentences(text, lang) == expected


def test_nothing_is_lost():
    text = "Un. Deux ? Trois ! « Quatre. » Cinq… six. M. Sept 3 000 et 1.5."
    joined = " ".join(split_sentences(text, "fr"))
    assert joined.split() == text.split()


@pytest.mark.parametrize(
    ("lang", "text", "expected"),
    [
        ("ja", "「新しい展示です。」と館長は語った。来場者は多い！本当に？はい",
         ["「新しい展示です。」と館長は語った。", "来場者は多い！", "本当に？", "はい"]),
        ("zh", "他说：“我们来了。”观众鼓掌。", ["他说：“我们来了。”", "观众鼓掌。"]),
        ("ar", "هل افتتح المتحف؟ نعم، افتتح المعرض. الزوار سعداء.", ["هل افتتح المتحف؟", "نعم، افتتح المعرض.", "الزوار سعداء."]),
        ("he", "המוזיאון נפתח. צה\"ל הגיע? כן.", ["המוזיאון נפתח.", "צה\"ל הגיע?", "כן."]),
        ("hi", "संग्रहालय खुला। लोग आए? हाँ!", ["संग्रहालय खुला।", "लोग आए?", "हाँ!"]),
        ("el", "Το μουσείο άνοιξε; Ναι, άνοιξε. Οι επισκέπτες ήρθαν!", ["Το μουσείο άνοιξε;", "Ναι, άνοιξε.", "Οι επισκέπτες ήρθαν!"]),
        ("el", "Τι έγινε\u037e Τίποτα.", ["Τι έγινε\u037e", "Τίποτα."]),
        ("ru", "Выставка открылась в 2025 г. Посетители, т.е. жители, пришли. Цена 3,5 млн руб. Всё.",
         ["Выставка открылась в 2025 г.", "Посетители, т.е. жители, пришли.", "Цена 3,5 млн руб.", "Всё."]),
        ("ko", "박물관이 열렸습니다. 관람객이 왔나요? 네!", ["박물관이 열렸습니다.", "관람객이 왔나요?", "네!"]),
        ("de", "Das Museum öffnet am 3. März. Der 2. Teil folgt. Es waren 2025. Danach kam mehr.",
         ["Das Museum öffnet am 3. März.", "Der 2. Teil folgt.", "Es waren 2025.", "Danach kam mehr."]),
        ("en", "Rates rose; prices fell. Fine.", ["Rates rose; prices fell.", "Fine."]),
    ],
)
def test_sentences_in_every_script(lang, text, expected):
    assert split_sentences(text, lang) == expected
