"""The loopback servers speak each provider's wire format: the official SDKs prove it.

Every answer here is parsed by the provider's own SDK and its own types, and every injected fault
must come out of the SDK as the error the real API would cause. The assertions on exception types
also record how each SDK behaves (what it wraps, what it lets through, what it silently accepts),
which our own client has to know.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import anthropic
import cohere
import httpx
import openai
import pytest
from cohere.core.api_error import ApiError as CohereApiError
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as genai_types

try:  # what anthropic (and then google-genai) are built on since their 2.17 / 3.x releases
    import httpx2
except ImportError:  # pragma: no cover - an older resolve
    httpx2 = httpx
from loopback import (
    AnthropicServer,
    CohereServer,
    Fault,
    GeminiServer,
    LoopbackServer,
    OpenAIServer,
    Request,
    ToolCallReply,
)

pytest_plugins = ["loopback.pytest_plugin"]

TIMEOUT_S = 5.0
TIMEOUT_SHORT_S = 0.3  # for the faults that are meant to time the client out
PROMPT = "hello loopback world"
PIECES = ["echo: ", "hello ", "loopback ", "world"]  # one token per word, as the servers count
PROMPT_TOKENS = 3
COMPLETION_TOKENS = 4


# The official clients, pointed at a loopback server, without retries. They all get one TLS context
# (unused on plain HTTP): building a default one loads the CA bundle, a tenth of a second per client.
TLS_CONTEXT = ssl.create_default_context()


@contextmanager
def openai_client(
    server: LoopbackServer, *, api_key: str | None = None, timeout_s: float = TIMEOUT_S
) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(
        base_url=server.base_url,
        api_key=api_key or server.api_key,
        max_retries=0,
        timeout=timeout_s,
        http_client=openai.DefaultHttpxClient(verify=TLS_CONTEXT),
    ) as client:
        yield client


@contextmanager
def anthropic_client(
    server: LoopbackServer, *, api_key: str | None = None, timeout_s: float = TIMEOUT_S
) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(
        base_url=server.base_url,
        api_key=api_key or server.api_key,
        max_retries=0,
        timeout=timeout_s,
        http_client=anthropic.DefaultHttpxClient(verify=TLS_CONTEXT),
    ) as client:
        yield client


@contextmanager
def gemini_client(
    server: LoopbackServer, *, api_key: str | None = None, timeout_s: float = TIMEOUT_S
) -> Iterator[genai.Client]:
    # HttpOptions.timeout is in milliseconds; the SDK retries nothing unless given retry_options.
    options = gemini_options(server, timeout_s=timeout_s)
    client = genai.Client(api_key=api_key or server.api_key, http_options=options)
    try:
        yield client
    finally:
        client.close()


def gemini_options(
    server: LoopbackServer, *, timeout_s: float = TIMEOUT_S, api_version: str | None = None
) -> genai_types.HttpOptions:
    return genai_types.HttpOptions(
        base_url=server.base_url,
        api_version=api_version,
        timeout=int(timeout_s * 1000),
        client_args={"verify": TLS_CONTEXT},
        async_client_args={"ssl": TLS_CONTEXT},
    )


@contextmanager
def cohere_client(
    server: LoopbackServer, *, api_key: str | None = None, timeout_s: float = TIMEOUT_S
) -> Iterator[cohere.ClientV2]:
    with httpx.Client(timeout=timeout_s, verify=TLS_CONTEXT) as http_client:
        yield cohere.ClientV2(
            api_key=api_key or server.api_key, base_url=server.base_url, max_retries=0, httpx_client=http_client
        )


# One driver per SDK, so the faults every provider shares are tested once for all four.


@dataclass
class Answer:
    text: str
    prompt_tokens: int | None
    completion_tokens: int | None
    finish: str | None


def openai_complete(server: LoopbackServer, timeout_s: float) -> Answer:
    with openai_client(server, timeout_s=timeout_s) as client:
        completion = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": PROMPT}])
    assert isinstance(completion, openai.types.chat.ChatCompletion)
    assert completion.usage is not None
    choice = completion.choices[0]
    return Answer(
        choice.message.content or "",
        completion.usage.prompt_tokens,
        completion.usage.completion_tokens,
        choice.finish_reason,
    )


def openai_stream(server: LoopbackServer, timeout_s: float, received: list[str]) -> Answer:
    answer = Answer("", None, None, None)
    with openai_client(server, timeout_s=timeout_s) as client:
        stream = client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": PROMPT}],
            stream=True,
            stream_options={"include_usage": True},
        )
        for chunk in stream:
            assert isinstance(chunk, openai.types.chat.ChatCompletionChunk)
            if chunk.usage is not None:
                answer.prompt_tokens, answer.completion_tokens = (
                    chunk.usage.prompt_tokens,
                    chunk.usage.completion_tokens,
                )
            for choice in chunk.choices:
                if choice.delta.content:
                    received.append(choice.delta.content)
                answer.finish = choice.finish_reason or answer.finish
    answer.text = "".join(received)
    return answer


def anthropic_complete(server: LoopbackServer, timeout_s: float) -> Answer:
    with anthropic_client(server, timeout_s=timeout_s) as client:
        message = client.messages.create(
            model="claude-loopback-1", max_tokens=64, messages=[{"role": "user", "content": PROMPT}]
        )
    assert isinstance(message, anthropic.types.Message)
    block = message.content[0]
    assert isinstance(block, anthropic.types.TextBlock)
    return Answer(block.text, message.usage.input_tokens, message.usage.output_tokens, message.stop_reason)


def anthropic_stream(server: LoopbackServer, timeout_s: float, received: list[str]) -> Answer:
    answer = Answer("", None, None, None)
    with anthropic_client(server, timeout_s=timeout_s) as client:
        stream = client.messages.create(
            model="claude-loopback-1", max_tokens=64, messages=[{"role": "user", "content": PROMPT}], stream=True
        )
        for event in stream:
            if isinstance(event, anthropic.types.RawMessageStartEvent):
                answer.prompt_tokens = event.message.usage.input_tokens
            elif isinstance(event, anthropic.types.RawContentBlockDeltaEvent):
                assert isinstance(event.delta, anthropic.types.TextDelta)
                received.append(event.delta.text)
            elif isinstance(event, anthropic.types.RawMessageDeltaEvent):
                answer.finish = event.delta.stop_reason
                answer.completion_tokens = event.usage.output_tokens
    answer.text = "".join(received)
    return answer


def gemini_complete(server: LoopbackServer, timeout_s: float) -> Answer:
    with gemini_client(server, timeout_s=timeout_s) as client:
        response = client.models.generate_content(model="gemini-2.5-flash", contents=PROMPT)
    assert isinstance(response, genai_types.GenerateContentResponse)
    assert response.candidates and response.usage_metadata
    finish = response.candidates[0].finish_reason
    usage = response.usage_metadata
    return Answer(response.text or "", usage.prompt_token_count, usage.candidates_token_count, finish and finish.value)


def gemini_stream(server: LoopbackServer, timeout_s: float, received: list[str]) -> Answer:
    answer = Answer("", None, None, None)
    with gemini_client(server, timeout_s=timeout_s) as client:
        for chunk in client.models.generate_content_stream(model="gemini-2.5-flash", contents=PROMPT):
            assert isinstance(chunk, genai_types.GenerateContentResponse)
            assert chunk.candidates
            candidate = chunk.candidates[0]
            assert candidate.content and candidate.content.parts
            received.extend(part.text for part in candidate.content.parts if part.text)
            if candidate.finish_reason is not None:
                answer.finish = candidate.finish_reason.value
            if chunk.usage_metadata is not None:
                answer.prompt_tokens = chunk.usage_metadata.prompt_token_count
                answer.completion_tokens = chunk.usage_metadata.candidates_token_count
    answer.text = "".join(received)
    return answer


def cohere_complete(server: LoopbackServer, timeout_s: float) -> Answer:
    with cohere_client(server, timeout_s=timeout_s) as client:
        response = client.chat(model="command-a-03-2025", messages=[cohere.UserChatMessageV2(content=PROMPT)])
    assert isinstance(response, cohere.V2ChatResponse)
    assert response.message.content and response.usage and response.usage.tokens
    item = response.message.content[0]
    assert isinstance(item, cohere.TextAssistantMessageResponseContentItem)
    tokens = response.usage.tokens
    return Answer(item.text, _int(tokens.input_tokens), _int(tokens.output_tokens), response.finish_reason)


def cohere_stream(server: LoopbackServer, timeout_s: float, received: list[str]) -> Answer:
    answer = Answer("", None, None, None)
    with cohere_client(server, timeout_s=timeout_s) as client:
        for event in client.chat_stream(model="command-a-03-2025", messages=[cohere.UserChatMessageV2(content=PROMPT)]):
            if isinstance(event, cohere.ContentDeltaV2ChatStreamResponse):
                assert event.delta and event.delta.message and event.delta.message.content
                received.append(event.delta.message.content.text or "")
            elif isinstance(event, cohere.MessageEndV2ChatStreamResponse):
                assert event.delta is not None
                answer.finish = event.delta.finish_reason
                if event.delta.usage and event.delta.usage.tokens:
                    answer.prompt_tokens = _int(event.delta.usage.tokens.input_tokens)
                    answer.completion_tokens = _int(event.delta.usage.tokens.output_tokens)
    answer.text = "".join(received)
    return answer


def _int(value: float | None) -> int | None:
    # Cohere's SDK types token counts as floats.
    return None if value is None else int(value)


@dataclass(frozen=True)
class Sdk:
    name: str
    server: Callable[[], LoopbackServer]
    complete: Callable[[LoopbackServer, float], Answer]
    stream: Callable[[LoopbackServer, float, list[str]], Answer]
    finish_normal: str
    reset_error: tuple[type[BaseException], ...]  # what the SDK raises for a reset connection
    timeout_error: tuple[type[BaseException], ...]
    stream_timeout_error: tuple[type[BaseException], ...]  # a read timeout between stream events
    cut_error: tuple[type[BaseException], ...]  # a stream whose connection drops mid-body
    malformed_error: tuple[type[BaseException], ...]  # 200 with a body that is not JSON


SDKS = [
    Sdk(
        "openai",
        OpenAIServer,
        openai_complete,
        openai_stream,
        "stop",
        (openai.APIConnectionError,),
        (openai.APITimeoutError,),
        (openai.APITimeoutError,),
        (openai.APIConnectionError,),  # the Stream wraps transport errors
        (json.JSONDecodeError,),  # not wrapped in an openai error
    ),
    Sdk(
        "anthropic",
        AnthropicServer,
        anthropic_complete,
        anthropic_stream,
        "end_turn",
        (anthropic.APIConnectionError,),
        (anthropic.APITimeoutError,),
        # Since 2.17 the Stream wraps transport errors too, as the SDK documents for every call:
        # "a subclass of anthropic.APIConnectionError" (APITimeoutError for a timeout).
        (anthropic.APITimeoutError,),
        (anthropic.APIConnectionError,),
        (json.JSONDecodeError,),
    ),
    Sdk(
        "gemini",
        GeminiServer,
        gemini_complete,
        gemini_stream,
        "STOP",
        # google-genai wraps no transport error; it uses httpx2 when installed, else httpx.
        (httpx.ReadError, httpx2.ReadError),
        (httpx.ReadTimeout, httpx2.ReadTimeout),
        (httpx.ReadTimeout, httpx2.ReadTimeout),
        (httpx.RemoteProtocolError, httpx2.RemoteProtocolError),
        (json.JSONDecodeError,),
    ),
    Sdk(
        "cohere",
        CohereServer,
        cohere_complete,
        cohere_stream,
        "COMPLETE",
        (httpx.ReadError,),  # cohere wraps no transport error either
        (httpx.ReadTimeout,),
        (httpx.ReadTimeout,),
        (httpx.RemoteProtocolError,),
        (CohereApiError,),  # with status_code 200 and the raw text as body
    ),
]


@pytest.fixture(params=SDKS, ids=[sdk.name for sdk in SDKS])
def sdk(request: pytest.FixtureRequest) -> Sdk:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def server(sdk: Sdk) -> Iterator[LoopbackServer]:
    with sdk.server() as created:
        yield created


def test_complete_is_parsed_by_the_sdk(sdk: Sdk, server: LoopbackServer) -> None:
    answer = sdk.complete(server, TIMEOUT_S)
    assert answer == Answer("".join(PIECES), PROMPT_TOKENS, COMPLETION_TOKENS, sdk.finish_normal)
    assert len(server.requests) == 1
    assert server.requests[0].user_text == PROMPT
    assert server.requests[0].fault is None


def test_stream_is_parsed_by_the_sdk(sdk: Sdk, server: LoopbackServer) -> None:
    received: list[str] = []
    answer = sdk.stream(server, TIMEOUT_S, received)
    assert received == PIECES
    assert answer == Answer("".join(PIECES), PROMPT_TOKENS, COMPLETION_TOKENS, sdk.finish_normal)


def test_responder_sets_the_answer(sdk: Sdk, server: LoopbackServer) -> None:
    def shout(request: Request) -> str:
        return request.user_text.upper()

    server.responder = shout
    assert sdk.complete(server, TIMEOUT_S).text == PROMPT.upper()
    received: list[str] = []
    assert sdk.stream(server, TIMEOUT_S, received).text == PROMPT.upper()
    assert received == ["HELLO ", "LOOPBACK ", "WORLD"]


def test_reset_raises_the_sdk_connection_error(sdk: Sdk, server: LoopbackServer) -> None:
    server.faults.push(Fault.reset(), Fault.reset())
    with pytest.raises(sdk.reset_error):
        sdk.complete(server, TIMEOUT_S)
    with pytest.raises(sdk.reset_error):
        sdk.stream(server, TIMEOUT_S, [])
    assert sdk.complete(server, TIMEOUT_S).text == "".join(PIECES)  # the script is used up


def test_hang_times_the_client_out(sdk: Sdk, server: LoopbackServer) -> None:
    server.faults.push(Fault.hang())
    with pytest.raises(sdk.timeout_error):
        sdk.complete(server, TIMEOUT_SHORT_S)
    assert server.requests[0].fault == Fault.hang()


def test_slow_first_byte_past_the_timeout_times_the_client_out(sdk: Sdk, server: LoopbackServer) -> None:
    server.faults.push(Fault.slow_first_byte(10.0))
    with pytest.raises(sdk.timeout_error):
        sdk.complete(server, TIMEOUT_SHORT_S)


def test_slow_first_byte_within_the_timeout_answers(sdk: Sdk, server: LoopbackServer) -> None:
    server.faults.push(Fault.slow_first_byte(0.2), Fault.slow_first_byte(0.2))
    assert sdk.complete(server, TIMEOUT_S).text == "".join(PIECES)
    assert sdk.stream(server, TIMEOUT_S, []).text == "".join(PIECES)


def test_slow_chunks_still_complete(sdk: Sdk, server: LoopbackServer) -> None:
    server.faults.push(Fault.slow_chunks(0.02))
    received: list[str] = []
    answer = sdk.stream(server, TIMEOUT_S, received)
    assert received == PIECES
    assert answer.finish == sdk.finish_normal


def test_slow_chunks_past_the_read_timeout_time_the_stream_out(sdk: Sdk, server: LoopbackServer) -> None:
    server.faults.push(Fault.slow_chunks(10.0))
    with pytest.raises(sdk.stream_timeout_error):
        sdk.stream(server, TIMEOUT_SHORT_S, [])


def test_stream_cut_raises_after_the_deltas_sent(sdk: Sdk, server: LoopbackServer) -> None:
    server.faults.push(Fault.stream_cut(2))
    received: list[str] = []
    with pytest.raises(sdk.cut_error):
        sdk.stream(server, TIMEOUT_S, received)
    assert received == PIECES[:2]


def test_stream_cut_cleanly_ends_without_error_or_finish(sdk: Sdk, server: LoopbackServer) -> None:
    # No SDK notices a stream whose terminal events are missing: the caller has to.
    server.faults.push(Fault.stream_cut(2, clean=True))
    received: list[str] = []
    answer = sdk.stream(server, TIMEOUT_S, received)
    assert received == PIECES[:2]
    assert answer.finish is None
    assert answer.completion_tokens is None


def test_body_cut_mid_way_raises_the_stream_cut_error(sdk: Sdk, server: LoopbackServer) -> None:
    server.faults.push(Fault.stream_cut(0))
    # OpenAI and Anthropic wrap this one (as their stream cuts): the others let httpx's through.
    with pytest.raises(sdk.cut_error):
        sdk.complete(server, TIMEOUT_S)


def test_malformed_json_body(sdk: Sdk, server: LoopbackServer) -> None:
    server.faults.push(Fault.malformed_json())
    with pytest.raises(sdk.malformed_error) as caught:
        sdk.complete(server, TIMEOUT_S)
    if isinstance(caught.value, CohereApiError):
        assert caught.value.status_code == 200


def test_gateway_page_is_a_server_error(sdk: Sdk, server: LoopbackServer) -> None:
    server.faults.push(Fault.gateway_page(502))
    expected: dict[str, type[BaseException]] = {
        "openai": openai.InternalServerError,
        "anthropic": anthropic.InternalServerError,
        "gemini": genai_errors.ServerError,
        "cohere": CohereApiError,
    }
    with pytest.raises(expected[sdk.name]) as caught:
        sdk.complete(server, TIMEOUT_S)
    # The SDKs keep the HTML as the error body (google-genai only in the message); OpenAI's message
    # is just "Error code: 502".
    assert "<h1>502 Bad Gateway</h1>" in str(getattr(caught.value, "body", None) or caught.value)


# OpenAI.


def test_openai_request_is_recorded(openai_server: OpenAIServer) -> None:
    with openai_client(openai_server) as client:
        client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "system", "content": "be brief"}, {"role": "user", "content": PROMPT}],
            max_tokens=2,
        )
    request = openai_server.requests[0]
    assert (request.method, request.path) == ("POST", "/v1/chat/completions")
    assert request.headers["authorization"] == f"Bearer {openai_server.api_key}"
    assert request.json["messages"][0] == {"role": "system", "content": "be brief"}
    assert request.json["max_tokens"] == 2


def test_openai_max_tokens_truncates_with_finish_reason_length(openai_server: OpenAIServer) -> None:
    with openai_client(openai_server) as client:
        completion = client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "system", "content": "be brief"}, {"role": "user", "content": PROMPT}],
            max_completion_tokens=2,
        )
    assert completion.choices[0].message.content == "echo: hello "
    assert completion.choices[0].finish_reason == "length"
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (2 + PROMPT_TOKENS, 2)


def test_openai_async_stream(openai_server: OpenAIServer) -> None:
    async def collect() -> list[str]:
        async with openai.AsyncOpenAI(
            base_url=openai_server.base_url,
            api_key=openai_server.api_key,
            max_retries=0,
            timeout=TIMEOUT_S,
            http_client=openai.DefaultAsyncHttpxClient(verify=TLS_CONTEXT),
        ) as client:
            stream = await client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": PROMPT}], stream=True
            )
            return [chunk.choices[0].delta.content or "" async for chunk in stream if chunk.choices]

    assert "".join(asyncio.run(collect())) == "".join(PIECES)


def test_openai_list_models(openai_server: OpenAIServer) -> None:
    with openai_client(openai_server) as client:
        models = list(client.models.list())
    assert [model.id for model in models] == ["gpt-4o-mini"]


def test_openai_wrong_key_is_authentication_error(openai_server: OpenAIServer) -> None:
    client_wrong_key = openai_client(openai_server, api_key="sk-wrong-0123456789")
    with client_wrong_key as client, pytest.raises(openai.AuthenticationError) as caught:
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": PROMPT}])
    assert (caught.value.status_code, caught.value.type, caught.value.code) == (
        401,
        "invalid_request_error",
        "invalid_api_key",
    )


def test_openai_missing_key_is_authentication_error(openai_server: OpenAIServer) -> None:
    # The SDK refuses to be built without a key, so the header is dropped from one request.
    with openai_client(openai_server) as client, pytest.raises(openai.AuthenticationError) as caught:
        client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": PROMPT}],
            extra_headers={"Authorization": openai.omit},
        )
    assert "didn't provide an API key" in caught.value.message
    assert "authorization" not in openai_server.requests[0].headers


def test_openai_rate_limit_carries_retry_after(openai_server: OpenAIServer) -> None:
    openai_server.faults.push(Fault.status(429, retry_after_s=2))
    with openai_client(openai_server) as client, pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": PROMPT}])
    assert caught.value.response.headers["retry-after"] == "2"
    assert caught.value.code == "rate_limit_exceeded"


def test_openai_insufficient_quota_is_a_429_with_its_code(openai_server: OpenAIServer) -> None:
    openai_server.faults.push(Fault.quota())
    with openai_client(openai_server) as client, pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": PROMPT}])
    assert (caught.value.type, caught.value.code) == ("insufficient_quota", "insufficient_quota")


def test_openai_context_length_exceeded(openai_server: OpenAIServer) -> None:
    openai_server.faults.push(Fault.context_length(prompt_tokens=130_000, limit_tokens=128_000))
    with openai_client(openai_server) as client, pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": PROMPT}])
    assert caught.value.code == "context_length_exceeded"
    assert "maximum context length is 128000 tokens" in caught.value.message


@pytest.mark.parametrize("status", [500, 502, 503])
def test_openai_server_errors(openai_server: OpenAIServer, status: int) -> None:
    openai_server.faults.push(Fault.status(status))
    with openai_client(openai_server) as client, pytest.raises(openai.InternalServerError) as caught:
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": PROMPT}])
    assert caught.value.status_code == status
    assert caught.value.type == "server_error"


def test_openai_in_stream_error_is_a_bare_api_error(openai_server: OpenAIServer) -> None:
    openai_server.faults.push(Fault.stream_error(1))
    received: list[str] = []
    with pytest.raises(openai.APIError) as caught:
        openai_stream(openai_server, TIMEOUT_S, received)
    # Not an APIStatusError: the HTTP status was 200, so there is no status code to classify by.
    assert not isinstance(caught.value, openai.APIStatusError)
    assert isinstance(caught.value.body, dict) and caught.value.body["type"] == "server_error"
    assert received == PIECES[:1]


def test_openai_malformed_stream_event_raises_json_error(openai_server: OpenAIServer) -> None:
    openai_server.faults.push(Fault.malformed_json())
    with pytest.raises(json.JSONDecodeError):
        openai_stream(openai_server, TIMEOUT_S, [])


# Anthropic.


def test_anthropic_request_is_recorded_and_system_counts(anthropic_server: AnthropicServer) -> None:
    with anthropic_client(anthropic_server) as client:
        message = client.messages.create(
            model="claude-loopback-1", max_tokens=64, system="be brief", messages=[{"role": "user", "content": PROMPT}]
        )
    assert message.usage.input_tokens == 2 + PROMPT_TOKENS
    request = anthropic_server.requests[0]
    assert request.path == "/v1/messages"
    assert request.headers["anthropic-version"]
    # The 2.x SDK sends the key as a Bearer token, not in x-api-key.
    assert request.headers["authorization"] == f"Bearer {anthropic_server.api_key}"


def test_anthropic_stream_helper_and_event_order(anthropic_server: AnthropicServer) -> None:
    with anthropic_client(anthropic_server) as client:
        with client.messages.stream(
            model="claude-loopback-1", max_tokens=64, messages=[{"role": "user", "content": PROMPT}]
        ) as stream:
            text = "".join(stream.text_stream)
            final = stream.get_final_message()
        with client.messages.with_streaming_response.create(
            model="claude-loopback-1", max_tokens=64, messages=[{"role": "user", "content": PROMPT}], stream=True
        ) as raw:
            events = [line.removeprefix("event: ") for line in raw.iter_lines() if line.startswith("event: ")]
    assert text == "".join(PIECES)
    assert (final.stop_reason, final.usage.output_tokens) == ("end_turn", COMPLETION_TOKENS)
    assert events == [
        "message_start",
        "content_block_start",
        "ping",
        *["content_block_delta"] * len(PIECES),
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]


def test_anthropic_max_tokens_stop_reason(anthropic_server: AnthropicServer) -> None:
    with anthropic_client(anthropic_server) as client:
        message = client.messages.create(
            model="claude-loopback-1", max_tokens=1, messages=[{"role": "user", "content": PROMPT}]
        )
    assert message.stop_reason == "max_tokens"
    assert message.usage.output_tokens == 1


def test_anthropic_bad_key_is_authentication_error(anthropic_server: AnthropicServer) -> None:
    with (
        anthropic_client(anthropic_server, api_key="sk-ant-wrong") as client,
        pytest.raises(anthropic.AuthenticationError) as caught,
    ):
        anthropic_complete_with(client)
    assert caught.value.body == {
        "type": "error",
        "error": {"type": "authentication_error", "message": "invalid x-api-key"},
        "request_id": "req_loopback",
    }


def test_anthropic_x_api_key_header_is_accepted(anthropic_server: AnthropicServer) -> None:
    with anthropic.Anthropic(
        base_url=anthropic_server.base_url,
        api_key=None,
        auth_token=None,
        default_headers={"x-api-key": anthropic_server.api_key},
        max_retries=0,
        http_client=anthropic.DefaultHttpxClient(verify=TLS_CONTEXT),
    ) as client:
        assert anthropic_complete_with(client).content


def test_anthropic_requires_the_version_header(anthropic_server: AnthropicServer) -> None:
    with anthropic_client(anthropic_server) as client, pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.create(
            model="claude-loopback-1",
            max_tokens=64,
            messages=[{"role": "user", "content": PROMPT}],
            extra_headers={"anthropic-version": anthropic.omit},
        )
    assert "anthropic-version" in caught.value.message


def test_anthropic_requires_max_tokens(anthropic_server: AnthropicServer) -> None:
    body = {"model": "claude-loopback-1", "messages": [{"role": "user", "content": PROMPT}]}
    with anthropic_client(anthropic_server) as client, pytest.raises(anthropic.BadRequestError) as caught:
        client.post("/v1/messages", body=body, cast_to=anthropic.types.Message)
    assert "max_tokens" in caught.value.message


def test_anthropic_rejects_a_system_role_message(anthropic_server: AnthropicServer) -> None:
    messages: Any = [{"role": "system", "content": "be brief"}, {"role": "user", "content": PROMPT}]
    with anthropic_client(anthropic_server) as client, pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.create(model="claude-loopback-1", max_tokens=64, messages=messages)
    assert 'Unexpected role "system"' in caught.value.message


@pytest.mark.parametrize(
    ("fault", "error", "error_type"),
    [
        (Fault.status(529), anthropic.OverloadedError, "overloaded_error"),
        (Fault.status(500), anthropic.InternalServerError, "api_error"),
        (Fault.status(503), anthropic.ServiceUnavailableError, "api_error"),
        (Fault.status(429, retry_after_s=2), anthropic.RateLimitError, "rate_limit_error"),
        (
            Fault.context_length(prompt_tokens=210_000, limit_tokens=200_000),
            anthropic.BadRequestError,
            "invalid_request_error",
        ),
        (Fault.quota(), anthropic.BadRequestError, "invalid_request_error"),
    ],
    ids=["529", "500", "503", "429", "context_length", "quota"],
)
def test_anthropic_status_errors(
    anthropic_server: AnthropicServer, fault: Fault, error: type[anthropic.APIStatusError], error_type: str
) -> None:
    anthropic_server.faults.push(fault)
    with anthropic_client(anthropic_server) as client, pytest.raises(error) as caught:
        anthropic_complete_with(client)
    assert isinstance(caught.value.body, dict)
    assert caught.value.body["error"]["type"] == error_type
    if fault.retry_after_s is not None:
        assert caught.value.response.headers["retry-after"] == "2"
    if fault.prompt_tokens:
        assert caught.value.body["error"]["message"] == "prompt is too long: 210000 tokens > 200000 maximum"


def test_anthropic_in_stream_overloaded_error(anthropic_server: AnthropicServer) -> None:
    anthropic_server.faults.push(Fault.stream_error(2), Fault.stream_error(2))
    received: list[str] = []
    with pytest.raises(anthropic.APIStatusError) as caught:
        anthropic_stream(anthropic_server, TIMEOUT_S, received)
    assert received == PIECES[:2]
    # The SDK builds the error from the 200 response: a plain APIStatusError, not OverloadedError.
    assert type(caught.value) is anthropic.APIStatusError
    assert caught.value.status_code == 200
    assert caught.value.body == {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    with (
        anthropic_client(anthropic_server) as client,
        pytest.raises(anthropic.APIStatusError),
        client.messages.stream(
            model="claude-loopback-1", max_tokens=64, messages=[{"role": "user", "content": PROMPT}]
        ) as stream,
    ):
        stream.until_done()


def anthropic_complete_with(client: anthropic.Anthropic) -> anthropic.types.Message:
    return client.messages.create(
        model="claude-loopback-1", max_tokens=64, messages=[{"role": "user", "content": PROMPT}]
    )


# Anthropic extended thinking.

THINKING = {"type": "enabled", "budget_tokens": 1024}
THINKING_MAX_TOKENS = 2048
THINKING_TEXT = f"Let me think about: {PROMPT}"
THINKING_DOCS = "https://docs.claude.com/en/docs/build-with-claude/extended-thinking"
REDACTED_TRIGGER = "ANTHROPIC_MAGIC_STRING_TRIGGER_REDACTED_THINKING_46C9A13E193C177646C7398A98432ECCCE4C1253"
WEATHER_TOOL: Any = {
    "name": "weather",
    "description": "The weather in a city.",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


def calls_weather_then_answers(request: Request) -> str | ToolCallReply:
    """Calls the tool on a user's question, answers once the tool's result is back."""
    content = request.json["messages"][-1]["content"]
    if isinstance(content, list) and any(block.get("type") == "tool_result" for block in content):
        return "sunny in Paris"
    return ToolCallReply(calls=(("toolu_weather", "weather", {"city": "Paris"}),))


def think(client: anthropic.Anthropic, messages: Any, **options: Any) -> anthropic.types.Message:
    options = {"max_tokens": THINKING_MAX_TOKENS, "thinking": THINKING, **options}
    # This SDK's create() no longer takes the sampling parameters; the API still does.
    sampling = {name: options.pop(name) for name in ("temperature", "top_k") if name in options}
    return client.messages.create(model="claude-loopback-1", messages=messages, extra_body=sampling, **options)


def tool_turn(client: anthropic.Anthropic) -> tuple[anthropic.types.Message, list[Any]]:
    """A first answer calling the tool, and the conversation that sends its result back."""
    question: Any = {"role": "user", "content": PROMPT}
    first = think(client, [question], tools=[WEATHER_TOOL])
    result = {"type": "tool_result", "tool_use_id": "toolu_weather", "content": "sunny"}
    assistant = [block.model_dump(exclude_none=True) for block in first.content]
    return first, [question, {"role": "assistant", "content": assistant}, {"role": "user", "content": [result]}]


def test_anthropic_thinking_answer_and_stream_carry_the_same_signed_block(anthropic_server: AnthropicServer) -> None:
    messages: Any = [{"role": "user", "content": PROMPT}]
    with anthropic_client(anthropic_server) as client:
        message = think(client, messages)
        with client.messages.stream(
            model="claude-loopback-1", max_tokens=THINKING_MAX_TOKENS, thinking=THINKING, messages=messages
        ) as stream:
            events = list(stream)
            final = stream.get_final_message()
    thinking, text = message.content
    assert isinstance(thinking, anthropic.types.ThinkingBlock)
    assert thinking.thinking == THINKING_TEXT
    assert thinking.signature
    assert isinstance(text, anthropic.types.TextBlock) and text.text == "".join(PIECES)
    # Thinking words are output tokens.
    assert message.usage.output_tokens == COMPLETION_TOKENS + len(THINKING_TEXT.split())
    assert [block.model_dump() for block in final.content] == [block.model_dump() for block in message.content]
    assert final.usage.output_tokens == message.usage.output_tokens
    # As the API streams it: the block opens empty, its text in thinking deltas, its signature in
    # one signature delta just before its stop, then the text block at index 1.
    raw = [(event.type, getattr(event, "index", None)) for event in events if event.type.startswith("content_block")]
    words = len(THINKING_TEXT.split())
    assert raw[: words + 3] == [("content_block_start", 0)] + [("content_block_delta", 0)] * (words + 1) + [
        ("content_block_stop", 0)
    ]
    assert raw[words + 3] == ("content_block_start", 1)
    deltas = [event.delta for event in events if event.type == "content_block_delta" and event.index == 0]
    assert [delta.type for delta in deltas] == ["thinking_delta"] * words + ["signature_delta"]
    assert isinstance(deltas[-1], anthropic.types.SignatureDelta)
    assert deltas[-1].signature == thinking.signature
    start = next(event for event in events if event.type == "content_block_start")
    assert start.content_block.model_dump() == {"type": "thinking", "thinking": "", "signature": ""}


def test_anthropic_thinking_tool_round_trip_is_accepted() -> None:
    with AnthropicServer(responder=calls_weather_then_answers) as server, anthropic_client(server) as client:
        first, messages = tool_turn(client)
        assert [block.type for block in first.content] == ["thinking", "tool_use"]
        assert first.stop_reason == "tool_use"
        second = think(client, messages, tools=[WEATHER_TOOL])
        # The same conversation streamed: the tool_use block's index follows the thinking block.
        with client.messages.stream(
            model="claude-loopback-1", max_tokens=THINKING_MAX_TOKENS, thinking=THINKING, messages=messages[:1]
        ) as stream:
            streamed = stream.get_final_message()
    assert [block.type for block in second.content] == ["thinking", "text"]
    assert isinstance(second.content[1], anthropic.types.TextBlock) and second.content[1].text == "sunny in Paris"
    assert [block.model_dump() for block in streamed.content] == [block.model_dump() for block in first.content]


def test_anthropic_thinking_adaptive_and_disabled(anthropic_server: AnthropicServer) -> None:
    messages: Any = [{"role": "user", "content": PROMPT}]
    with anthropic_client(anthropic_server) as client:
        adaptive = think(client, messages, thinking={"type": "adaptive"}, max_tokens=64)
        disabled = think(client, messages, thinking={"type": "disabled"}, max_tokens=64, temperature=0.5, top_k=5)
    assert isinstance(adaptive.content[0], anthropic.types.ThinkingBlock)
    assert [block.type for block in disabled.content] == ["text"]
    assert disabled.usage.output_tokens == COMPLETION_TOKENS


def _tampered(messages: list[Any]) -> list[Any]:
    signature = messages[1]["content"][0]["signature"]
    # Another first character, whatever the signature's is (the server's secret is random).
    messages[1]["content"][0]["signature"] = ("B" if signature[0] == "A" else "A") + signature[1:]
    return messages


def _unsigned(messages: list[Any]) -> list[Any]:
    del messages[1]["content"][0]["signature"]
    return messages


def _without_thinking(messages: list[Any]) -> list[Any]:
    messages[1]["content"] = messages[1]["content"][1:]
    return messages


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_tampered, "messages.1.content.0: Invalid `signature` in `thinking` block"),
        (_unsigned, "messages.1.content.0.thinking.signature: Field required"),
        (
            _without_thinking,
            (
                "messages.1.content.0.type: Expected `thinking` or `redacted_thinking`, but found `tool_use`. When "
                "`thinking` is enabled, a final `assistant` message must start with a thinking block (preceeding the "
                "lastmost set of `tool_use` and `tool_result` blocks). We recommend you include thinking blocks from "
                "previous turns. To avoid this requirement, disable `thinking`. Please consult our documentation at "
                f"{THINKING_DOCS}"
            ),
        ),
    ],
    ids=["tampered_signature", "missing_signature", "tool_turn_without_thinking"],
)
def test_anthropic_thinking_round_trip_refusals(change: Callable[[list[Any]], list[Any]], message: str) -> None:
    with AnthropicServer(responder=calls_weather_then_answers) as server, anthropic_client(server) as client:
        _, messages = tool_turn(client)
        with pytest.raises(anthropic.BadRequestError) as caught:
            think(client, change(messages), tools=[WEATHER_TOOL])
    assert caught.value.body == {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": message},
        "request_id": "req_loopback",
    }


def test_anthropic_thinking_signatures_are_checked_with_thinking_disabled_and_per_server() -> None:
    with AnthropicServer(responder=calls_weather_then_answers) as server, anthropic_client(server) as client:
        _, messages = tool_turn(client)
        # Without thinking, a turn without its thinking block is fine, a tampered block is not.
        assert think(client, _without_thinking(copy.deepcopy(messages)), thinking={"type": "disabled"}).content
        with pytest.raises(anthropic.BadRequestError, match="Invalid `signature` in `thinking` block"):
            think(client, _tampered(copy.deepcopy(messages)), thinking={"type": "disabled"})
    # Another server did not issue this signature.
    with (
        AnthropicServer(responder=calls_weather_then_answers) as other,
        anthropic_client(other) as client,
        pytest.raises(anthropic.BadRequestError, match="messages.1.content.0: Invalid `signature`"),
    ):
        think(client, messages, tools=[WEATHER_TOOL])


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"thinking": {"type": "enabled", "budget_tokens": 1000}},
            "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024",
        ),
        (
            {"max_tokens": 1024},
            (
                "`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our documentation at "
                f"{THINKING_DOCS}#max-tokens-and-context-window-size"
            ),
        ),
        (
            {"temperature": 0.5},
            (
                "`temperature` may only be set to 1 when thinking is enabled. Please consult our documentation at "
                f"{THINKING_DOCS}#important-considerations-when-using-extended-thinking"
            ),
        ),
        (
            {"top_k": 5},
            (
                "`top_k` must be unset when thinking is enabled. Please consult our documentation at "
                f"{THINKING_DOCS}#important-considerations-when-using-extended-thinking"
            ),
        ),
        (
            {"tools": [WEATHER_TOOL], "tool_choice": {"type": "any"}},
            "Thinking may not be enabled when tool_choice forces tool use.",
        ),
    ],
    ids=["budget_1000", "max_tokens_not_over_budget", "temperature_0.5", "top_k", "forced_tool_use"],
)
def test_anthropic_thinking_config_refusals(
    anthropic_server: AnthropicServer, options: dict[str, Any], message: str
) -> None:
    with anthropic_client(anthropic_server) as client, pytest.raises(anthropic.BadRequestError) as caught:
        think(client, [{"role": "user", "content": PROMPT}], **options)
    assert caught.value.body["error"] == {"type": "invalid_request_error", "message": message}


def test_anthropic_thinking_temperature_1_is_accepted(anthropic_server: AnthropicServer) -> None:
    with anthropic_client(anthropic_server) as client:
        assert think(client, [{"role": "user", "content": PROMPT}], temperature=1).content


def test_anthropic_redacted_thinking_round_trips(anthropic_server: AnthropicServer) -> None:
    question: Any = {"role": "user", "content": f"{PROMPT} {REDACTED_TRIGGER}"}
    with anthropic_client(anthropic_server) as client:
        message = think(client, [question])
        with client.messages.stream(
            model="claude-loopback-1", max_tokens=THINKING_MAX_TOKENS, thinking=THINKING, messages=[question]
        ) as stream:
            events = list(stream)
            streamed = stream.get_final_message()
        thinking, redacted, text = message.content
        assert isinstance(thinking, anthropic.types.ThinkingBlock)
        assert isinstance(redacted, anthropic.types.RedactedThinkingBlock) and redacted.data
        assert isinstance(text, anthropic.types.TextBlock)
        assert [block.model_dump() for block in streamed.content] == [block.model_dump() for block in message.content]
        # The redacted block streams whole in its start, then its stop.
        at_1 = [event for event in events if event.type.startswith("content_block") and event.index == 1]
        assert [event.type for event in at_1] == ["content_block_start", "content_block_stop"]
        assert at_1[0].content_block.model_dump() == {"type": "redacted_thinking", "data": redacted.data}
        assistant: Any = {"role": "assistant", "content": message.content}
        follow_up: Any = {"role": "user", "content": "go on"}
        assert think(client, [question, assistant, follow_up]).content
        forged: Any = {
            "role": "assistant",
            "content": [thinking.model_dump(), {"type": "redacted_thinking", "data": "RW1vcmU="}, text.model_dump()],
        }
        with pytest.raises(anthropic.BadRequestError) as caught:
            think(client, [question, forged, follow_up])
    assert caught.value.body["error"]["message"] == "messages.1.content.1: Invalid `data` in `redacted_thinking` block"


# Gemini.


def test_gemini_request_is_recorded(gemini_server: GeminiServer) -> None:
    config = genai_types.GenerateContentConfig(system_instruction="be brief", max_output_tokens=64)
    with gemini_client(gemini_server) as client:
        response = client.models.generate_content(model="gemini-2.5-flash", contents=PROMPT, config=config)
    assert response.usage_metadata and response.usage_metadata.prompt_token_count == 2 + PROMPT_TOKENS
    assert response.model_version == "gemini-2.5-flash"
    request = gemini_server.requests[0]
    assert request.path == "/v1/models/gemini-2.5-flash:generateContent"  # google-genai 3.x defaults to v1
    assert request.headers["x-goog-api-key"] == gemini_server.api_key
    assert request.json["contents"] == [{"role": "user", "parts": [{"text": PROMPT}]}]
    assert request.json["generationConfig"] == {"maxOutputTokens": 64}


def test_gemini_v1beta_and_stream_path(gemini_server: GeminiServer) -> None:
    client = genai.Client(
        api_key=gemini_server.api_key, http_options=gemini_options(gemini_server, api_version="v1beta")
    )
    try:
        chunks = list(client.models.generate_content_stream(model="gemini-2.5-flash", contents=PROMPT))
    finally:
        client.close()
    assert "".join(chunk.text or "" for chunk in chunks) == "".join(PIECES)
    assert gemini_server.requests[0].path == "/v1beta/models/gemini-2.5-flash:streamGenerateContent"
    assert gemini_server.requests[0].query == {"alt": "sse"}


def test_gemini_key_in_query_and_max_tokens(gemini_server: GeminiServer) -> None:
    body = {"contents": [{"role": "user", "parts": [{"text": PROMPT}]}], "generationConfig": {"maxOutputTokens": 2}}
    url = f"{gemini_server.base_url}/v1beta/models/gemini-2.5-flash:generateContent"
    response = httpx.post(url, params={"key": gemini_server.api_key}, json=body, timeout=TIMEOUT_S)
    assert response.status_code == 200
    parsed = genai_types.GenerateContentResponse.model_validate(response.json())
    assert parsed.text == "echo: hello "
    assert parsed.candidates and parsed.candidates[0].finish_reason == genai_types.FinishReason.MAX_TOKENS


def test_gemini_wrong_key_is_400_api_key_invalid(gemini_server: GeminiServer) -> None:
    with (
        gemini_client(gemini_server, api_key="AIza-wrong") as client,
        pytest.raises(genai_errors.ClientError) as caught,
    ):
        client.models.generate_content(model="gemini-2.5-flash", contents=PROMPT)
    assert (caught.value.code, caught.value.status) == (400, "INVALID_ARGUMENT")
    assert caught.value.details["error"]["details"][0]["reason"] == "API_KEY_INVALID"


@pytest.mark.parametrize(
    ("fault", "error", "status"),
    [
        (Fault.status(429, retry_after_s=2), genai_errors.ClientError, "RESOURCE_EXHAUSTED"),
        (Fault.quota(), genai_errors.ClientError, "RESOURCE_EXHAUSTED"),
        (Fault.status(500), genai_errors.ServerError, "INTERNAL"),
        (Fault.status(503), genai_errors.ServerError, "UNAVAILABLE"),
        (
            Fault.context_length(prompt_tokens=1_048_600, limit_tokens=1_048_576),
            genai_errors.ClientError,
            "INVALID_ARGUMENT",
        ),
    ],
    ids=["429", "quota", "500", "503", "context_length"],
)
def test_gemini_status_errors(
    gemini_server: GeminiServer, fault: Fault, error: type[genai_errors.APIError], status: str
) -> None:
    gemini_server.faults.push(fault)
    with gemini_client(gemini_server) as client, pytest.raises(error) as caught:
        client.models.generate_content(model="gemini-2.5-flash", contents=PROMPT)
    assert caught.value.status == status
    if fault.retry_after_s is not None:
        assert caught.value.response.headers["retry-after"] == "2"
        assert caught.value.details["error"]["details"][0]["retryDelay"] == "2s"
    if fault.prompt_tokens:
        assert caught.value.message == (
            "The input token count (1048600) exceeds the maximum number of tokens allowed (1048576)."
        )


def test_gemini_in_stream_error_raises_server_error(gemini_server: GeminiServer) -> None:
    gemini_server.faults.push(Fault.stream_error(2))
    received: list[str] = []
    with pytest.raises(genai_errors.ServerError) as caught:
        gemini_stream(gemini_server, TIMEOUT_S, received)
    assert received == PIECES[:2]
    assert (caught.value.code, caught.value.status) == (503, "UNAVAILABLE")


def test_gemini_malformed_stream_event(gemini_server: GeminiServer) -> None:
    gemini_server.faults.push(Fault.malformed_json())
    with pytest.raises(genai_errors.UnknownApiResponseError):
        gemini_stream(gemini_server, TIMEOUT_S, [])


# Gemini 3's thought signatures.

GEMINI_MODEL = "gemini-3-flash-preview"
SKIP_SIGNATURE = "skip_thought_signature_validator"  # Google's documented dummy, as it goes on the wire
PARIS_CALL = ("fc_paris", "get_weather", {"city": "Paris"})
ROME_CALL = ("fc_rome", "get_weather", {"city": "Rome"})


def missing_signature(name: str, position: int) -> str:
    return (
        "Function call is missing a thought_signature in functionCall parts. This is required for tools to work "
        "correctly, and missing thought_signature may lead to degraded model performance. Additional data, "
        f"function call `default_api:{name}` , position {position}. Please refer to "
        "https://ai.google.dev/gemini-api/docs/thought-signatures for more details."
    )


def calls_paris_and_rome_then_answers(request: Request) -> str | ToolCallReply:
    """Calls the tool twice in parallel on a user's question, answers once the results are back."""
    last = request.json["contents"][-1]
    if any("functionResponse" in part for part in last["parts"]):
        return "sunny in both"
    return ToolCallReply(calls=(PARIS_CALL, ROME_CALL), preface="Looking.")


