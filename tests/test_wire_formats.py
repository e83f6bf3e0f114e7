"""The providers' wire formats: requests as the official SDKs send them, responses and stream
events as the APIs send them (built with the SDKs' own types), errors mapped into our hierarchy,
and nothing but ``ProviderError`` (and never a key) coming out of garbage.

The SDKs are test-only dependencies; the SDK-based tests are skipped without them. Where an SDK
is used to send a request, it sends it to an ``httpx.MockTransport`` that only records it.
"""

from __future__ import annotations

import email.utils
import importlib
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from trinity_hybrid import (
    ClientRequestError,
    ContextLengthExceededError,
    CredentialError,
    InvalidInputError,
    ProviderError,
    QuotaExhaustedError,
    RateLimitedError,
    Secret,
    TransientError,
)
from trinity_hybrid.providers import (
    DEFAULT_BASE_URLS,
    WIRE_FORMATS,
    ChatRequest,
    Choice,
    Completion,
    Endpoint,
    Message,
    StreamDelta,
    ThinkingBlock,
    Usage,
    WireFormat,
    _retry_after,
    anthropic,
    cohere,
    gemini,
    normalize_messages,
    openai_compatible,
)

# A plain text request: what the answer-reading tests read answers to.
PLAIN = ChatRequest.of("Hi")
KEYS = {
    "openai": "sk-proj-TESTKEY0123456789abcdefghijklmnopqrstuvwxyz",
    "anthropic": "sk-ant-api03-TESTKEY0123456789abcdefghijklmnop",
    "google": "AIzaSyTESTKEY0123456789abcdefghijklmno",
    "groq": "gsk_TESTKEY0123456789abcdefghijklmnopqrstuvwx",
    "zhipu": "0123456789abcdef0123456789abcdef.TESTKEYzhipu01",
    "deepseek": "sk-TESTKEY0123456789abcdef0123456789",
    "kimi": "sk-TESTKEYmoonshot0123456789abcdefghijklmnopqrst",
    "nvidia": "nvapi-TESTKEY0123456789abcdefghijklmnopqrstuvwxyz",
    "cohere": "TESTKEYcohere0123456789abcdefghijklmnopq",
    "mistral": "TESTKEYmistral0123456789abcdefgh",
}
MODELS = {
    "openai": "gpt-4o",
    "anthropic": "claude-sonnet-4-20250514",
    "google": "gemini-2.5-flash",
    "cohere": "command-a-03-2025",
}
CONVERSATION = [
    {"role": "system", "content": "Answer briefly."},
    {"role": "user", "content": "What is 2+2?"},
    {"role": "assistant", "content": "4."},
    {"role": "user", "content": "And 3+3?"},
]


def endpoint(provider: str, *, api_version: str | None = None, model: str | None = None) -> Endpoint:
    return Endpoint(
        provider=provider,
        base_url=DEFAULT_BASE_URLS[provider],
        model=model or MODELS.get(provider, "some-model"),
        key=Secret(KEYS[provider]),
        api_version=api_version,
    )


def wire(provider: str) -> WireFormat:
    return WIRE_FORMATS[provider]


def feed_all(parser: Any, events: list[tuple[str, str]]) -> list[StreamDelta]:
    return [delta for event, data in events for delta in parser.feed(event, data)]


def joined(deltas: list[StreamDelta]) -> str:
    return "".join(delta.text for delta in deltas)


def body(document: object) -> bytes:
    return json.dumps(document).encode()


# ----------------------------------------------------------------------------------------------
# Messages and requests.


def test_a_string_prompt_is_one_user_message() -> None:
    assert normalize_messages("Hi") == (Message("user", "Hi"),)


