"""A tool that failed: Anthropic's ``tool_result`` ``is_error: true`` sent to the gateway's
``/v1/messages`` by the official anthropic SDK reaches each provider as its wire format says
it: Anthropic's own flag, Gemini's ``functionResponse.response.error``, and for the formats
with no such flag (OpenAI-compatible, Cohere) the result's text prefixed ``Error: ``
(``Message.result_text``). A result without the flag reaches them unchanged."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import pytest
from every_wire import wire_fixtures
from gateway_harness import GATEWAY_KEY, RunningGateway
from loopback import LoopbackServer, Request, ToolCallReply
from trinity_hybrid._exceptions import InvalidInputError
from trinity_hybrid._request import ChatRequest

QUESTION = "What is the weather in Paris?"
FAILURE = "the weather service timed out"
TOOLS = [{"name": "weather", "description": "Weather", "input_schema": {"type": "object"}}]


def responder(request: Request) -> str | ToolCallReply:
    body = json.dumps(request.json)
    if any(marker in body for marker in ('"tool_result"', '"role": "tool"', '"functionResponse"')):
        return "Sorry, I could not get the weather."
    return ToolCallReply(calls=(("call_weather_1", "weather", {"city": "Paris"}),))


provider, gateway = wire_fixtures(responder)


def tool_result_sent(name: str, body: dict[str, Any]) -> Any:
    """The tool result of the provider's last request, in its own wire format."""
    if name == "anthropic":
        return next(block for message in body["messages"] if isinstance(message["content"], list)
                    for block in message["content"] if block["type"] == "tool_result")  # fmt: skip
    if name == "google":
        return next(part["functionResponse"] for turn in body["contents"] for part in turn["parts"]
                    if "functionResponse" in part)  # fmt: skip
    return next(message for message in body["messages"] if message["role"] == "tool")


@pytest.mark.parametrize("is_error", [True, False], ids=["failed", "succeeded"])
def test_is_error_reaches_each_wire_format(
    gateway: RunningGateway, provider: tuple[str, LoopbackServer], is_error: bool
) -> None:
    name, server = provider
    sdk = anthropic.Anthropic(base_url=gateway.url, api_key=GATEWAY_KEY, max_retries=0)
    question = {"role": "user", "content": QUESTION}
    first = sdk.messages.create(model=name, max_tokens=100, messages=[question], tools=TOOLS)
    [use] = [block for block in first.content if block.type == "tool_use"]
    result: dict[str, Any] = {"type": "tool_result", "tool_use_id": use.id, "content": FAILURE}
    if is_error:
        result["is_error"] = True
    second = sdk.messages.create(model=name, max_tokens=100, tools=TOOLS, messages=[
        question, {"role": "assistant", "content": first.content}, {"role": "user", "content": [result]},
    ])  # fmt: skip
    assert second.content[0].text == "Sorry, I could not get the weather."
    sent = tool_result_sent(name, server.requests[-1].json)
    if name == "anthropic":
        assert sent.get("is_error", False) is is_error
        assert FAILURE in json.dumps(sent["content"])
    elif name == "google":
        assert sent["response"] == ({"error": FAILURE} if is_error else {"output": FAILURE})
    else:
        assert "is_error" not in sent
        content = sent["content"] if isinstance(sent["content"], str) else json.dumps(sent["content"])
        assert (f"Error: {FAILURE}" in content) is is_error and FAILURE in content


def test_the_flag_in_the_request_model_and_its_checks() -> None:
    calls = [{"id": "c1", "type": "function", "function": {"name": "weather", "arguments": "{}"}}]
    messages: list[Any] = [{"role": "user", "content": QUESTION}, {"role": "assistant", "content": None,
                                                                   "tool_calls": calls}]  # fmt: skip
    failed = ChatRequest.of([*messages, {"role": "tool", "tool_call_id": "c1", "content": "x", "is_error": True}])
    plain = ChatRequest.of([*messages, {"role": "tool", "tool_call_id": "c1", "content": "x"}])
    assert failed.messages[-1].is_error and not plain.messages[-1].is_error
    assert failed.messages[-1].result_text == "Error: x" and plain.messages[-1].result_text == "x"
    assert failed.fingerprint() != plain.fingerprint()  # the cache never serves one for the other
    with pytest.raises(InvalidInputError, match="is_error must be a boolean"):
        ChatRequest.of([*messages, {"role": "tool", "tool_call_id": "c1", "content": "x", "is_error": "yes"}])
