"""The demo's coherence measures: properties over arbitrary text (hypothesis) and the cases the
demo meets (a loop, a wrong language, a number written another way)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from trinity_hybrid.demo._coherence import REPETITION_SHARE_MAX, answer_present, measure, repetition_share
from trinity_hybrid.demo._suite import CATEGORIES, DemoPrompt, production_suite

any_text = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x10FFFF), max_size=300)
latin_word = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=8)
cjk_character = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF)


@settings(max_examples=300, deadline=None)
@given(any_text, st.sampled_from([None, "en", "zh", "ru"]))
def test_repetition_share_is_a_share(text: str, language: str | None) -> None:
    share = repetition_share(text, language)
    assert 0.0 <= share <= 1.0


@settings(max_examples=200, deadline=None)
@given(st.lists(latin_word, min_size=1, max_size=12))
def test_an_answer_said_fifty_times_is_flagged(words: list[str]) -> None:
    answer = " ".join(words) + "."
    prompt = DemoPrompt("Explain", "Explain something.", "en")
    assert measure(prompt, answer).repetition_share < 1.0
    looped = measure(prompt, " ".join([answer] * 50))
    assert looped.repetition_share >= REPETITION_SHARE_MAX
    assert not looped.coherent
    assert any(failure.startswith("repeats") for failure in looped.failures())


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=cjk_character, min_size=1, max_size=10))
def test_a_cjk_loop_is_flagged_by_character_ngrams(phrase: str) -> None:
    # No spaces: word n-grams would see one long word; character n-grams see the loop.
    assert repetition_share((phrase + "，") * 50, "zh") >= REPETITION_SHARE_MAX


def test_ordinary_prose_is_not_flagged() -> None:
    text = (
        "The sky is blue because of Rayleigh scattering: air molecules scatter short wavelengths of "
        "sunlight far more than long ones, so blue light reaches our eyes from every direction."
    )
    assert repetition_share(text, "en") < 0.05
    assert repetition_share("量子计算利用量子比特的叠加和纠缠来处理信息，某些问题因此可以更快地求解。", "zh") < 0.05


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=10**9), st.integers(min_value=1, max_value=9))
def test_a_number_is_found_alone_but_not_inside_another(number: int, digit: int) -> None:
    answers = (str(number),)
    assert answer_present(f"The result is {number:,}.", answers)
    assert answer_present(f"= {number}.0", answers)
    assert not answer_present(f"The result is {digit}{number}.", answers)
    assert not answer_present(f"The result is {number}.{digit}", answers)


def test_numbers_are_normalised() -> None:
    assert answer_present("The code is ７３１６.", ("7316",))  # full-width digits
    assert answer_present("You pay twelve dollars in all; x = five", ("5",))
    assert not answer_present("17316", ("7316",))
    assert answer_present("The capital is CANBERRA", ("Canberra",))
    assert answer_present("Столица России — Москва.", ("Москв",))
    assert not answer_present("yesterday", ("yes",))


def test_language_check_uses_the_detector() -> None:
    prompt = DemoPrompt("Chinese", "中国的首都是哪个城市？", "zh", ("北京",))
    english = measure(prompt, "The capital of China is Beijing.")
    assert english.language_detected == "en"
    assert english.language_ok is False
    assert english.answer_found is False
    assert english.failures() == ["language en", "answer missing"]
    chinese = measure(prompt, "中国的首都是北京。")
    assert (chinese.language_ok, chinese.answer_found, chinese.coherent) == (True, True, True)


def test_code_is_not_language_checked_and_empty_is_incoherent() -> None:
    prompt = DemoPrompt("Code", "Write a Python function.", None, ("def",))
    code = measure(prompt, "def f(n):\n    return n")
    assert code.language_ok is None
    assert code.coherent
    empty = measure(prompt, "   \n")
    assert not empty.non_empty
    assert not empty.coherent
    assert "empty" in empty.failures()


def test_the_suite_is_the_issues_suite() -> None:
    prompts = production_suite()
    counts = {category: sum(1 for prompt in prompts if prompt.category == category) for category in CATEGORIES}
    assert counts == {"Math": 3, "Code": 2, "Science": 1, "Logic": 1, "Factual": 1, "Explain": 1, "Creative": 1,
                      "Chinese": 5, "Russian": 3, "Japanese": 2, "Korean": 2, "Long context": 2}  # fmt: skip
    assert len(prompts) == 24


def test_long_context_prompts_are_long_deterministic_and_hold_their_fact() -> None:
    import trinity_hybrid

    first = production_suite(frozenset({"Long context"}))
    again = production_suite(frozenset({"Long context"}))
    assert [prompt.prompt for prompt in first] == [prompt.prompt for prompt in again]
    for prompt in first:
        assert 128_000 < trinity_hybrid.estimate_tokens(prompt.prompt) < 200_000
        assert prompt.answers and answer_present(prompt.prompt, prompt.answers)
        assert prompt.prompt_shown.startswith("[generated report")
        assert len(prompt.prompt_shown) < 300


@pytest.mark.parametrize("category", ["Math", "Factual"])
def test_known_answers_are_declared_where_the_issue_asks(category: str) -> None:
    assert all(prompt.answers for prompt in production_suite(frozenset({category})))
