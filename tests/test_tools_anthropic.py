"""Tools, structured output (by tool forcing), images and thinking through Anthropic's wire
format (issue 16, points 1-3 and 5), library-level against the loopback Anthropic server, whose
answers the official ``anthropic`` SDK reads (its stream helper accumulates tool input from the
server's ``input_json_delta`` fragments); the request bodies we build are read by the SDK's own
param types. The stream reader is fuzzed with hypothesis."""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

import anthropic
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from loopback import AnthropicServer, OpenAIServer, Request, ToolCallReply
from tools_harness import (
    QUESTION,
    TIME,
    WEATHER,
    anthropic_answered,
    arguments,
    assistant_of,
    calling,
    node_for,
    streamed_calls,
)
from trinity_hybrid import ClientRequestError, InvalidInputError, ProviderError, TrinityHybridNode
from trinity_hybrid.providers import WIRE_FORMATS, ChatRequest, Endpoint
from trinity_hybrid.providers.anthropic import AnthropicStreamParser

PARIS = (("toolu_paris", "get_weather", {"city": "Paris"}),)
PARIS_AND_ROME = (*PARIS, ("toolu_rome", "get_weather", {"city": "Rome"}))
PIXEL = "data:image/png;base64,iVBORw0KGgo="
WIRE = WIRE_FORMATS["anthropic"]
ENDPOINT = Endpoint("anthropic", "https://api.test", "claude-sonnet-4-20250514", None)
SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
WEATHER_FORMAT = {"type": "json_schema", "json_schema": {"name": "weather", "schema": SCHEMA, "strict": True}}


def built(**parameters: Any) -> dict[str, Any]:
    request = ChatRequest.of(parameters.pop("messages", "Hi"), **parameters)
    assert WIRE.unsupported(ENDPOINT, request) is None
    return WIRE.build_request(ENDPOINT, request).json


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_a_two_turn_tool_round_trip(stream: bool) -> None:
    with (
        AnthropicServer(responder=calling(PARIS, "", anthropic_answered)) as server,
        node_for("anthropic", server) as node,
    ):
        first = node.infer(QUESTION, tools=[WEATHER], tool_choice="required", force_provider="anthropic", stream=stream)
        if stream:
            calls, text, _, finish = streamed_calls(first)
        else:
            calls, text, finish = list(first.tool_calls), first.text, first.finish_reason
        assert [(call.id, call.name, arguments(call)) for call in calls] == [
            ("toolu_paris", "get_weather", {"city": "Paris"})
        ]
        assert (text, finish) == ("", "tool_calls")
        result = {"role": "tool", "tool_call_id": "toolu_paris", "content": '{"sky": "sunny"}'}
        second = node.infer([*QUESTION, assistant_of(calls), result], tools=[WEATHER], force_provider="anthropic")
    assert (second.text, second.finish_reason) == ("It is sunny in both.", "stop")
    opening = server.requests[0].json
    assert opening["tools"] == [
        {
            "name": "get_weather",
            "description": "The weather in a city",
            "input_schema": WEATHER["function"]["parameters"],  # type: ignore[index]
        }
    ]
    assert opening["tool_choice"] == {"type": "any"}
    sent = server.requests[-1].json["messages"]
    assert sent[1] == {
        "role": "assistant",
        "content": [{"type": "tool_use", "id": "toolu_paris", "name": "get_weather", "input": {"city": "Paris"}}],
    }
    assert sent[2] == {
        "role": "user",
        "content": [{"type": "tool_result", "tool_use_id": "toolu_paris", "content": '{"sky": "sunny"}'}],
    }


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_parallel_calls_and_their_results_in_one_user_message(stream: bool) -> None:
    responder = calling(PARIS_AND_ROME, "Looking.", anthropic_answered)
    with AnthropicServer(responder=responder) as server, node_for("anthropic", server) as node:
        first = node.infer(QUESTION, tools=[WEATHER], force_provider="anthropic", stream=stream)
        calls, text = streamed_calls(first)[:2] if stream else (list(first.tool_calls), first.text)
        # Numbered among the calls (0, 1), though the text block came first in the stream.
        assert [(call.id, arguments(call)["city"]) for call in calls] == [
            ("toolu_paris", "Paris"),
            ("toolu_rome", "Rome"),
        ]
        assert text == "Looking."
        results = [{"role": "tool", "tool_call_id": call.id, "content": "sunny"} for call in calls]
        follow_up = {"role": "user", "content": "And tomorrow?"}
        node.infer(
            [*QUESTION, assistant_of(calls, "Looking."), *results, follow_up],
            tools=[WEATHER],
            force_provider="anthropic",
        )
    sent = server.requests[-1].json["messages"]
    assert [message["role"] for message in sent] == ["user", "assistant", "user"]
    assert [block["type"] for block in sent[1]["content"]] == ["text", "tool_use", "tool_use"]
    assert sent[2]["content"] == [
        {"type": "tool_result", "tool_use_id": "toolu_paris", "content": "sunny"},
        {"type": "tool_result", "tool_use_id": "toolu_rome", "content": "sunny"},
        {"type": "text", "text": "And tomorrow?"},
    ]