def signed_turn(client: genai.Client) -> tuple[genai_types.Content, list[genai_types.Content]]:
    """The model's answer calling the tool twice, and the conversation that sends the results back
    with the model turn as the SDK gave it."""
    question = genai_types.Content(role="user", parts=[genai_types.Part(text="weather in Paris and Rome?")])
    response = client.models.generate_content(model=GEMINI_MODEL, contents=[question])
    assert response.candidates and response.candidates[0].content
    model_turn = response.candidates[0].content
    results = genai_types.Content(
        role="user",
        parts=[
            genai_types.Part.from_function_response(name="get_weather", response={"sky": "sunny"}),
            genai_types.Part.from_function_response(name="get_weather", response={"sky": "sunny"}),
        ],
    )
    return model_turn, [question, model_turn, results]


def with_signature(conversation: list[genai_types.Content], signature: bytes | None) -> list[genai_types.Content]:
    """The conversation with its model turn's first call signed by `signature` (None: unsigned)."""
    model_turn = conversation[1].model_copy(deep=True)
    assert model_turn.parts
    model_turn.parts[1].thought_signature = signature
    return [conversation[0], model_turn, conversation[2]]


def test_gemini_answer_signs_its_first_function_call_only() -> None:
    with (
        GeminiServer(responder=calls_paris_and_rome_then_answers) as server,
        gemini_client(server) as client,
    ):
        model_turn, conversation = signed_turn(client)
        again = client.models.generate_content(model=GEMINI_MODEL, contents=conversation[:1])
        chunks = list(client.models.generate_content_stream(model=GEMINI_MODEL, contents=conversation[:1]))
    assert model_turn.parts
    text, paris, rome = model_turn.parts
    assert (text.text, text.thought_signature) == ("Looking.", None)
    assert paris.function_call and (paris.function_call.id, paris.function_call.args) == ("fc_paris", PARIS_CALL[2])
    assert isinstance(paris.thought_signature, bytes) and len(paris.thought_signature) == 32  # an HMAC-SHA256
    assert rome.function_call and rome.function_call.name == "get_weather"
    assert rome.thought_signature is None  # parallel calls: Gemini signs the first only
    # The same answer, the same signature; in a stream, on the part carrying the first call.
    assert again.candidates and again.candidates[0].content and again.candidates[0].content.parts
    assert again.candidates[0].content.parts[1].thought_signature == paris.thought_signature
    call_parts = [
        part
        for chunk in chunks
        for candidate in chunk.candidates or []
        for part in (candidate.content.parts if candidate.content else None) or []
        if part.function_call
    ]
    assert [part.function_call.id for part in call_parts if part.function_call] == ["fc_paris", "fc_rome"]
    assert [part.thought_signature for part in call_parts] == [paris.thought_signature, None]
    assert server.thought_signatures_seen == {}  # no model turn came back yet


