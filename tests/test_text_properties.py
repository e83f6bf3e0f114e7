"""Properties of the text features over arbitrary input (hypothesis)."""

from __future__ import annotations

import trinity_hybrid
from hypothesis import given, settings
from hypothesis import strategies as st
from trinity_hybrid._text import language_codes

# Any code point at all, lone surrogates included: a prompt can come from anywhere.
any_text = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x10FFFF), max_size=400)


@settings(max_examples=400, deadline=None)
@given(any_text)
def test_detect_language_always_answers_sensibly(text: str) -> None:
    detection = trinity_hybrid.detect_language(text)
    assert detection.language in language_codes()
    assert 0.0 <= detection.confidence <= 1.0
    shares = detection.scripts
    if detection.letters == 0:
        assert shares == {}
        assert detection.language == "und"
        assert detection.confidence == 0.0
    else:
        assert abs(sum(shares.values()) - 1.0) < 1e-4
    assert detection.letters <= len(text)
    surrogates = sum(1 for character in text if 0xD800 <= ord(character) <= 0xDFFF)
    # Each lone surrogate is three invalid bytes (CESU-style encoding), nothing else is invalid.
    assert detection.bytes_invalid == 3 * surrogates


@settings(max_examples=400, deadline=None)
@given(any_text, any_text)
def test_estimate_tokens_is_bounded_and_roughly_additive(left: str, right: str) -> None:
    left_tokens = trinity_hybrid.estimate_tokens(left)
    right_tokens = trinity_hybrid.estimate_tokens(right)
    both_tokens = trinity_hybrid.estimate_tokens(left + right)
    assert 0 <= left_tokens <= len(left.encode("utf-8", "surrogatepass"))
    assert (left_tokens == 0) == (left == "")
    # Joining two texts changes only the word that straddles the seam: its pieces may merge or
    # split, and its cost is re-judged as a whole (length, case, accents), never more than that.
    left_word = "" if not left or left[-1].isspace() else (left.split() or [""])[-1]
    right_word = "" if not right or right[0].isspace() else (right.split() or [""])[0]
    seam_bytes = len((left_word + right_word).encode("utf-8", "surrogatepass"))
    assert abs(both_tokens - (left_tokens + right_tokens)) <= 3 + seam_bytes


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["en", "zh", "ja", "ko", "ru"]), st.integers(1, 4))
def test_repetition_does_not_change_the_language(language: str, repeats: int) -> None:
    samples = {
        "en": "The committee will publish its findings next week. ",
        "zh": "我们明天在图书馆见面，然后一起去吃饭。",
        "ja": "私は毎朝コーヒーを飲んでから会社に行きます。",
        "ko": "저는 매일 아침 커피를 마시고 회사에 갑니다.",
        "ru": "Мы встретимся завтра в библиотеке и пойдём обедать. ",
    }
    assert trinity_hybrid.detect_language(samples[language] * repeats).language == language