def test_messages_are_copied_with_text_parts_joined() -> None:
    messages = normalize_messages(
        [
            {"role": "system", "content": "Be kind."},
            {"role": "user", "name": "ann", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
        ]
    )
    assert messages == (Message("system", "Be kind."), Message("user", "a\nb", name="ann"))


@pytest.mark.parametrize(
    ("prompt", "wording"),
    [
        (b"bytes", "str or a sequence"),
        ({"role": "user", "content": "x"}, "str or a sequence"),
        (42, "str or a sequence"),
        ([], "at least one user or assistant"),
        ([{"role": "system", "content": "only"}], "at least one user or assistant"),
        (["hi"], "messages[0] must be an object"),
        ([{"role": "tool", "content": "x"}], "messages[0]: a tool message needs tool_call_id"),
        ([{"content": "x"}], "messages[0].role"),
        ([{"role": "user", "content": None}], "messages[0].content"),
        ([{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}], "an http.s. URL or a data: URL"),
    ],
)
def test_bad_prompts_are_refused_clearly(prompt: object, wording: str) -> None:
    with pytest.raises(InvalidInputError, match=wording.replace("[", r"\[").replace("]", r"\]")):
        normalize_messages(prompt)


@pytest.mark.parametrize(
    "changes",
    [
        {"max_tokens": 0},
        {"max_tokens": True},
        {"max_tokens": 1.5},
        {"temperature": -1},
        {"temperature": float("nan")},
        {"stream": "yes"},
    ],
)
def test_chat_request_refuses_bad_settings(changes: dict[str, Any]) -> None:
    with pytest.raises(InvalidInputError):
        ChatRequest.from_prompt("hi", **changes)


def test_every_provider_has_a_wire_format_and_a_base_url() -> None:
    assert set(WIRE_FORMATS) == set(DEFAULT_BASE_URLS) == set(KEYS)


@pytest.mark.parametrize("provider", sorted(KEYS))
def test_request_repr_masks_the_key(provider: str) -> None:
    request = wire(provider).build_request(endpoint(provider), ChatRequest.from_prompt(CONVERSATION, stream=True))
    key = KEYS[provider]
    assert key in json.dumps(request.headers)  # it is sent...
    shown = repr(request) + str(request)
    assert key not in shown  # ...but never shown
    assert key[:8] + "***" in shown


def test_requests_without_a_key_send_no_credentials() -> None:
    for provider in KEYS:
        unkeyed = Endpoint(provider, "http://127.0.0.1:8000/v1", "m", key=None)
        headers = {name.lower() for name in wire(provider).build_request(unkeyed, ChatRequest.from_prompt("x")).headers}
        assert not headers & {"authorization", "x-api-key", "x-goog-api-key"}


def test_anthropic_request_pulls_out_system_and_merges_roles() -> None:
    messages = [
        {"role": "system", "content": "One."},
        {"role": "user", "content": "a"},
        {"role": "system", "content": "Two."},
        {"role": "user", "content": "b"},
        {"role": "assistant", "content": "c"},
    ]
    request = anthropic.WIRE_FORMAT.build_request(endpoint("anthropic"), ChatRequest.from_prompt(messages))
    assert request.url == "https://api.anthropic.com/v1/messages"
    assert request.headers["x-api-key"] == KEYS["anthropic"]
    assert request.headers["anthropic-version"] == "2023-06-01"
    assert request.json == {
        "model": MODELS["anthropic"],
        "max_tokens": anthropic.DEFAULT_MAX_TOKENS,
        "system": "One.\n\nTwo.",
        "messages": [{"role": "user", "content": "a\n\nb"}, {"role": "assistant", "content": "c"}],
    }


def test_anthropic_sends_temperature_only_under_the_version_that_takes_it() -> None:
    request = ChatRequest.from_prompt("x", temperature=0.2)
    assert anthropic.WIRE_FORMAT.build_request(endpoint("anthropic"), request).json["temperature"] == 0.2
    newer = anthropic.WIRE_FORMAT.build_request(endpoint("anthropic", api_version="2026-10-21"), request)
    assert "temperature" not in newer.json
    assert newer.headers["anthropic-version"] == "2026-10-21"


def test_gemini_request_maps_roles_and_config() -> None:
    request = gemini.WIRE_FORMAT.build_request(
        endpoint("google", model="models/gemini-2.5-pro"),
        ChatRequest.from_prompt(CONVERSATION, max_tokens=7, stream=True),
    )
    assert (
        request.url
        == "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse"
    )
    assert request.headers["x-goog-api-key"] == KEYS["google"]
    assert KEYS["google"] not in request.url
    assert [content["role"] for content in request.json["contents"]] == ["user", "model", "user"]
    assert request.json["generationConfig"] == {"maxOutputTokens": 7}


@pytest.mark.parametrize(
    ("provider", "url"),
    [
        ("groq", "https://api.groq.com/openai/v1/chat/completions"),
        ("zhipu", "https://open.bigmodel.cn/api/paas/v4/chat/completions"),
        ("deepseek", "https://api.deepseek.com/v1/chat/completions"),
        ("kimi", "https://api.moonshot.ai/v1/chat/completions"),
        ("nvidia", "https://integrate.api.nvidia.com/v1/chat/completions"),
        ("mistral", "https://api.mistral.ai/v1/chat/completions"),
        ("cohere", "https://api.cohere.com/v2/chat"),
    ],
)
def test_urls(provider: str, url: str) -> None:
    assert wire(provider).build_request(endpoint(provider), ChatRequest.from_prompt("x")).url == url


def test_openai_compatible_quirks() -> None:
    request = ChatRequest.from_prompt("x", max_tokens=9, stream=True)
    openai_body = openai_compatible.WIRE_FORMAT.build_request(endpoint("openai"), request).json
    assert openai_body["max_completion_tokens"] == 9 and "max_tokens" not in openai_body
    assert openai_body["stream_options"] == {"include_usage": True}
    mistral_body = openai_compatible.WIRE_FORMAT.build_request(endpoint("mistral"), request).json
    assert mistral_body["max_tokens"] == 9 and "stream_options" not in mistral_body  # Mistral: 422 extra_forbidden


# ----------------------------------------------------------------------------------------------
# Requests against what the official SDKs send.


def _sdk_http(module_name: str) -> Any:
    """The HTTP library an SDK is built on (httpx, or httpx2 in the newest Stainless SDKs)."""
    base_client = importlib.import_module(f"{module_name}._base_client")
    return getattr(base_client, "httpx2", None) or base_client.httpx


def _capture(http: Any, status: int, answer: dict[str, Any]) -> tuple[Any, list[Any]]:
    sent: list[Any] = []

    def handler(request: Any) -> Any:
        sent.append(request)
        return http.Response(status, json=answer)

    return http.Client(transport=http.MockTransport(handler)), sent


def _sent_json(request: Any) -> Any:
    return json.loads(request.content)


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("provider", ["openai", "groq"])
def test_openai_compatible_request_matches_the_openai_sdk(provider: str, stream: bool) -> None:
    openai = pytest.importorskip("openai")
    http = _sdk_http("openai")
    client_http, sent = _capture(http, 400, {"error": {"message": "stop here"}})
    client = openai.OpenAI(
        api_key=KEYS[provider], base_url=DEFAULT_BASE_URLS[provider], http_client=client_http, max_retries=0
    )
    tokens = {"max_completion_tokens": 50} if provider == "openai" else {"max_tokens": 50}
    extra = {"stream": True, "stream_options": {"include_usage": True}} if stream else {}
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="m", messages=CONVERSATION, temperature=0.3, **tokens, **extra)  # type: ignore[call-overload]
    ours = wire(provider).build_request(
        endpoint(provider, model="m"),
        ChatRequest.from_prompt(CONVERSATION, max_tokens=50, temperature=0.3, stream=stream),
    )
    assert ours.method == sent[0].method
    assert ours.url == str(sent[0].url)
    assert ours.json == _sent_json(sent[0])
    assert ours.headers["Authorization"] == sent[0].headers["authorization"]


