"""Very short or ambiguous text, and prose around code (issue 18, point 3): `detect_language`
answers `und` with no confidence rather than guess from a word or two, a URL, a number or a line
of code, and routing takes `und` as "no language rule"; a question in Chinese (or any language)
around an English code block is detected in the language of the question."""

from __future__ import annotations

import pytest
import trinity_hybrid
from hypothesis import assume, given, settings
from hypothesis import strategies as st

AMBIGUOUS = [
    "OK",
    "ok",
    "no",
    "Hi",
    "да",
    "123",
    "3.14",
    "x = 1",
    "print(x)",
    "foo_bar.baz()",
    "https://example.com/path?q=1",
    "`ls -la`",
    "```\nfor i in range(10):\n    print(i)\n```",
    "README.md",
    "user@example.com",
]


@pytest.mark.parametrize("text", AMBIGUOUS)
def test_too_little_prose_answers_und_without_confidence(text: str) -> None:
    detection = trinity_hybrid.detect_language(text)
    assert (detection.language, detection.confidence) == ("und", 0.0)


@pytest.mark.parametrize("text", AMBIGUOUS)
def test_routing_takes_und_as_no_language_rule(node: trinity_hybrid.TrinityHybridNode, text: str) -> None:
    route = node.route(text)
    assert route.language == "und"
    assert route.reason == "default_fastest"
    assert route.providers == node.route("Explain the theory of relativity in simple words.").providers


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("请解释这段代码：\n```python\ndef add(a, b):\n    return a + b\n```\n为什么会报错？", "zh"),
        ("这个函数 foo_bar(x) 返回什么？ print(foo_bar(1))", "zh"),
        ("このコードの意味は？ `for i in range(10): print(i)`", "ja"),
        ("이 코드가 왜 안 돼요?\n```\nconst total = items.reduce((a, b) => a + b, 0);\n```", "ko"),
        ("Почему не работает?\n```js\nconst value = items.map((item) => item.id);\nconsole.log(value);\n```", "ru"),
        ("Warum gibt os.path.join(a, b) hier None zurück?", "de"),
        ("Pourquoi https://example.com/api/v1/users renvoie une erreur 404 ?", "fr"),
        ("Why does this fail?\n```sql\nSELECT * FROM tabla WHERE nombre = 'José';\n```", "en"),
    ],
)
def test_the_prose_around_code_decides(text: str, language: str) -> None:
    assert trinity_hybrid.detect_language(text).language == language


def test_a_chinese_question_around_code_routes_as_cjk(node: trinity_hybrid.TrinityHybridNode) -> None:
    route = node.route("这个函数 foo_bar(x) 返回什么？ print(foo_bar(1)) if x > 0 else None")
    assert route.language == "zh"
    assert route.reason == "cjk"


def test_a_word_of_one_language_alone_still_names_it() -> None:
    """The rule takes weak guesses only: a word only one language writes keeps its language."""
    for text, language in (("Thanks", "en"), ("Bonjour", "fr"), ("Danke", "de"), ("Привет", "ru"), ("你好", "zh")):
        detection = trinity_hybrid.detect_language(text)
        assert detection.language == language
        assert detection.confidence >= 0.5


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_und_always_comes_with_no_confidence(text: str) -> None:
    detection = trinity_hybrid.detect_language(text)
    assert (detection.language == "und") == (detection.confidence == 0.0)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="abcdefgh_(){}[]=./:`; \n", max_size=40))
def test_code_around_a_chinese_sentence_never_hides_it(code: str) -> None:
    assume("```" not in code)  # a fenced block around the sentence makes it code
    text = f"{code} 请用中文解释量子计算的基本原理 {code}"
    assert trinity_hybrid.detect_language(text).language == "zh"


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyzÀéñßабвгдеж0123456789 .,!?-_()", max_size=30))
def test_under_three_latin_or_cyrillic_letters_is_und(text: str) -> None:
    assume(sum(character.isalpha() for character in text) < 3)
    detection = trinity_hybrid.detect_language(text)
    assert (detection.language, detection.confidence) == ("und", 0.0)


ARABIC_LETTERS = "ابتثجحخدذرزسشصضطظعغفقكلمنهويءآأؤإئةىپچژگکی"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=ARABIC_LETTERS + " ،.؟", min_size=1, max_size=80))
def test_arabic_script_is_arabic_or_persian_with_some_confidence(text: str) -> None:
    assume(any(character in ARABIC_LETTERS for character in text))
    detection = trinity_hybrid.detect_language(text)
    assert detection.language in ("ar", "fa")
    assert 0.0 < detection.confidence <= 1.0


@pytest.mark.parametrize(
    ("text", "language"),
    [
        # No letter that only Persian writes: the model's Persian words decide (issue 18).
        ("امروز هوا خوب است", "fa"),
        ("دانشگاه تهران", "fa"),
        ("ذهبنا إلى المدرسة صباحا", "ar"),
        # Common words that one language's everyday list holds and another uses as much
        # ("que", "non", "ne", "was") are no longer taken for that one language's.
        ("Lo que quiero es dormir", "es"),
        ("Non lo so", "it"),
        ("Il ne sait pas", "fr"),
        ("Was ist das", "de"),
    ],
)
def test_words_two_languages_share(text: str, language: str) -> None:
    assert trinity_hybrid.detect_language(text).language == language


def test_a_word_that_two_languages_use_alike_is_not_a_confident_guess() -> None:
    detection = trinity_hybrid.detect_language("que")
    assert detection.language == "und" or detection.confidence < 0.5
