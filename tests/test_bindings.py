"""The cffi bindings: loading, text features, routing, status, key masking, typed errors."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
import trinity_hybrid
from trinity_hybrid import InvalidInputError, TrinityHybridNode


def test_library_ships_inside_the_package() -> None:
    from trinity_hybrid import _native

    _, lib = _native.load()
    assert int(lib.th_abi_version()) == _native.ABI_VERSION
    assert _native.names("th_provider_name") == (
        "openai", "anthropic", "google", "groq", "zhipu", "deepseek", "kimi", "nvidia", "cohere", "mistral", "local",
        "custom",
    )


def test_missing_library_gives_a_clear_error(tmp_path) -> None:
    code = "import trinity_hybrid; trinity_hybrid.detect_language('hi')"
    environment = {**os.environ, "TRINITY_HYBRID_LIBRARY": str(tmp_path / "nope.so")}
    result = subprocess.run([sys.executable, "-c", code], env=environment, capture_output=True, text=True, check=False)
    assert result.returncode != 0
    assert "NativeLibraryError" in result.stderr
    assert "was not found" in result.stderr


def test_wrong_library_gives_a_clear_error(tmp_path) -> None:
    impostor = tmp_path / "libimpostor.so"
    impostor.write_bytes(b"not a shared library")
    code = "import trinity_hybrid; trinity_hybrid.detect_language('hi')"
    environment = {**os.environ, "TRINITY_HYBRID_LIBRARY": str(impostor)}
    result = subprocess.run([sys.executable, "-c", code], env=environment, capture_output=True, text=True, check=False)
    assert "NativeLibraryError" in result.stderr
    assert "cannot load" in result.stderr


_LOAD_AND_REPORT = (
    "import sys, trinity_hybrid; print(trinity_hybrid.detect_language('日本の首都').language, "
    "'pycparser' in sys.modules)"
)


def test_installed_package_needs_no_parser_at_run_time() -> None:
    # The wheel carries the declarations pre-parsed (_ffi_abi.py), so pycparser never loads.
    result = subprocess.run([sys.executable, "-c", _LOAD_AND_REPORT], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["ja", "False"]


def test_a_bare_build_is_loaded_from_its_header(tmp_path) -> None:
    # A development build (library and header, nothing pre-parsed) still loads, parsing the header.
    from trinity_hybrid import _native

    installed = next(path for path in _native._library_candidates() if path.is_file())
    shutil.copy2(installed, tmp_path / installed.name)
    shutil.copy2(installed.parent / "trinity_hybrid.h", tmp_path / "trinity_hybrid.h")
    environment = {**os.environ, "TRINITY_HYBRID_LIBRARY": str(tmp_path / installed.name)}
    result = subprocess.run([sys.executable, "-c", _LOAD_AND_REPORT], env=environment, capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["ja", "True"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hello, how are you today?", "en"),
        ("What is 2+2?", "en"),
        ("请用中文解释量子计算的基本原理。", "zh"),
        ("你好", "zh"),
        ("こんにちは、元気ですか？", "ja"),
        ("東京都庁", "ja"),
        ("안녕하세요, 잘 지내세요?", "ko"),
        ("Привет, как дела?", "ru"),
        ("Объясните, как работает фотосинтез.", "ru"),
        ("Къде е гарата? Пътят към морето минава през планината.", "bg"),
        ("Що ви їсте на сніданок?", "uk"),
    ],
)
def test_detect_language(text: str, expected: str) -> None:
    detection = trinity_hybrid.detect_language(text)
    assert detection.language == expected
    assert 0.0 < detection.confidence <= 1.0


def test_detection_without_letters_is_undetermined() -> None:
    for text in ["", "12345 67890", "!!! ??? ...", "🙂🙂🙂"]:
        detection = trinity_hybrid.detect_language(text)
        assert detection.language == "und"
        assert detection.confidence == 0.0
        assert detection.scripts == {}


def test_script_shares_of_mixed_text() -> None:
    detection = trinity_hybrid.detect_language("Hello world 你好世界")
    assert set(detection.scripts) == {"latin", "han"}
    assert abs(sum(detection.scripts.values()) - 1.0) < 1e-5


def test_estimate_tokens_grows_with_text() -> None:
    one = trinity_hybrid.estimate_tokens("The quick brown fox jumps over the lazy dog. ")
    ten = trinity_hybrid.estimate_tokens("The quick brown fox jumps over the lazy dog. " * 10)
    assert 5 <= one <= 20
    assert 8 * one <= ten <= 12 * one
    assert trinity_hybrid.estimate_tokens("") == 0


def test_bad_input_is_typed() -> None:
    for bad in [None, 42, b"bytes", ["list"]]:
        with pytest.raises(InvalidInputError):
            trinity_hybrid.detect_language(bad)  # type: ignore[arg-type]
        with pytest.raises(InvalidInputError):
            trinity_hybrid.estimate_tokens(bad)  # type: ignore[arg-type]


def test_awkward_strings_get_answers() -> None:
    lone_surrogate = "abc\ud800def"
    detection = trinity_hybrid.detect_language(lone_surrogate)
    assert detection.bytes_invalid == 3
    # NUL bytes are ordinary characters: they neither end the text nor confuse the detector.
    assert trinity_hybrid.detect_language("Hello\x00 there, how are\x00 you today?").language == "en"
    assert trinity_hybrid.estimate_tokens("a\x00" * 1000) > trinity_hybrid.estimate_tokens("a\x00" * 10)
    huge = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 180_000  # about 10 MB
    assert trinity_hybrid.estimate_tokens(huge) > 1_000_000
    detection = trinity_hybrid.detect_language(huge)
    assert detection.letters > 1_000_000
    assert detection.scripts == {"latin": 1.0}
    # Only the local model (8K window) is available: nothing can hold 10 MB, so the chain is empty.
    route = TrinityHybridNode.from_env({}).route(huge)
    assert route.providers == ()
    assert route.reason == "none_eligible"
    assert route.tokens_estimated > 1_000_000


def test_route_matrix(node: TrinityHybridNode) -> None:
    chinese = node.route("请用中文解释量子计算的基本原理。")
    assert chinese.providers[0] == "zhipu"
    assert chinese.reason == "cjk"
    assert chinese.language == "zh"
    english = node.route("Explain the theory of relativity in simple words.")
    assert english.providers[0] == "groq"
    assert english.reason == "default_fastest"
    assert english.providers[-1] == "local"
    quality = node.route("Draft a careful contract clause.", quality=True)
    assert quality.providers[0] == "anthropic"
    assert quality.reason == "quality"
    forced = node.route("anything", force_provider="anthropic")
    assert forced.providers == ("anthropic",)
    assert forced.reason == "forced"


def test_long_context_goes_to_windows_that_fit(node: TrinityHybridNode) -> None:
    long_prompt = "word " * 150_000
    route = node.route(long_prompt)
    assert route.reason == "long_context"
    assert route.tokens_estimated > 128_000
    for provider in route.providers:
        assert node.provider_info(provider)["context_window_tokens"] >= route.tokens_estimated
    assert "groq" not in route.providers
    assert "local" not in route.providers


def test_default_provider_and_strategy_from_env() -> None:
    node = TrinityHybridNode.from_env({"GROQ_API_KEY": "k" * 20, "ANTHROPIC_API_KEY": "a" * 20, "DEFAULT_LLM_PROVIDER": "anthropic"})
    route = node.route("Hello there")
    assert route.providers[0] == "anthropic"
    assert route.reason == "default_provider"
    with pytest.raises(trinity_hybrid.ConfigurationError, match="DEFAULT_LLM_PROVIDER"):
        TrinityHybridNode.from_env({"DEFAULT_LLM_PROVIDER": "nobody"})
    with pytest.raises(trinity_hybrid.ConfigurationError, match="TRINITY_STRATEGY"):
        TrinityHybridNode.from_env({"TRINITY_STRATEGY": "fastest-ever"})


def test_model_override_from_env() -> None:
    node = TrinityHybridNode.from_env({"GROQ_API_KEY": "k" * 20, "GROQ_MODEL": "llama-3.1-8b-instant"})
    assert node.provider_info("groq")["model"] == "llama-3.1-8b-instant"
    with pytest.raises(trinity_hybrid.ConfigurationError, match="GROQ_MODEL"):
        TrinityHybridNode.from_env({"GROQ_MODEL": "x" * 200})


def test_unknown_names_are_typed_errors(node: TrinityHybridNode) -> None:
    with pytest.raises(InvalidInputError, match="force_provider"):
        node.route("hi", force_provider="nobody")
    with pytest.raises(InvalidInputError, match="strategy"):
        node.route("hi", strategy="fastest-ever")
    with pytest.raises(InvalidInputError):
        node.route(12345)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError):
        node.record_failure("groq", "exploded")
    with pytest.raises(InvalidInputError):
        node.record_success("groq", latency_ms=-1)


def test_messages_are_routed_on_their_text(node: TrinityHybridNode) -> None:
    messages = [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "请用中文解释机器学习，以及它和深度学习的区别是什么？"},
    ]
    assert node.route(messages).providers[0] == "zhipu"


def test_status_shape(node: TrinityHybridNode) -> None:
    node.record_success("groq", latency_ms=2000, tokens_input=100, tokens_output=50)
    node.record_success("groq", latency_ms=2680, tokens_input=100, tokens_output=50)
    node.record_failure("groq", "transient")
    status = node.status()
    groq = status["providers"]["groq"]
    assert groq["total_calls"] == 3
    assert groq["successful_calls"] == 2
    assert groq["failed_calls"] == 1
    assert groq["success_rate"] == "66.7%"
    assert groq["avg_latency"] == "2.34s"
    assert groq["is_healthy"] is True
    assert groq["consecutive_failures"] == 1
    assert status["total_calls"] == 3
    assert set(status["available_providers"]) == {"groq", "zhipu", "anthropic", "local"}


def test_cost_is_computed_from_catalogue_prices(node: TrinityHybridNode) -> None:
    cost = node.record_success("anthropic", latency_ms=10, tokens_input=1_000_000, tokens_output=1_000_000)
    assert cost == pytest.approx(18.0)
    assert node.stats("anthropic").cost_usd == pytest.approx(18.0)
    node.set_provider_info("anthropic", price_input_usd_per_mtok=1.0, price_output_usd_per_mtok=2.0)
    assert node.record_success("anthropic", latency_ms=10, tokens_input=1_000_000, tokens_output=0) == pytest.approx(1.0)


def test_keys_never_appear_unmasked(node: TrinityHybridNode, capsys) -> None:
    secrets = ["gsk_test_0123456789abcdef", "zhipu.test.0123456789abcdef", "sk-ant-test-0123456789abcdef"]
    node.print_status()
    printed = capsys.readouterr().out
    texts = [repr(node), json.dumps(node.status()), printed, repr(node.key("groq")), str(node.key("groq"))]
    for text in texts:
        for secret in secrets:
            assert secret not in text
            assert secret[8:] not in text
    assert "gsk_test***" in printed
    assert node.key("groq").reveal() == secrets[0]
    assert trinity_hybrid.mask_key("gsk_0123456789abcdef") == "gsk_0123***"
    # A short key never shows more than half of itself.
    assert trinity_hybrid.mask_key("abcdefghij") == "abcde***"
    assert trinity_hybrid.mask_key("") == "***"


def test_breaker_configuration(node: TrinityHybridNode) -> None:
    node.configure_breaker(failure_threshold=2, cooldown_s=5)
    for _ in range(2):
        node.record_failure("groq", "transient", now_ms=1_000)
    assert node.stats("groq", now_ms=1_000).state == "open"
    assert node.stats("groq", now_ms=5_999).state == "open"
    assert node.stats("groq", now_ms=6_000).state == "half_open"
    with pytest.raises(trinity_hybrid.ConfigurationError):
        node.configure_breaker(failure_threshold=0)
    with pytest.raises(trinity_hybrid.ConfigurationError):
        node.configure_breaker(ewma_alpha=2.0)


def test_open_circuit_is_left_out_of_the_chain(node: TrinityHybridNode) -> None:
    for _ in range(3):
        node.record_failure("groq", "transient", now_ms=10)
    route = node.route("Hello there, friend", now_ms=20)
    assert "groq" not in route.providers
    assert node.route("Hello there, friend", now_ms=60_010).providers[0] == "groq"


def test_random_strategy_is_seedable(node: TrinityHybridNode) -> None:
    node.set_seed(7)
    first = [node.route("Hello there", strategy="random").providers for _ in range(20)]
    node.set_seed(7)
    second = [node.route("Hello there", strategy="random").providers for _ in range(20)]
    assert first == second
    assert len(set(first)) > 1
    assert all(chain[-1] == "local" for chain in first)


def test_tokens_estimated_is_the_estimate_whether_or_not_routing_needed_it(node: TrinityHybridNode) -> None:
    for prompt, max_tokens in [("Hello there", None), ("Hello there", 500), ("你好" * 3000, 100), ("word " * 150_000, None)]:
        route = node.route(prompt, max_tokens=max_tokens)
        assert route.tokens_estimated == trinity_hybrid.estimate_tokens(prompt) + (max_tokens or 0)