@pytest.mark.parametrize("stream", [False, True])
def test_anthropic_request_matches_the_anthropic_sdk(stream: bool) -> None:
    anthropic_sdk = pytest.importorskip("anthropic")
    http = _sdk_http("anthropic")
    client_http, sent = _capture(
        http, 400, {"type": "error", "error": {"type": "invalid_request_error", "message": "stop"}}
    )
    client = anthropic_sdk.Anthropic(
        api_key=KEYS["anthropic"], base_url=DEFAULT_BASE_URLS["anthropic"], http_client=client_http, max_retries=0
    )
    with pytest.raises(anthropic_sdk.BadRequestError):
        client.messages.create(
            model="claude-x",
            max_tokens=64,
            system="Answer briefly.",
            messages=CONVERSATION[1:],
            **({"stream": True} if stream else {}),
        )
    sdk_version = sent[0].headers["anthropic-version"]
    ours = anthropic.WIRE_FORMAT.build_request(
        endpoint("anthropic", api_version=sdk_version, model="claude-x"),
        ChatRequest.from_prompt(CONVERSATION, max_tokens=64, stream=stream),
    )
    assert ours.url == str(sent[0].url)
    assert ours.json == _sent_json(sent[0])
    assert ours.headers["anthropic-version"] == sdk_version
    # SDK 2.x sends the key as a bearer token; we send x-api-key, which every API version takes.
    key = KEYS["anthropic"]
    assert sent[0].headers.get("x-api-key") == key or sent[0].headers.get("authorization") == f"Bearer {key}"
    assert ours.headers["x-api-key"] == key


def test_anthropic_request_validates_as_the_sdk_message_params() -> None:
    pytest.importorskip("anthropic")
    from anthropic.types import message_create_params

    hints = message_create_params.MessageCreateParamsNonStreaming.__annotations__
    keys = set(message_create_params.MessageCreateParamsBase.__annotations__) | set(hints)
    ours = anthropic.WIRE_FORMAT.build_request(
        endpoint("anthropic", api_version="2026-10-21"), ChatRequest.from_prompt(CONVERSATION, temperature=0.5)
    )
    assert set(ours.json) <= keys


@pytest.mark.parametrize("stream", [False, True])
def test_gemini_request_matches_the_google_genai_sdk(stream: bool) -> None:
    genai = pytest.importorskip("google.genai")
    import httpx
    from google.genai import errors, types

    client_http, sent = _capture(httpx, 400, {"error": {"code": 400, "message": "stop", "status": "INVALID_ARGUMENT"}})
    client = genai.Client(
        api_key=KEYS["google"],
        http_options=types.HttpOptions(
            base_url=DEFAULT_BASE_URLS["google"], api_version="v1beta", httpx_client=client_http
        ),
    )
    contents = [
        types.Content(role="user", parts=[types.Part(text="What is 2+2?"), types.Part(text="Quickly.")]),
        types.Content(role="model", parts=[types.Part(text="4.")]),
        types.Content(role="user", parts=[types.Part(text="And 3+3?")]),
    ]
    config = types.GenerateContentConfig(system_instruction="Answer briefly.", max_output_tokens=64, temperature=0.3)
    with pytest.raises(errors.ClientError):
        if stream:
            list(client.models.generate_content_stream(model="gemini-2.5-flash", contents=contents, config=config))
        else:
            client.models.generate_content(model="gemini-2.5-flash", contents=contents, config=config)
    messages = [
        {"role": "system", "content": "Answer briefly."},
        {"role": "user", "content": "What is 2+2?"},
        {"role": "user", "content": "Quickly."},
        {"role": "assistant", "content": "4."},
        {"role": "user", "content": "And 3+3?"},
    ]
    ours = gemini.WIRE_FORMAT.build_request(
        endpoint("google"), ChatRequest.from_prompt(messages, max_tokens=64, temperature=0.3, stream=stream)
    )
    assert ours.url == str(sent[0].url)
    assert ours.json == _sent_json(sent[0])
    assert ours.headers["x-goog-api-key"] == sent[0].headers["x-goog-api-key"]


@pytest.mark.parametrize("stream", [False, True])
def test_cohere_request_matches_the_cohere_sdk(stream: bool) -> None:
    cohere_sdk = pytest.importorskip("cohere")
    import httpx

    client_http, sent = _capture(httpx, 400, {"message": "stop"})
    client = cohere_sdk.ClientV2(api_key=KEYS["cohere"], base_url=DEFAULT_BASE_URLS["cohere"], httpx_client=client_http)
    with pytest.raises(cohere_sdk.BadRequestError):
        if stream:
            list(client.chat_stream(model="command-a", messages=CONVERSATION, max_tokens=64, temperature=0.3))
        else:
            client.chat(model="command-a", messages=CONVERSATION, max_tokens=64, temperature=0.3)
    ours = cohere.WIRE_FORMAT.build_request(
        endpoint("cohere", model="command-a"),
        ChatRequest.from_prompt(CONVERSATION, max_tokens=64, temperature=0.3, stream=stream),
    )
    assert ours.url == str(sent[0].url)
    assert ours.json == _sent_json(sent[0])
    assert ours.headers["Authorization"] == sent[0].headers["authorization"]


# ----------------------------------------------------------------------------------------------
# Responses and streams, as the APIs send them (built with the SDKs' types).


def test_openai_response() -> None:
    pytest.importorskip("openai")
    from openai.types.chat import ChatCompletion

    completion = ChatCompletion.model_validate(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1700000000,
            "model": "gpt-4o-2024-08-06",
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "Four."}}],
            "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15},
        }
    )
    result = openai_compatible.WIRE_FORMAT.parse_response(endpoint("openai"), PLAIN, completion.model_dump_json().encode())
    assert result == Completion.single("Four.", "gpt-4o-2024-08-06", Usage(12, 3), "stop")


def test_openai_stream() -> None:
    pytest.importorskip("openai")
    from openai.types.chat import ChatCompletionChunk

    def chunk(choices: list[dict[str, Any]], usage: dict[str, int] | None = None) -> tuple[str, str]:
        document = {
            "id": "c",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "gpt-4o",
            "choices": choices,
            "usage": usage,
        }
        return "message", ChatCompletionChunk.model_validate(document).model_dump_json()

    events = [
        chunk([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]),
        chunk([{"index": 0, "delta": {"content": "Fo"}, "finish_reason": None}]),
        chunk([{"index": 0, "delta": {"content": "ur."}, "finish_reason": None}]),
        chunk([{"index": 0, "delta": {}, "finish_reason": "stop"}]),
        chunk([], {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}),
        ("message", "[DONE]"),
    ]
    deltas = feed_all(openai_compatible.WIRE_FORMAT.new_stream_parser(endpoint("openai"), PLAIN), events)
    assert joined(deltas) == "Four."
    assert [delta.finish_reason for delta in deltas if delta.finish_reason] == ["stop"]
    assert [delta.usage for delta in deltas if delta.usage] == [Usage(12, 3)]
    assert deltas[-1].done and not any(delta.done for delta in deltas[:-1])


