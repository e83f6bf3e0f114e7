"""The gateway, running for real, spoken to with the official `openai` SDK (sync, async, stream),
over loopback provider servers: answers, forced models, fallback and what the headers, /metrics,
/status and /autonomous/* say about it; and no key in any answer or log line."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator

import httpx
import openai
import pytest
from gateway_harness import GATEWAY_KEY, RunningGateway, provider_environment, running_gateway
from loopback import AnthropicServer, Fault, OpenAIServer, Request
from prometheus_client.parser import text_string_to_metric_families

PROMPT = "What is the capital of France?"
MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": PROMPT}]


@pytest.fixture
def gateway(groq: OpenAIServer, backup: OpenAIServer) -> Iterator[RunningGateway]:
    """groq first for English prompts, openai behind it."""
    with running_gateway(provider_environment(groq=groq, openai=backup)) as running:
        yield running


def client(gateway: RunningGateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.url + "/v1", api_key=GATEWAY_KEY, max_retries=0)


def metric_samples(gateway: RunningGateway) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = gateway.request("GET", "/metrics")
    assert response.status_code == 200
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def test_sync_sdk_gets_an_openai_completion(gateway: RunningGateway, groq: OpenAIServer) -> None:
    raw = client(gateway).chat.completions.with_raw_response.create(model="auto", messages=MESSAGES)
    completion = raw.parse()
    assert completion.object == "chat.completion"
    assert completion.choices[0].message.content == f"echo: {PROMPT}"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.model == f"groq/{gateway.node.provider_info('groq')['model']}"
    usage = completion.usage
    assert usage is not None and usage.prompt_tokens > 0 and usage.completion_tokens > 0
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert raw.headers["x-trinity-provider"] == "groq"
    assert raw.headers["x-trinity-attempts"] == "1"
    assert float(raw.headers["x-trinity-overhead-ms"]) >= 0
    # The provider received the conversation, with the gateway's key for it, not the client's.
    sent = groq.requests[-1]
    assert sent.json["messages"][-1]["content"] == PROMPT
    assert sent.headers["authorization"] == f"Bearer {groq.api_key}"


def test_async_sdk(gateway: RunningGateway) -> None:
    async def ask() -> openai.types.chat.ChatCompletion:
        async with openai.AsyncOpenAI(base_url=gateway.url + "/v1", api_key=GATEWAY_KEY, max_retries=0) as sdk:
            answers = await asyncio.gather(
                *(
                    sdk.chat.completions.create(model="auto", messages=[{"role": "user", "content": f"Question {n}"}])
                    for n in range(5)
                )
            )
        return answers

    answers = asyncio.run(ask())
    assert sorted(answer.choices[0].message.content for answer in answers) == [f"echo: Question {n}" for n in range(5)]


def test_stream_with_usage(gateway: RunningGateway) -> None:
    stream = client(gateway).chat.completions.create(
        model="auto", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    assert all(chunk.object == "chat.completion.chunk" for chunk in chunks)
    assert len({chunk.id for chunk in chunks}) == 1
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert text == f"echo: {PROMPT}"
    assert chunks[0].choices[0].delta.role == "assistant"
    finishing = [chunk for chunk in chunks if chunk.choices and chunk.choices[0].finish_reason]
    assert [chunk.choices[0].finish_reason for chunk in finishing] == ["stop"]
    assert chunks[-1].choices == [] and chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


def test_stream_ends_with_done_and_headers(gateway: RunningGateway) -> None:
    response = gateway.request(
        "POST", "/v1/chat/completions", json={"model": "auto", "messages": MESSAGES, "stream": True}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["x-trinity-provider"] == "groq"
    events = [line for line in response.text.split("\n\n") if line]
    assert events[-1] == "data: [DONE]"
    # Without stream_options.include_usage there is no usage chunk, as with OpenAI.
    assert all("usage" not in json.loads(event[len("data: ") :]) for event in events[:-1])


def test_model_forces_a_provider() -> None:
    with (
        OpenAIServer() as groq,
        AnthropicServer() as anthropic,
        running_gateway(provider_environment(groq=groq, anthropic=anthropic)) as gateway,
    ):
        sdk = client(gateway)
        model = gateway.node.provider_info("anthropic")["model"]
        for name in ("anthropic", f"anthropic/{model}"):
            raw = sdk.chat.completions.with_raw_response.create(model=name, messages=MESSAGES)
            assert raw.headers["x-trinity-provider"] == "anthropic"
            assert raw.parse().choices[0].message.content == f"echo: {PROMPT}"
        assert len(anthropic.requests) == 2 and groq.requests == []
        # Any model of an available provider is routable; an unknown provider is not.
        named = sdk.chat.completions.create(model="anthropic/some-other-model", messages=MESSAGES)
        assert named.model == "anthropic/some-other-model"
        assert anthropic.requests[-1].json["model"] == "some-other-model"
        with pytest.raises(openai.NotFoundError) as raised:
            sdk.chat.completions.create(model="acme/some-other-model", messages=MESSAGES)
        assert raised.value.code == "model_not_found"
        listed = [model.id for model in sdk.models.list()]
        assert listed[0] == "auto"
        assert f"anthropic/{model}" in listed and f"groq/{gateway.node.provider_info('groq')['model']}" in listed


def test_quality_and_strategy_reach_the_router(gateway: RunningGateway) -> None:
    sdk = client(gateway)
    answer = sdk.chat.completions.with_raw_response.create(
        model="auto", messages=MESSAGES, extra_body={"quality": True, "strategy": "priority"}
    )
    expected = gateway.node.route(PROMPT, quality=True, strategy="priority").providers[0]
    assert answer.headers["x-trinity-provider"] == expected
    with pytest.raises(openai.BadRequestError) as raised:
        sdk.chat.completions.create(model="auto", messages=MESSAGES, extra_body={"strategy": "fastest"})
    assert raised.value.param == "strategy"


def test_fallback_is_reported_in_headers_and_metrics(gateway: RunningGateway, groq: OpenAIServer) -> None:
    groq.faults.push(Fault.status(503))
    raw = client(gateway).chat.completions.with_raw_response.create(model="auto", messages=MESSAGES)
    assert raw.headers["x-trinity-provider"] == "openai"
    assert raw.headers["x-trinity-attempts"] == "2"
    assert raw.parse().choices[0].message.content == f"echo: {PROMPT}"
    samples = metric_samples(gateway)
    assert samples[("trinity_fallbacks_total", (("from_provider", "groq"),))] == 1
    failure = (("error_type", "TransientError"), ("outcome", "failure"), ("provider", "groq"))
    assert samples[("trinity_provider_attempts_total", failure)] == 1
    success = (("endpoint", "chat"), ("outcome", "success"), ("provider", "openai"))
    assert samples[("trinity_gateway_requests_total", success)] == 1


def test_stream_fallback_before_the_first_token(gateway: RunningGateway, groq: OpenAIServer) -> None:
    groq.faults.push(Fault.reset())
    response = gateway.request(
        "POST", "/v1/chat/completions", json={"model": "auto", "messages": MESSAGES, "stream": True}
    )
    assert response.status_code == 200
    assert (response.headers["x-trinity-provider"], response.headers["x-trinity-attempts"]) == ("openai", "2")
    assert response.text.endswith("data: [DONE]\n\n")


def test_every_provider_failing_is_a_502_with_the_attempts(
    gateway: RunningGateway, groq: OpenAIServer, backup: OpenAIServer
) -> None:
    groq.faults.push(Fault.status(500))
    backup.faults.push(Fault.gateway_page(502))
    response = gateway.request("POST", "/v1/chat/completions", json={"model": "auto", "messages": MESSAGES})
    assert response.status_code == 502
    error = response.json()["error"]
    assert error["type"] == "server_error" and error["code"] == "upstream_error"
    assert [(item["provider"], item["outcome"], item["status"]) for item in error["attempts"]] == [
        ("groq", "failure", 500),
        ("openai", "failure", 502),
    ]
    samples = metric_samples(gateway)
    assert (
        samples[
            (
                "trinity_gateway_requests_total",
                (("endpoint", "chat"), ("outcome", "upstream_error"), ("provider", "none")),
            )
        ]
        == 1
    )
    for provider in ("groq", "openai"):
        failure = (("error_type", "TransientError"), ("outcome", "failure"), ("provider", provider))
        assert samples[("trinity_provider_attempts_total", failure)] == 1
    assert samples[("trinity_fallbacks_total", (("from_provider", "groq"),))] == 1


def test_open_breakers_give_503(gateway: RunningGateway, groq: OpenAIServer, backup: OpenAIServer) -> None:
    for provider in ("groq", "openai"):
        for _ in range(5):
            gateway.node.record_failure(provider, "transient")
    response = gateway.request("POST", "/v1/chat/completions", json={"model": "auto", "messages": MESSAGES})
    assert response.status_code == 503
    # The router leaves open providers out of the chain, so no provider is left to try.
    assert response.json()["error"]["code"] == "no_provider_available"
    assert groq.requests == [] and backup.requests == []
    samples = metric_samples(gateway)
    assert samples[("trinity_breaker_state", (("provider", "groq"),))] == 2


def test_metrics_count_tokens_cost_and_latency(gateway: RunningGateway) -> None:
    completion = client(gateway).chat.completions.create(model="auto", messages=MESSAGES)
    samples = metric_samples(gateway)
    assert completion.usage is not None
    assert (
        samples[("trinity_tokens_total", (("direction", "input"), ("provider", "groq")))]
        == completion.usage.prompt_tokens
    )
    assert (
        samples[("trinity_tokens_total", (("direction", "output"), ("provider", "groq")))]
        == completion.usage.completion_tokens
    )
    assert samples[("trinity_cost_usd_total", (("provider", "groq"),))] > 0
    assert samples[("trinity_gateway_request_duration_seconds_count", (("endpoint", "chat"),))] == 1
    assert samples[("trinity_gateway_overhead_seconds_count", ())] == 1
    assert samples[("trinity_provider_latency_seconds_count", (("provider", "groq"),))] == 1
    assert samples[("trinity_breaker_state", (("provider", "groq"),))] == 0
    assert samples[("trinity_provider_available", (("provider", "local"),))] == 0
    assert samples[("process_resident_memory_bytes", ())] > 0


def test_status_and_autonomous_status(gateway: RunningGateway, groq: OpenAIServer) -> None:
    client(gateway).chat.completions.create(model="auto", messages=MESSAGES)
    status = gateway.request("GET", "/status").json()
    assert status["providers"]["groq"]["successful_calls"] == 1
    assert status["providers"]["groq"]["key"] == groq.api_key[:8] + "***"
    assert set(status["available_providers"]) == {"groq", "openai"}
    autonomous = gateway.request("GET", "/autonomous/status").json()
    assert autonomous["llm_providers"]["groq"]["successful_calls"] == 1
    assert autonomous["llm_providers"].keys() == status["providers"].keys()


def planner(request: Request) -> str:
    return f"1. Read about {request.user_text}\n2. Write a summary\n3) Review it\nReasoning: learn before writing."


def test_plan_goes_through_the_router() -> None:
    with OpenAIServer(responder=planner) as groq, running_gateway(provider_environment(groq=groq)) as gateway:
        response = gateway.request("POST", "/autonomous/plan", json={"goal": "tea ceremonies"})
        assert response.status_code == 200
        plan = response.json()
        assert plan["steps"] == ["Read about tea ceremonies", "Write a summary", "Review it"]
        assert plan["reasoning"] == "learn before writing."
        assert plan["provider"] == "groq" == response.headers["x-trinity-provider"]
        assert plan["route"]["reason"]
        assert groq.requests[-1].json["messages"][0]["role"] == "system"
        bad = gateway.request("POST", "/autonomous/plan", json={"goal": 42})
        assert bad.status_code == 400 and bad.json()["error"]["param"] == "goal"


def test_no_key_in_any_answer_or_log(
    gateway: RunningGateway, groq: OpenAIServer, backup: OpenAIServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    groq.faults.push(Fault.status(401), Fault.status(500))
    backup.faults.push(Fault.status(500), Fault.status(429, retry_after_s=1))
    chat = {"model": "auto", "messages": MESSAGES}
    gateway.request("POST", "/v1/chat/completions", json=chat)  # groq 401, openai 500
    gateway.request("POST", "/v1/chat/completions", json={**chat, "stream": True})
    gateway.request("POST", "/v1/chat/completions", json={"model": "openai", "messages": MESSAGES})
    for method, path in (("GET", "/status"), ("GET", "/metrics"), ("GET", "/autonomous/status"), ("GET", "/v1/models")):
        gateway.request(method, path)
    gateway.request("GET", "/status", authorize=False)
    gateway.request("POST", "/v1/chat/completions", content=b"{not json")
    secrets = [groq.api_key, backup.api_key, GATEWAY_KEY]
    texts = [body.decode("utf-8", "replace") for body in gateway.bodies] + [caplog.text]
    assert len(gateway.bodies) == 9
    for secret in secrets:
        for text in texts:
            assert secret not in text
            assert secret[8:] not in text  # nothing past the mask's eight characters either


def test_client_leaving_mid_stream_leaves_the_gateway_serving(gateway: RunningGateway, groq: OpenAIServer) -> None:
    groq.faults.push(Fault.slow_chunks(0.2))
    chat = {"model": "auto", "messages": MESSAGES, "stream": True}
    with (
        httpx.Client(timeout=10.0, trust_env=False) as http,
        http.stream(
            "POST", gateway.url + "/v1/chat/completions", json=chat, headers={"Authorization": f"Bearer {GATEWAY_KEY}"}
        ) as response,
    ):
        assert response.status_code == 200
        next(response.iter_bytes())  # the role chunk, then the client goes away
    answer = client(gateway).chat.completions.create(model="auto", messages=MESSAGES)
    assert answer.choices[0].message.content == f"echo: {PROMPT}"
