"""Tools, structured output and images through Cohere's v2 chat (issue 16, points 1-3),
library-level against the loopback Cohere server, whose answers and stream events the cohere
SDK reads; the messages and tools we send are read by the SDK's own request types too."""

from __future__ import annotations

import json
from typing import Any

import cohere
import httpx
import pytest
from cohere.types import ChatMessageV2, ToolV2
from loopback import CohereServer, Request
from pydantic import TypeAdapter
from tools_harness import QUESTION, TIME, WEATHER, arguments, calling, node_for, streamed_calls
from trinity_hybrid import ClientRequestError
from trinity_hybrid.providers import DEFAULT_BASE_URLS, WIRE_FORMATS, ChatRequest, Endpoint

PARIS = (("call_paris", "get_weather", {"city": "Paris"}),)
PARIS_AND_ROME = (*PARIS, ("call_rome", "get_weather", {"city": "Rome"}))
PLAN = "I will look up the weather."
VISION = "command-a-vision-07-2025"
PIXEL = "data:image/png;base64,iVBORw0KGgo="


def answered(request: Request) -> bool:
    return any(message.get("role") == "tool" for message in request.json["messages"])


def endpoint(model: str = "command-r-plus") -> Endpoint:
    return Endpoint("cohere", DEFAULT_BASE_URLS["cohere"], model, None)


def built(model: str = "command-r-plus", **parameters: Any) -> dict[str, Any]:
    request = ChatRequest.of(parameters.pop("messages", "Hi"), **parameters)
    assert WIRE_FORMATS["cohere"].unsupported(endpoint(model), request) is None
    return WIRE_FORMATS["cohere"].build_request(endpoint(model), request).json


def sdk_reads(body: dict[str, Any]) -> None:
    """The cohere SDK's request types take the messages and tools we send."""
    for message in body["messages"]:
        TypeAdapter(ChatMessageV2).validate_python(message)
    for tool in body.get("tools", ()):
        ToolV2.model_validate(tool)


def assistant_turn(calls: list[Any], text: str | None) -> dict[str, Any]:
    return {
        "role": "assistant",
        "content": text,
        "tool_calls": [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}} for c in calls
        ],
    }


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_a_two_turn_tool_round_trip(stream: bool) -> None:
    with CohereServer(responder=calling(PARIS, PLAN, answered)) as server, node_for("cohere", server) as node:
        first = node.infer(QUESTION, tools=[WEATHER], force_provider="cohere", stream=stream)
        if stream:
            calls, text, reasoning, finish = streamed_calls(first)
        else:
            calls, text, reasoning, finish = list(first.tool_calls), first.text, first.reasoning, first.finish_reason
        assert [(call.id, call.name, arguments(call)) for call in calls] == [
            ("call_paris", "get_weather", {"city": "Paris"})
        ]
        assert (text, reasoning, finish) == ("", PLAN, "tool_calls")  # the plan is reasoning, not the answer
        result = {"role": "tool", "tool_call_id": "call_paris", "content": '{"sky": "sunny"}'}
        second = node.infer([*QUESTION, assistant_turn(calls, PLAN), result], tools=[WEATHER], force_provider="cohere")
    assert (second.text, second.finish_reason) == ("It is sunny in both.", "stop")
    sent = server.requests[-1].json
    sdk_reads(sent)
    assert sent["tools"][0] == {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "The weather in a city",
            "parameters": WEATHER["function"]["parameters"],  # type: ignore[index]
        },
    }
    assert sent["strict_tools"] is True
    assert sent["messages"][1] == {
        "role": "assistant",
        "tool_plan": PLAN,
        "tool_calls": [
            {
                "id": "call_paris",
                "type": "function",
                "function": {"name": "get_weather", "arguments": calls[0].arguments},
            }
        ],
    }
    assert sent["messages"][2] == {"role": "tool", "tool_call_id": "call_paris", "content": '{"sky": "sunny"}'}


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_parallel_calls(stream: bool) -> None:
    with CohereServer(responder=calling(PARIS_AND_ROME, "", answered)) as server, node_for("cohere", server) as node:
        first = node.infer(QUESTION, tools=[WEATHER], force_provider="cohere", stream=stream)
        calls = streamed_calls(first)[0] if stream else list(first.tool_calls)
        assert [(call.id, arguments(call)["city"]) for call in calls] == [
            ("call_paris", "Paris"),
            ("call_rome", "Rome"),
        ]
        results = [{"role": "tool", "tool_call_id": call.id, "content": "sunny"} for call in calls]
        node.infer([*QUESTION, assistant_turn(calls, None), *results], tools=[WEATHER], force_provider="cohere")
    sent = server.requests[-1].json
    sdk_reads(sent)
    assert [message["role"] for message in sent["messages"]] == ["user", "assistant", "tool", "tool"]
    assert "tool_plan" not in sent["messages"][1]