def test_openai_compatible_usage_in_the_choice_or_in_x_groq() -> None:
    parser = openai_compatible.WIRE_FORMAT.new_stream_parser(endpoint("kimi"), PLAIN)
    kimi = {
        "choices": [
            {"index": 0, "delta": {}, "finish_reason": "stop", "usage": {"prompt_tokens": 5, "completion_tokens": 2}}
        ]
    }
    assert parser.feed("message", json.dumps(kimi)) == [StreamDelta(usage=Usage(5, 2), finish_reason="stop")]
    groq = {
        "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
        "x_groq": {"usage": {"prompt_tokens": 7, "completion_tokens": 1}},
    }
    assert parser.feed("message", json.dumps(groq)) == [StreamDelta(usage=Usage(7, 1), finish_reason="stop")]


def test_anthropic_response() -> None:
    pytest.importorskip("anthropic")
    from anthropic.types import Message

    message = Message.model_validate(
        {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": "claude-sonnet-4-20250514",
            "content": [
                {"type": "thinking", "thinking": "2+2...", "signature": "sig"},
                {"type": "text", "text": "Four"},
                {"type": "text", "text": "."},
            ],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {
                "input_tokens": 10,
                "output_tokens": 4,
                "cache_read_input_tokens": 5,
                "cache_creation_input_tokens": 0,
            },
        }
    )
    result = anthropic.WIRE_FORMAT.parse_response(endpoint("anthropic"), PLAIN, message.model_dump_json().encode())
    # The thinking block is the reasoning, beside the text, and kept whole with its signature;
    # cache reads count in the prompt too.
    thinking = (ThinkingBlock("thinking", "2+2...", "sig"),)
    choice = Choice("Four.", "stop", reasoning="2+2...", thinking_blocks=thinking)
    usage = Usage(15, 4, cached_tokens=5, cache_write_tokens=0)  # the answer said 0 tokens written
    assert result == Completion((choice,), "claude-sonnet-4-20250514", usage)


def _anthropic_events(*events: Any) -> list[tuple[str, str]]:
    return [(event.type, event.model_dump_json()) for event in events]


def test_anthropic_stream() -> None:
    pytest.importorskip("anthropic")
    from anthropic.types import (
        RawContentBlockDeltaEvent,
        RawContentBlockStartEvent,
        RawContentBlockStopEvent,
        RawMessageDeltaEvent,
        RawMessageStartEvent,
        RawMessageStopEvent,
    )

    start = RawMessageStartEvent.model_validate(
        {
            "type": "message_start",
            "message": {
                "id": "msg_1",
                "type": "message",
                "role": "assistant",
                "model": "claude-sonnet-4-20250514",
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {"input_tokens": 25, "output_tokens": 1},
            },
        }
    )
    events = _anthropic_events(
        start,
        RawContentBlockStartEvent.model_validate(
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
        ),
        RawContentBlockDeltaEvent.model_validate(
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hello"}}
        ),
        RawContentBlockDeltaEvent.model_validate(
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "!"}}
        ),
        RawContentBlockStopEvent.model_validate({"type": "content_block_stop", "index": 0}),
        RawMessageDeltaEvent.model_validate(
            {
                "type": "message_delta",
                "delta": {"stop_reason": "max_tokens", "stop_sequence": None},
                "usage": {"output_tokens": 15},
            }
        ),
        RawMessageStopEvent.model_validate({"type": "message_stop"}),
    )
    events.insert(1, ("ping", '{"type": "ping"}'))
    deltas = feed_all(anthropic.WIRE_FORMAT.new_stream_parser(endpoint("anthropic"), PLAIN), events)
    assert joined(deltas) == "Hello!"
    assert [(delta.usage, delta.finish_reason) for delta in deltas if delta.finish_reason] == [
        (Usage(25, 15), "length")
    ]
    assert deltas[-1] == StreamDelta(done=True)


@pytest.mark.parametrize(
    ("error_type", "expected"),
    [
        ("overloaded_error", TransientError),
        ("api_error", TransientError),
        ("rate_limit_error", RateLimitedError),
        ("invalid_request_error", ClientRequestError),
        ("authentication_error", CredentialError),
        ("billing_error", QuotaExhaustedError),
        ("some_future_error", TransientError),
    ],
)
def test_anthropic_error_event_inside_a_200_stream(error_type: str, expected: type[ProviderError]) -> None:
    data = json.dumps({"type": "error", "error": {"type": error_type, "message": "Overloaded"}})
    parser = anthropic.WIRE_FORMAT.new_stream_parser(endpoint("anthropic"), PLAIN)
    with pytest.raises(ProviderError) as raised:
        parser.feed("error", data)
    assert type(raised.value) is expected
    assert raised.value.provider == "anthropic"
    assert "Overloaded" in str(raised.value)


def test_gemini_response() -> None:
    pytest.importorskip("google.genai")
    from google.genai import types

    response = types.GenerateContentResponse(
        candidates=[
            types.Candidate(
                content=types.Content(
                    role="model",
                    parts=[
                        types.Part(text="Let me think", thought=True),
                        types.Part(text="Fo"),
                        types.Part(text="ur."),
                    ],
                ),
                finish_reason=types.FinishReason.STOP,
            )
        ],
        usage_metadata=types.GenerateContentResponseUsageMetadata(
            prompt_token_count=8, candidates_token_count=3, thoughts_token_count=20
        ),
        model_version="gemini-2.5-flash",
    )
    raw = response.model_dump_json(by_alias=True, exclude_none=True).encode()
    result = gemini.WIRE_FORMAT.parse_response(endpoint("google"), PLAIN, raw)
    # The thought part is the reasoning, its tokens the reasoning tokens (counted as output too).
    usage = Usage(8, 23, reasoning_tokens=20)
    assert result == Completion.single("Four.", "gemini-2.5-flash", usage, "stop", reasoning="Let me think")


