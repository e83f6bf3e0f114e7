"""``infer`` / ``ainfer`` against real loopback servers speaking each provider's wire format:
answers, fallback order, the breaker, typed errors, streaming and accounting."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
import trinity_hybrid
from loopback import AnthropicServer, CohereServer, Fault, GeminiServer, OpenAIServer
from trinity_hybrid import (
    AllProvidersFailed,
    ClientRequestError,
    NoProviderAvailable,
    RateLimitedError,
    StreamInterruptedError,
    TrinityHybridNode,
)


def node_for(**servers: object) -> TrinityHybridNode:
    """A node whose providers point at loopback servers: name=server pairs."""
    # One scripted fault per request shows the fallback; same-provider retries: test_retries.py.
    environment: dict[str, str] = {"TRINITY_RETRIES": "0"}
    for provider, server in servers.items():
        variable = provider.upper()
        environment[f"{variable}_API_KEY" if provider != "kimi" else "KIMI_K2_API_KEY"] = server.api_key  # type: ignore[attr-defined]
        environment[f"{variable}_BASE_URL"] = server.base_url  # type: ignore[attr-defined]
    return TrinityHybridNode.from_env(environment)


def test_answer_comes_from_the_server(openai_server: OpenAIServer) -> None:
    with node_for(groq=openai_server) as node:
        response = node.infer("What is the capital of France?")
    assert response.provider == "groq"
    assert response.text == "echo: What is the capital of France?"
    assert response.usage.prompt_tokens > 0
    assert response.usage.completion_tokens > 0
    assert response.language == "en"
    assert [attempt.outcome for attempt in response.attempts] == ["success"]
    assert response.cost_usd > 0
    sent = openai_server.requests[-1]
    assert sent.path == "/v1/chat/completions"
    assert sent.json["model"] == node.provider_info("groq")["model"]
    stats = node.stats("groq")
    assert (stats.calls_successful, stats.tokens_input) == (1, response.usage.prompt_tokens)


@pytest.mark.parametrize("provider", ["anthropic", "google", "cohere"])
def test_each_wire_format_answers(provider: str) -> None:
    server_class = {"anthropic": AnthropicServer, "google": GeminiServer, "cohere": CohereServer}[provider]
    with server_class() as server, node_for(**{provider: server}) as node:
        response = node.infer("Tell me about tea.", force_provider=provider)
        chunks = list(node.infer("Tell me about tea.", force_provider=provider, stream=True))
    assert response.text == "echo: Tell me about tea."
    assert "".join(chunk.text for chunk in chunks) == response.text
    assert chunks[-1].done
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


def test_fallback_order_and_breaker(openai_server: OpenAIServer) -> None:
    with OpenAIServer() as second, node_for(groq=openai_server, openai=second) as node:
        for _ in range(3):
            openai_server.faults.push(Fault.status(503))
            response = node.infer("Hello there, how are you?")
            assert response.provider == "openai"
            assert [attempt.provider for attempt in response.attempts] == ["groq", "openai"]
            assert response.attempts[0].error_type == "TransientError"
        assert node.stats("groq").state == "open"
        # With the breaker open, groq is not called at all.
        calls_before = len(openai_server.requests)
        assert node.infer("Hello there, how are you?").provider == "openai"
        assert len(openai_server.requests) == calls_before


def test_half_open_probe_closes_the_breaker(openai_server: OpenAIServer) -> None:
    with OpenAIServer() as second, node_for(groq=openai_server, openai=second) as node:
        node.configure_breaker(cooldown_s=0.05)
        for _ in range(3):
            openai_server.faults.push(Fault.status(503))
            node.infer("Hello there, how are you?")
        assert node.stats("groq").state == "open"
        time.sleep(0.1)
        assert node.stats("groq").state == "half_open"
        response = node.infer("Hello there, how are you?")
        assert response.provider == "groq"
        assert node.stats("groq").state == "closed"


def test_rate_limit_holds_the_provider_for_its_retry_after(openai_server: OpenAIServer) -> None:
    with OpenAIServer() as second, node_for(groq=openai_server, openai=second) as node:
        openai_server.faults.push(Fault.status(429, retry_after_s=30))
        response = node.infer("Hello there")
        assert response.provider == "openai"
        assert response.attempts[0].error_type == "RateLimitedError"
        stats = node.stats("groq")
        assert stats.state == "open"
        assert stats.last_failure_kind == "rate_limited"


def test_client_error_is_raised_without_fallback(openai_server: OpenAIServer) -> None:
    with OpenAIServer() as second, node_for(groq=openai_server, openai=second) as node:
        openai_server.faults.push(Fault.status(400))
        with pytest.raises(ClientRequestError) as raised:
            node.infer("Hello there")
        assert raised.value.provider == "groq"
        assert second.requests == []


def test_context_length_falls_back_to_a_larger_window(openai_server: OpenAIServer) -> None:
    with AnthropicServer() as anthropic, node_for(groq=openai_server, anthropic=anthropic) as node:
        openai_server.faults.push(Fault.context_length())
        response = node.infer("Summarise this long report, please.")
        assert response.provider == "anthropic"
        assert response.attempts[0].error_type == "ContextLengthExceededError"


def test_credential_error_marks_provider_unhealthy() -> None:
    with OpenAIServer(api_key="right-key-on-the-server") as server, AnthropicServer() as anthropic:
        node = node_for(groq=server, anthropic=anthropic)  # sends the key the server rejects
        node.set_available("groq", "wrong-key-sent-by-client")
        response = node.infer("Hello there")
        assert response.provider == "anthropic"
        assert response.attempts[0].error_type == "CredentialError"
        assert node.stats("groq").healthy is False


def test_forced_provider_failure_is_raised_typed(openai_server: OpenAIServer) -> None:
    with AnthropicServer() as anthropic, node_for(groq=openai_server, anthropic=anthropic) as node:
        openai_server.faults.push(Fault.status(429, retry_after_s=1))
        with pytest.raises(RateLimitedError) as raised:
            node.infer("Hello there", force_provider="groq")
        assert raised.value.retry_after_s == pytest.approx(1.0)
        assert anthropic.requests == []


def test_all_failed_carries_every_attempt(openai_server: OpenAIServer) -> None:
    with AnthropicServer() as anthropic, node_for(groq=openai_server, anthropic=anthropic) as node:
        node.set_unavailable("local")  # otherwise the embedded model answers last
        openai_server.faults.push(Fault.reset())
        anthropic.faults.push(Fault.malformed_json())
        with pytest.raises(AllProvidersFailed) as raised:
            node.infer("Hello there")
    attempts = raised.value.attempts
    assert [attempt.provider for attempt in attempts] == ["groq", "anthropic"]
    assert [attempt.error_type for attempt in attempts] == ["TransientError", "TransientError"]


def test_no_provider_fits() -> None:
    with pytest.raises(NoProviderAvailable):
        TrinityHybridNode.from_env({}).infer("word " * 200_000)


def test_stream_falls_back_before_the_first_token(openai_server: OpenAIServer) -> None:
    with AnthropicServer() as anthropic, node_for(groq=openai_server, anthropic=anthropic) as node:
        openai_server.faults.push(Fault.stream_error(0))
        chunks = list(node.infer("Stream me a short answer", stream=True))
    assert chunks[-1].provider == "anthropic"
    assert [attempt.provider for attempt in chunks[-1].attempts] == ["groq", "anthropic"]
    assert "".join(chunk.text for chunk in chunks) == "echo: Stream me a short answer"


@pytest.mark.parametrize("fault", [Fault.stream_cut(2), Fault.stream_cut(2, clean=True), Fault.stream_error(2)])
def test_stream_failure_after_first_token_is_typed(openai_server: OpenAIServer, fault: Fault) -> None:
    with AnthropicServer() as anthropic, node_for(groq=openai_server, anthropic=anthropic) as node:
        openai_server.faults.push(fault)
        received: list[str] = []
        with pytest.raises(StreamInterruptedError) as raised:
            for chunk in node.infer("one two three four five six", stream=True):
                received.append(chunk.text)
        assert received  # some text was handed out before the failure
        assert anthropic.requests == []  # and no second answer was spliced on
        assert node.stats("groq").calls_failed == 1
        # The broken attempt is the call's last, with the class of what broke it.
        assert [(attempt.provider, attempt.outcome) for attempt in raised.value.attempts] == [("groq", "failure")]
        assert raised.value.attempts[-1].error_type == type(raised.value.cause).__name__


def test_anthropic_overloaded_event_inside_a_200_stream() -> None:
    with AnthropicServer() as anthropic, OpenAIServer() as openai:
        node = node_for(anthropic=anthropic, openai=openai)
        anthropic.faults.push(Fault.stream_error(0))
        chunks = list(node.infer("Careful answer please", quality=True, stream=True))
        assert chunks[-1].provider == "openai"
        assert chunks[-1].attempts[0].provider == "anthropic"
        assert chunks[-1].attempts[0].error_type == "TransientError"


def test_async_infer_and_stream(openai_server: OpenAIServer) -> None:
    async def scenario() -> tuple[str, str]:
        node = node_for(groq=openai_server)
        try:
            response = await node.ainfer("async hello")
            text = "".join([chunk.text async for chunk in await node.ainfer("async stream", stream=True)])
            return response.text, text
        finally:
            await node.aclose()

    assert asyncio.run(scenario()) == ("echo: async hello", "echo: async stream")


def test_async_fallback(openai_server: OpenAIServer) -> None:
    async def scenario() -> str:
        with AnthropicServer() as anthropic:
            node = node_for(groq=openai_server, anthropic=anthropic)
            openai_server.faults.push(Fault.status(502))
            try:
                return (await node.ainfer("Hello there")).provider
            finally:
                await node.aclose()

    assert asyncio.run(scenario()) == "anthropic"


def test_bad_prompts_are_typed(openai_server: OpenAIServer) -> None:
    with node_for(groq=openai_server) as node:
        for bad in [None, 42, [{"role": "wizard", "content": "hi"}], [{"role": "system", "content": "only"}]]:
            with pytest.raises(trinity_hybrid.InvalidInputError):
                node.infer(bad)  # type: ignore[arg-type]
        with pytest.raises(trinity_hybrid.InvalidInputError):
            node.infer("hi", timeout=-1)
        assert openai_server.requests == []


def test_no_key_in_logs_errors_or_reprs(caplog: pytest.LogCaptureFixture) -> None:
    secrets = ["sk-live-TOPSECRET-openai-0123456789", "sk-ant-TOPSECRET-anthropic-0123456789"]
    caplog.set_level(logging.DEBUG)
    with OpenAIServer(api_key=secrets[0]) as openai, AnthropicServer(api_key="a-different-key") as anthropic:
        node = node_for(groq=openai)
        node.set_available("anthropic", secrets[1])
        node.base_urls["anthropic"] = anthropic.base_url
        node.set_unavailable("local")
        openai.faults.push(Fault.status(500))
        with pytest.raises(AllProvidersFailed) as raised:
            node.infer("Hello there")
        endpoint = node.endpoint("groq")
        request = node.wire_format("groq").build_request(
            endpoint, trinity_hybrid.providers.ChatRequest.from_prompt("x")
        )
        texts = [
            caplog.text,
            str(raised.value),
            repr(raised.value.attempts),
            repr(node),
            str(node.status()),
            repr(endpoint),
            repr(request),
        ]
    assert "CredentialError" in repr(raised.value.attempts)
    assert "groq failed" in caplog.text and "anthropic failed" in caplog.text  # the logs were written
    for text in texts:
        for secret in secrets:
            # Only the first eight characters may ever show, as the mask.
            assert secret[8:] not in text
            assert "TOPSECRET" not in text


def test_a_hanging_provider_times_out_and_falls_back(openai_server: OpenAIServer) -> None:
    with AnthropicServer() as anthropic, node_for(groq=openai_server, anthropic=anthropic) as node:
        openai_server.faults.push(Fault.hang())
        response = node.infer("Hello there", timeout=0.5)
        assert response.provider == "anthropic"
        assert response.attempts[0].error_type == "TransientError"
        assert "timed out" in (response.attempts[0].error or "")


def test_stream_without_a_first_token_in_time_falls_back(openai_server: OpenAIServer) -> None:
    with AnthropicServer() as anthropic, node_for(groq=openai_server, anthropic=anthropic) as node:
        openai_server.faults.push(Fault.slow_first_byte(2.0))
        chunks = list(node.infer("Stream please", stream=True, timeout=0.5))
        assert chunks[-1].provider == "anthropic"
        assert chunks[-1].attempts[0].error_type == "TransientError"


def test_a_stream_idle_past_its_read_timeout_is_abandoned(openai_server: OpenAIServer) -> None:
    # slow_chunks delays every event, the first included: the stall comes before any text, so
    # the next provider takes over (after the first token it would be a StreamInterruptedError,
    # see the stream_cut tests above).
    from trinity_hybrid._results import Timeouts

    with AnthropicServer() as anthropic, node_for(groq=openai_server, anthropic=anthropic) as node:
        openai_server.faults.push(Fault.slow_chunks(2.0))
        chunks = list(node.infer("one two three four", stream=True, timeout=Timeouts(read_s=0.5, first_token_s=5)))
        assert chunks[-1].provider == "anthropic"
        assert "timed out" in (chunks[-1].attempts[0].error or "")


def test_custom_openai_compatible_url(openai_server: OpenAIServer) -> None:
    # Available by its URL alone; the key is optional and sent when set.
    assert "custom" not in TrinityHybridNode.from_env({}).available_providers
    environment = {
        "CUSTOM_BASE_URL": openai_server.base_url,
        "CUSTOM_API_KEY": openai_server.api_key,
        "CUSTOM_MODEL": "my-vllm-model",
    }
    with TrinityHybridNode.from_env(environment) as node:
        assert "custom" in node.available_providers
        response = node.infer("Hello custom")
    assert response.provider == "custom"
    assert response.text == "echo: Hello custom"
    assert openai_server.requests[-1].json["model"] == "my-vllm-model"


def test_local_server_by_url(openai_server: OpenAIServer) -> None:
    # LOCAL_LLM_BASE_URL: a llama.cpp server, Ollama or vLLM instead of the embedded model.
    openai_server.api_key = ""  # such servers take no key
    with TrinityHybridNode.from_env({"LOCAL_LLM_BASE_URL": openai_server.base_url}) as node:
        response = node.infer("Hello local server")
    assert response.provider == "local"
    assert response.text == "echo: Hello local server"
    assert response.cost_usd == 0.0


@pytest.mark.parametrize("sync", [True, False], ids=["sync", "async"])
def test_a_total_timeout_bounds_the_call_whatever_the_provider_does(sync: bool) -> None:
    from trinity_hybrid import Timeouts

    with OpenAIServer() as slow, node_for(groq=slow) as node:
        node.set_unavailable("local")
        slow.faults.push(Fault.slow_first_byte(30.0))
        timeouts = Timeouts(total_s=0.5)
        with pytest.raises(AllProvidersFailed) as raised:
            if sync:
                node.infer("Hello there", timeout=timeouts)
            else:

                async def run() -> None:
                    try:
                        await node.ainfer("Hello there", timeout=timeouts)
                    finally:
                        await node.aclose()

                asyncio.run(run())
    assert [(attempt.provider, attempt.outcome) for attempt in raised.value.attempts] == [("groq", "cancelled")]
    assert node.stats("groq").calls_failed == 0