def test_gemini_signed_turn_sent_back_is_accepted_and_counted_issued() -> None:
    with (
        GeminiServer(responder=calls_paris_and_rome_then_answers) as server,
        gemini_client(server) as client,
    ):
        model_turn, conversation = signed_turn(client)
        answer = client.models.generate_content(model=GEMINI_MODEL, contents=conversation)
        streamed = list(client.models.generate_content_stream(model=GEMINI_MODEL, contents=conversation))
        sent = server.requests[1].json["contents"][1]["parts"]
    assert answer.text == "sunny in both"
    assert "".join(chunk.text or "" for chunk in streamed) == "sunny in both"
    # The SDK sends the bytes back as URL-safe base64 on the first call's part only.
    assert [sorted(part) for part in sent] == [["text"], ["functionCall", "thoughtSignature"], ["functionCall"]]
    assert model_turn.parts and model_turn.parts[1].thought_signature
    assert sent[1]["thoughtSignature"] == base64.urlsafe_b64encode(model_turn.parts[1].thought_signature).decode()
    assert server.thought_signatures_seen == {"issued": 2}  # one model turn in each of two requests


def test_gemini_dummy_signature_is_accepted_and_counted_dummy() -> None:
    with (
        GeminiServer(responder=calls_paris_and_rome_then_answers) as server,
        gemini_client(server) as client,
    ):
        _, conversation = signed_turn(client)
        # The SDK base64-encodes the bytes: these are the ones whose URL-safe base64 is the dummy.
        dummy = base64.urlsafe_b64decode(SKIP_SIGNATURE)
        answer = client.models.generate_content(model=GEMINI_MODEL, contents=with_signature(conversation, dummy))
        sent = server.requests[1].json["contents"][1]["parts"][1]
        # The literal string on the wire, as the router sends it, is the same dummy.
        body = {
            "contents": [
                {"role": "user", "parts": [{"text": "weather?"}]},
                {
                    "role": "model",
                    "parts": [
                        {"functionCall": {"name": "get_weather", "args": {}}, "thoughtSignature": SKIP_SIGNATURE},
                        {"functionCall": {"name": "get_weather", "args": {}}},
                    ],
                },
                {"role": "user", "parts": [{"functionResponse": {"name": "get_weather", "response": {}}}]},
            ]
        }
        url = f"{server.base_url}/v1beta/models/{GEMINI_MODEL}:generateContent"
        raw = httpx.post(url, params={"key": server.api_key}, json=body, timeout=TIMEOUT_S)
    assert answer.text == "sunny in both"
    assert sent["thoughtSignature"] == SKIP_SIGNATURE
    assert raw.status_code == 200
    assert server.thought_signatures_seen == {"dummy": 2}