def test_gemini_stream_ends_at_the_finish_reason() -> None:
    pytest.importorskip("google.genai")
    from google.genai import types

    def chunk(text: str, finish: str | None = None, usage: tuple[int, int] | None = None) -> tuple[str, str]:
        response = types.GenerateContentResponse(
            candidates=[
                types.Candidate(
                    content=types.Content(role="model", parts=[types.Part(text=text)]), finish_reason=finish
                )
            ],
            usage_metadata=types.GenerateContentResponseUsageMetadata(
                prompt_token_count=usage[0], candidates_token_count=usage[1]
            )
            if usage
            else types.GenerateContentResponseUsageMetadata(prompt_token_count=4),
        )
        return "message", response.model_dump_json(by_alias=True, exclude_none=True)

    deltas = feed_all(
        gemini.WIRE_FORMAT.new_stream_parser(endpoint("google"), PLAIN),
        [chunk("Hel"), chunk("lo"), chunk("!", "STOP", (4, 3))],
    )
    assert deltas == [
        StreamDelta(text="Hel"),
        StreamDelta(text="lo"),
        StreamDelta(text="!", usage=Usage(4, 3), finish_reason="stop", done=True),
    ]


def test_gemini_blocked_answers_are_client_errors() -> None:
    blocked = {"candidates": [{"finishReason": "SAFETY", "index": 0}], "usageMetadata": {"promptTokenCount": 3}}
    with pytest.raises(ClientRequestError, match="SAFETY"):
        gemini.WIRE_FORMAT.parse_response(endpoint("google"), PLAIN, body(blocked))
    prompt_blocked = {"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}}
    with pytest.raises(ClientRequestError, match="PROHIBITED_CONTENT"):
        gemini.WIRE_FORMAT.parse_response(endpoint("google"), PLAIN, body(prompt_blocked))
    parser = gemini.WIRE_FORMAT.new_stream_parser(endpoint("google"), PLAIN)
    with pytest.raises(ClientRequestError):
        parser.feed("message", json.dumps(blocked))


def test_gemini_error_inside_a_stream() -> None:
    data = json.dumps({"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}})
    with pytest.raises(TransientError, match="overloaded"):
        gemini.WIRE_FORMAT.new_stream_parser(endpoint("google"), PLAIN).feed("message", data)


def test_cohere_response() -> None:
    pytest.importorskip("cohere")
    from cohere.v2.types import V2ChatResponse

    response = V2ChatResponse.model_validate(
        {
            "id": "r1",
            "finish_reason": "MAX_TOKENS",
            "message": {
                "role": "assistant",
                "content": [{"type": "text", "text": "Four"}, {"type": "text", "text": "."}],
            },
            "usage": {
                "billed_units": {"input_tokens": 9, "output_tokens": 2},
                "tokens": {"input_tokens": 70, "output_tokens": 2},
            },
        }
    )
    result = cohere.WIRE_FORMAT.parse_response(endpoint("cohere"), PLAIN, response.model_dump_json().encode())
    assert result == Completion.single("Four.", MODELS["cohere"], Usage(70, 2), "length")


def test_cohere_stream() -> None:
    pytest.importorskip("cohere")
    from cohere.v2.types import v2chat_stream_response as events

    stream = [
        events.MessageStartV2ChatStreamResponse(id="r1", delta={"message": {"role": "assistant"}}),
        events.ContentStartV2ChatStreamResponse(index=0, delta={"message": {"content": {"type": "text", "text": ""}}}),
        events.ContentDeltaV2ChatStreamResponse(index=0, delta={"message": {"content": {"text": "Hi"}}}),
        events.ContentDeltaV2ChatStreamResponse(index=0, delta={"message": {"content": {"text": " there"}}}),
        events.ContentEndV2ChatStreamResponse(index=0),
        events.MessageEndV2ChatStreamResponse(
            id="r1", delta={"finish_reason": "COMPLETE", "usage": {"tokens": {"input_tokens": 5, "output_tokens": 2}}}
        ),
    ]
    deltas = feed_all(
        cohere.WIRE_FORMAT.new_stream_parser(endpoint("cohere"), PLAIN),
        [(event.type, event.model_dump_json()) for event in stream],
    )
    assert joined(deltas) == "Hi there"
    assert deltas[-1] == StreamDelta(usage=Usage(5, 2), finish_reason="stop", done=True)


def test_cohere_failed_generation_is_transient() -> None:
    data = json.dumps({"type": "message-end", "delta": {"finish_reason": "ERROR", "error": "internal failure"}})
    with pytest.raises(TransientError, match="internal failure"):
        cohere.WIRE_FORMAT.new_stream_parser(endpoint("cohere"), PLAIN).feed("message-end", data)


def test_openai_error_inside_a_stream() -> None:
    data = json.dumps({"error": {"message": "The server had an error", "type": "server_error", "code": None}})
    with pytest.raises(TransientError, match="server had an error"):
        openai_compatible.WIRE_FORMAT.new_stream_parser(endpoint("openai"), PLAIN).feed("message", data)


def test_content_filter_without_text_is_a_client_error() -> None:
    document = {
        "choices": [{"index": 0, "message": {"role": "assistant", "content": None}, "finish_reason": "content_filter"}]
    }
    with pytest.raises(ClientRequestError, match="content filter"):
        openai_compatible.WIRE_FORMAT.parse_response(endpoint("openai"), PLAIN, body(document))
    zhipu = {"choices": [{"index": 0, "message": {"role": "assistant", "content": ""}, "finish_reason": "sensitive"}]}
    with pytest.raises(ClientRequestError):
        openai_compatible.WIRE_FORMAT.parse_response(endpoint("zhipu"), PLAIN, body(zhipu))


@pytest.mark.parametrize("provider", ["openai", "anthropic", "google", "cohere"])
@pytest.mark.parametrize(
    "raw", [b"", b"<html>502 Bad Gateway</html>", b"[]", b"{}", b'{"choices": "no"}', b"\xff\xfe\x00"]
)
def test_garbled_answers_are_transient(provider: str, raw: bytes) -> None:
    with pytest.raises(TransientError):
        wire(provider).parse_response(endpoint(provider), PLAIN, raw)


# ----------------------------------------------------------------------------------------------
# Error classification.


@pytest.mark.parametrize("provider", sorted(KEYS))
@pytest.mark.parametrize(
    ("status_code", "expected"),
    [
        (500, TransientError),
        (502, TransientError),
        (503, TransientError),
        (504, TransientError),
        (529, TransientError),
        (408, TransientError),
        (429, RateLimitedError),
        (401, CredentialError),
        (403, CredentialError),
        (400, ClientRequestError),
        (404, ClientRequestError),
        (409, ClientRequestError),
        (413, ClientRequestError),
        (422, ClientRequestError),
        (402, QuotaExhaustedError),
    ],
)
def test_status_codes(provider: str, status_code: int, expected: type[ProviderError]) -> None:
    error = wire(provider).classify_error(endpoint(provider), status_code, {}, b'{"error": {"message": "nope"}}')
    assert type(error) is expected
    assert error.status_code == status_code
    assert error.provider == provider
    assert "nope" in str(error)


ERROR_CASES: list[tuple[str, int, dict[str, Any] | list[Any], type[ProviderError]]] = [
    # OpenAI and its imitators.
    (
        "openai",
        429,
        {
            "error": {
                "message": "You exceeded your current quota, please check your plan and billing details.",
                "type": "insufficient_quota",
                "param": None,
                "code": "insufficient_quota",
            }
        },
        QuotaExhaustedError,
    ),
    (
        "openai",
        429,
        {
            "error": {
                "message": "Rate limit reached for gpt-4o on requests per min (RPM): Limit 500.",
                "type": "requests",
                "param": None,
                "code": "rate_limit_exceeded",
            }
        },
        RateLimitedError,
    ),
    (
        "openai",
        400,
        {
            "error": {
                "message": "This model's maximum context length is 128000 tokens. However, your messages resulted in 130000 tokens.",
                "type": "invalid_request_error",
                "param": "messages",
                "code": "context_length_exceeded",
            }
        },
        ContextLengthExceededError,
    ),
    (
        "openai",
        401,
        {
            "error": {
                "message": "Incorrect API key provided: sk-proj-****wxyz.",
                "type": "invalid_request_error",
                "code": "invalid_api_key",
            }
        },
        CredentialError,
    ),
    (
        "deepseek",
        402,
        {
            "error": {
                "message": "Insufficient Balance",
                "type": "unknown_error",
                "param": None,
                "code": "invalid_request_error",
            }
        },
        QuotaExhaustedError,
    ),
    (
        "deepseek",
        400,
        {
            "error": {
                "message": "This model's maximum context length is 65536 tokens. However, you requested 70000 tokens.",
                "type": "invalid_request_error",
                "code": "invalid_request_error",
            }
        },
        ContextLengthExceededError,
    ),
    (
        "kimi",
        429,
        {
            "error": {
                "message": "Your account is suspended, please check your plan and billing details",
                "type": "exceeded_current_quota_error",
            }
        },
        QuotaExhaustedError,
    ),
    (
        "kimi",
        400,
        {
            "error": {
                "message": "Invalid request: Your request exceeded model token limit: 8192",
                "type": "invalid_request_error",
            }
        },
        ContextLengthExceededError,
    ),
    ("zhipu", 429, {"error": {"code": "1113", "message": "您的账户已欠费，请充值后重试。"}}, QuotaExhaustedError),
    ("zhipu", 429, {"error": {"code": "1302", "message": "您当前使用该API的并发数过高"}}, RateLimitedError),
    ("zhipu", 400, {"error": {"code": "1261", "message": "Prompt exceeds max length"}}, ContextLengthExceededError),
    (
        "groq",
        413,
        {
            "error": {
                "message": "Request too large for model `llama-3.3-70b-versatile` on tokens per minute (TPM): Limit 6000, Requested 9000",
                "type": "tokens",
                "code": "rate_limit_exceeded",
            }
        },
        RateLimitedError,
    ),
    (
        "mistral",
        422,
        {
            "object": "error",
            "message": {
                "detail": [{"type": "extra_forbidden", "loc": ["body", "x"], "msg": "Extra inputs are not permitted"}]
            },
            "type": "invalid_request_error",
            "param": None,
            "code": None,
        },
        ClientRequestError,
    ),
    (
        "mistral",
        400,
        {
            "object": "error",
            "message": "Prompt contains 40000 tokens and 0 draft tokens, too large for model with 32768 maximum context length",
            "type": "invalid_request_error",
            "param": None,
            "code": None,
        },
        ContextLengthExceededError,
    ),
    (
        "nvidia",
        400,
        {
            "type": "about:blank",
            "status": 400,
            "title": "Bad Request",
            "detail": "This model's maximum context length is 4096 tokens.",
        },
        ContextLengthExceededError,
    ),
    (
        "nvidia",
        500,
        {"object": "error", "message": "Internal server error", "type": "InternalServerError", "code": 500},
        TransientError,
    ),
    # Anthropic.
    (
        "anthropic",
        529,
        {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}, "request_id": "req_1"},
        TransientError,
    ),
    (
        "anthropic",
        400,
        {
            "type": "error",
            "error": {"type": "invalid_request_error", "message": "prompt is too long: 210000 tokens > 200000 maximum"},
        },
        ContextLengthExceededError,
    ),
    (
        "anthropic",
        400,
        {
            "type": "error",
            "error": {
                "type": "invalid_request_error",
                "message": "input length and `max_tokens` exceed context limit: 199000 + 8192 > 200000",
            },
        },
        ContextLengthExceededError,
    ),
    (
        "anthropic",
        400,
        {
            "type": "error",
            "error": {
                "type": "invalid_request_error",
                "message": "Your credit balance is too low to access the Anthropic API.",
            },
        },
        QuotaExhaustedError,
    ),
    (
        "anthropic",
        429,
        {
            "type": "error",
            "error": {
                "type": "rate_limit_error",
                "message": "Monthly spend limit reached.",
                "details": {"error_code": "enforced_spend_limit_reached"},
            },
        },
        QuotaExhaustedError,
    ),
    (
        "anthropic",
        429,
        {
            "type": "error",
            "error": {
                "type": "rate_limit_error",
                "message": "Number of request tokens has exceeded your per-minute rate limit",
            },
        },
        RateLimitedError,
    ),
    (
        "anthropic",
        401,
        {"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}},
        CredentialError,
    ),
    # Gemini.
    (
        "google",
        429,
        {
            "error": {
                "code": 429,
                "message": "You exceeded your current quota, please check your plan and billing details.",
                "status": "RESOURCE_EXHAUSTED",
                "details": [
                    {
                        "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                        "violations": [
                            {
                                "quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
                                "quotaId": "GenerateRequestsPerDayPerProjectPerModel-FreeTier",
                            }
                        ],
                    },
                    {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "31s"},
                ],
            }
        },
        QuotaExhaustedError,
    ),
    (
        "google",
        429,
        {
            "error": {
                "code": 429,
                "message": "You exceeded your current quota, please check your plan and billing details.",
                "status": "RESOURCE_EXHAUSTED",
                "details": [
                    {
                        "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                        "violations": [{"quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier"}],
                    }
                ],
            }
        },
        RateLimitedError,
    ),
    (
        "google",
        429,
        {
            "error": {
                "code": 429,
                "message": "Resource has been exhausted (e.g. check quota).",
                "status": "RESOURCE_EXHAUSTED",
            }
        },
        QuotaExhaustedError,
    ),
    (
        "google",
        400,
        {
            "error": {
                "code": 400,
                "message": "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).",
                "status": "INVALID_ARGUMENT",
            }
        },
        ContextLengthExceededError,
    ),
    (
        "google",
        400,
        {
            "error": {
                "code": 400,
                "message": "API key not valid. Please pass a valid API key.",
                "status": "INVALID_ARGUMENT",
                "details": [
                    {
                        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                        "reason": "API_KEY_INVALID",
                        "domain": "googleapis.com",
                    }
                ],
            }
        },
        CredentialError,
    ),
    (
        "google",
        403,
        {
            "error": {
                "code": 403,
                "message": "Method doesn't allow unregistered callers.",
                "status": "PERMISSION_DENIED",
            }
        },
        CredentialError,
    ),
    (
        "google",
        503,
        [
            {
                "error": {
                    "code": 503,
                    "message": "The model is overloaded. Please try again later.",
                    "status": "UNAVAILABLE",
                }
            }
        ],
        TransientError,
    ),
    # Cohere.
    (
        "cohere",
        429,
        {"id": "e1", "message": "You are using a Trial key, which is limited to 1000 API calls / month."},
        QuotaExhaustedError,
    ),
    (
        "cohere",
        400,
        {
            "id": "e2",
            "message": "too many tokens: size limit exceeded by 1000 tokens. Try using shorter or fewer inputs.",
        },
        ContextLengthExceededError,
    ),
    ("cohere", 498, {"message": "invalid api token"}, CredentialError),
]


@pytest.mark.parametrize(("provider", "status_code", "document", "expected"), ERROR_CASES)
def test_provider_error_bodies(provider: str, status_code: int, document: Any, expected: type[ProviderError]) -> None:
    error = wire(provider).classify_error(endpoint(provider), status_code, {}, body(document))
    assert type(error) is expected, str(error)
    assert isinstance(error, ProviderError)


def test_error_messages_quote_the_provider_briefly() -> None:
    long_message = "x" * 5000
    error = wire("openai").classify_error(endpoint("openai"), 400, {}, body({"error": {"message": long_message}}))
    assert len(str(error)) < 400
    plain = wire("openai").classify_error(endpoint("openai"), 502, {}, b"<html>Bad gateway</html>")
    assert "Bad gateway" in str(plain)
    assert type(plain) is TransientError


@pytest.mark.parametrize("provider", sorted(KEYS))
def test_an_echoed_key_is_scrubbed_from_errors(provider: str) -> None:
    key = KEYS[provider]
    for document in (
        {"error": {"message": f"Incorrect API key provided: {key}", "type": key, "code": key}},
        {"message": f"bad key {key[:20]}"},
        {"detail": [key, {"k": key}]},
    ):
        for status_code in (400, 401, 429, 500):
            error = wire(provider).classify_error(endpoint(provider), status_code, {}, body(document))
            assert key[:12] not in str(error) and key[-12:] not in str(error)


# Retry-After.

NOW_S = 1_700_000_000.0


@pytest.mark.parametrize(
    ("headers", "expected_s"),
    [
        ({"Retry-After": "7"}, 7.0),
        ({"retry-after": "1.5"}, 1.5),
        ({"Retry-After": email.utils.formatdate(NOW_S + 30, usegmt=True)}, 30.0),
        ({"Retry-After": email.utils.formatdate(NOW_S - 30, usegmt=True)}, 0.0),
        ({"Retry-After": "soon"}, None),
        ({"Retry-After": "-5"}, None),
        ({"Retry-After": "nan"}, None),
        ({"Retry-After": "inf"}, None),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),
        ({}, None),
    ],
)
def test_retry_after(headers: dict[str, str], expected_s: float | None) -> None:
    assert _retry_after.retry_after_s(_retry_after.lower_headers(headers), now_s=NOW_S) == expected_s


@pytest.mark.parametrize(
    ("value", "expected_s"),
    [
        ("1s", 1.0),
        ("6m0s", 360.0),
        ("20ms", 0.02),
        ("1h2m3.5s", 3723.5),
        ("0.300s", 0.3),
        ("12", 12.0),
        ("", None),
        ("5 minutes", None),
        ("1x", None),
        ("s", None),
    ],
)
def test_durations(value: str, expected_s: float | None) -> None:
    parsed_s = _retry_after.parse_duration_s(value)
    if expected_s is None:
        assert parsed_s is None
    else:
        assert parsed_s == pytest.approx(expected_s)


def test_retry_after_reaches_the_error() -> None:
    rate_limited = {"error": {"message": "slow down", "code": "rate_limit_exceeded"}}
    error = wire("openai").classify_error(endpoint("openai"), 429, {"Retry-After": "12"}, body(rate_limited))
    assert error.retry_after_s == 12.0
    openai_headers = {
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-reset-requests": "6m0s",
        "x-ratelimit-reset-tokens": "1s",
    }
    assert wire("groq").classify_error(endpoint("groq"), 429, openai_headers, body(rate_limited)).retry_after_s == 360.0
    unknown_bucket = {"x-ratelimit-reset-requests": "6m0s", "x-ratelimit-reset-tokens": "1s"}
    assert (
        wire("openai").classify_error(endpoint("openai"), 429, unknown_bucket, body(rate_limited)).retry_after_s == 1.0
    )
    anthropic_error = {"type": "error", "error": {"type": "rate_limit_error", "message": "slow"}}
    assert (
        wire("anthropic")
        .classify_error(endpoint("anthropic"), 429, {"retry-after": "3"}, body(anthropic_error))
        .retry_after_s
        == 3.0
    )
    gemini_case = next(case for case in ERROR_CASES if case[0] == "google" and case[3] is QuotaExhaustedError)
    assert wire("google").classify_error(endpoint("google"), 429, {}, body(gemini_case[2])).retry_after_s == 31.0
    garbage = wire("cohere").classify_error(
        endpoint("cohere"), 429, {"Retry-After": "whenever"}, body({"message": "slow"})
    )
    assert garbage.retry_after_s is None
    assert wire("openai").classify_error(endpoint("openai"), 400, {"Retry-After": "5"}, b"{}").retry_after_s is None


# ----------------------------------------------------------------------------------------------
# Properties: garbage in, ProviderError (and never a key) out.

PROVIDERS = ["openai", "anthropic", "google", "cohere", "kimi", "mistral"]
FIELD_NAMES = [
    "choices",
    "message",
    "content",
    "delta",
    "usage",
    "finish_reason",
    "prompt_tokens",
    "completion_tokens",
    "candidates",
    "parts",
    "text",
    "thought",
    "finishReason",
    "usageMetadata",
    "promptTokenCount",
    "candidatesTokenCount",
    "promptFeedback",
    "blockReason",
    "type",
    "error",
    "code",
    "status",
    "details",
    "stop_reason",
    "input_tokens",
    "output_tokens",
    "content_block",
    "tokens",
    "billed_units",
    "x_groq",
    "model",
    "refusal",
    "index",
    "@type",
    "retryDelay",
    "violations",
    "quotaId",
    "reason",
    "detail",
]
LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(
        [
            "text",
            "text_delta",
            "error",
            "STOP",
            "SAFETY",
            "content_filter",
            "overloaded_error",
            "message-end",
            "[DONE]",
            "ERROR",
        ]
    ),
    st.text(max_size=20),
)
JSON_VALUES = st.recursive(
    LEAVES,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(FIELD_NAMES) | st.text(max_size=5), children, max_size=5)
    ),
    max_leaves=30,
)
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _only_provider_errors(call: Callable[[], object]) -> None:
    try:
        call()
    except ProviderError as error:
        assert not any(key[:12] in str(error) for key in KEYS.values())


