"""OpenAI's Responses API on the gateway (``POST /v1/responses``), spoken to with the official
openai SDK: whole and streamed answers over real providers (loopback servers of each wire
format), what the provider received, tool round trips (``function_call`` items out,
``function_call_output`` items back in), a json_schema answer parsed by the SDK, the stream's
events read by the SDK's own accumulator (``responses.stream``), the clear 400s of a stateless
gateway, and a fuzzer over the request parser."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import openai
import pydantic
import pytest
from every_wire import wire_fixtures
from gateway_harness import GATEWAY_KEY, RunningGateway, provider_environment, running_gateway
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from json_bodies import JSON_VALUES, JUNK, typed
from loopback import LoopbackServer, OpenAIServer, Request, ToolCallReply
from scripted_chat import ToolCall, ToolCallDelta, Usage, last_chunk, scripted
from trinity_hybrid._exceptions import StreamInterruptedError
from trinity_hybrid._messages import ImagePart
from trinity_hybrid._request import ChatRequest, ToolChoice
from trinity_hybrid._results import StreamChunk
from trinity_hybrid.gateway._errors import ApiError
from trinity_hybrid.gateway._responses_request import parse_responses_request
from trinity_hybrid.gateway._validation import ChatParams

QUESTION = "What is the weather in Paris?"
ANSWER = "It is sunny in Paris."
CALL = ("call_weather_1", "weather", {"city": "Paris", "days": [1, 2]})
PARAMETERS = {"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "array"}}}
TOOLS: list[Any] = [{"type": "function", "name": "weather", "description": "Weather", "parameters": PARAMETERS,
                     "strict": False}]  # fmt: skip


class Place(pydantic.BaseModel):
    city: str
    sunny: bool


def weather(request: Request) -> str | ToolCallReply:
    """Calls the tool, or answers once the conversation carries the tool's result (in any wire);
    asked for JSON, answers a Place."""
    body = json.dumps(request.json)
    if any(marker in body for marker in ("json_schema", "responseSchema", "responseMimeType", "json_object")):
        return json.dumps({"city": "Paris", "sunny": True})
    if any(marker in body for marker in ('"tool_result"', '"role": "tool"', '"functionResponse"')):
        return ANSWER
    if '"tools"' in body:
        return ToolCallReply(calls=(CALL,))
    return f"echo: {request.user_text}"


@pytest.fixture(scope="module")
def groq() -> Iterator[OpenAIServer]:
    with OpenAIServer(responder=weather) as server:
        yield server


@pytest.fixture(scope="module")
def gateway(groq: OpenAIServer) -> Iterator[RunningGateway]:
    with running_gateway(provider_environment(openai=groq)) as running:
        yield running


def client(gateway: RunningGateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.url + "/v1", api_key=GATEWAY_KEY, max_retries=0)


def model_id(gateway: RunningGateway) -> str:
    return f"openai/{gateway.node.provider_info('openai')['model']}"


def test_a_response_over_a_real_provider(gateway: RunningGateway, groq: OpenAIServer) -> None:
    raw = client(gateway).responses.with_raw_response.create(
        model="auto", input="Hello there", instructions="Be brief.", max_output_tokens=100, temperature=0.5,
        top_p=0.9, store=False, metadata={"tenant": "a"},
    )  # fmt: skip
    response = raw.parse()
    assert response.object == "response" and response.id.startswith("resp_") and response.status == "completed"
    assert response.output_text == "echo: Hello there"
    [message] = response.output
    assert message.type == "message" and message.role == "assistant" and message.status == "completed"
    assert [part.type for part in message.content] == ["output_text"]
    assert response.model == model_id(gateway) and response.instructions == "Be brief."
    assert (response.temperature, response.top_p, response.max_output_tokens) == (0.5, 0.9, 100)
    assert response.usage is not None and response.usage.input_tokens > 0 and response.usage.output_tokens > 0
    assert response.usage.total_tokens == response.usage.input_tokens + response.usage.output_tokens
    assert raw.headers["x-trinity-provider"] == "openai"
    sent = groq.requests[-1].json
    assert sent["messages"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello there"}]
    assert sent["temperature"] == 0.5 and sent["top_p"] == 0.9
    assert sent.get("max_completion_tokens", sent.get("max_tokens")) == 100


def test_input_items_with_an_image(gateway: RunningGateway) -> None:
    with scripted(gateway) as chat:
        chat.answer = {"text": "A red dot.", "finish_reason": "stop"}
        response = client(gateway).responses.create(model="auto", input=[
            {"role": "developer", "content": "Answer in English."},
            {"role": "user", "content": [{"type": "input_text", "text": "What is this?"},
                                         {"type": "input_image", "image_url": "data:image/png;base64,aGk=",
                                          "detail": "low"}]},
        ])  # fmt: skip
        request = chat.requests[-1]
    assert response.output_text == "A red dot."
    assert [message.role for message in request.messages] == ["developer", "user"]
    assert request.messages[1].text == "What is this?"
    assert request.messages[1].images == (ImagePart("data:image/png;base64,aGk=", "low"),)


def test_a_stream_read_by_the_sdks_accumulator(gateway: RunningGateway) -> None:
    with client(gateway).responses.stream(model="auto", input="one two three") as stream:
        deltas = [event.delta for event in stream if event.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert "".join(deltas) == final.output_text == "echo: one two three"
    assert final.status == "completed" and final.usage is not None and final.usage.output_tokens > 0


def test_the_stream_events_are_in_the_responses_order(gateway: RunningGateway) -> None:
    events = list(client(gateway).responses.create(model="auto", input="one two", stream=True))
    names = [event.type for event in events]
    assert names[:4] == ["response.created", "response.in_progress", "response.output_item.added",
                         "response.content_part.added"]  # fmt: skip
    assert names[-4:] == ["response.output_text.done", "response.content_part.done", "response.output_item.done",
                          "response.completed"]  # fmt: skip
    assert set(names[4:-4]) == {"response.output_text.delta"}
    assert [event.sequence_number for event in events] == list(range(len(events)))
    assert len({event.response.id for event in events if hasattr(event, "response")}) == 1
    completed = events[-1].response
    assert completed.output_text == "echo: one two" and completed.output[0].content[0].text == "echo: one two"


def test_a_json_schema_answer_parsed_by_the_sdk(gateway: RunningGateway, groq: OpenAIServer) -> None:
    parsed = client(gateway).responses.parse(model="openai", input=QUESTION, text_format=Place)
    assert parsed.output_parsed == Place(city="Paris", sunny=True)
    sent = groq.requests[-1].json["response_format"]
    assert sent["type"] == "json_schema" and sent["json_schema"]["name"] == "Place"
    assert sent["json_schema"]["schema"]["properties"].keys() == {"city", "sunny"}
    assert sent["json_schema"]["strict"] is True


def test_json_object_and_the_echoed_format(gateway: RunningGateway, groq: OpenAIServer) -> None:
    response = client(gateway).responses.create(
        model="openai", input="JSON please", text={"format": {"type": "json_object"}}
    )
    assert json.loads(response.output_text) == {"city": "Paris", "sunny": True}
    assert groq.requests[-1].json["response_format"] == {"type": "json_object"}
    assert response.text is not None and response.text.format.type == "json_object"


# ------------------------------------------------------------------------------------------------
# Tool round trips through each provider wire format.

provider, any_gateway = wire_fixtures(weather, gateway_name="any_gateway")


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_a_tool_round_trip(any_gateway: RunningGateway, provider: tuple[str, LoopbackServer], stream: bool) -> None:
    sdk = client(any_gateway)
    conversation: list[Any] = [{"role": "user", "content": QUESTION}]
    if stream:
        with sdk.responses.stream(model=provider[0], input=conversation, tools=TOOLS, store=False) as events:
            first = events.get_final_response()
    else:
        first = sdk.responses.create(model=provider[0], input=conversation, tools=TOOLS, store=False)
    calls = [item for item in first.output if item.type == "function_call"]
    assert len(calls) == 1 and first.status == "completed"
    [call] = calls
    assert call.call_id and (call.name, json.loads(call.arguments)) == (CALL[1], CALL[2])
    conversation += [item.model_dump(exclude_none=True) for item in first.output]
    conversation.append({"type": "function_call_output", "call_id": call.call_id, "output": "sunny"})
    second = sdk.responses.create(model=provider[0], input=conversation, tools=TOOLS)
    assert second.output_text == ANSWER
    sent = json.dumps(provider[1].requests[-1].json)
    assert "sunny" in sent and CALL[1] in sent


def test_tool_choice_and_parallel_calls_reach_the_request_model(gateway: RunningGateway) -> None:
    with scripted(gateway) as chat:
        chat.answer = {"text": "", "tool_calls": (ToolCall("call_a", "weather", '{"city": "Paris"}'),
                                                  ToolCall("call_b", "weather", '{"city": "Rome"}')),
                       "finish_reason": "tool_calls"}  # fmt: skip
        response = client(gateway).responses.create(model="auto", input=QUESTION, tools=TOOLS,
                                                    tool_choice={"type": "function", "name": "weather"},
                                                    parallel_tool_calls=False)  # fmt: skip
        request = chat.requests[-1]
    assert request.tool_choice == ToolChoice("function", "weather") and request.parallel_tool_calls is False
    assert [(tool.name, tool.parameters, tool.strict) for tool in request.tools] == [("weather", PARAMETERS, False)]
    assert [(item.type, item.call_id) for item in response.output] == [("function_call", "call_a"),
                                                                       ("function_call", "call_b")]  # fmt: skip
    assert response.tool_choice.type == "function" and response.parallel_tool_calls is False  # type: ignore[union-attr]
    assert [tool.name for tool in response.tools] == ["weather"]


STREAMED = [
    {"reasoning": "A tool "},
    {"reasoning": "is needed."},
    {"text": "Let me "},
    {"text": "look."},
    {"tool_calls": (ToolCallDelta(0, "call_paris", "weather", ""),)},
    {"tool_calls": (ToolCallDelta(0, arguments='{"city": "Pa'),)},
    {"tool_calls": (ToolCallDelta(0, arguments='ris"}'),)},
    {"tool_calls": (ToolCallDelta(1, "call_rome", "weather", '{"city": "Rome"}'),)},
    last_chunk(Usage(30, 12, cached_tokens=10, reasoning_tokens=4), "tool_calls"),
]


def test_a_streamed_answer_with_reasoning_text_and_two_calls(gateway: RunningGateway) -> None:
    with scripted(gateway) as chat:
        chat.chunks = STREAMED
        with client(gateway).responses.stream(model="auto", input=QUESTION, tools=TOOLS) as stream:
            names = [event.type for event in stream]
            final = stream.get_final_response()
    assert [item.type for item in final.output] == ["reasoning", "message", "function_call", "function_call"]
    assert final.output[0].content[0].text == "A tool is needed."  # type: ignore[union-attr,index]
    assert final.output_text == "Let me look."
    assert [(item.call_id, json.loads(item.arguments)) for item in final.output[2:]] == [  # type: ignore[union-attr]
        ("call_paris", {"city": "Paris"}), ("call_rome", {"city": "Rome"})]  # fmt: skip
    assert final.usage is not None and final.usage.input_tokens_details.cached_tokens == 10
    assert final.usage.output_tokens_details.reasoning_tokens == 4
    assert names.count("response.output_item.added") == names.count("response.output_item.done") == 4
    assert names.count("response.function_call_arguments.done") == 2 and names[-1] == "response.completed"


def test_a_whole_answer_with_reasoning_and_usage_details(gateway: RunningGateway) -> None:
    with scripted(gateway) as chat:
        chat.answer = {"text": "Four.", "reasoning": "Two and two.", "finish_reason": "stop",
                       "usage": Usage(20, 9, cached_tokens=5, reasoning_tokens=3)}  # fmt: skip
        response = client(gateway).responses.create(model="auto", input="2 + 2?")
    assert [item.type for item in response.output] == ["reasoning", "message"]
    assert response.output[0].content[0].text == "Two and two."  # type: ignore[union-attr,index]
    assert response.output_text == "Four." and response.status == "completed"
    assert response.usage is not None and (response.usage.input_tokens, response.usage.output_tokens) == (20, 9)
    assert response.usage.input_tokens_details.cached_tokens == 5
    assert response.usage.output_tokens_details.reasoning_tokens == 3


def test_a_truncated_answer_is_incomplete(gateway: RunningGateway) -> None:
    with scripted(gateway) as chat:
        chat.answer = {"text": "Once upon", "finish_reason": "length"}
        whole = client(gateway).responses.create(model="auto", input="A story", max_output_tokens=2)
        chat.chunks = [{"text": "Once upon"}, last_chunk(Usage(3, 2), "length")]
        events = list(client(gateway).responses.create(model="auto", input="A story", stream=True))
    assert whole.status == "incomplete" and whole.incomplete_details.reason == "max_output_tokens"  # type: ignore[union-attr]
    assert events[-1].type == "response.incomplete" and events[-1].response.output_text == "Once upon"


def test_a_stream_failing_midway_ends_with_an_error_and_response_failed(gateway: RunningGateway) -> None:
    with scripted(gateway) as chat:

        def broken(plan: Any) -> AsyncIterator[StreamChunk]:
            async def chunks() -> AsyncIterator[StreamChunk]:
                yield StreamChunk("Once", plan.route.providers[0])
                raise StreamInterruptedError("the provider's stream broke off", provider="groq")

            return chunks()

        chat.stream = broken  # type: ignore[method-assign]
        events = list(client(gateway).responses.create(model="auto", input="A story", stream=True))
    assert [event.type for event in events[-2:]] == ["error", "response.failed"]
    assert events[-2].message and events[-1].response.status == "failed"
    assert events[-1].response.error is not None and events[-1].response.error.message == events[-2].message


@pytest.mark.parametrize(
    ("change", "wording"),
    [
        ({"previous_response_id": "resp_123"}, "stateless"),
        ({"store": True}, "stateless"),
        ({"conversation": "conv_1"}, "stateless"),
        ({"tools": [{"type": "web_search"}]}, "'web_search' tools are not served"),
        ({"tools": [{"type": "file_search", "vector_store_ids": ["vs"]}]}, "'file_search' tools"),
        ({"input": [{"type": "item_reference", "id": "msg_1"}]}, "stateless"),
        ({"input": [{"type": "function_call_output", "call_id": "nowhere", "output": "x"}]}, "tool call"),
        ({"input": None}, "input"),
        ({"max_output_tokens": 0}, "max_output_tokens"),
        ({"text": {"format": {"type": "json_schema", "name": "x"}}}, "text.format.schema"),
        ({"tool_choice": {"type": "web_search_preview"}}, "tool_choice"),
        ({"frobnicate": 1}, "frobnicate"),
    ],
)
def test_what_a_stateless_gateway_cannot_do_is_a_clear_400(
    gateway: RunningGateway, change: dict[str, Any], wording: str
) -> None:
    body = {"input": "Hi", **change}
    with pytest.raises(openai.BadRequestError) as raised:
        client(gateway).responses.create(model="auto", extra_body=body)  # as sent, past the SDK's own checks
    assert wording in raised.value.message, raised.value.message


# ------------------------------------------------------------------------------------------------
# The request parser: every body is a 4xx naming what is wrong, or a valid request.

MODELS: dict[str, str | None] = {"auto": None, "groq": "groq"}
STRATEGIES = ("balanced", "priority")


def parse(document: Any) -> ChatParams:
    return parse_responses_request(json.dumps(document).encode(), MODELS, STRATEGIES)


def test_items_become_the_request_model() -> None:
    request = parse({"model": "groq", "instructions": "Be brief.", "input": [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Hi"},
                                                        {"type": "input_image", "image_url": "https://e.com/a.png"}]},
        {"type": "reasoning", "id": "rs_1", "summary": []},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Looking.",
                                                              "annotations": []}]},
        {"type": "function_call", "call_id": "c1", "name": "weather", "arguments": "{}"},
        {"type": "function_call", "call_id": "c2", "name": "weather", "arguments": "{\"city\": \"Rome\"}"},
        {"type": "function_call_output", "call_id": "c1", "output": "sunny"},
        {"type": "function_call_output", "call_id": "c2", "output": [{"type": "input_text", "text": "rain"}]},
    ], "tools": TOOLS, "text": {"format": {"type": "json_schema", "name": "p", "schema": {"type": "object"}},
                                "verbosity": "low"}, "safety_identifier": "u-1"}).request  # fmt: skip
    assert [message.role for message in request.messages] == ["system", "user", "assistant", "tool", "tool"]
    assert request.messages[1].images == (ImagePart("https://e.com/a.png"),)
    assert request.messages[2].text == "Looking." and [call.id for call in request.messages[2].tool_calls] == [
        "c1",
        "c2",
    ]
    assert [(message.tool_call_id, message.text) for message in request.messages[3:]] == [("c1", "sunny"),
                                                                                           ("c2", "rain")]  # fmt: skip
    assert request.response_format is not None and request.response_format.name == "p"
    assert request.user == "u-1"


def test_a_plain_text_input_is_the_plain_request() -> None:
    request = parse({"model": "auto", "input": "Hi", "max_output_tokens": 20, "temperature": 0.2}).request
    assert request == ChatRequest.of("Hi", max_tokens=20, temperature=0.2)


PARTS = st.lists(typed(st.fixed_dictionaries(
    {"type": st.sampled_from(["input_text", "input_image", "output_text", "refusal", "input_file"]),
     "text": typed(st.text(max_size=3)), "refusal": typed(st.text(max_size=3)),
     "image_url": typed(st.sampled_from(["https://e.com/a.png", "data:image/png;base64,aGk=", "ftp://x"])),
     "detail": typed(st.sampled_from(["auto", "low", "huge"]))})), max_size=3)  # fmt: skip
ITEMS = st.lists(typed(st.fixed_dictionaries(
    {"type": st.sampled_from(["message", "function_call", "function_call_output", "reasoning", "item_reference"]),
     "role": typed(st.sampled_from(["user", "assistant", "system", "developer", "tool"])),
     "content": typed(st.text(max_size=4) | PARTS), "call_id": typed(st.sampled_from(["c1", "c2"])),
     "name": typed(st.just("weather")), "arguments": typed(st.sampled_from(["{}", "{\"a\": 1}", "nope"])),
     "output": typed(st.text(max_size=3) | PARTS)})), min_size=1, max_size=5)  # fmt: skip
BODIES = st.fixed_dictionaries(
    {"model": st.sampled_from(["auto", "groq"]), "input": typed(st.text(max_size=5) | ITEMS)},
    optional={"instructions": typed(st.text(max_size=5)), "tools": typed(st.just(TOOLS) | st.just([{"type": "x"}])),
              "tool_choice": typed(st.sampled_from(["auto", "none", "required", {"type": "function", "name": "weather"},
                                                    {"type": "function", "name": "other"}])),
              "text": typed(st.fixed_dictionaries({"format": typed(st.sampled_from(
                  [{"type": "json_object"}, {"type": "text"}, {"type": "json_schema", "name": "p", "schema": {}},
                   {"type": "json_schema", "name": "no spaces", "schema": {}}]))})),
              "stream": typed(st.booleans()), "store": typed(st.booleans()), "temperature": typed(st.floats(-1, 3)),
              "top_p": typed(st.floats(0, 1)), "max_output_tokens": typed(st.integers(-1, 50)),
              "parallel_tool_calls": typed(st.booleans()), "metadata": typed(st.just({"k": "v"})),
              "reasoning": JUNK, "include": JUNK, "previous_response_id": JUNK, "quality": typed(st.booleans())},
)  # fmt: skip


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=BODIES | JSON_VALUES)
def test_any_body_is_a_4xx_with_a_message_or_a_valid_request(body: Any) -> None:
    try:
        params = parse(body)
    except ApiError as error:
        assert 400 <= error.status < 500 and error.message
        return
    assert params.request.messages


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=40) | (BODIES | JSON_VALUES).map(lambda value: json.dumps(value).encode()))
def test_any_body_over_http_is_an_openai_error_or_an_answer(gateway: RunningGateway, body: bytes) -> None:
    response = gateway.request("POST", "/v1/responses", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 200 or 400 <= response.status_code < 500, response.text
    if response.status_code != 200:
        error = response.json()["error"]
        assert error["message"] and "Traceback" not in response.text