def test_gemini_unsigned_function_call_is_refused() -> None:
    with (
        GeminiServer(responder=calls_paris_and_rome_then_answers) as server,
        gemini_client(server) as client,
    ):
        _, conversation = signed_turn(client)
        with pytest.raises(genai_errors.ClientError) as caught:
            client.models.generate_content(model=GEMINI_MODEL, contents=with_signature(conversation, None))
        # Every model turn with calls is checked, here the earlier of two (contents[1]: position 2).
        later_turn = genai_types.Content(
            role="model", parts=[genai_types.Part(function_call=genai_types.FunctionCall(name="get_time", args={}))]
        )
        unsigned_then_signed = [*with_signature(conversation, None), later_turn, conversation[2]]
        with pytest.raises(genai_errors.ClientError) as earlier:
            client.models.generate_content(model=GEMINI_MODEL, contents=unsigned_then_signed)
        only_later = [*conversation, later_turn, conversation[2]]
        with pytest.raises(genai_errors.ClientError) as later:
            client.models.generate_content(model=GEMINI_MODEL, contents=only_later)
    assert (caught.value.code, caught.value.status) == (400, "INVALID_ARGUMENT")
    assert caught.value.message == missing_signature("get_weather", 2)
    assert caught.value.details == {
        "error": {"code": 400, "message": missing_signature("get_weather", 2), "status": "INVALID_ARGUMENT"}
    }
    assert earlier.value.message == missing_signature("get_weather", 2)
    assert later.value.message == missing_signature("get_time", 4)
    assert server.thought_signatures_seen == {}  # refused requests count nothing