def test_async_calls_whole_and_streamed() -> None:
    async def run(node: TrinityHybridNode) -> tuple[list[Any], list[Any]]:
        whole = await node.ainfer(QUESTION, tools=[WEATHER], force_provider="anthropic")
        chunks = [
            chunk async for chunk in node.ainfer(QUESTION, tools=[WEATHER], force_provider="anthropic", stream=True)
        ]
        await node.aclose()  # the async client belongs to this event loop
        return list(whole.tool_calls), streamed_calls(chunks)[0]

    responder = calling(PARIS_AND_ROME, "", lambda request: False)
    with AnthropicServer(responder=responder) as server, node_for("anthropic", server) as node:
        whole, streamed = asyncio.run(run(node))
    for calls in (whole, streamed):
        assert [(call.id, arguments(call)["city"]) for call in calls] == [
            ("toolu_paris", "Paris"),
            ("toolu_rome", "Rome"),
        ]


def test_the_sdk_reads_the_servers_tool_use_whole_and_streamed() -> None:
    with AnthropicServer(responder=calling(PARIS_AND_ROME, "Looking.", lambda request: False)) as server:
        client = anthropic.Anthropic(base_url=server.base_url, api_key=server.api_key)
        options: Any = {"model": "claude-sonnet-4-20250514", "max_tokens": 100, "messages": QUESTION}
        whole = client.messages.create(**options)
        with client.messages.stream(**options) as stream:
            final = stream.get_final_message()
        client.close()
    for message in (whole, final):
        assert message.stop_reason == "tool_use"
        uses = [(block.id, block.name, block.input) for block in message.content if block.type == "tool_use"]
        assert uses == [
            ("toolu_paris", "get_weather", {"city": "Paris"}),
            ("toolu_rome", "get_weather", {"city": "Rome"}),
        ]


@pytest.mark.parametrize(
    ("tool_choice", "parallel", "expected"),
    [
        ("auto", None, {"type": "auto"}),
        ("required", None, {"type": "any"}),
        ("none", None, {"type": "none"}),
        ({"type": "function", "function": {"name": "get_time"}}, None, {"type": "tool", "name": "get_time"}),
        (None, False, {"type": "auto", "disable_parallel_tool_use": True}),
        ("required", False, {"type": "any", "disable_parallel_tool_use": True}),
        ("none", False, {"type": "none"}),
    ],
)
def test_tool_choice_mapping(tool_choice: object, parallel: bool | None, expected: dict[str, Any]) -> None:
    body = built(tools=[WEATHER, TIME], tool_choice=tool_choice, parallel_tool_calls=parallel)
    assert body["tool_choice"] == expected
    assert [tool["name"] for tool in body["tools"]] == ["get_weather", "get_time"]
    assert body["tools"][1]["input_schema"] == TIME["function"]["parameters"]  # type: ignore[index]
    sdk_reads(body)


def sdk_reads(body: dict[str, Any]) -> None:
    """The SDK's request types (TypedDicts checked by pydantic: tags and field types) take what we send."""
    from anthropic.types import MessageParam, ToolChoiceParam, ToolParam
    from pydantic import TypeAdapter

    for message in body["messages"]:
        TypeAdapter(MessageParam).validate_python(message)
    for tool in body.get("tools", ()):
        TypeAdapter(ToolParam).validate_python(tool)
    if "tool_choice" in body:
        TypeAdapter(ToolChoiceParam).validate_python(body["tool_choice"])


def answering(name: str) -> Any:
    def respond(request: Request) -> ToolCallReply:
        assert request.json["tool_choice"] == {"type": "tool", "name": name}
        return ToolCallReply(calls=(("toolu_answer", name, {"city": "Paris"}),))

    return respond


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_a_json_schema_answer_by_tool_forcing(stream: bool) -> None:
    with AnthropicServer(responder=answering("weather")) as server, node_for("anthropic", server) as node:
        answer = node.infer(QUESTION, response_format=WEATHER_FORMAT, force_provider="anthropic", stream=stream)
        if stream:
            calls, text, _, finish = streamed_calls(answer)
        else:
            calls, text, finish = list(answer.tool_calls), answer.text, answer.finish_reason
    assert json.loads(text) == {"city": "Paris"}
    assert (calls, finish) == ([], "stop")
    sent = server.requests[0].json
    assert sent["tools"] == [
        {"name": "weather", "description": sent["tools"][0]["description"], "input_schema": SCHEMA}
    ]
    sdk_reads(sent)


