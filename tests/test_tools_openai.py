"""Tools, structured output, images and answer extras through the OpenAI-compatible wire format
(issue 16, points 1-3 and 5), library-level against the loopback OpenAI server, whose answers
the official ``openai`` SDK reads. The stream reader is fuzzed with hypothesis: argument
fragments split anywhere rejoin, and garbage never raises anything but a ``ProviderError``."""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

import openai
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from loopback import OpenAIServer, Request
from tools_harness import QUESTION, TIME, WEATHER, arguments, assistant_of, calling, node_for, streamed_calls
from trinity_hybrid import ClientRequestError, ProviderError, TrinityHybridNode
from trinity_hybrid.providers import WIRE_FORMATS, ChatRequest, Endpoint
from trinity_hybrid.providers.openai_compatible import OpenAICompatibleStreamParser

PARIS = (("call_paris", "get_weather", {"city": "Paris"}),)
PARIS_AND_ROME = (*PARIS, ("call_rome", "get_weather", {"city": "Rome"}))
PIXEL = "data:image/png;base64,iVBORw0KGgo="
WIRE = WIRE_FORMATS["openai"]


def answered(request: Request) -> bool:
    return any(message.get("role") == "tool" for message in request.json["messages"])


def endpoint(provider: str = "openai", model: str = "gpt-4o") -> Endpoint:
    return Endpoint(provider, "https://api.test/v1", model, None)


def built(provider: str = "openai", model: str = "gpt-4o", **parameters: Any) -> dict[str, Any]:
    request = ChatRequest.of(parameters.pop("messages", "Hi"), **parameters)
    assert WIRE.unsupported(endpoint(provider, model), request) is None
    return WIRE.build_request(endpoint(provider, model), request).json


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_a_two_turn_tool_round_trip(stream: bool) -> None:
    with OpenAIServer(responder=calling(PARIS, "", answered)) as server, node_for("openai", server) as node:
        first = node.infer(QUESTION, tools=[WEATHER], tool_choice="auto", force_provider="openai", stream=stream)
        if stream:
            calls, text, _, finish = streamed_calls(first)
        else:
            calls, text, finish = list(first.tool_calls), first.text, first.finish_reason
        assert [(call.id, call.name, arguments(call)) for call in calls] == [
            ("call_paris", "get_weather", {"city": "Paris"})
        ]
        assert (text, finish) == ("", "tool_calls")
        result = {"role": "tool", "tool_call_id": "call_paris", "content": '{"sky": "sunny"}'}
        second = node.infer([*QUESTION, assistant_of(calls), result], tools=[WEATHER], force_provider="openai")
    assert (second.text, second.finish_reason) == ("It is sunny in both.", "stop")
    assert server.requests[0].json["tools"] == [WEATHER]
    assert server.requests[0].json["tool_choice"] == "auto"
    sent = server.requests[-1].json["messages"]
    assert sent[1] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_paris",
                "type": "function",
                "function": {"name": "get_weather", "arguments": calls[0].arguments},
            }
        ],
    }
    assert sent[2] == result


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_parallel_calls_come_back_in_order(stream: bool) -> None:
    responder = calling(PARIS_AND_ROME, "Looking.", answered)
    with OpenAIServer(responder=responder) as server, node_for("openai", server) as node:
        first = node.infer(QUESTION, tools=[WEATHER], parallel_tool_calls=True, force_provider="openai", stream=stream)
        calls, text = (streamed_calls(first)[:2]) if stream else (list(first.tool_calls), first.text)
        assert [(call.id, arguments(call)["city"]) for call in calls] == [
            ("call_paris", "Paris"),
            ("call_rome", "Rome"),
        ]
        assert text == "Looking."
        results = [{"role": "tool", "tool_call_id": call.id, "content": "sunny"} for call in calls]
        node.infer([*QUESTION, assistant_of(calls, "Looking."), *results], tools=[WEATHER], force_provider="openai")
    assert server.requests[0].json["parallel_tool_calls"] is True
    assert [message["role"] for message in server.requests[-1].json["messages"]] == [
        "user",
        "assistant",
        "tool",
        "tool",
    ]


def test_async_calls_whole_and_streamed() -> None:
    async def run(node: TrinityHybridNode) -> tuple[list[Any], list[Any]]:
        whole = await node.ainfer(QUESTION, tools=[WEATHER], force_provider="openai")
        chunks = [chunk async for chunk in node.ainfer(QUESTION, tools=[WEATHER], force_provider="openai", stream=True)]
        await node.aclose()  # the async client belongs to this event loop
        return list(whole.tool_calls), streamed_calls(chunks)[0]

    responder = calling(PARIS_AND_ROME, "", lambda request: False)
    with OpenAIServer(responder=responder) as server, node_for("openai", server) as node:
        whole, streamed = asyncio.run(run(node))
    for calls in (whole, streamed):
        assert [(call.id, arguments(call)["city"]) for call in calls] == [
            ("call_paris", "Paris"),
            ("call_rome", "Rome"),
        ]