def _flipped(signature: bytes) -> bytes:
    return bytes([signature[0] ^ 1]) + signature[1:]


@pytest.mark.parametrize(
    "corrupt",
    [
        pytest.param(_flipped, id="flipped_bit"),
        pytest.param(lambda signature: signature[:-1], id="truncated"),
        # The SDK base64-encodes these bytes: the API does not take that for the dummy.
        pytest.param(lambda signature: SKIP_SIGNATURE.encode(), id="dummy_as_bytes"),
    ],
)
def test_gemini_corrupted_signature_is_refused(corrupt: Callable[[bytes], bytes]) -> None:
    with (
        GeminiServer(responder=calls_paris_and_rome_then_answers) as server,
        gemini_client(server) as client,
    ):
        model_turn, conversation = signed_turn(client)
        assert model_turn.parts and model_turn.parts[1].thought_signature
        corrupted = with_signature(conversation, corrupt(model_turn.parts[1].thought_signature))
        with pytest.raises(genai_errors.ClientError) as caught:
            client.models.generate_content(model=GEMINI_MODEL, contents=corrupted)
    assert (caught.value.code, caught.value.status, caught.value.message) == (
        400,
        "INVALID_ARGUMENT",
        "Corrupted thought signature.",
    )
    assert server.thought_signatures_seen == {}


