"""LangChain against the gateway, as LangChain applications call it: ``langchain-openai``'s
``ChatOpenAI(base_url=<gateway>/v1)`` with ``bind_tools`` (a two-turn tool round trip, whole and
streamed) and ``with_structured_output`` (a pydantic model, by json_schema and by function
calling), over loopback providers of each wire format the feature is carried to."""

from __future__ import annotations

import json
from typing import Any

import pydantic
import pytest
from every_wire import wire_fixtures
from gateway_harness import GATEWAY_KEY, RunningGateway
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from loopback import LoopbackServer, Request, ToolCallReply

QUESTION = "What is the weather in Paris?"
ANSWER = "It is sunny in Paris."
CALL = ("call_weather_1", "weather", {"city": "Paris"})


@tool
def weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


class Place(pydantic.BaseModel):
    """A city and whether it is sunny there."""

    city: str
    sunny: bool


def responder(request: Request) -> str | ToolCallReply:
    """Writes a Place when asked for JSON; forced to call the Place tool, calls it; calls the
    weather tool, then answers from its result (in any wire format)."""
    body = json.dumps(request.json)
    if any(marker in body for marker in ("json_schema", "responseSchema", "responseMimeType", "json_object")):
        return json.dumps({"city": "Paris", "sunny": True})
    if '"Place"' in body:
        return ToolCallReply(calls=(("call_place_1", "Place", {"city": "Paris", "sunny": True}),))
    if any(marker in body for marker in ('"tool_result"', '"role": "tool"', '"functionResponse"')):
        return ANSWER
    return ToolCallReply(calls=(CALL,))


# The OpenAI-compatible wire as "openai", the provider that takes json_schema.
provider, gateway = wire_fixtures(responder, openai_as="openai")


def chat_model(gateway: RunningGateway, provider: str, **options: Any) -> ChatOpenAI:
    return ChatOpenAI(model=provider, base_url=gateway.url + "/v1", api_key=GATEWAY_KEY, max_retries=0,  # type: ignore[arg-type]
                      **options)  # fmt: skip


@pytest.mark.parametrize("streaming", [False, True], ids=["whole", "stream"])
def test_bind_tools_round_trip(gateway: RunningGateway, provider: tuple[str, LoopbackServer], streaming: bool) -> None:
    model = chat_model(gateway, provider[0], streaming=streaming).bind_tools([weather])
    messages: list[BaseMessage] = [HumanMessage(QUESTION)]
    first = model.invoke(messages)
    assert isinstance(first, AIMessage)
    [call] = first.tool_calls
    assert (call["name"], call["args"]) == (CALL[1], CALL[2]) and call["id"]
    messages += [first, ToolMessage(weather.invoke(call["args"]), tool_call_id=call["id"])]
    second = model.invoke(messages)
    assert second.content == ANSWER and not second.tool_calls
    sent = json.dumps(provider[1].requests[-1].json)
    assert "sunny in Paris" in sent  # the tool's result reached the provider in its own wire format


# Which method each wire format carries (the README's table): json_schema is refused by
# OpenAI-compatible providers other than openai/custom/mistral; function_calling sends a named
# tool_choice, which Cohere has not, and parallel_tool_calls: false, which Gemini has not.
STRUCTURED = {"json_schema": {"openai", "anthropic", "google", "cohere"}, "function_calling": {"openai", "anthropic"}}


@pytest.mark.parametrize("method", sorted(STRUCTURED))
def test_with_structured_output(gateway: RunningGateway, provider: tuple[str, LoopbackServer], method: str) -> None:
    import openai

    structured = chat_model(gateway, provider[0]).with_structured_output(Place, method=method)  # type: ignore[arg-type]
    if provider[0] in STRUCTURED[method]:
        assert structured.invoke(QUESTION) == Place(city="Paris", sunny=True)
        return
    # A format that cannot carry what the method sends: a 400 naming the field, nothing sent.
    asked = len(provider[1].requests)
    with pytest.raises(openai.BadRequestError, match="tool_choice|parallel_tool_calls"):
        structured.invoke(QUESTION)
    assert len(provider[1].requests) == asked
