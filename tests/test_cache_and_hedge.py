"""The response cache (memory and Redis) and hedged requests, against loopback provider servers."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from loopback import Fault, OpenAIServer
from redis_server import RedisServer, require_binary
from trinity_hybrid import (
    AllProvidersFailed,
    ClientRequestError,
    ConfigurationError,
    InvalidInputError,
    ResponseCache,
    TrinityHybridNode,
)
from trinity_hybrid.providers import ChatRequest


def node_for(*, namespace: str | None = None, redis_url: str | None = None, **servers: OpenAIServer) -> TrinityHybridNode:
    # One scripted fault per request shows the fallback; same-provider retries: test_retries.py.
    environment = {"DEFAULT_LLM_PROVIDER": next(iter(servers)), "TRINITY_RETRIES": "0"}
    for provider, server in servers.items():
        environment[f"{provider.upper()}_API_KEY"] = server.api_key
        environment[f"{provider.upper()}_BASE_URL"] = server.base_url
    node = TrinityHybridNode.from_env(environment)
    node.set_unavailable("local")
    if redis_url is not None:
        node.enable_shared_state(redis_url, namespace=namespace or "cache")
    return node


def test_cache_hit_miss_and_the_response_says_so(openai_server: OpenAIServer) -> None:
    with node_for(groq=openai_server) as node:
        node.enable_cache(ttl_s=60)
        first = node.infer("What is the capital of France?", cache=True)
        second = node.infer("What is the capital of France?", cache=True)
        other = node.infer("What is the capital of Spain?", cache=True)
        uncached = node.infer("What is the capital of France?")
    assert (first.cached, second.cached, other.cached, uncached.cached) == (False, True, False, False)
    assert second.text == first.text == "echo: What is the capital of France?"
    assert (second.provider, second.model, second.usage) == (first.provider, first.model, first.usage)
    assert second.cost_usd == 0.0 and second.attempts == ()
    # The hit called no provider: three requests reached the server, not four.
    assert len(openai_server.requests) == 3
    assert node.status()["cache"]["hits"] == 1
    assert node.status()["cache"]["misses"] == 2


def test_parameters_are_part_of_the_key(openai_server: OpenAIServer) -> None:
    with node_for(groq=openai_server) as node:
        node.infer("Hello there", cache=True, max_tokens=50)
        assert not node.infer("Hello there", cache=True, max_tokens=60).cached
        assert not node.infer([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello there"}],
                              cache=True, max_tokens=50).cached
        assert node.infer("Hello there", cache=True, max_tokens=50).cached


def test_errors_are_never_cached(openai_server: OpenAIServer) -> None:
    with node_for(groq=openai_server) as node:
        openai_server.faults.push(Fault.status(503))
        with pytest.raises(AllProvidersFailed):
            node.infer("Hello there", cache=True)
        answer = node.infer("Hello there", cache=True)
    assert not answer.cached
    assert answer.text == "echo: Hello there"
    assert len(openai_server.requests) == 2


def test_temperature_above_zero_is_cached_only_when_asked(openai_server: OpenAIServer) -> None:
    with node_for(groq=openai_server) as node:
        node.infer("Hello there", cache=True, temperature=0.7)
        assert not node.infer("Hello there", cache=True, temperature=0.7).cached
        node.infer("Hello there", cache="always", temperature=0.7)
        assert node.infer("Hello there", cache="always", temperature=0.7).cached
        node.infer("Hello there", cache=True, temperature=0)
        assert node.infer("Hello there", cache=True, temperature=0).cached
        assert node.cache.status()["skipped_temperature"] == 2
        with pytest.raises(InvalidInputError):
            node.infer("Hello there", cache="sometimes")


def test_ttl_expiry_and_lru_bounds(openai_server: OpenAIServer) -> None:
    with node_for(groq=openai_server) as node:
        node.enable_cache(ttl_s=0.05, entries_max=2)
        node.infer("one", cache=True)
        time.sleep(0.1)
        assert not node.infer("one", cache=True).cached  # expired
        node.infer("two", cache=True)
        node.infer("three", cache=True)  # evicts "one", the least recently used
        assert node.cache.status()["entries"] == 2
        assert node.cache.status()["evictions"] == 1
        assert node.cache.status()["expired"] == 1


def test_cache_on_by_configuration_and_streams_are_never_cached(openai_server: OpenAIServer) -> None:
    node = TrinityHybridNode.from_env({
        "GROQ_API_KEY": openai_server.api_key, "GROQ_BASE_URL": openai_server.base_url,
        "DEFAULT_LLM_PROVIDER": "groq", "TRINITY_CACHE": "memory", "TRINITY_CACHE_TTL_S": "30",
    })
    with node:
        node.infer("Hello there")
        assert node.infer("Hello there").cached
        assert not node.infer("Hello there", cache=False).cached
        chunks = list(node.infer("Hello there", stream=True))
    assert "".join(chunk.text for chunk in chunks) == "echo: Hello there"
    assert len(openai_server.requests) == 3


def test_async_cache(openai_server: OpenAIServer) -> None:
    async def run() -> tuple[bool, bool]:
        node = node_for(groq=openai_server)
        try:
            first = await node.ainfer("Hello async", cache=True)
            second = await node.ainfer("Hello async", cache=True)
            return first.cached, second.cached
        finally:
            await node.aclose()

    assert asyncio.run(run()) == (False, True)


@pytest.fixture
def redis_url() -> Iterator[str]:
    require_binary()
    with RedisServer() as server:
        yield server.url


def test_redis_cache_is_shared_between_replicas(openai_server: OpenAIServer, redis_url: str) -> None:
    namespace = f"cache-{uuid.uuid4().hex[:8]}"
    first = node_for(groq=openai_server, redis_url=redis_url, namespace=namespace)
    second = node_for(groq=openai_server, redis_url=redis_url, namespace=namespace)
    try:
        for node in (first, second):
            node.enable_cache(backend="redis", ttl_s=60)
        deadline_s = time.monotonic() + 10
        while not (first.shared_state()["connected"] and second.shared_state()["connected"]):
            assert time.monotonic() < deadline_s
            time.sleep(0.01)
        assert not first.infer("Shared question", cache=True).cached
        assert first.flush_shared_state()
        hit = second.infer("Shared question", cache=True)
        assert hit.cached and hit.text == "echo: Shared question"
        assert len(openai_server.requests) == 1
        assert second.status()["cache"]["backend"] == "redis"
    finally:
        first.close_shared_state()
        second.close_shared_state()


# ----------------------------------------------------------------------------------------------
# Hedged requests.


def warm(node: TrinityHybridNode, provider: str, latency_ms: int, count: int = 12) -> None:
    """Gives ``provider`` a latency history, so that its p95 (the hedge's delay) is known and
    does not depend on how loaded this machine is."""
    for _ in range(count):
        node.record_success(provider, latency_ms=latency_ms)


def hedged(node: TrinityHybridNode, prompt: str, *, sync: bool, **options: object) -> Any:
    """``infer(..., hedge=True)`` on the node's threads, or ``ainfer`` in an event loop of its own."""
    if sync:
        return node.infer(prompt, hedge=True, **options)  # type: ignore[arg-type]

    async def run() -> object:
        try:
            return await node.ainfer(prompt, hedge=True, **options)  # type: ignore[arg-type]
        finally:
            await node.aclose()

    return asyncio.run(run())


@pytest.mark.parametrize("sync", [False, True], ids=["async", "sync"])
def test_hedge_takes_the_fast_provider_and_cancels_the_slow_one(sync: bool) -> None:
    with OpenAIServer() as slow, OpenAIServer() as fast, node_for(groq=slow, openai=fast) as node:
        warm(node, "groq", latency_ms=2)
        p95_ms = node.stats("groq").latency_ms_p95
        assert 0 < p95_ms <= 5
        slow.faults.push(Fault.slow_first_byte(5.0))
        failed_before = node.stats("groq").calls_failed
        response = hedged(node, "Which one answers first?", sync=sync)
    # The slow provider was asked (its attempt started: "cancelled", not skipped), lost the race,
    # and is not counted as failed. Whether its request reached the server before the cancel is
    # the machine's timing (on a loaded machine it may not have), so the test does not ask.
    assert response.provider == "openai"
    assert response.text == "echo: Which one answers first?"
    outcomes = {attempt.provider: attempt.outcome for attempt in response.attempts}
    assert outcomes == {"groq": "cancelled", "openai": "success"}
    assert node.stats("groq").calls_failed == failed_before
    assert node.stats("groq").state == "closed"


@pytest.mark.parametrize("sync", [False, True], ids=["async", "sync"])
def test_hedge_waits_when_the_first_answers_in_time(sync: bool) -> None:
    with OpenAIServer() as first, OpenAIServer() as second, node_for(groq=first, openai=second) as node:
        warm(node, "groq", latency_ms=100_000)  # a p95 far beyond any answer here: no hedge
        response = hedged(node, "Quick one", sync=sync)
    assert response.provider == "groq"
    assert [attempt.outcome for attempt in response.attempts] == ["success"]
    assert second.requests == []


def hedged_stream(node: TrinityHybridNode, prompt: str, *, sync: bool) -> list[Any]:
    """The chunks of ``infer(..., hedge=True, stream=True)``, or of ``ainfer``'s."""
    if sync:
        return list(node.infer(prompt, hedge=True, stream=True))

    async def run() -> list[Any]:
        try:
            return [chunk async for chunk in node.ainfer(prompt, hedge=True, stream=True)]
        finally:
            await node.aclose()

    return asyncio.run(run())


@pytest.mark.parametrize("sync", [False, True], ids=["async", "sync"])
def test_hedge_falls_back_after_a_failure_whole_or_streamed(sync: bool) -> None:
    with OpenAIServer() as first, OpenAIServer() as second, node_for(groq=first, openai=second) as node:
        first.faults.push(Fault.status(503))
        chunks = hedged_stream(node, "Hello", sync=sync)
        first.faults.push(Fault.status(503))
        response = hedged(node, "Hello", sync=sync)
    assert "".join(chunk.text for chunk in chunks) == "echo: Hello"
    assert [attempt.outcome for attempt in chunks[-1].attempts] == ["failure", "success"]
    assert response.provider == "openai"
    assert [attempt.outcome for attempt in response.attempts] == ["failure", "success"]


@pytest.mark.parametrize("sync", [False, True], ids=["async", "sync"])
def test_a_hedged_stream_is_won_by_the_first_token(sync: bool) -> None:
    """Before its first token a slow stream gets the next provider started beside it; the
    first to send a token answers, the other is cancelled, not counted as failed."""
    with OpenAIServer() as slow, OpenAIServer() as fast, node_for(groq=slow, openai=fast) as node:
        warm(node, "groq", latency_ms=2)
        slow.faults.push(Fault.slow_first_byte(5.0))
        chunks = hedged_stream(node, "Who streams first?", sync=sync)
    assert {chunk.provider for chunk in chunks} == {"openai"}
    assert "".join(chunk.text for chunk in chunks) == "echo: Who streams first?"
    outcomes = {attempt.provider: attempt.outcome for attempt in chunks[-1].attempts}
    assert outcomes == {"groq": "cancelled", "openai": "success"}
    assert node.stats("groq").calls_failed == 0


@pytest.mark.parametrize("sync", [False, True], ids=["async", "sync"])
def test_hedge_ends_at_a_request_the_provider_rejects(sync: bool) -> None:
    """A 400 is the request's fault: no other provider is asked, hedged or not."""
    with OpenAIServer() as first, OpenAIServer() as second, node_for(groq=first, openai=second) as node:
        first.faults.push(Fault.status(400))
        with pytest.raises(ClientRequestError):
            hedged(node, "Hello", sync=sync)
    assert second.requests == []


# ----------------------------------------------------------------------------------------------
# Bounds, keys and configuration.


@settings(max_examples=60, deadline=None)
@given(
    entries_max=st.integers(1, 8),
    bytes_max=st.integers(64, 2048),
    operations=st.lists(st.tuples(st.integers(0, 12), st.text(max_size=300)), max_size=60),
)
@example(entries_max=1, bytes_max=64, operations=[(0, ""), (0, "\x1f" * 7 + "\U00010000" * 20)])  # found by CI
def test_lru_never_exceeds_its_bounds_and_returns_what_it_stored(entries_max: int, bytes_max: int,
                                                                 operations: list[tuple[int, str]]) -> None:
    cache = ResponseCache(ttl_s=60, entries_max=entries_max, bytes_max=bytes_max)
    for slot, text in operations:
        key = f"key-{slot}"
        cache.put(key, {"text": text})
        status = cache.status()
        assert status["entries"] <= entries_max
        assert status["bytes"] <= bytes_max
        found = cache.get(key)
        # Just stored: there unless larger than the whole cache allows.
        assert found is None or found == {"text": text}


@given(text=st.text(min_size=1, max_size=50).filter(lambda value: value.strip() != ""))
def test_the_key_is_the_normalised_request(text: str) -> None:
    as_string = ChatRequest.from_prompt(text, max_tokens=10)
    as_messages = ChatRequest.from_prompt([{"role": "user", "content": text}], max_tokens=10)
    options = {"force_provider": None, "model": None, "strategy": None, "quality": False}
    assert ResponseCache.key(as_string, **options) == ResponseCache.key(as_messages, **options)
    assert ResponseCache.key(as_string, **options) != ResponseCache.key(ChatRequest.from_prompt(text, max_tokens=11),
                                                                         **options)


@pytest.mark.parametrize("environment, message", [
    ({"TRINITY_CACHE": "disk"}, "TRINITY_CACHE='disk'"),
    ({"TRINITY_CACHE": "redis"}, "needs TRINITY_REDIS_URL"),
    ({"TRINITY_CACHE": "memory", "TRINITY_CACHE_TTL_S": "soon"}, "TRINITY_CACHE_TTL_S='soon'"),
    ({"TRINITY_CACHE": "memory", "TRINITY_CACHE_TTL_S": "-1"}, "TRINITY_CACHE_TTL_S='-1'"),
    ({"TRINITY_REDIS_URL": "http://127.0.0.1:6379"}, "redis://"),
])
def test_bad_configuration_is_named(environment: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message.replace("(", r"\(")):
        TrinityHybridNode.from_env(environment)