def test_gemini_signature_is_per_server_and_per_call() -> None:
    with (
        GeminiServer(responder=calls_paris_and_rome_then_answers) as server,
        GeminiServer(responder=calls_paris_and_rome_then_answers) as other,
        gemini_client(server) as client,
        gemini_client(other) as other_client,
    ):
        _, conversation = signed_turn(client)
        with pytest.raises(genai_errors.ClientError) as elsewhere:
            other_client.models.generate_content(model=GEMINI_MODEL, contents=conversation)
        # The signature binds the call's name and arguments: moved to the second call, or the
        # first call's arguments changed, it is not this server's any more.
        moved = conversation[1].model_copy(deep=True)
        assert moved.parts
        moved.parts[2].thought_signature = moved.parts[1].thought_signature
        moved.parts[1].thought_signature = base64.urlsafe_b64decode(SKIP_SIGNATURE)
        with pytest.raises(genai_errors.ClientError) as on_second:
            client.models.generate_content(model=GEMINI_MODEL, contents=[conversation[0], moved, conversation[2]])
        changed = conversation[1].model_copy(deep=True)
        assert changed.parts and changed.parts[1].function_call
        changed.parts[1].function_call.args = {"city": "Lyon"}
        with pytest.raises(genai_errors.ClientError) as other_args:
            client.models.generate_content(model=GEMINI_MODEL, contents=[conversation[0], changed, conversation[2]])
    assert [error.value.message for error in (elsewhere, on_second, other_args)] == ["Corrupted thought signature."] * 3
    assert server.thought_signatures_seen == other.thought_signatures_seen == {}


