"""Whether an answer is coherent, measured rather than assumed: four checks, each reported.

- non-empty: some text that is not whitespace;
- language: the answer is in the language the prompt expects (by our own detector), where the
  prompt does not ask for another one or for code;
- repetition: the share of repeated n-grams stays under a threshold. Word trigrams for languages
  written with spaces; character 4-grams for Chinese, Japanese and Korean, whose words are not
  separated (Korean's are, but its syllable blocks make character n-grams work as well);
- answer: for a prompt with a known answer, one of its accepted forms is present, numbers
  normalised (full-width digits, thousands separators, "12.0", English number words).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from .._text import detect_language
from ._suite import DemoPrompt

# A loop that a small model falls into repeats a large share of its n-grams, even within a short
# answer (SmolLM2's "春天是一种独若若，春天是一种独若若，…": 80 %; "美范,美范,美范,…": 43 %);
# ordinary prose repeats a few percent of its word trigrams, a list or a refrain somewhat more.
REPETITION_SHARE_MAX = 0.3
WORD_NGRAM = 3
CHARACTER_NGRAM = 4
CHARACTER_LANGUAGES = frozenset({"zh", "ja", "ko"})

_NUMBER_WORDS = {
    word: str(value)
    for value, word in enumerate(
        [
            "zero",
            "one",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
            "ten",
            "eleven",
            "twelve",
            "thirteen",
            "fourteen",
            "fifteen",
            "sixteen",
            "seventeen",
            "eighteen",
            "nineteen",
            "twenty",
        ]
    )
}
_NUMBER_WORD = re.compile(r"\b(" + "|".join(_NUMBER_WORDS) + r")\b")
_DIGIT_GROUP_SEPARATOR = re.compile(r"(?<=\d)[,\u00a0\u202f' ](?=\d{3}(?!\d))")
# A word, or one punctuation mark: a loop of "......" repeats as surely as one of words.
_WORD = re.compile(r"\w+|[^\w\s]")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def normalize(text: str) -> str:
    """Case-folded NFKC text with digit groups joined and English number words as digits."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    folded = _DIGIT_GROUP_SEPARATOR.sub("", folded)
    return _NUMBER_WORD.sub(lambda match: _NUMBER_WORDS[match.group(1)], folded)


def answer_present(text: str, answers: tuple[str, ...]) -> bool:
    """Whether any accepted form of the answer occurs in ``text``. A number must stand alone
    (7316 is not found in 17316 or 7316.5, but is in "7,316" and "7316.0"); an ASCII word must
    be a whole word; any other form (a stem such as "Москв", a CJK word) is a substring."""
    haystack = normalize(text)
    for answer in answers:
        needle = normalize(answer)
        if _NUMBER.fullmatch(needle):
            pattern = rf"(?<![\d.]){re.escape(needle)}(?:\.0+)?(?!\.?\d)"
        elif needle.isascii() and needle.isalnum():
            pattern = rf"\b{re.escape(needle)}\b"
        else:
            pattern = re.escape(needle)
        if re.search(pattern, haystack):
            return True
    return False


def units(text: str, language: str) -> list[str]:
    """What n-grams are made of: characters (spaces dropped) for CJK languages, else lower-cased
    words and punctuation marks."""
    if language in CHARACTER_LANGUAGES:
        return [character for character in text if not character.isspace()]
    return [word.casefold() for word in _WORD.findall(text)]


def repetition_share(text: str, language: str | None = None) -> float:
    """The share of n-grams that repeat an earlier one: 0 when none does, close to 1 for one
    phrase said over and over. Texts too short for two n-grams score 0."""
    language = detect_language(text).language if language is None else language
    size = CHARACTER_NGRAM if language in CHARACTER_LANGUAGES else WORD_NGRAM
    pieces = units(text, language)
    grams = [tuple(pieces[start : start + size]) for start in range(len(pieces) - size + 1)]
    if len(grams) < 2:
        return 0.0
    return 1.0 - len(set(grams)) / len(grams)


@dataclass(frozen=True, slots=True)
class Coherence:
    """The checks of one answer. ``None`` for a check means it does not apply to this prompt."""

    non_empty: bool
    language_expected: str | None
    language_detected: str
    repetition_share: float
    answer_expected: tuple[str, ...]
    answer_found: bool | None

    @property
    def language_ok(self) -> bool | None:
        return None if self.language_expected is None else self.language_detected == self.language_expected

    @property
    def repetition_ok(self) -> bool:
        return self.repetition_share < REPETITION_SHARE_MAX

    @property
    def coherent(self) -> bool:
        return (
            self.non_empty and self.language_ok is not False and self.repetition_ok and self.answer_found is not False
        )

    def failures(self) -> list[str]:
        """What failed, in words short enough for a table cell."""
        failed = []
        if not self.non_empty:
            failed.append("empty")
        if self.language_ok is False:
            failed.append(f"language {self.language_detected}")
        if not self.repetition_ok:
            failed.append(f"repeats {self.repetition_share:.0%}")
        if self.answer_found is False:
            failed.append("answer missing")
        return failed

    def as_json(self) -> dict[str, Any]:
        return {
            "non_empty": self.non_empty,
            "language": {
                "expected": self.language_expected,
                "detected": self.language_detected,
                "ok": self.language_ok,
            },
            "repetition": {
                "share": round(self.repetition_share, 4),
                "max": REPETITION_SHARE_MAX,
                "ok": self.repetition_ok,
            },
            "answer": {"expected": list(self.answer_expected), "found": self.answer_found},
        }


def measure(prompt: DemoPrompt, text: str) -> Coherence:
    detected = detect_language(text).language
    return Coherence(
        non_empty=bool(text.strip()),
        language_expected=prompt.answer_language,
        language_detected=detected,
        repetition_share=repetition_share(text, detected),
        answer_expected=prompt.answers,
        answer_found=answer_present(text, prompt.answers) if prompt.answers else None,
    )