def test_the_sdk_reads_the_servers_tool_calls_whole_and_streamed() -> None:
    with OpenAIServer(responder=calling(PARIS_AND_ROME, "", lambda request: False)) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key=server.api_key)
        tools: Any = [WEATHER]
        whole = client.chat.completions.create(model="gpt-4o-mini", messages=QUESTION, tools=tools)  # type: ignore[arg-type]
        with client.chat.completions.stream(model="gpt-4o-mini", messages=QUESTION, tools=tools) as stream:  # type: ignore[arg-type]
            final = stream.get_final_completion()
        client.close()
    for completion in (whole, final):
        choice = completion.choices[0]
        assert choice.finish_reason == "tool_calls"
        assert choice.message.content is None
        calls = choice.message.tool_calls or []
        assert [(c.id, c.function.name, json.loads(c.function.arguments)) for c in calls] == [  # type: ignore[union-attr]
            ("call_paris", "get_weather", {"city": "Paris"}),
            ("call_rome", "get_weather", {"city": "Rome"}),
        ]


@pytest.mark.parametrize(
    "tool_choice",
    ["auto", "none", "required", {"type": "function", "function": {"name": "get_time"}}],
)
def test_tool_choice_goes_as_given(tool_choice: object) -> None:
    body = built(tools=[WEATHER, TIME], tool_choice=tool_choice, parallel_tool_calls=False)
    assert body["tool_choice"] == tool_choice
    assert body["tools"] == [WEATHER, TIME]
    assert body["parallel_tool_calls"] is False


def test_parallel_tool_calls_false_skips_a_provider_that_does_not_document_it() -> None:
    with OpenAIServer() as first, OpenAIServer() as second:
        environment = {"DEEPSEEK_API_KEY": first.api_key, "DEEPSEEK_BASE_URL": first.base_url}
        environment |= {"OPENAI_API_KEY": second.api_key, "OPENAI_BASE_URL": second.base_url}
        with TrinityHybridNode.from_env(environment) as node:
            response = node.infer(QUESTION, tools=[WEATHER], parallel_tool_calls=False)
            with pytest.raises(ClientRequestError, match="parallel_tool_calls"):
                node.infer(QUESTION, tools=[WEATHER], parallel_tool_calls=False, force_provider="deepseek")
            node.infer(QUESTION, tools=[WEATHER], parallel_tool_calls=True, force_provider="deepseek")
    assert response.provider == "openai"
    assert first.requests[0].json["tools"] == [WEATHER]
    assert "parallel_tool_calls" not in first.requests[0].json  # true, its default: dropped by rule
    assert second.requests[0].json["parallel_tool_calls"] is False


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_a_json_schema_answer(stream: bool) -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    response_format = {"type": "json_schema", "json_schema": {"name": "weather", "schema": schema, "strict": True}}
    with OpenAIServer(responder=lambda request: '{"city": "Paris"}') as server, node_for("openai", server) as node:
        answer = node.infer(QUESTION, response_format=response_format, force_provider="openai", stream=stream)
        text = "".join(chunk.text for chunk in answer) if stream else answer.text
    assert json.loads(text) == {"city": "Paris"}
    assert server.requests[0].json["response_format"] == response_format


def test_json_schema_goes_where_documented_and_json_mode_nearly_everywhere() -> None:
    schema_format = {"type": "json_schema", "json_schema": {"name": "w", "schema": {"type": "object"}}}
    request = ChatRequest.of("Hi", response_format=schema_format)
    for provider in ("openai", "custom", "mistral"):
        assert WIRE.unsupported(endpoint(provider), request) is None
    for provider in ("deepseek", "kimi", "groq", "zhipu", "nvidia"):
        assert WIRE.unsupported(endpoint(provider), request) == "response_format:json_schema"
    json_mode = ChatRequest.of("Hi", response_format={"type": "json_object"})
    assert WIRE.unsupported(endpoint("deepseek"), json_mode) is None
    assert WIRE.unsupported(endpoint("nvidia"), json_mode) == "response_format:json_object"
    assert built("deepseek", response_format={"type": "json_object"})["response_format"] == {"type": "json_object"}


def image(url: str) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": url, "detail": "low"}}


def test_an_image_part_goes_as_an_openai_part() -> None:
    picture = [{"role": "user", "content": [{"type": "text", "text": "What is this?"}, image(PIXEL)]}]
    with OpenAIServer() as server, node_for("openai", server) as node:
        node.infer(picture, force_provider="openai")
        node.infer([{"role": "user", "content": [image("https://x.test/a.png")]}], force_provider="openai")
    assert server.requests[0].json["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "What is this?"}, image(PIXEL)]}
    ]
    assert server.requests[1].json["messages"][0]["content"] == [image("https://x.test/a.png")]