def test_json_mode_forces_an_object_tool() -> None:
    with AnthropicServer(responder=answering("json_object")) as server, node_for("anthropic", server) as node:
        answer = node.infer(QUESTION, response_format={"type": "json_object"}, force_provider="anthropic")
    assert json.loads(answer.text) == {"city": "Paris"}
    assert server.requests[0].json["tools"][0]["input_schema"] == {"type": "object"}


def test_structured_output_beside_the_callers_tools() -> None:
    body = built(tools=[WEATHER], response_format=WEATHER_FORMAT)
    assert [tool["name"] for tool in body["tools"]] == ["get_weather", "weather"]
    assert body["tool_choice"] == {"type": "any"}  # a tool call or the answer
    only_answer = built(tools=[WEATHER], tool_choice="none", response_format=WEATHER_FORMAT)
    assert [tool["name"] for tool in only_answer["tools"]] == ["weather"]
    clash = built(tools=[{"type": "function", "function": {"name": "weather"}}], response_format=WEATHER_FORMAT)
    assert [tool["name"] for tool in clash["tools"]] == ["weather", "weather_answer"]


def test_a_schema_that_is_not_an_object_is_refused_before_any_call() -> None:
    array_format = {"type": "json_schema", "json_schema": {"name": "cities", "schema": {"type": "array"}}}
    with AnthropicServer() as server, node_for("anthropic", server) as node:
        with pytest.raises(ClientRequestError, match="object schema"):
            node.infer(QUESTION, response_format=array_format, force_provider="anthropic")
        with pytest.raises(InvalidInputError, match="object schema"):
            node.infer(QUESTION, response_format=array_format)
    assert server.requests == []


def image(url: str) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": url, "detail": "high"}}


def test_images_are_image_blocks() -> None:
    picture = [
        {"role": "user", "content": [{"type": "text", "text": "Which?"}, image(PIXEL), image("https://x.test/a.png")]}
    ]
    with AnthropicServer() as server, node_for("anthropic", server) as node:
        node.infer(picture, force_provider="anthropic")
    sent = server.requests[0].json
    sdk_reads(sent)
    assert sent["messages"][0]["content"] == [
        {"type": "text", "text": "Which?"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
        {"type": "image", "source": {"type": "url", "url": "https://x.test/a.png"}},
    ]


def test_an_image_in_a_system_message_skips_anthropic() -> None:
    request = ChatRequest.of([{"role": "system", "content": [image(PIXEL)]}, {"role": "user", "content": "Hi"}])
    assert WIRE.unsupported(ENDPOINT, request) == "images"


def test_arguments_that_are_not_an_object_skip_anthropic_for_the_next_provider() -> None:
    broken = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Par'}}
    conversation = [
        *QUESTION,
        {"role": "assistant", "content": None, "tool_calls": [broken]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
    ]
    with AnthropicServer() as claude, OpenAIServer() as gpt:
        environment = {"ANTHROPIC_API_KEY": claude.api_key, "ANTHROPIC_BASE_URL": claude.base_url}
        environment |= {"OPENAI_API_KEY": gpt.api_key, "OPENAI_BASE_URL": gpt.base_url}
        with TrinityHybridNode.from_env(environment) as node:
            with pytest.raises(ClientRequestError, match=r"messages\[1\]\.tool_calls\[0\]\.function\.arguments"):
                node.infer(conversation, tools=[WEATHER], force_provider="anthropic")
            response = node.infer(conversation, tools=[WEATHER], targets=[("anthropic", None), ("openai", None)])
    assert response.provider == "openai"
    assert claude.requests == []
    assert gpt.requests[0].json["messages"][1]["tool_calls"] == [broken]  # taken as it is


def test_ids_anthropic_refuses_are_derived_the_same_for_call_and_result() -> None:
    call = {"id": "functions.get_weather:0", "type": "function", "function": {"name": "get_weather", "arguments": ""}}
    conversation = [
        *QUESTION,
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "functions.get_weather:0", "content": ""},
    ]
    sent = built(messages=conversation, tools=[WEATHER])["messages"]
    use, result = sent[1]["content"][0], sent[2]["content"][0]
    assert use["id"] == result["tool_use_id"] and use["id"].startswith("toolu_")
    assert use["input"] == {}  # empty arguments: no arguments
    assert result == {"type": "tool_result", "tool_use_id": use["id"]}


def test_thinking_is_reasoning_and_cache_reads_are_cached_tokens_in_a_stream() -> None:
    parser = AnthropicStreamParser(ENDPOINT)
    usage = {"input_tokens": 10, "output_tokens": 1, "cache_read_input_tokens": 90}
    events = [
        ("message_start", {"type": "message_start", "message": {"usage": usage}}),
        ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": ""}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "Hm"}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "s"}}),
        ("content_block_start", {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "Yes"}}),
        ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 7}}),
    ]  # fmt: skip
    deltas = [delta for name, data in events for delta in parser.feed(name, json.dumps(data))]
    assert [(delta.text, delta.reasoning) for delta in deltas[:2]] == [("", "Hm"), ("Yes", "")]
    assert deltas[-1].usage is not None
    assert (deltas[-1].usage.prompt_tokens, deltas[-1].usage.cached_tokens) == (100, 90)


