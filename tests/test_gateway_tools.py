"""Chat completions through the gateway carry the whole answer, read by the official openai SDK:
tool calls (content null, finish_reason tool_calls), reasoning_content, every choice of n > 1,
cached and reasoning token counts; streamed, tool_call deltas in OpenAI's shape that the SDK's
own accumulator (``chat.completions.stream``) rebuilds into the calls. The plain text answer's
template says exactly what the whole document says."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import openai
import pytest
from gateway_harness import GATEWAY_KEY, RunningGateway, provider_environment, running_gateway
from hypothesis import given, settings
from hypothesis import strategies as st
from loopback import OpenAIServer
from scripted_chat import Choice, ToolCall, ToolCallDelta, Usage, last_chunk, scripted
from trinity_hybrid._results import Response, StreamChunk
from trinity_hybrid.gateway import _shapes
from trinity_hybrid.gateway._stream import ChatStream

MESSAGES = [{"role": "user", "content": "What is the weather in Paris and in Rome?"}]
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "weather",
            "description": "The weather in a city.",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        },
    }
]
CALLS = (ToolCall("call_paris", "weather", '{"city": "Paris"}'), ToolCall("call_rome", "weather", '{"city": "Rome"}'))


@pytest.fixture(scope="module")
def groq() -> Iterator[OpenAIServer]:
    with OpenAIServer() as server:
        yield server


@pytest.fixture(scope="module")
def gateway(groq: OpenAIServer) -> Iterator[RunningGateway]:
    with running_gateway(provider_environment(groq=groq)) as running:
        yield running


def client(gateway: RunningGateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.url + "/v1", api_key=GATEWAY_KEY, max_retries=0)


def test_tool_calls_in_a_whole_answer(gateway: RunningGateway) -> None:
    with scripted(gateway) as chat:
        chat.answer = {"tool_calls": CALLS, "finish_reason": "tool_calls", "usage": Usage(40, 12, cached_tokens=32)}
        completion = client(gateway).chat.completions.create(model="auto", messages=MESSAGES, tools=TOOLS)
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None  # only tools were called
    assert [
        (call.id, call.type, call.function.name, call.function.arguments) for call in choice.message.tool_calls
    ] == [(call.id, "function", call.name, call.arguments) for call in CALLS]
    assert completion.usage.prompt_tokens_details.cached_tokens == 32
    assert completion.usage.completion_tokens_details is None  # not reported, not invented
    # The tools reached the request model the providers are called with.
    assert [tool.name for tool in chat.requests[-1].tools] == ["weather"]


def test_reasoning_several_choices_and_reasoning_tokens(gateway: RunningGateway) -> None:
    choices = (
        Choice("Paris is sunny.", "stop", (), "I should look outside."),
        Choice("", "tool_calls", CALLS[:1]),
        Choice("Rome is cut", "length"),
    )
    with scripted(gateway) as chat:
        chat.answer = {"choices": choices, "usage": Usage(9, 30, reasoning_tokens=20)}
        completion = client(gateway).chat.completions.create(model="auto", messages=MESSAGES, n=3, tools=TOOLS)
    assert [choice.index for choice in completion.choices] == [0, 1, 2]
    assert [choice.finish_reason for choice in completion.choices] == ["stop", "tool_calls", "length"]
    first, second, third = (choice.message for choice in completion.choices)
    assert first.content == "Paris is sunny." and first.model_extra["reasoning_content"] == "I should look outside."
    assert second.content is None and second.tool_calls[0].id == "call_paris"
    assert third.content == "Rome is cut" and "reasoning_content" not in third.model_extra
    assert completion.usage.completion_tokens_details.reasoning_tokens == 20


def test_a_plain_answer_is_unchanged(gateway: RunningGateway) -> None:
    answer = client(gateway).chat.completions.create(model="auto", messages=MESSAGES)
    assert answer.choices[0].message.content == f"echo: {MESSAGES[0]['content']}"
    assert answer.choices[0].message.tool_calls is None
    assert answer.choices[0].finish_reason == "stop"
    assert "reasoning_content" not in (answer.choices[0].message.model_extra or {})


STREAMED = [
    {"reasoning": "Two cities, "},
    {"reasoning": "two calls."},
    {"text": "Checking."},
    {"tool_calls": (ToolCallDelta(0, "call_paris", "weather", ""),)},
    {"tool_calls": (ToolCallDelta(0, arguments='{"city": '),)},
    {"tool_calls": (ToolCallDelta(0, arguments='"Paris"}'),)},
    {"tool_calls": (ToolCallDelta(1, "call_rome", "weather", '{"ci'),)},
    {"tool_calls": (ToolCallDelta(1, arguments='ty": "Rome"}'),)},
    last_chunk(Usage(40, 25, cached_tokens=8, reasoning_tokens=5), "tool_calls"),
]


def test_streamed_tool_calls_rebuilt_by_the_sdk_accumulator(gateway: RunningGateway) -> None:
    with scripted(gateway) as chat:
        chat.chunks = STREAMED
        with client(gateway).chat.completions.stream(
            model="auto", messages=MESSAGES, tools=TOOLS, stream_options={"include_usage": True}
        ) as stream:
            events = list(stream)
            final = stream.get_final_completion()
    message = final.choices[0].message
    assert [(call.id, call.function.name, call.function.arguments) for call in message.tool_calls] == [
        (call.id, call.name, call.arguments) for call in CALLS
    ]
    assert [json.loads(call.function.arguments) for call in message.tool_calls] == [{"city": "Paris"}, {"city": "Rome"}]
    assert message.content == "Checking."
    assert final.choices[0].finish_reason == "tool_calls"
    assert final.usage.prompt_tokens_details.cached_tokens == 8
    assert final.usage.completion_tokens_details.reasoning_tokens == 5
    done = [event for event in events if event.type == "tool_calls.function.arguments.done"]
    assert [event.arguments for event in done] == [call.arguments for call in CALLS]


def test_streamed_pieces_are_in_openai_shape(gateway: RunningGateway) -> None:
    with scripted(gateway) as chat:
        chat.chunks = STREAMED
        response = gateway.request(
            "POST", "/v1/chat/completions", json={"model": "auto", "messages": MESSAGES, "tools": TOOLS, "stream": True}
        )
    events = [event.removeprefix("data: ") for event in response.text.split("\n\n") if event]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(event) for event in events[:-1]]
    deltas = [chunk["choices"][0]["delta"] for chunk in chunks]
    assert deltas[0] == {"role": "assistant", "content": ""}
    assert "".join(delta.get("reasoning_content", "") for delta in deltas) == "Two cities, two calls."
    pieces = [piece for delta in deltas for piece in delta.get("tool_calls", [])]
    # The first piece of a call: index, id, type and name; later pieces: index and arguments only.
    assert pieces[0] == {
        "index": 0,
        "id": "call_paris",
        "type": "function",
        "function": {"name": "weather", "arguments": ""},
    }
    assert pieces[1] == {"index": 0, "function": {"arguments": '{"city": '}}
    assert pieces[3] == {
        "index": 1,
        "id": "call_rome",
        "type": "function",
        "function": {"name": "weather", "arguments": '{"ci'},
    }
    assert all(set(piece) == {"index", "function"} for piece in (pieces[1], pieces[2], pieces[4]))
    finishing = [chunk["choices"][0]["finish_reason"] for chunk in chunks if chunk["choices"][0]["finish_reason"]]
    assert finishing == ["tool_calls"]
    assert all("usage" not in chunk for chunk in chunks)  # not asked for


def test_a_stream_of_several_choices_opens_and_closes_each(gateway: RunningGateway) -> None:
    with scripted(gateway) as chat:
        chat.chunks = [
            {"text": "A", "index": 0},
            {"text": "B", "index": 1},
            {"text": "a", "index": 0},
            last_chunk(Usage(3, 3), "stop"),
        ]
        chunks = list(client(gateway).chat.completions.create(model="auto", messages=MESSAGES, n=2, stream=True))
    texts: dict[int, str] = {}
    roles: dict[int, str] = {}
    finished: dict[int, str] = {}
    for chunk in chunks:
        for choice in chunk.choices:
            texts[choice.index] = texts.get(choice.index, "") + (choice.delta.content or "")
            if choice.delta.role:
                roles[choice.index] = choice.delta.role
            if choice.finish_reason:
                finished[choice.index] = choice.finish_reason
    assert texts == {0: "Aa", 1: "B"}
    assert roles == {0: "assistant", 1: "assistant"}
    assert finished == {0: "stop", 1: "stop"}


# ------------------------------------------------------------------------------------------------
# The plain text template against the whole document.

texts = st.text(st.characters(blacklist_categories=("Cs",)), max_size=100)
counts = st.integers(0, 2**40)


@settings(max_examples=150, deadline=None)
@given(
    text=texts,
    finish_reason=st.none() | st.sampled_from(["stop", "length"]),
    prompt=counts,
    completion=counts,
    cached=st.none() | counts,
    reasoning=st.none() | counts,
)
def test_the_plain_template_says_what_the_whole_document_says(
    text: str, finish_reason: str | None, prompt: int, completion: int, cached: int | None, reasoning: int | None
) -> None:
    usage = Usage(prompt, completion, cached, reasoning)
    response = Response(text, "groq", "m", usage, 0.0, 0.0, (), None, finish_reason,  # type: ignore[arg-type]
                        choices=(Choice(text, finish_reason),))  # fmt: skip
    before_s = int(time.time())
    fast = json.loads(_shapes.completion("chatcmpl-1", "groq/m", text, finish_reason, usage))
    whole = json.loads(_shapes.completion_document("chatcmpl-1", "groq/m", response))
    assert before_s <= fast.pop("created") <= int(time.time())
    whole.pop("created")
    assert fast == whole
    # completion_of takes the template for a plain answer.
    chosen = json.loads(_shapes.completion_of("groq/m", response))
    assert chosen["choices"] == whole["choices"] and chosen["usage"] == whole["usage"]


@settings(max_examples=150, deadline=None)
@given(model=texts, text=texts.filter(bool))
def test_the_stream_text_template_is_the_chunk_json_dumps_would_write(model: str, text: str) -> None:
    events = ChatStream(model, include_usage=False)
    fast = events.chunk(StreamChunk(text, "groq"))
    assert fast.startswith(b"data: ") and fast.endswith(b"\n\n")
    long_way = _shapes.stream_chunk(events.identifier, events.created, model, {"content": text})
    assert json.loads(fast[6:]) == json.loads(long_way[6:])