@pytest.mark.parametrize(
    ("provider", "model", "sees"),
    [
        ("openai", "gpt-4o", True),
        ("openai", "gpt-3.5-turbo", False),
        ("custom", "anything", True),
        ("deepseek", "deepseek-chat", False),
        ("groq", "llama-3.3-70b-versatile", False),
        ("groq", "meta-llama/llama-4-scout-17b-16e-instruct", True),
        ("mistral", "pixtral-large-latest", True),
        ("mistral", "mistral-large-latest", False),
        ("zhipu", "glm-4v-plus", True),
        ("kimi", "moonshot-v1-8k-vision-preview", True),
        ("local", "SmolLM2-135M-Instruct", False),
    ],
)
def test_images_go_only_to_models_that_see(provider: str, model: str, sees: bool) -> None:
    request = ChatRequest.of([{"role": "user", "content": [image(PIXEL)]}])
    assert WIRE.unsupported(endpoint(provider, model), request) == (None if sees else "images")


def test_a_provider_whose_model_cannot_see_is_skipped_for_the_next() -> None:
    picture = [{"role": "user", "content": [{"type": "text", "text": "What is this?"}, image(PIXEL)]}]
    with OpenAIServer() as deepseek, OpenAIServer() as groq:
        environment = {"DEEPSEEK_API_KEY": deepseek.api_key, "DEEPSEEK_BASE_URL": deepseek.base_url}
        environment |= {"GROQ_API_KEY": groq.api_key, "GROQ_BASE_URL": groq.base_url}
        environment |= {"GROQ_MODEL": "meta-llama/llama-4-scout-17b-16e-instruct"}
        with TrinityHybridNode.from_env(environment) as node:
            response = node.infer(picture)
    assert response.provider == "groq"
    assert deepseek.requests == []
    assert [a.outcome for a in response.attempts if a.provider == "deepseek"] in ([], ["skipped"])


def test_mistral_gets_tool_call_ids_of_its_form_the_same_for_call_and_result() -> None:
    call = {"id": "call_0fypS1hVXlong", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
    conversation = [
        *QUESTION,
        {"role": "assistant", "content": None, "tool_calls": [call, {**call, "id": "abcdefgh9"}]},
        {"role": "tool", "tool_call_id": "call_0fypS1hVXlong", "content": "sunny"},
        {"role": "tool", "tool_call_id": "abcdefgh9", "content": "rain"},
    ]
    sent = built("mistral", "mistral-large-latest", messages=conversation, tools=[WEATHER])["messages"]
    first, kept = (call["id"] for call in sent[1]["tool_calls"])
    assert len(first) == 9 and first.isalnum() and kept == "abcdefgh9"
    assert [sent[2]["tool_call_id"], sent[3]["tool_call_id"]] == [first, kept]
    assert built(messages=conversation, tools=[WEATHER])["messages"][2]["tool_call_id"] == "call_0fypS1hVXlong"


def test_reasoning_refusal_logprobs_and_the_usage_details_are_read() -> None:
    body = {
        "model": "deepseek-reasoner",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "4", "reasoning_content": "2+2"},
                "finish_reason": "stop",
                "logprobs": {"content": []},
            },
            {"index": 1, "message": {"role": "assistant", "content": None, "refusal": "No."}, "finish_reason": "stop"},
        ],
        "usage": {
            "prompt_tokens": 10,
            "completion_tokens": 5,
            "prompt_tokens_details": {"cached_tokens": 8},
            "completion_tokens_details": {"reasoning_tokens": 3},
        },
    }
    completion = WIRE.parse_response(endpoint("deepseek"), ChatRequest.of("Hi"), json.dumps(body).encode())
    first, second = completion.choices
    assert (first.text, first.reasoning, first.logprobs) == ("4", "2+2", {"content": []})
    assert (second.text, second.refusal) == ("", "No.")
    usage = completion.usage
    assert usage is not None and (usage.cached_tokens, usage.reasoning_tokens) == (8, 3)
    deltas = WIRE.new_stream_parser(endpoint("deepseek"), ChatRequest.of("Hi")).feed(
        "message", json.dumps({"choices": [{"index": 0, "delta": {"reasoning_content": "Hm"}}]})
    )
    assert [(delta.text, delta.reasoning) for delta in deltas] == [("", "Hm")]


def feed_all(events: list[dict[str, Any]]) -> list[Any]:
    parser = OpenAICompatibleStreamParser(endpoint("groq"))
    return [delta for event in events for delta in parser.feed("message", json.dumps(event))]