def test_the_sdk_reads_the_servers_tool_calls_whole_and_streamed() -> None:
    responder = calling(PARIS_AND_ROME, PLAN, lambda request: False)
    with CohereServer(responder=responder) as server, httpx.Client() as http:
        client = cohere.ClientV2(api_key=server.api_key, base_url=server.base_url, httpx_client=http)
        messages: Any = [{"role": "user", "content": "weather?"}]
        response = client.chat(model="command-r-plus", messages=messages)
        events = list(client.chat_stream(model="command-r-plus", messages=messages))
    assert response.finish_reason == "TOOL_CALL"
    assert response.message.tool_plan == PLAN
    calls = response.message.tool_calls or []
    assert [(call.id, call.function.name if call.function else None) for call in calls] == [
        ("call_paris", "get_weather"),
        ("call_rome", "get_weather"),
    ]
    kinds = [event.type for event in events]
    assert kinds[0] == "message-start" and kinds[-1] == "message-end"
    assert kinds.count("tool-call-start") == kinds.count("tool-call-end") == 2
    assert "tool-plan-delta" in kinds and "tool-call-delta" in kinds


def test_a_json_schema_answer() -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    response_format = {"type": "json_schema", "json_schema": {"name": "place", "schema": schema}}
    with CohereServer(responder=lambda request: '{"city": "Paris"}') as server, node_for("cohere", server) as node:
        response = node.infer(QUESTION, response_format=response_format, force_provider="cohere")
        node.infer(QUESTION, response_format={"type": "json_object"}, force_provider="cohere")
    assert json.loads(response.text) == {"city": "Paris"}
    assert server.requests[0].json["response_format"] == {"type": "json_object", "json_schema": schema}
    assert server.requests[1].json["response_format"] == {"type": "json_object"}


def test_images_go_to_a_vision_model() -> None:
    picture = [
        {
            "role": "user",
            "content": [{"type": "text", "text": "What is this?"}, image(PIXEL), image("https://x.test/a.png")],
        }
    ]
    with CohereServer() as server, node_for("cohere", server, COHERE_MODEL=VISION) as node:
        node.infer(picture, force_provider="cohere")
    sent = server.requests[0].json
    sdk_reads(sent)
    assert sent["model"] == VISION
    assert sent["messages"][0]["content"] == [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": PIXEL, "detail": "low"}},
        {"type": "image_url", "image_url": {"url": "https://x.test/a.png", "detail": "low"}},
    ]


def image(url: str) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": url, "detail": "low"}}


def test_a_model_without_vision_is_skipped_for_images() -> None:
    picture = [{"role": "user", "content": [image(PIXEL)]}]
    with (
        CohereServer() as server,
        node_for("cohere", server) as node,
        pytest.raises(ClientRequestError, match="images"),
    ):
        node.infer(picture, force_provider="cohere")
    assert server.requests == []


@pytest.mark.parametrize(("tool_choice", "sent"), [("required", "REQUIRED"), ("none", "NONE"), ("auto", None)])
def test_tool_choice(tool_choice: str, sent: str | None) -> None:
    assert built(tools=[WEATHER, TIME], tool_choice=tool_choice).get("tool_choice") == sent


@pytest.mark.parametrize(
    ("parameters", "missing"),
    [
        ({"tool_choice": {"type": "function", "function": {"name": "get_time"}}}, "tool_choice"),
        ({"parallel_tool_calls": False}, "parallel_tool_calls"),
    ],
)
def test_what_cohere_cannot_be_asked_skips_it(parameters: dict[str, Any], missing: str) -> None:
    request = ChatRequest.of("Hi", tools=[WEATHER, TIME], **parameters)
    assert WIRE_FORMATS["cohere"].unsupported(endpoint(), request) == missing


def test_strict_tools_only_when_every_tool_is_strict() -> None:
    assert "strict_tools" not in built(tools=[WEATHER, TIME])
    assert built(tools=[WEATHER])["strict_tools"] is True
    time_without_parameters = {"type": "function", "function": {"name": "now"}}
    assert built(tools=[time_without_parameters])["tools"][0]["function"]["parameters"] == {
        "type": "object",
        "properties": {},
    }


def test_an_image_in_a_system_message_skips_even_a_vision_model() -> None:
    request = ChatRequest.of([{"role": "system", "content": [image(PIXEL)]}, {"role": "user", "content": "Hi"}])
    assert WIRE_FORMATS["cohere"].unsupported(endpoint(VISION), request) == "images"
