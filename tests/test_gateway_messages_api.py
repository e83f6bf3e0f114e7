"""Anthropic's Messages API on the gateway (``POST /v1/messages``), spoken to with the official
anthropic SDK: whole and streamed answers over a real provider (a loopback server), what the
provider received, tool round trips (the answer's ``tool_use`` blocks, and the next turn's
``tool_result`` carried to the request model), the stream's event order and the SDK's own
accumulator (``messages.stream``) rebuilding text and tool input, errors in Anthropic's shape as
the SDK's exceptions, both ways of giving the key; and a fuzzer over the request parser."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import pytest
from gateway_harness import GATEWAY_KEY, RunningGateway, provider_environment, running_gateway
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from json_bodies import JSON_VALUES, JUNK, typed
from loopback import AnthropicServer, Fault, OpenAIServer
from scripted_chat import ToolCall, ToolCallDelta, Usage, last_chunk, scripted
from trinity_hybrid._messages import ImagePart
from trinity_hybrid._request import ToolChoice
from trinity_hybrid.gateway._anthropic_request import parse_messages_request
from trinity_hybrid.gateway._errors import ApiError
from trinity_hybrid.gateway._validation import ChatParams

PROMPT = "What is the weather in Paris?"
TOOLS = [
    {
        "name": "weather",
        "description": "The weather in a city.",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    }
]
CALL = ToolCall("toolu_paris", "weather", '{"city": "Paris", "days": [1, 2]}')


@pytest.fixture(scope="module")
def groq() -> Iterator[OpenAIServer]:
    with OpenAIServer() as server:
        yield server


@pytest.fixture(scope="module")
def gateway(groq: OpenAIServer) -> Iterator[RunningGateway]:
    with running_gateway(provider_environment(groq=groq)) as running:
        yield running


def client(gateway: RunningGateway, **options: Any) -> anthropic.Anthropic:
    options.setdefault("api_key", GATEWAY_KEY)
    return anthropic.Anthropic(base_url=gateway.url, max_retries=0, **options)


def model_id(gateway: RunningGateway) -> str:
    return f"groq/{gateway.node.provider_info('groq')['model']}"


def test_a_message_over_a_real_provider(gateway: RunningGateway, groq: OpenAIServer) -> None:
    raw = client(gateway).messages.with_raw_response.create(
        model="auto",
        max_tokens=100,
        system=[{"type": "text", "text": "Be brief."}],
        messages=[{"role": "user", "content": PROMPT}],
        stop_sequences=["END"],
        metadata={"user_id": "user-7"},
        extra_body={"temperature": 0.5},  # the SDK no longer has the argument; the API takes the field
    )
    message = raw.parse()
    assert message.type == "message" and message.role == "assistant" and message.id.startswith("msg_")
    assert [block.type for block in message.content] == ["text"]
    assert message.content[0].text == f"echo: {PROMPT}"
    assert message.stop_reason == "end_turn" and message.stop_sequence is None
    assert message.model == model_id(gateway)
    assert message.usage.input_tokens > 0 and message.usage.output_tokens > 0
    assert raw.headers["x-trinity-provider"] == "groq"
    sent = groq.requests[-1].json
    assert sent["messages"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": PROMPT}]
    assert sent["temperature"] == 0.5 and sent["stop"] == ["END"]  # (groq drops user by rule)
    assert sent.get("max_completion_tokens", sent.get("max_tokens")) == 100


def test_anthropic_in_and_out_over_an_anthropic_provider() -> None:
    with (
        AnthropicServer() as upstream,
        running_gateway(provider_environment(anthropic=upstream)) as gateway,
    ):
        sdk = client(gateway)
        ask = {"model": "anthropic", "max_tokens": 50, "system": "Be brief.", "stop_sequences": ["END"],
               "messages": [{"role": "user", "content": PROMPT}]}  # fmt: skip
        message = sdk.messages.create(**ask)
        with sdk.messages.stream(**ask) as stream:
            streamed = stream.get_final_message()
    assert message.content[0].text == streamed.content[0].text == f"echo: {PROMPT}"
    assert message.model == f"anthropic/{gateway.node.provider_info('anthropic')['model']}"
    sent = upstream.requests[0].json
    assert sent["system"] in ("Be brief.", [{"type": "text", "text": "Be brief."}])
    assert sent["stop_sequences"] == ["END"] and sent["max_tokens"] == 50
    assert [message["role"] for message in sent["messages"]] == ["user"]


def test_a_stream_over_a_real_provider(gateway: RunningGateway) -> None:
    with client(gateway).messages.stream(
        model="auto", max_tokens=100, messages=[{"role": "user", "content": PROMPT}]
    ) as stream:
        text = "".join(stream.text_stream)
        message = stream.get_final_message()
    assert text == f"echo: {PROMPT}"
    assert [block.type for block in message.content] == ["text"] and message.content[0].text == text
    assert message.stop_reason == "end_turn"
    assert message.usage.output_tokens > 0 and message.usage.input_tokens > 0


def test_the_model_field_is_mapped_like_chat_completions(gateway: RunningGateway) -> None:
    sdk = client(gateway)
    answer = sdk.messages.create(model=model_id(gateway), max_tokens=10, messages=[{"role": "user", "content": "Hi"}])
    assert answer.model == model_id(gateway)
    with pytest.raises(anthropic.NotFoundError) as raised:
        sdk.messages.create(model="claude-unknown", max_tokens=10, messages=[{"role": "user", "content": "Hi"}])
    assert raised.value.body["error"]["type"] == "not_found_error"
    assert "/v1/models" in raised.value.body["error"]["message"]


def test_a_tool_round_trip(gateway: RunningGateway) -> None:
    sdk = client(gateway)
    question = {"role": "user", "content": PROMPT}
    with scripted(gateway) as chat:
        chat.answer = {"text": "Let me look.", "tool_calls": (CALL,), "finish_reason": "tool_calls"}
        first = sdk.messages.create(model="auto", max_tokens=200, messages=[question], tools=TOOLS,
                                    tool_choice={"type": "any"})  # fmt: skip
        assert [block.type for block in first.content] == ["text", "tool_use"]
        use = first.content[1]
        assert (use.id, use.name, use.input) == (CALL.id, CALL.name, json.loads(CALL.arguments))
        assert first.stop_reason == "tool_use"
        request = chat.requests[-1]
        assert [(tool.name, tool.parameters) for tool in request.tools] == [("weather", TOOLS[0]["input_schema"])]
        assert request.tool_choice == ToolChoice("required")

        chat.answer = {"text": "Sunny in Paris.", "finish_reason": "stop"}
        second = sdk.messages.create(
            model="auto",
            max_tokens=200,
            tools=TOOLS,
            messages=[
                question,
                {"role": "assistant", "content": first.content},
                {
                    "role": "user",
                    "content": [
                        {"type": "tool_result", "tool_use_id": use.id, "content": [{"type": "text", "text": "sunny"}]},
                        {"type": "text", "text": "And tomorrow?"},
                    ],
                },
            ],
        )
    assert second.content[0].text == "Sunny in Paris." and second.stop_reason == "end_turn"
    messages = chat.requests[-1].messages
    assert [message.role for message in messages] == ["user", "assistant", "tool", "user"]
    assert messages[1].text == "Let me look."
    assert [(call.id, call.name, json.loads(call.arguments)) for call in messages[1].tool_calls] == [
        (CALL.id, CALL.name, json.loads(CALL.arguments))
    ]
    assert (messages[2].tool_call_id, messages[2].text) == (use.id, "sunny")
    assert messages[3].text == "And tomorrow?"


STREAMED = [
    {"reasoning": "A tool "},
    {"reasoning": "is needed."},
    {"text": "Let me "},
    {"text": "look."},
    {"tool_calls": (ToolCallDelta(0, CALL.id, CALL.name, ""),)},
    {"tool_calls": (ToolCallDelta(0, arguments='{"city": "Pa'),)},
    {"tool_calls": (ToolCallDelta(0, arguments='ris", "days": [1, 2]}'),)},
    {"tool_calls": (ToolCallDelta(1, "toolu_rome", "weather", '{"city": "Rome"}'),)},
    last_chunk(Usage(30, 12, cached_tokens=10), "tool_calls"),
]


def test_a_streamed_tool_call_rebuilt_by_the_sdk_accumulator(gateway: RunningGateway) -> None:
    with scripted(gateway) as chat:
        chat.chunks = STREAMED
        with client(gateway).messages.stream(
            model="auto", max_tokens=200, messages=[{"role": "user", "content": PROMPT}], tools=TOOLS
        ) as stream:
            events = [event.type for event in stream]
            message = stream.get_final_message()
    assert [block.type for block in message.content] == ["thinking", "text", "tool_use", "tool_use"]
    assert message.content[0].thinking == "A tool is needed."
    assert message.content[1].text == "Let me look."
    assert (message.content[2].id, message.content[2].input) == (CALL.id, json.loads(CALL.arguments))
    assert (message.content[3].id, message.content[3].input) == ("toolu_rome", {"city": "Rome"})
    assert message.stop_reason == "tool_use"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (20, 12)
    assert message.usage.cache_read_input_tokens == 10
    assert events[0] == "message_start" and events[-1] == "message_stop"


def test_the_stream_events_are_in_anthropics_order(gateway: RunningGateway) -> None:
    with scripted(gateway) as chat:
        chat.chunks = STREAMED
        response = gateway.request("POST", "/v1/messages", json={
            "model": "auto", "max_tokens": 50, "stream": True, "messages": [{"role": "user", "content": PROMPT}],
        })  # fmt: skip
    assert response.headers["content-type"].startswith("text/event-stream")
    events = []
    for block in response.text.split("\n\n"):
        if block:
            name, data = block.split("\n")
            events.append((name.removeprefix("event: "), json.loads(data.removeprefix("data: "))))
    assert all(name == data["type"] for name, data in events)
    names = [name for name, _ in events]
    assert names[0] == "message_start" and names[-2:] == ["message_delta", "message_stop"]
    # Blocks one after another: each started, given deltas and stopped before the next starts.
    open_block = None
    for name, data in events:
        if name == "content_block_start":
            assert open_block is None
            open_block = data["index"]
        elif name == "content_block_delta":
            assert data["index"] == open_block
        elif name == "content_block_stop":
            assert data["index"] == open_block
            open_block = None
    assert open_block is None
    starts = [data["index"] for name, data in events if name == "content_block_start"]
    assert starts == [0, 1, 2, 3]


def test_errors_are_the_sdks_exceptions_in_anthropics_shape(gateway: RunningGateway) -> None:
    sdk = client(gateway)
    with pytest.raises(anthropic.BadRequestError) as raised:
        sdk.messages.create(model="auto", max_tokens=10, messages=[{"role": "system", "content": "Hi"}])  # type: ignore[list-item]
    assert raised.value.body["type"] == "error"
    assert raised.value.body["error"]["type"] == "invalid_request_error"
    assert "messages[0].role" in raised.value.body["error"]["message"]
    with pytest.raises(anthropic.BadRequestError, match="max_tokens: must be at least 1"):
        sdk.messages.create(model="auto", messages=[{"role": "user", "content": "Hi"}], max_tokens=0)
    with pytest.raises(anthropic.AuthenticationError) as refused:
        client(gateway, api_key="wrong-key").messages.create(model="auto", max_tokens=10,
                                                             messages=[{"role": "user", "content": "Hi"}])  # fmt: skip
    assert refused.value.body["error"]["type"] == "authentication_error"


def test_the_key_as_x_api_key_or_as_bearer(gateway: RunningGateway) -> None:
    ask = {"model": "auto", "max_tokens": 10, "messages": [{"role": "user", "content": "Hi"}]}
    assert client(gateway).messages.create(**ask).content[0].text == "echo: Hi"  # x-api-key
    bearer = anthropic.Anthropic(base_url=gateway.url, auth_token=GATEWAY_KEY, api_key=None, max_retries=0)
    assert bearer.messages.create(**ask).content[0].text == "echo: Hi"
    # The other endpoints take x-api-key too.
    assert gateway.request("GET", "/v1/models", authorize=False, headers={"x-api-key": GATEWAY_KEY}).status_code == 200


def test_count_tokens_and_the_model_list_for_anthropics_clients(gateway: RunningGateway) -> None:
    sdk = client(gateway)
    short = sdk.messages.count_tokens(model="auto", messages=[{"role": "user", "content": "Hi"}])
    longer = sdk.messages.count_tokens(
        model="auto", system="Be brief.", messages=[{"role": "user", "content": PROMPT * 20}], tools=TOOLS
    )
    assert 0 < short.input_tokens < longer.input_tokens
    with pytest.raises(anthropic.BadRequestError, match="max_tokens"):
        sdk.messages.count_tokens(model="auto", messages=[{"role": "user", "content": "Hi"}],
                                  extra_body={"max_tokens": 5})  # fmt: skip
    listed = [model.id for model in sdk.models.list()]
    assert listed[0] == "auto" and model_id(gateway) in listed
    assert all(model.type == "model" for model in sdk.models.list())


def test_a_stream_failing_midway_ends_with_an_error_event(gateway: RunningGateway, groq: OpenAIServer) -> None:
    groq.faults.push(Fault.stream_cut(2))
    with (
        pytest.raises(anthropic.APIStatusError) as raised,
        client(gateway).messages.stream(
            model="groq", max_tokens=100, messages=[{"role": "user", "content": "one two three four five six"}]
        ) as stream,
    ):
        for _ in stream:
            pass
    assert raised.value.body["type"] == "error"
    assert raised.value.body["error"]["type"] in {"api_error", "overloaded_error"}


# ------------------------------------------------------------------------------------------------
# The request parser: every body is a 4xx naming what is wrong, or a valid request.

MODELS: dict[str, str | None] = {"auto": None, "groq": "groq"}
STRATEGIES = ("balanced", "priority")


def parse(document: Any) -> ChatParams:
    return parse_messages_request(json.dumps(document).encode(), MODELS, STRATEGIES)


def test_blocks_become_the_request_model() -> None:
    params = parse({
        "model": "groq", "max_tokens": 64, "system": "Be brief.", "top_k": 5, "metadata": {"user_id": "u-7"},
        "tool_choice": {"type": "tool", "name": "weather", "disable_parallel_tool_use": True}, "tools": TOOLS,
        "messages": [{"role": "user", "content": [
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "aGk="}},
            {"type": "image", "source": {"type": "url", "url": "https://example.com/a.jpg"}},
            {"type": "text", "text": "What is this?"},
        ]}],
    })  # fmt: skip
    request = params.request
    assert params.force_provider == "groq"
    assert [message.role for message in request.messages] == ["system", "user"]
    assert request.messages[1].images == (
        ImagePart("data:image/png;base64,aGk="),
        ImagePart("https://example.com/a.jpg"),
    )
    assert request.tool_choice == ToolChoice("function", "weather") and request.parallel_tool_calls is False
    assert request.extra == {"top_k": 5} and request.max_tokens == 64 and request.user == "u-7"


def test_output_config_format_is_a_json_schema_response_format() -> None:
    schema = {"type": "object", "properties": {"answer": {"type": "string"}}}
    request = parse({"model": "auto", "max_tokens": 9, "messages": [{"role": "user", "content": "Hi"}],
                     "output_config": {"effort": "low", "format": {"type": "json_schema", "schema": schema}},
                     "service_tier": "auto", "thinking": {"type": "adaptive"}}).request  # fmt: skip
    assert request.response_format is not None
    assert (request.response_format.type, request.response_format.schema) == ("json_schema", schema)


@pytest.mark.parametrize(
    ("change", "wording"),
    [
        ({"max_tokens": None}, "max_tokens"),
        ({"messages": []}, "messages"),
        ({"temperature": 1.5}, "temperature"),
        ({"mcp_servers": []}, "mcp_servers"),
        ({"tools": [{"type": "web_search_20250305", "name": "web_search"}]}, "server tools"),
        ({"messages": [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "x"}]}]}, "tool_use_id"),
        ({"messages": [{"role": "user", "content": [{"type": "document", "source": {}}]}]}, "document"),
        ({"metadata": {"tenant": "a"}}, "metadata"),
        ({"stop_sequences": ["a", "b", "c", "d", "e"]}, "stop_sequences: stop takes at most 4"),
        (
            {
                "messages": [
                    {"role": "user", "content": "Hi"},
                    {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "w", "input": {}}]},
                    {
                        "role": "user",
                        "content": [
                            {
                                "type": "tool_result",
                                "tool_use_id": "t1",
                                "content": [
                                    {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}}
                                ],
                            }
                        ],
                    },
                ]
            },
            "images in a tool result",
        ),
        ({"output_config": {"format": {"type": "json_object"}}}, "output_config.format"),
        ({"container": "c-1"}, "container"),
        (
            {
                "messages": [
                    {"role": "user", "content": "Hi"},
                    {
                        "role": "assistant",
                        "content": [{"type": "tool_use", "id": "t1", "name": "weather", "input": "Paris"}],
                    },
                ]
            },
            "input: must be an object",
        ),
        ({"tool_choice": {"type": "any"}}, "tool_choice"),
    ],
)
def test_a_wrong_body_is_a_400_naming_the_field(change: dict[str, Any], wording: str) -> None:
    document = {"model": "auto", "max_tokens": 10, "messages": [{"role": "user", "content": "Hi"}], **change}
    with pytest.raises(ApiError) as raised:
        parse({name: value for name, value in document.items() if value is not None})
    assert raised.value.status == 400 and wording in raised.value.message


# Prompt-caching breakpoints, usually one Anthropic takes (checked by the request model).
BREAKPOINTS = typed(st.sampled_from([{"type": "ephemeral"}, {"type": "ephemeral", "ttl": "1h"}, {"type": "x"}]))
TEXT_PARTS = st.lists(st.fixed_dictionaries({"type": typed(st.just("text")), "text": typed(st.text(max_size=3))},
                                            optional={"cache_control": BREAKPOINTS}), max_size=2)  # fmt: skip
# Every field of every block kind, each usually well typed.
BLOCKS = typed(st.fixed_dictionaries(
    {"type": st.sampled_from(["text", "image", "tool_use", "tool_result", "thinking", "document"]),
     "text": typed(st.text(max_size=5)), "id": typed(st.sampled_from(["t1", "t2"])),
     "tool_use_id": typed(st.sampled_from(["t1", "t2", "t3"])), "name": typed(st.just("weather")),
     "input": typed(st.dictionaries(st.text(max_size=3), JSON_VALUES, max_size=2)),
     "source": typed(st.fixed_dictionaries({"type": typed(st.sampled_from(["base64", "url"])),
                                            "media_type": typed(st.sampled_from(["image/png", "text/plain"])),
                                            "data": typed(st.just("aGk=")),
                                            "url": typed(st.sampled_from(["https://example.com/a.png", "ftp://x"]))})),
     "content": typed(st.text(max_size=5) | TEXT_PARTS), "is_error": typed(st.booleans())},
    optional={"cache_control": BREAKPOINTS},
))  # fmt: skip
MESSAGES = st.lists(
    st.fixed_dictionaries(
        {"role": typed(st.sampled_from(["user", "assistant"])),
         "content": typed(st.text(max_size=5) | st.lists(BLOCKS, min_size=1, max_size=3))},
    ),
    min_size=1,
    max_size=4,
)  # fmt: skip
# A valid envelope (model, max_tokens): the envelope's own checks meet JSON_VALUES below.
BODIES = st.fixed_dictionaries(
    {"model": st.sampled_from(["auto", "groq"]), "messages": MESSAGES, "max_tokens": st.integers(1, 10)},
    optional={"system": typed(st.text(max_size=5) | TEXT_PARTS), "tools": typed(st.just(TOOLS)),
              "tool_choice": typed(st.fixed_dictionaries({"type": typed(st.sampled_from(["auto", "any", "tool"])),
                                                          "name": typed(st.just("weather"))})),
              "stream": typed(st.booleans()), "temperature": typed(st.floats(-1, 2)), "top_p": typed(st.floats(0, 1)),
              "top_k": typed(st.integers(-1, 5)), "metadata": typed(st.just({"user_id": "u"})),
              "stop_sequences": typed(st.lists(st.text(max_size=3), max_size=5)), "thinking": JUNK,
              "output_config": JUNK, "quality": typed(st.booleans()), "cache": typed(st.booleans()),
              "cache_control": BREAKPOINTS},
)  # fmt: skip


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=BODIES | JSON_VALUES)
def test_any_body_is_a_4xx_with_a_message_or_a_valid_request(body: Any) -> None:
    try:
        params = parse(body)
    except ApiError as error:
        assert 400 <= error.status < 500 and error.message
        return
    assert params.request.max_tokens is not None and params.request.messages


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=40) | (BODIES | JSON_VALUES).map(lambda value: json.dumps(value).encode()))
def test_any_body_over_http_is_an_anthropic_error_or_an_answer(gateway: RunningGateway, body: bytes) -> None:
    response = gateway.request("POST", "/v1/messages", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 200 or 400 <= response.status_code < 500, response.text
    if response.status_code != 200:
        document = response.json()
        assert document["type"] == "error" and set(document["error"]) == {"type", "message"}
        assert document["error"]["message"] and "Traceback" not in response.text