def tool_chunk(*pieces: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {"choices": [{"index": 0, "delta": {"tool_calls": list(pieces)}, "finish_reason": finish}]}


def joined(deltas: list[Any]) -> list[tuple[str, str, str]]:
    calls: dict[int, list[str]] = {}
    for delta in deltas:
        for piece in delta.tool_calls:
            if piece.index not in calls:
                assert piece.id and piece.name
                calls[piece.index] = [piece.id, piece.name, ""]
            else:
                assert piece.id is None and piece.name is None
            calls[piece.index][2] += piece.arguments
    assert sorted(calls) == list(range(len(calls)))
    return [tuple(calls[index]) for index in sorted(calls)]  # type: ignore[misc]


def test_imitators_stream_quirks_come_out_in_openais_shape() -> None:
    # No index at all (Ollama, Gemini's compatible API), ids repeated on every piece, a call whole
    # in one piece, indices that do not start at 0, a name after the first fragment.
    events = [
        tool_chunk({"id": "a", "function": {"name": "f", "arguments": '{"x"'}}),
        tool_chunk({"id": "a", "function": {"arguments": ": 1}"}}),
        tool_chunk({"id": "b", "function": {"name": "g", "arguments": "{}"}}),
        tool_chunk({"index": 5, "function": {"arguments": "{"}}),
        tool_chunk({"index": 5, "id": "c", "function": {"name": "h", "arguments": "}"}}),
        tool_chunk({"index": 6, "function": {"name": "i", "arguments": {"y": 2}}}, finish="tool_calls"),
    ]
    deltas = feed_all(events)
    assert joined(deltas) == [("a", "f", '{"x": 1}'), ("b", "g", "{}"), ("c", "h", "{}"), ("call_3", "i", '{"y": 2}')]
    assert deltas[-1].finish_reason == "tool_calls"


def test_calls_without_ids_get_distinct_ones_and_object_arguments_become_text() -> None:
    calls = [{"type": "function", "function": {"name": "f", "arguments": {"x": 1}}}] * 2
    body = {"choices": [{"message": {"role": "assistant", "content": None, "tool_calls": calls}}]}
    completion = WIRE.parse_response(endpoint("custom"), ChatRequest.of("Hi"), json.dumps(body).encode())
    assert [(call.id, call.arguments) for call in completion.tool_calls] == [
        ("call_0", '{"x": 1}'),
        ("call_1", '{"x": 1}'),
    ]


def test_a_call_that_never_names_its_function_is_the_attempts_failure() -> None:
    with pytest.raises(ProviderError, match="never named"):
        feed_all([tool_chunk({"index": 0, "function": {"arguments": "{}"}}, finish="tool_calls")])


@given(
    st.dictionaries(st.text(max_size=5), st.one_of(st.integers(), st.text(max_size=8), st.booleans()), max_size=4),
    st.lists(st.integers(min_value=0, max_value=200), max_size=8),
)
def test_argument_fragments_split_anywhere_rejoin_to_the_same_json(value: dict[str, Any], cuts: list[int]) -> None:
    text = json.dumps(value)
    points = sorted({0, len(text), *(cut % (len(text) + 1) for cut in cuts)})
    pieces = [text[start:end] for start, end in itertools.pairwise(points)]
    events = [tool_chunk({"index": 0, "id": "call_1", "type": "function", "function": {"name": "f", "arguments": ""}})]
    events += [tool_chunk({"index": 0, "function": {"arguments": piece}}) for piece in pieces]
    ((_, _, arguments_text),) = joined(feed_all(events))
    assert json.loads(arguments_text) == value


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=4),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children, max_size=3),
    max_leaves=8,
)
FIELDS = st.sampled_from(["choices", "delta", "tool_calls", "index", "id", "function", "name", "arguments", "usage"])


def garbage() -> st.SearchStrategy[Any]:
    piece = st.fixed_dictionaries({}, optional={name: JSON_VALUES for name in ("index", "id", "function", "type")})
    delta = st.fixed_dictionaries({}, optional={"tool_calls": st.lists(piece, max_size=3) | JSON_VALUES})
    choice = st.fixed_dictionaries({}, optional={"delta": delta | JSON_VALUES, "finish_reason": JSON_VALUES})
    return st.fixed_dictionaries({}, optional={"choices": st.lists(choice, max_size=2) | JSON_VALUES}) | JSON_VALUES


@settings(max_examples=300)
@given(st.lists(garbage() | st.dictionaries(FIELDS, JSON_VALUES), max_size=6))
def test_garbage_stream_events_raise_nothing_but_provider_errors(events: list[Any]) -> None:
    parser = OpenAICompatibleStreamParser(endpoint("groq"))
    try:
        for event in events:
            parser.feed("message", json.dumps(event))
    except ProviderError:
        pass
