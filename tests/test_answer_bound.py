"""TRINITY_MAX_UPSTREAM_BYTES on the library's own httpx path (issue 17, point 7): a whole
answer is read as it comes and given up past the bound, so a provider answering too much fails
that attempt as a transient error and the next provider answers. ``node.infer``, ``ainfer`` and
``embed`` read whole answers this way; so does the gateway for embeddings (and for the local
model), shown here through the gateway with the openai SDK. The gateway's own upstream pool, for
chat, is bounded by the same variable (tests/test_gateway_hardening.py)."""

from __future__ import annotations

import asyncio
import json

import openai
import pytest
from gateway_harness import GATEWAY_KEY, provider_environment, running_gateway
from loopback import OpenAIServer
from loopback._embeddings import EmbeddingServer, vector_of
from raw_provider import RawProvider, RawRequest, endless_answer, json_answer
from trinity_hybrid import ConfigurationError, TrinityHybridNode

BOUND = 100_000
CONTENT_CHARS = 3 * BOUND  # the answer the raw provider sends is about three times the bound


async def large_completion(request: RawRequest, writer: asyncio.StreamWriter) -> bool:
    """A valid completion whose body is about three times the bound."""
    writer.write(json_answer(200, {
        "id": "large", "object": "chat.completion", "created": 0, "model": "raw",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "y" * CONTENT_CHARS},
                     "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10},
    }))  # fmt: skip
    return True


async def large_embeddings(request: RawRequest, writer: asyncio.StreamWriter) -> bool:
    vector = [0.5] * (CONTENT_CHARS // 4)
    writer.write(json_answer(200, {
        "object": "list", "data": [{"object": "embedding", "index": 0, "embedding": vector}],
        "model": "text-embedding-3-small", "usage": {"prompt_tokens": 2, "total_tokens": 2},
    }))  # fmt: skip
    return True


def node_over(provider: RawProvider, backup: OpenAIServer, bound: int | None) -> TrinityHybridNode:
    environment = {**provider_environment(groq=provider, openai=backup), "DEFAULT_LLM_PROVIDER": "groq"}
    if bound is not None:
        environment["TRINITY_MAX_UPSTREAM_BYTES"] = str(bound)
    node = TrinityHybridNode.from_env(environment)
    node.set_unavailable("local")
    return node


def outcomes(response: object) -> list[tuple[str, str]]:
    return [(attempt.provider, attempt.outcome) for attempt in response.attempts]  # type: ignore[attr-defined]


@pytest.mark.parametrize("driver", ["sync", "async"])
def test_a_whole_answer_over_the_bound_fails_its_attempt_and_the_next_provider_answers(
    driver: str, backup: OpenAIServer
) -> None:
    provider = RawProvider(large_completion)
    try:
        node = node_over(provider, backup, BOUND)
        if driver == "sync":
            response = node.infer("Hello there")
        else:

            async def run() -> object:
                try:
                    return await node.ainfer("Hello there")
                finally:
                    await node.aclose()

            response = asyncio.run(run())
        node.close()
    finally:
        provider.close()
    assert outcomes(response) == [("groq", "failure"), ("openai", "success")]
    failed = response.attempts[0]  # type: ignore[attr-defined]
    assert failed.error_type == "TransientError"
    assert f"exceeds {BOUND} bytes" in failed.error and "TRINITY_MAX_UPSTREAM_BYTES" in failed.error
    assert response.text == "echo: Hello there"  # type: ignore[attr-defined]


@pytest.mark.parametrize("driver", ["sync", "async"])
def test_a_bound_changed_between_calls_applies_to_the_next_call(driver: str, backup: OpenAIServer) -> None:
    """The node makes its readers once per client, timeouts and bound (``_clients``), not per
    call: a bound changed on the same node must still reach the next call's reader."""
    provider = RawProvider(large_completion)
    node = node_over(provider, backup, 10 * CONTENT_CHARS)

    async def twice() -> list[object]:
        try:
            first = await node.ainfer("Hello there")
            node.upstream_bytes_max = BOUND
            return [first, await node.ainfer("Hello there")]
        finally:
            await node.aclose()

    try:
        if driver == "sync":
            first = node.infer("Hello there")
            node.upstream_bytes_max = BOUND
            answers = [first, node.infer("Hello there")]
        else:
            answers = asyncio.run(twice())
        node.close()
    finally:
        provider.close()
    assert [outcomes(answer) for answer in answers] == [
        [("groq", "success")],
        [("groq", "failure"), ("openai", "success")],
    ]


def test_the_same_answer_under_a_larger_bound_is_taken(backup: OpenAIServer) -> None:
    """The raw provider's answer is valid: it failed above for its size alone."""
    provider = RawProvider(large_completion)
    try:
        node = node_over(provider, backup, 10 * CONTENT_CHARS)
        response = node.infer("Hello there")
        node.close()
    finally:
        provider.close()
    assert outcomes(response) == [("groq", "success")]
    assert len(response.text) == CONTENT_CHARS


def test_an_endless_answer_is_given_up_and_its_connection_closed(backup: OpenAIServer) -> None:
    provider = RawProvider(endless_answer)
    try:
        node = node_over(provider, backup, BOUND)
        response = node.infer("Hello there")
        node.close()
        assert provider.wait_closed(0, 30.0)  # the client hung up (a bound, not a measurement)
    finally:
        provider.close()
    assert not provider.requests[0].exhausted  # the client gave up, not the server
    assert outcomes(response) == [("groq", "failure"), ("openai", "success")]


@pytest.mark.parametrize("value", ["0", "-1", "lots", "1e6", "١٠٠"])
def test_a_bad_bound_is_refused_naming_the_variable(value: str) -> None:
    with pytest.raises(ConfigurationError, match="TRINITY_MAX_UPSTREAM_BYTES") as refused:
        TrinityHybridNode.from_env({"TRINITY_MAX_UPSTREAM_BYTES": value})
    assert "positive whole number" in str(refused.value)


def test_the_gateways_embeddings_are_bounded_too() -> None:
    """/v1/embeddings goes through the node's httpx client: openai's answer over the bound fails
    that attempt and cohere answers (the openai SDK sees one 200)."""
    provider = RawProvider(large_embeddings)
    try:
        with EmbeddingServer() as cohere:
            environment = {
                "OPENAI_API_KEY": provider.api_key, "OPENAI_BASE_URL": provider.base_url,
                "COHERE_API_KEY": cohere.api_key, "COHERE_BASE_URL": cohere.origin,
                "DEFAULT_LLM_PROVIDER": "openai", "TRINITY_RETRIES": "0",
                "TRINITY_MAX_UPSTREAM_BYTES": str(BOUND),
            }  # fmt: skip
            with running_gateway(environment) as gateway:
                sdk = openai.OpenAI(base_url=gateway.url + "/v1", api_key=GATEWAY_KEY, max_retries=0)
                raw = sdk.embeddings.with_raw_response.create(model="auto", input="two words", encoding_format="float")
                answer = raw.parse()
            assert cohere.requests  # cohere was asked after openai
    finally:
        provider.close()
    assert provider.requests, "openai's raw server was never asked"
    assert (raw.headers["x-trinity-provider"], raw.headers["x-trinity-attempts"]) == ("cohere", "2")
    assert answer.data[0].embedding == pytest.approx(vector_of("two words"), abs=1e-6)
    assert json.loads(raw.http_response.text)["model"].startswith("cohere/")
