"""The response cache's key holds everything a provider would see of a request: tools, tool
choice, response_format, images, tool calls and results in the history, every parameter and
fields the request model does not know. Peers have served a cached answer for a request that
differed only in its tools or its response_format; here a request that differs in any one of
these is a miss, and the same request is a hit (the key is built from the parsed request, so the
order of a JSON object's members does not matter)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from gateway_harness import provider_environment, running_gateway
from hypothesis import given, settings
from hypothesis import strategies as st
from loopback import OpenAIServer
from trinity_hybrid import ResponseCache, TrinityHybridNode
from trinity_hybrid.providers import ChatRequest

QUESTION = "What is the weather in Paris?"
WEATHER = {
    "type": "function",
    "function": {
        "name": "weather",
        "description": "The weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
SCHEMA = {
    "type": "json_schema",
    "json_schema": {
        "name": "answer",
        "strict": True,
        "schema": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
            "additionalProperties": False,
        },
    },
}
CALLS = [{"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": '{"city":"Paris"}'}}]
HISTORY = [
    {"role": "user", "content": QUESTION},
    {"role": "assistant", "content": None, "tool_calls": CALLS},
    {"role": "tool", "tool_call_id": "call_1", "content": "sunny, 21 C"},
]


def with_member(document: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    """A deep copy of ``document`` with the member at ``path`` set to ``value``."""
    copy = json.loads(json.dumps(document))
    target = copy
    for name in path[:-1]:
        target = target[name]
    target[path[-1]] = value
    return copy


OTHER_CALL = with_member(HISTORY[1], ("tool_calls",), [with_member(CALLS[0], ("function", "arguments"), "{}")])
WITH_IMAGE = {
    "role": "user",
    "content": [
        {"type": "text", "text": QUESTION},
        {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
    ],
}
# One change each, to a request that has tools, a schema and a tool round trip in its history.
BASE: dict[str, Any] = {"messages": HISTORY, "tools": [WEATHER], "response_format": SCHEMA}
CHANGES: dict[str, dict[str, Any]] = {
    "no tools": {"messages": HISTORY},
    "another tool": BASE | {"tools": [WEATHER, with_member(WEATHER, ("function", "name"), "forecast")]},
    "a tool's description": BASE | {"tools": [with_member(WEATHER, ("function", "description"), "Weather")]},
    "a tool's schema": BASE | {"tools": [with_member(WEATHER, ("function", "parameters", "required"), [])]},
    "tool_choice required": BASE | {"tool_choice": "required"},
    "tool_choice none": BASE | {"tool_choice": "none"},
    "tool_choice named": BASE | {"tool_choice": {"type": "function", "function": {"name": "weather"}}},
    "parallel_tool_calls": BASE | {"parallel_tool_calls": False},
    "json_object": BASE | {"response_format": {"type": "json_object"}},
    "no response_format": {"messages": HISTORY, "tools": [WEATHER]},
    "the schema": BASE | {"response_format": with_member(SCHEMA, ("json_schema", "schema", "required"), [])},
    "strict": BASE | {"response_format": with_member(SCHEMA, ("json_schema", "strict"), False)},
    "the schema's name": BASE | {"response_format": with_member(SCHEMA, ("json_schema", "name"), "other")},
    "a tool call's arguments": BASE | {"messages": [HISTORY[0], OTHER_CALL, HISTORY[2]]},
    "a tool result": BASE | {"messages": [*HISTORY[:2], with_member(HISTORY[2], ("content",), "rain, 12 C")]},
    "an image": BASE | {"messages": [WITH_IMAGE, *HISTORY[1:]]},
    "max_tokens": BASE | {"max_tokens": 10},
    "temperature": BASE | {"temperature": 0.0},
    "top_p": BASE | {"top_p": 0.5},
    "stop": BASE | {"stop": ["\n"]},
    "seed": BASE | {"seed": 7},
    "n": BASE | {"n": 2},
    "presence_penalty": BASE | {"presence_penalty": 0.5},
    "frequency_penalty": BASE | {"frequency_penalty": 0.5},
    "logprobs": BASE | {"logprobs": True, "top_logprobs": 2},
    "user": BASE | {"user": "team-a"},
    "metadata": BASE | {"metadata": {"run": "1"}},
    "an unknown field": BASE | {"reasoning_effort": "low"},
}


def key_of(document: dict[str, Any], **routing: Any) -> str:
    options: dict[str, Any] = {"force_provider": None, "model": None, "strategy": None, "quality": False} | routing
    return ResponseCache.key(ChatRequest.from_openai(document), **options)


def test_the_base_request_is_valid_and_its_key_is_stable() -> None:
    assert key_of(BASE) == key_of(json.loads(json.dumps(BASE)))


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_a_request_that_differs_in_one_field_has_another_key(change: str) -> None:
    assert key_of(CHANGES[change]) != key_of(BASE), f"{change} left the cache key unchanged"


def test_every_change_is_a_key_of_its_own() -> None:
    keys = {key_of(document) for document in CHANGES.values()} | {key_of(BASE)}
    assert len(keys) == len(CHANGES) + 1


def test_the_text_format_is_the_default_and_the_same_request() -> None:
    # ``{"type": "text"}`` is what every provider does without a format: parsed to none, sent to
    # none, so one answer serves both.
    without = {"messages": HISTORY, "tools": [WEATHER]}
    assert ChatRequest.from_openai(without | {"response_format": {"type": "text"}}).response_format is None
    assert key_of(without | {"response_format": {"type": "text"}}) == key_of(without)


def test_routing_is_part_of_the_key() -> None:
    base = key_of(BASE)
    assert key_of(BASE, force_provider="openai") != base
    assert key_of(BASE, model="openai/gpt-4o") != base
    assert key_of(BASE, strategy="round_robin") != base
    assert key_of(BASE, quality=True) != base


def shuffled(value: Any, draw: st.DrawFn) -> Any:
    """``value`` with every JSON object's members in a drawn order."""
    if isinstance(value, dict):
        names = draw(st.permutations(list(value)))
        return {name: shuffled(value[name], draw) for name in names}
    if isinstance(value, list):
        return [shuffled(item, draw) for item in value]
    return value