@FUZZ
@given(provider=st.sampled_from(PROVIDERS), raw=st.binary(max_size=200))
def test_any_bytes_into_parse_response(provider: str, raw: bytes) -> None:
    _only_provider_errors(lambda: wire(provider).parse_response(endpoint(provider), PLAIN, raw))


@FUZZ
@given(provider=st.sampled_from(PROVIDERS), document=JSON_VALUES)
def test_any_json_into_parse_response(provider: str, document: object) -> None:
    _only_provider_errors(lambda: wire(provider).parse_response(endpoint(provider), PLAIN, body(document)))


@FUZZ
@given(
    provider=st.sampled_from(PROVIDERS),
    events=st.lists(
        st.tuples(
            st.sampled_from(
                [
                    "message",
                    "error",
                    "ping",
                    "message_start",
                    "message_delta",
                    "content_block_delta",
                    "content-delta",
                    "message-end",
                ]
            )
            | st.text(max_size=10),
            JSON_VALUES.map(json.dumps) | st.text(max_size=30) | st.just("[DONE]"),
        ),
        max_size=6,
    ),
)
def test_any_events_into_a_stream_parser(provider: str, events: list[tuple[str, str]]) -> None:
    parser = wire(provider).new_stream_parser(endpoint(provider), PLAIN)

    def run() -> None:
        for event, data in events:
            for delta in parser.feed(event, data):
                assert isinstance(delta, StreamDelta)

    _only_provider_errors(run)


@FUZZ
@given(
    provider=st.sampled_from(PROVIDERS),
    status_code=st.integers(min_value=0, max_value=1000),
    document=JSON_VALUES,
    headers=st.dictionaries(
        st.sampled_from(["Retry-After", "retry-after-ms", "x-ratelimit-reset-tokens", "x-ratelimit-remaining-tokens"]),
        st.text(max_size=30),
        max_size=3,
    ),
    echo_key=st.booleans(),
)
def test_any_error_answer_is_classified(
    provider: str, status_code: int, document: object, headers: dict[str, str], echo_key: bool
) -> None:
    key = KEYS[provider]
    raw = (
        body({"error": {"message": f"{key} {document}", "type": key, "code": document}}) if echo_key else body(document)
    )
    error = wire(provider).classify_error(endpoint(provider), status_code, headers, raw)
    assert isinstance(error, ProviderError)
    assert key[:12] not in str(error)
    assert error.retry_after_s is None or error.retry_after_s >= 0
