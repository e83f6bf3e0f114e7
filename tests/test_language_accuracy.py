"""Accuracy of `detect_language` on the held-out sentences of scripts/train_language_model.py
(tests/data/language_held_out.tsv: paragraphs the model never saw in training), per language,
on whole sentences and on their first 4 and 2 words (zh, ja, ko, th: 8 and 4 characters).

The floors sit a little under what the detector measured when the model was trained, so that a
regression in the model, the scoring or the script rules fails here; they are not timed."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest
import trinity_hybrid

HELD_OUT_PATH = Path(__file__).resolve().parent / "data" / "language_held_out.tsv"
LANGUAGES_BY_CHARACTER = frozenset(("zh", "ja", "ko", "th"))


def _held_out() -> dict[str, list[str]]:
    sentences: dict[str, list[str]] = defaultdict(list)
    for line in HELD_OUT_PATH.read_text(encoding="utf-8").splitlines():
        language, sentence = line.split("\t", 1)
        sentences[language].append(sentence)
    return dict(sentences)


HELD_OUT = _held_out()


def _prefix(sentence: str, language: str, words: int | None) -> str:
    if words is None:
        return sentence
    if language in LANGUAGES_BY_CHARACTER:
        return sentence[: 2 * words]
    return " ".join(sentence.split()[:words])


def _accuracy(language: str, words: int | None) -> float:
    items = HELD_OUT[language]
    right = sum(trinity_hybrid.detect_language(_prefix(s, language, words)).language == language for s in items)
    return right / len(items)


# The goals: sentences >= 99.5 % macro and >= 99.7 % for en, zh, ja, ko, ru; 4 words
# >= 96.5 % macro; 2 words >= 88 % macro, Japanese >= 95 %.
SENTENCE_FLOOR = 0.99
SENTENCE_FLOOR_PRIMARY = 0.997
FOUR_WORDS_FLOOR = 0.93
# Since issue 18 a weak guess from under 10 letters answers `und` (counted wrong here): Portuguese
# two-word prefixes went from 0.71 to 0.65. The wordfreq words moved Spanish to 0.80 and Czech
# to 0.85 on this split (essays, as the training text), while they gained 2 to 4
# points on the independent sources (bench/results/detect_independent.md).
TWO_WORDS_FLOOR = {"pt": 0.62, "es": 0.78, "cs": 0.82, "sv": 0.76, "nl": 0.82, "da": 0.82, "ru": 0.85}
TWO_WORDS_FLOOR_DEFAULT = 0.86


def test_the_held_out_file_covers_every_modelled_language() -> None:
    assert set(HELD_OUT) == set(trinity_hybrid._text.language_codes()) - {"und", "fa"}
    assert all(len(items) >= 100 for items in HELD_OUT.values())


@pytest.mark.parametrize("language", sorted(HELD_OUT))
def test_whole_sentences(language: str) -> None:
    floor = SENTENCE_FLOOR_PRIMARY if language in ("en", "zh", "ja", "ko", "ru") else SENTENCE_FLOOR
    assert _accuracy(language, None) >= floor


@pytest.mark.parametrize("language", sorted(HELD_OUT))
def test_first_four_words(language: str) -> None:
    assert _accuracy(language, 4) >= FOUR_WORDS_FLOOR


@pytest.mark.parametrize("language", sorted(HELD_OUT))
def test_first_two_words(language: str) -> None:
    floor = 0.95 if language == "ja" else TWO_WORDS_FLOOR.get(language, TWO_WORDS_FLOOR_DEFAULT)
    assert _accuracy(language, 2) >= floor


def test_macro_accuracy_meets_the_goals() -> None:
    for words, goal in ((None, 0.995), (4, 0.965), (2, 0.88)):
        macro = sum(_accuracy(language, words) for language in HELD_OUT) / len(HELD_OUT)
        assert macro >= goal, (words, macro)


def test_english_precision_on_sentences() -> None:
    called_english = [
        language
        for language, items in HELD_OUT.items()
        for s in items
        if trinity_hybrid.detect_language(s).language == "en"
    ]
    assert called_english.count("en") / len(called_english) >= 0.97


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("این یک کتاب خوب است که من برای شما خریدم", "fa"),
        ("من فردا به دانشگاه می‌روم و کتاب‌ها را با خودم می‌آورم", "fa"),
        ("ذهبت إلى المدرسة في الصباح وكانت الشمس مشرقة", "ar"),
        ("Ґанок їхнього будинку", "uk"),
        ("Это было очень интересно", "ru"),
        ("Здравей, как си? Това е много хубаво", "bg"),
    ],
)
def test_filters_and_rules(text: str, language: str) -> None:
    assert trinity_hybrid.detect_language(text).language == language


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Hello", "en"),
        ("Hello!", "en"),
        ("Thanks", "en"),
        ("Bonjour", "fr"),
        ("Hola", "es"),
        ("Ciao", "it"),
        ("Danke", "de"),
        ("Obrigado", "pt"),
        ("Привет", "ru"),
        ("Привіт", "uk"),
    ],
)
def test_a_greeting_alone(text: str, language: str) -> None:
    """The first words of many chats, with nothing else to go on (the corpus is essays, where
    "hello" is rarer than Italian's "bello": scripts/train_language_model.py's everyday words).
    "Hi" has too few letters to name a language: tests/test_language_short_and_code.py."""
    assert trinity_hybrid.detect_language(text).language == language


def test_language_codes_reach_python_from_the_native_enumeration() -> None:
    codes = trinity_hybrid._text.language_codes()
    assert codes[0] == "und"
    assert len(codes) == 29
    assert {"en", "zh", "ja", "ko", "ru", "uk", "bg", "fa", "he", "hi", "th", "el", "vi"} <= set(codes)