def tool_events(name: str, pieces: list[str], index: int = 1) -> list[tuple[str, dict[str, Any]]]:
    block = {"type": "tool_use", "id": "toolu_1", "name": name, "input": {}}
    events = [("content_block_start", {"type": "content_block_start", "index": index, "content_block": block})]
    events += [
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": index,
                "delta": {"type": "input_json_delta", "partial_json": piece},
            },
        )
        for piece in pieces
    ]
    return events


def split(text: str, cuts: list[int]) -> list[str]:
    points = sorted({0, len(text), *(cut % (len(text) + 1) for cut in cuts)})
    return [text[start:end] for start, end in itertools.pairwise(points)]


VALUES = st.dictionaries(st.text(max_size=5), st.one_of(st.integers(), st.text(max_size=8), st.none()), max_size=4)


@given(VALUES, st.lists(st.integers(min_value=0, max_value=200), max_size=8))
def test_input_fragments_split_anywhere_rejoin_to_the_same_json(value: dict[str, Any], cuts: list[int]) -> None:
    pieces = split(json.dumps(value), cuts)
    parser = AnthropicStreamParser(ENDPOINT)
    deltas = [d for name, data in tool_events("f", pieces) for d in parser.feed(name, json.dumps(data))]
    calls = [piece for delta in deltas for piece in delta.tool_calls]
    assert (calls[0].index, calls[0].id, calls[0].name) == (0, "toolu_1", "f")
    assert json.loads("".join(piece.arguments for piece in calls)) == value
    # The answer tool's fragments are the text instead.
    parser = AnthropicStreamParser(ENDPOINT, answer_tool="weather")
    deltas = [d for name, data in tool_events("weather", pieces) for d in parser.feed(name, json.dumps(data))]
    assert json.loads("".join(delta.text for delta in deltas)) == value
    assert not any(delta.tool_calls for delta in deltas)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=4),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children, max_size=3),
    max_leaves=8,
)
KINDS = st.sampled_from(
    ["message_start", "content_block_start", "content_block_delta", "content_block_stop", "message_delta", "error"]
)


INDICES = st.integers(-1, 3) | st.lists(st.integers(0, 1), max_size=1) | st.sampled_from([None, "0", 1.0, True])


def garbage() -> st.SearchStrategy[Any]:
    block = st.fixed_dictionaries(
        {"type": st.sampled_from(["tool_use", "text", "thinking", "input_json_delta", "text_delta", "thinking_delta"])},
        optional={name: JSON_VALUES for name in ("id", "name", "input", "partial_json", "text", "thinking")},
    )
    return st.fixed_dictionaries(
        {"type": KINDS},
        optional={
            "index": INDICES,
            "content_block": block,
            "delta": block,
            "usage": JSON_VALUES,
        },
    )


@settings(max_examples=400)
@example(
    [("content_block_delta", {"type": "content_block_delta", "index": [0], "delta": {"type": "input_json_delta"}})],
    None,
)
@given(st.lists(st.tuples(KINDS, garbage() | JSON_VALUES), max_size=8), st.sampled_from([None, "weather"]))
def test_garbage_stream_events_raise_nothing_but_provider_errors(events: list[Any], answer: str | None) -> None:
    parser = AnthropicStreamParser(ENDPOINT, answer_tool=answer)
    try:
        for name, data in events:
            parser.feed(name, json.dumps(data))
    except ProviderError:
        pass