@settings(max_examples=100, deadline=None)
@given(data=st.data(), change=st.sampled_from(sorted(CHANGES)))
def test_member_order_never_changes_the_key(data: st.DataObject, change: str) -> None:
    document = CHANGES[change]
    assert key_of(shuffled(document, data.draw)) == key_of(document)


# ----------------------------------------------------------------------------------------------
# End to end: the node's cache and the gateway's never answer one request with another's answer.


@pytest.fixture(scope="module")
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer() as running:
        yield running


def test_the_node_asks_the_provider_again_for_a_request_with_other_tools(server: OpenAIServer) -> None:
    node = TrinityHybridNode.from_env({"OPENAI_API_KEY": server.api_key, "OPENAI_BASE_URL": server.base_url})
    node.set_unavailable("local")
    with node:
        sent_before = len(server.requests)
        asked = [
            node.infer(HISTORY, cache=True, tools=[WEATHER]),
            node.infer(HISTORY, cache=True, tools=[WEATHER]),
            node.infer(HISTORY, cache=True),
            node.infer(HISTORY, cache=True, tools=[WEATHER], response_format=SCHEMA),
            node.infer(HISTORY, cache=True, tools=[WEATHER], tool_choice="required"),
            node.infer(HISTORY, cache=True, tools=[WEATHER], response_format=SCHEMA),
        ]
    assert [answer.cached for answer in asked] == [False, True, False, False, False, True]
    sent = server.requests[sent_before:]
    assert len(sent) == 4  # each request different in what the provider sees reached it
    assert ["tools" in request.json for request in sent] == [True, False, True, True]
    assert sent[2].json["response_format"] == SCHEMA


def test_the_gateway_marks_a_request_with_other_tools_a_miss(server: OpenAIServer) -> None:
    with running_gateway(provider_environment(openai=server)) as gateway:

        def cache_header(**extra: Any) -> str | None:
            body = {"model": "auto", "messages": HISTORY, "cache": True, **extra}
            response = gateway.request("POST", "/v1/chat/completions", json=body)
            assert response.status_code == 200, response.text
            return response.headers.get("x-trinity-cache")

        assert cache_header(tools=[WEATHER]) == "miss"
        assert cache_header(tools=[WEATHER]) == "hit"
        assert cache_header() == "miss"
        assert cache_header(tools=[WEATHER], response_format=SCHEMA) == "miss"
        assert cache_header(tools=[WEATHER], response_format={"type": "json_object"}) == "miss"
        assert cache_header(tools=[WEATHER], response_format=SCHEMA) == "hit"