# Cohere.


def test_cohere_stream_event_names_match_types(cohere_server: CohereServer) -> None:
    with cohere_client(cohere_server) as client:
        events = list(
            client.chat_stream(model="command-a-03-2025", messages=[cohere.UserChatMessageV2(content=PROMPT)])
        )
    assert [event.type for event in events] == [
        "message-start",
        "content-start",
        *["content-delta"] * len(PIECES),
        "content-end",
        "message-end",
    ]
    request = cohere_server.requests[0]
    assert request.headers["authorization"] == f"Bearer {cohere_server.api_key}"
    assert request.json["stream"] is True


def test_cohere_bad_key_is_unauthorized(cohere_server: CohereServer) -> None:
    with cohere_client(cohere_server, api_key="co-wrong") as client, pytest.raises(cohere.UnauthorizedError) as caught:
        client.chat(model="command-a-03-2025", messages=[cohere.UserChatMessageV2(content=PROMPT)])
    assert caught.value.body["message"] == "invalid api token"


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        (Fault.status(429, retry_after_s=2), cohere.TooManyRequestsError),
        (Fault.status(500), cohere.InternalServerError),
        (Fault.status(503), cohere.ServiceUnavailableError),
        (Fault.context_length(), cohere.BadRequestError),
    ],
    ids=["429", "500", "503", "context_length"],
)
def test_cohere_status_errors(cohere_server: CohereServer, fault: Fault, error: type[CohereApiError]) -> None:
    cohere_server.faults.push(fault)
    with cohere_client(cohere_server) as client, pytest.raises(error) as caught:
        client.chat(model="command-a-03-2025", messages=[cohere.UserChatMessageV2(content=PROMPT)])
    assert isinstance(caught.value.body, dict) and caught.value.body["message"]
    if fault.retry_after_s is not None:
        assert caught.value.headers is not None and caught.value.headers["retry-after"] == "2"


