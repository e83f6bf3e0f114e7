"""The one-word calls Python uses on its hot paths agree with the full, struct-returning calls
that C users get: same chain, reason and language for any text and any options."""

from __future__ import annotations

import struct

from hypothesis import given, settings
from hypothesis import strategies as st
from trinity_hybrid import TrinityHybridNode, _native, detect_language
from trinity_hybrid._board import now_ms
from trinity_hybrid._text import DETECTION_LAYOUT, language_codes

ROUTE_HEAD = struct.Struct("=BBHIQ16s")
ROUTE_DETECTION_OFFSET = 32
STRATEGIES = ("rule", "round_robin", "best_performance", "priority", "lowest_latency", "lowest_cost")
PROVIDERS = (
    "openai",
    "anthropic",
    "google",
    "groq",
    "zhipu",
    "deepseek",
    "kimi",
    "nvidia",
    "cohere",
    "mistral",
    "local",
)

texts = st.one_of(
    st.text(max_size=200),
    st.sampled_from(["Explain photosynthesis.", "请用中文解释量子计算。", "日本の首都は", "안녕하세요", "Привет"]),
)


def _full_route(
    node: TrinityHybridNode,
    data: bytes,
    max_tokens: int,
    force: str | None,
    strategy: str | None,
    quality: bool,
    moment: int,
) -> tuple:
    ffi, lib = _native.load()
    out = ffi.new("th_route *")
    status = lib.th_node_route(
        node._handle,
        data,
        len(data),
        moment,
        max_tokens,
        -1 if force is None else node.provider_names.index(force),
        lib.TH_STRATEGY_NODE_DEFAULT if strategy is None else node.strategy_names.index(strategy),
        int(quality),
        out,
    )
    assert status == 0
    raw = ffi.buffer(out)[:]
    length, exact, _, reason, tokens, providers = ROUTE_HEAD.unpack_from(raw)
    language = DETECTION_LAYOUT.unpack_from(raw, ROUTE_DETECTION_OFFSET)[0]
    chain = tuple(node.provider_names[index] for index in providers[:length])
    return chain, node.reason_names[reason], language_codes()[language], tokens if exact else None


@settings(max_examples=300, deadline=None)
@given(
    text=texts,
    keys=st.sets(st.sampled_from(PROVIDERS), max_size=6),
    max_tokens=st.one_of(st.none(), st.integers(0, 300_000)),
    force=st.one_of(st.none(), st.sampled_from(PROVIDERS)),
    strategy=st.one_of(st.none(), st.sampled_from(STRATEGIES)),
    quality=st.booleans(),
)
def test_packed_route_matches_the_full_route(text, keys, max_tokens, force, strategy, quality) -> None:
    environ = {f"{name.upper()}_API_KEY": "k-0123456789" for name in keys if name != "local"}
    # Two nodes in the same state: round robin moves on with every call.
    node, twin = TrinityHybridNode.from_env(environ), TrinityHybridNode.from_env(environ)
    moment = 1_000
    route = node.route(
        text, max_tokens=max_tokens, force_provider=force, strategy=strategy, quality=quality, now_ms=moment
    )
    data = text.encode("utf-8", "surrogatepass")
    chain, reason, language, tokens = _full_route(twin, data, max_tokens or 0, force, strategy, quality, moment)
    assert route.providers == chain
    assert route.reason == reason
    assert route.language == language == route.detection.language
    if tokens is not None:
        assert route.tokens_estimated == tokens


@settings(max_examples=300, deadline=None)
# Texts with a NUL inside too: detect_language takes th_detect_language_text (NUL-terminated)
# for the others, and the NUL must not cut a text short.
@given(text=st.one_of(texts, st.builds("{}\0{}".format, texts, texts)))
def test_packed_detection_matches_the_full_detection(text: str) -> None:
    ffi, lib = _native.load()
    data = text.encode("utf-8", "surrogatepass")
    out = ffi.new("th_detection *")
    assert lib.th_detect_language(data, len(data), out) == 0
    language, confidence, letters, bytes_invalid, *shares = DETECTION_LAYOUT.unpack(ffi.buffer(out)[:])
    detection = detect_language(text)
    assert detection.language == language_codes()[language]
    assert abs(detection.confidence - confidence) < 1e-6
    assert detection.letters == letters
    assert detection.bytes_invalid == bytes_invalid
    assert detection.scripts == {
        name: share for name, share in zip(_native.names("th_script_name"), shares) if share > 0
    }


def test_python_and_the_core_read_the_same_clock() -> None:
    import time

    _, lib = _native.load()
    python_ms = time.monotonic_ns() // 1_000_000
    native_ms = lib.th_monotonic_ms()
    # Same clock source: the readings differ by the time between them, not by an epoch.
    assert abs(native_ms - python_ms) < 1_000
    assert now_ms() >= native_ms


@settings(max_examples=200, deadline=None)
@given(
    text=st.one_of(texts, st.builds("{}\0{}".format, texts, texts)),
    keys=st.sets(st.sampled_from(PROVIDERS), max_size=6),
)
def test_the_short_routes_match_the_full_route(text, keys) -> None:
    # node.route(text) with no options takes th_node_route_text (NUL-terminated), or
    # th_node_route_default when the text holds a NUL; no outcome is recorded, so the clock they
    # read cannot change the chain.
    environ = {f"{name.upper()}_API_KEY": "k-0123456789" for name in keys if name != "local"}
    node = TrinityHybridNode.from_env(environ)
    route = node.route(text)
    chain, reason, language, _ = _full_route(node, text.encode("utf-8", "surrogatepass"), 0, None, None, False, 0)
    assert (route.providers, route.reason, route.language) == (chain, reason, language)
