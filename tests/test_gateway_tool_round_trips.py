"""Tool round trips end to end: the official openai and anthropic SDKs against a running gateway,
over loopback providers whose model calls a tool (``ToolCallReply``) and then answers from the
tool's result. Whole and streamed, for each provider wire format that renders tool calls: the
call reaches the client as that client's API shapes it (OpenAI ``tool_calls``, Anthropic
``tool_use``), and the client's next turn (a ``tool`` message, a ``tool_result`` block) reaches
the provider as its own wire format shapes it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest
from gateway_harness import GATEWAY_KEY, RunningGateway, provider_environment, running_gateway
from loopback import AnthropicServer, CohereServer, GeminiServer, LoopbackServer, OpenAIServer, Request, ToolCallReply
from trinity_hybrid._request import ChatRequest

QUESTION = "What is the weather in Paris?"
ANSWER = "It is sunny in Paris."
CALL = ("call_weather_1", "weather", {"city": "Paris", "days": [1, 2]})
PARAMETERS = {"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "array"}}}
OPENAI_TOOLS = [
    {"type": "function", "function": {"name": "weather", "description": "Weather", "parameters": PARAMETERS}}
]
ANTHROPIC_TOOLS = [{"name": "weather", "description": "Weather", "input_schema": PARAMETERS}]


def weather(request: Request) -> str | ToolCallReply:
    """Calls the tool, or answers once the conversation carries the tool's result (in any wire)."""
    body = json.dumps(request.json)
    if any(marker in body for marker in ('"tool_result"', '"role": "tool"', '"functionResponse"')):
        return ANSWER
    return ToolCallReply(calls=(CALL,))


SERVERS = {"groq": OpenAIServer, "anthropic": AnthropicServer, "google": GeminiServer, "cohere": CohereServer}


@pytest.fixture(scope="module", params=sorted(SERVERS))
def provider(request: pytest.FixtureRequest) -> Iterator[tuple[str, LoopbackServer]]:
    with SERVERS[request.param](responder=weather) as server:
        yield request.param, server


@pytest.fixture(scope="module")
def gateway(provider: tuple[str, LoopbackServer]) -> Iterator[RunningGateway]:
    name, server = provider
    with running_gateway(provider_environment(**{name: server})) as running:
        node = running.node
        lacks = node.wire_format(name).unsupported(node.endpoint(name), ChatRequest.of(QUESTION, tools=OPENAI_TOOLS))
        if lacks is not None:
            pytest.skip(f"{name}'s wire format does not carry tools yet ({lacks})")
        yield running


def openai_client(gateway: RunningGateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.url + "/v1", api_key=GATEWAY_KEY, max_retries=0)


def anthropic_client(gateway: RunningGateway) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gateway.url, api_key=GATEWAY_KEY, max_retries=0)


def test_openai_sdk_tool_round_trip(gateway: RunningGateway, provider: tuple[str, LoopbackServer]) -> None:
    sdk = openai_client(gateway)
    messages: list[Any] = [{"role": "user", "content": QUESTION}]
    first = sdk.chat.completions.create(model=provider[0], messages=messages, tools=OPENAI_TOOLS)
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None  # only a tool was called
    [call] = choice.message.tool_calls
    assert (call.function.name, json.loads(call.function.arguments)) == (CALL[1], CALL[2])
    messages += [choice.message.model_dump(exclude_none=True),
                 {"role": "tool", "tool_call_id": call.id, "content": "sunny"}]  # fmt: skip
    second = sdk.chat.completions.create(model=provider[0], messages=messages, tools=OPENAI_TOOLS)
    assert second.choices[0].message.content == ANSWER
    assert second.choices[0].finish_reason == "stop"


def test_openai_sdk_streamed_tool_call(gateway: RunningGateway, provider: tuple[str, LoopbackServer]) -> None:
    with openai_client(gateway).chat.completions.stream(
        model=provider[0], messages=[{"role": "user", "content": QUESTION}], tools=OPENAI_TOOLS
    ) as stream:
        final = stream.get_final_completion()
    [call] = final.choices[0].message.tool_calls
    assert call.id and (call.function.name, json.loads(call.function.arguments)) == (CALL[1], CALL[2])
    assert final.choices[0].finish_reason == "tool_calls"


def test_anthropic_sdk_tool_round_trip(gateway: RunningGateway, provider: tuple[str, LoopbackServer]) -> None:
    sdk = anthropic_client(gateway)
    messages: list[Any] = [{"role": "user", "content": QUESTION}]
    first = sdk.messages.create(model=provider[0], max_tokens=100, messages=messages, tools=ANTHROPIC_TOOLS)
    assert first.stop_reason == "tool_use"
    [use] = [block for block in first.content if block.type == "tool_use"]
    assert (use.name, use.input) == (CALL[1], CALL[2])
    messages += [
        {"role": "assistant", "content": first.content},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "sunny"}]},
    ]
    second = sdk.messages.create(model=provider[0], max_tokens=100, messages=messages, tools=ANTHROPIC_TOOLS)
    assert second.content[0].text == ANSWER and second.stop_reason == "end_turn"


def test_anthropic_sdk_streamed_tool_use(gateway: RunningGateway, provider: tuple[str, LoopbackServer]) -> None:
    with anthropic_client(gateway).messages.stream(
        model=provider[0], max_tokens=100, messages=[{"role": "user", "content": QUESTION}], tools=ANTHROPIC_TOOLS
    ) as stream:
        message = stream.get_final_message()
    [use] = [block for block in message.content if block.type == "tool_use"]
    assert use.id and (use.name, use.input) == (CALL[1], CALL[2])
    assert message.stop_reason == "tool_use"