def test_cohere_in_stream_error_is_a_message_end_not_an_exception(cohere_server: CohereServer) -> None:
    cohere_server.faults.push(Fault.stream_error(2))
    received: list[str] = []
    answer = cohere_stream(cohere_server, TIMEOUT_S, received)
    assert received == PIECES[:2]
    assert answer.finish == "ERROR"


def test_cohere_skips_a_malformed_stream_event(cohere_server: CohereServer, caplog: pytest.LogCaptureFixture) -> None:
    cohere_server.faults.push(Fault.malformed_json())
    received: list[str] = []
    answer = cohere_stream(cohere_server, TIMEOUT_S, received)
    # The SDK logs a warning and goes on: the bad event is lost without an error.
    assert received == PIECES
    assert answer.finish == "COMPLETE"
    assert "Failed to parse SSE data" in caplog.text


# The framework.


def test_faults_apply_in_order_one_per_request(openai_server: OpenAIServer) -> None:
    openai_server.faults.push(Fault.status(503), Fault.status(502))
    assert openai_server.faults.pending == 2
    with openai_client(openai_server) as client:
        statuses = []
        for _ in range(3):
            try:
                client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": PROMPT}])
                statuses.append(200)
            except openai.APIStatusError as error:
                statuses.append(error.status_code)
    assert statuses == [503, 502, 200]
    assert [request.fault for request in openai_server.requests] == [Fault.status(503), Fault.status(502), None]
    assert openai_server.faults.pending == 0


def _chaos_run(seed: int) -> list[Fault | None]:
    with OpenAIServer() as server, openai_client(server) as client:
        server.faults.chaos([Fault.status(503), Fault.reset()], rate=0.5, seed=seed)
        failures = 0
        for _ in range(12):
            try:
                client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": PROMPT}])
            except (openai.InternalServerError, openai.APIConnectionError):
                failures += 1
        faults = [request.fault for request in server.requests]
    assert failures == sum(fault is not None for fault in faults)
    return faults


def test_chaos_mode_is_seeded() -> None:
    first = _chaos_run(seed=7)
    assert first == _chaos_run(seed=7)
    assert {Fault.status(503), Fault.reset(), None} == set(first)


def test_close_ends_a_hanging_request_and_joins_the_thread() -> None:
    server = OpenAIServer()
    server.faults.push(Fault.hang())
    outcome: list[BaseException] = []

    def call() -> None:
        try:
            openai_complete(server, 30.0)
        except BaseException as error:  # noqa: BLE001 - handed to the test thread
            outcome.append(error)

    caller = threading.Thread(target=call)
    caller.start()
    assert server.wait_requests(1)
    server.close()
    caller.join(TIMEOUT_S)
    assert not caller.is_alive()
    # The server gave up on the connection: a connection error, not the client's 30 s timeout.
    assert len(outcome) == 1
    assert type(outcome[0]) is openai.APIConnectionError
    assert not [thread for thread in threading.enumerate() if thread.name.startswith("loopback-")]
    server.close()  # closing twice is harmless
