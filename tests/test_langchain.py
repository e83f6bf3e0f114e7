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
from gateway_harness import GATEWAY_KEY, RunningGateway, provider_environment, running_gateway
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from loopback import CohereServer, LoopbackServer, Request, ToolCallReply

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
    if provider[0] not in STRUCTURED[method]:
        pytest.skip(f"{provider[0]} is skipped by rule for what {method} sends (README's feature table)")
    structured = chat_model(gateway, provider[0]).with_structured_output(Place, method=method)  # type: ignore[arg-type]
    assert structured.invoke(QUESTION) == Place(city="Paris", sunny=True)


def test_a_structured_request_no_provider_can_carry_is_a_clear_400() -> None:
    """Cohere takes no named tool choice: function_calling through it is refused with a 400 that
    names the field, not sent."""
    import openai

    with CohereServer(responder=responder) as server, running_gateway(provider_environment(cohere=server)) as gateway:
        structured = chat_model(gateway, "cohere").with_structured_output(Place, method="function_calling")
        with pytest.raises(openai.BadRequestError, match="tool_choice"):
            structured.invoke(QUESTION)
        assert server.requests == []
