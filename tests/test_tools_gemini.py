"""Tools, structured output and images through Gemini's wire format (issue 16, points 1-3),
library-level against the loopback Gemini server, whose answers google-genai reads; the
request parts we build are read by google-genai's own types too. The schema translation
(``gemini_schema``) is fuzzed with hypothesis."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from google import genai
from google.genai import types as genai_types
from hypothesis import given
from hypothesis import strategies as st
from loopback import CohereServer, GeminiServer, Request
from tools_harness import QUESTION, TIME, WEATHER, arguments, calling, node_for, streamed_calls
from trinity_hybrid import ClientRequestError, InvalidInputError, TransientError, TrinityHybridNode
from trinity_hybrid.providers import DEFAULT_BASE_URLS, WIRE_FORMATS, ChatRequest, Endpoint
from trinity_hybrid.providers._signed_ids import signature_of, unsigned
from trinity_hybrid.providers.gemini_schema import DEPTH_MAX, REFUSED, SchemaError, gemini_schema

PARIS = (("fc_paris", "get_weather", {"city": "Paris"}),)
PARIS_AND_ROME = (*PARIS, ("fc_rome", "get_weather", {"city": "Rome"}))
PIXEL = "data:image/png;base64,iVBORw0KGgo="
# What Gemini documents its JSON schema fields to take (google-genai, response_json_schema).
DOCUMENTED = frozenset(
    {
        "$id", "$defs", "$ref", "$anchor", "type", "format", "title", "description", "enum", "items",
        "prefixItems", "minItems", "maxItems", "minimum", "maximum", "anyOf", "oneOf", "properties",
        "additionalProperties", "required", "propertyOrdering",
    }
)  # fmt: skip
NEVER_SENT = frozenset({"$schema", "$ref", "$defs", "definitions", "strict", "const", "allOf", "oneOf", "nullable"})


def answered(request: Request) -> bool:
    return any("functionResponse" in part for content in request.json["contents"] for part in content["parts"])


def built(**parameters: Any) -> dict[str, Any]:
    endpoint = Endpoint("google", DEFAULT_BASE_URLS["google"], "gemini-2.5-flash", None)
    request = ChatRequest.of(parameters.pop("messages", "Hi"), **parameters)
    assert WIRE_FORMATS["google"].unsupported(endpoint, request) is None
    return WIRE_FORMATS["google"].build_request(endpoint, request).json


def sdk_reads(body: dict[str, Any]) -> None:
    """google-genai's types take every part we send (they forbid unknown fields)."""
    for content in body["contents"]:
        genai_types.Content.model_validate(content)
    for tool in body.get("tools", ()):
        genai_types.Tool.model_validate(tool)
    if "toolConfig" in body:
        genai_types.ToolConfig.model_validate(body["toolConfig"])
    if "generationConfig" in body:
        genai_types.GenerationConfig.model_validate(body["generationConfig"])


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_a_two_turn_tool_round_trip(stream: bool) -> None:
    with GeminiServer(responder=calling(PARIS, "", answered)) as server, node_for("google", server) as node:
        first = node.infer(QUESTION, tools=[WEATHER], force_provider="google", stream=stream)
        if stream:
            calls, text, _, finish = streamed_calls(first)
        else:
            calls, text, finish = list(first.tool_calls), first.text, first.finish_reason
        # The call's thought signature rides in its id (``_signed_ids``), so it comes back with it.
        assert [(unsigned(call.id), call.name, arguments(call)) for call in calls] == [
            ("fc_paris", "get_weather", {"city": "Paris"})
        ]
        signature = signature_of(calls[0].id)
        assert signature and calls[0].id == f"fc_paris__thought__{signature}"
        assert (text, finish) == ("", "tool_calls")
        assistant = {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}} for c in calls
            ],
        }
        conversation = [
            *QUESTION,
            assistant,
            {"role": "tool", "tool_call_id": calls[0].id, "content": '{"sky": "sunny"}'},
        ]
        second = node.infer(conversation, tools=[WEATHER], force_provider="google")
    assert second.text == "It is sunny in both."
    assert server.thought_signatures_seen == {"issued": 1}  # the model's own, not the dummy
    assert second.finish_reason == "stop"
    sent = server.requests[-1].json
    sdk_reads(sent)
    declaration = sent["tools"][0]["functionDeclarations"][0]
    assert declaration["name"] == "get_weather"
    assert declaration["parametersJsonSchema"]["required"] == ["city"]
    assert sent["contents"][1] == {
        "role": "model",
        "parts": [
            {
                "functionCall": {"id": "fc_paris", "name": "get_weather", "args": {"city": "Paris"}},
                "thoughtSignature": signature,  # Gemini 3 refuses a call without one
            }
        ],
    }
    assert sent["contents"][2] == {
        "role": "user",
        "parts": [{"functionResponse": {"id": "fc_paris", "name": "get_weather", "response": {"sky": "sunny"}}}],
    }


def test_a_call_without_a_signature_gets_googles_dummy() -> None:
    """A conversation from another model (or ids a client rebuilt): the turn's first call is sent
    with the value Google documents for calls it did not sign, which Gemini 3 accepts."""
    with GeminiServer(responder=calling(PARIS, "", answered)) as server, node_for("google", server) as node:
        call = {
            "id": "call_1",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
        }
        conversation = [*QUESTION, {"role": "assistant", "content": None, "tool_calls": [call]},
                        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}]  # fmt: skip
        assert node.infer(conversation, tools=[WEATHER], force_provider="google").text == "It is sunny in both."
    assert server.thought_signatures_seen == {"dummy": 1}
    assert server.requests[-1].json["contents"][1]["parts"][0]["thoughtSignature"] == "skip_thought_signature_validator"


@pytest.mark.parametrize("provider", ["openai", "mistral", "anthropic", "cohere"])
def test_other_formats_send_the_id_without_gemini_s_signature(provider: str) -> None:
    signed_id = "fc_paris__thought__c2lnbmF0dXJlK3dpdGgvc2xhc2hlcw=="
    call = {"id": signed_id, "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}
    request = ChatRequest.of(
        [*QUESTION, {"role": "assistant", "content": None, "tool_calls": [call]},
         {"role": "tool", "tool_call_id": signed_id, "content": "sunny"}], tools=[WEATHER],
    )  # fmt: skip
    wire = WIRE_FORMATS["openai" if provider == "mistral" else provider]
    body = json.dumps(wire.build_request(Endpoint(provider, "https://api.test", "model-x", None), request).json)
    assert "__thought__" not in body and "c2lnbmF0dXJl" not in body
    if provider in ("openai", "anthropic", "cohere"):
        assert body.count('"fc_paris"') == 2  # the call and its result, under the same id


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_parallel_calls_and_their_answers_in_one_turn(stream: bool) -> None:
    with GeminiServer(responder=calling(PARIS_AND_ROME, "", answered)) as server, node_for("google", server) as node:
        first = node.infer(QUESTION, tools=[WEATHER], force_provider="google", stream=stream)
        calls = streamed_calls(first)[0] if stream else list(first.tool_calls)
        assert [arguments(call)["city"] for call in calls] == ["Paris", "Rome"]
        results = [{"role": "tool", "tool_call_id": call.id, "content": "sunny"} for call in calls]
        assistant = {
            "role": "assistant",
            "content": "Looking.",
            "tool_calls": [
                {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}} for c in calls
            ],
        }
        node.infer([*QUESTION, assistant, *results], tools=[WEATHER], force_provider="google")
    sent = server.requests[-1].json
    sdk_reads(sent)
    parts = [sorted(part) for part in sent["contents"][1]["parts"]]
    assert parts == [["text"], ["functionCall", "thoughtSignature"], ["functionCall"]]  # signed: the turn's first call
    answers = sent["contents"][2]["parts"]
    assert [part["functionResponse"]["id"] for part in answers] == ["fc_paris", "fc_rome"]
    assert answers[0]["functionResponse"]["response"] == {"output": "sunny"}  # not JSON: under "output"


def test_the_sdk_reads_the_servers_function_calls() -> None:
    responder = calling(PARIS_AND_ROME, "Let me look.", lambda request: False)
    with GeminiServer(responder=responder) as server:
        options = genai_types.HttpOptions(base_url=server.base_url, api_version="v1beta")
        client = genai.Client(api_key=server.api_key, http_options=options)
        response = client.models.generate_content(model="gemini-2.5-flash", contents="weather?")
        chunks = list(client.models.generate_content_stream(model="gemini-2.5-flash", contents="weather?"))
        client.close()
    assert [(call.id, call.name, call.args) for call in response.function_calls or []] == [
        ("fc_paris", "get_weather", {"city": "Paris"}),
        ("fc_rome", "get_weather", {"city": "Rome"}),
    ]
    streamed = [call.name for chunk in chunks for call in chunk.function_calls or []]
    assert streamed == ["get_weather", "get_weather"]


def test_calls_without_an_id_get_distinct_stable_ones() -> None:
    body = {
        "responseId": "r1",
        "candidates": [
            {
                "content": {"role": "model", "parts": [{"functionCall": {"name": "f", "args": {}}}] * 2},
                "finishReason": "STOP",
            }
        ],
    }
    endpoint = Endpoint("google", DEFAULT_BASE_URLS["google"], "gemini-2.5-flash", None)
    completion = WIRE_FORMATS["google"].parse_response(endpoint, ChatRequest.of("Hi"), json.dumps(body).encode())
    assert [call.id for call in completion.tool_calls] == ["call_r1_0", "call_r1_1"]
    assert completion.tool_calls[0].arguments == "{}"


def test_thoughts_are_reasoning_and_usage_counts_cached_and_reasoning_tokens() -> None:
    response = genai_types.GenerateContentResponse(
        candidates=[
            genai_types.Candidate(
                content=genai_types.Content(
                    role="model", parts=[genai_types.Part(text="Hmm.", thought=True), genai_types.Part(text="Yes.")]
                ),
                finish_reason=genai_types.FinishReason.STOP,
            )
        ],
        usage_metadata=genai_types.GenerateContentResponseUsageMetadata(
            prompt_token_count=100, candidates_token_count=2, thoughts_token_count=5, cached_content_token_count=64
        ),
    )
    endpoint = Endpoint("google", DEFAULT_BASE_URLS["google"], "gemini-2.5-flash", None)
    event = response.model_dump_json(by_alias=True, exclude_none=True)
    deltas = WIRE_FORMATS["google"].new_stream_parser(endpoint, ChatRequest.of("Hi")).feed("message", event)
    assert (deltas[0].text, deltas[0].reasoning) == ("Yes.", "Hmm.")
    usage = deltas[0].usage
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens, usage.cached_tokens, usage.reasoning_tokens) == (
        100,
        7,
        64,
        5,
    )


def test_a_json_schema_answer() -> None:
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {"city": {"$ref": "#/$defs/name"}, "rain": {"type": "boolean"}},
        "required": ["city", "rain"],
        "additionalProperties": False,
        "$defs": {"name": {"type": "string", "minLength": 1}},
    }
    response_format = {"type": "json_schema", "json_schema": {"name": "weather", "schema": schema, "strict": True}}
    answer = '{"city": "Paris", "rain": false}'
    with GeminiServer(responder=lambda request: answer) as server, node_for("google", server) as node:
        response = node.infer(QUESTION, response_format=response_format, force_provider="google")
        node.infer(QUESTION, response_format={"type": "json_object"}, force_provider="google")
    assert json.loads(response.text) == {"city": "Paris", "rain": False}
    config = server.requests[0].json["generationConfig"]
    sdk_reads(server.requests[0].json)
    assert config["responseMimeType"] == "application/json"
    assert config["responseJsonSchema"]["properties"]["city"] == {"type": "string", "description": "(minLength: 1)"}
    assert "$schema" not in config["responseJsonSchema"] and "$defs" not in config["responseJsonSchema"]
    assert server.requests[1].json["generationConfig"] == {"responseMimeType": "application/json"}


def test_an_inline_image_is_an_inline_data_part() -> None:
    picture = [{"role": "user", "content": [{"type": "text", "text": "What is this?"}, image(PIXEL)]}]
    with GeminiServer() as server, node_for("google", server) as node:
        node.infer(picture, force_provider="google")
    sent = server.requests[0].json
    sdk_reads(sent)
    assert sent["contents"][0]["parts"] == [
        {"text": "What is this?"},
        {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}},
    ]


def image(url: str) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": url, "detail": "high"}}


def test_a_web_image_skips_gemini_for_the_next_provider() -> None:
    picture = [{"role": "user", "content": [{"type": "text", "text": "What is this?"}, image("https://x.test/a.png")]}]
    with GeminiServer() as gemini, CohereServer() as cohere:
        environment = {"GOOGLE_API_KEY": gemini.api_key, "GOOGLE_BASE_URL": gemini.base_url}
        environment |= {"COHERE_API_KEY": cohere.api_key, "COHERE_BASE_URL": cohere.base_url}
        with TrinityHybridNode.from_env({**environment, "COHERE_MODEL": "command-a-vision-07-2025"}) as node:
            response = node.infer(picture)
            with pytest.raises(ClientRequestError, match="images"):
                node.infer(picture, force_provider="google")
    assert response.provider == "cohere"
    assert all(
        a.outcome == "skipped" and "images" in (a.error or "") for a in response.attempts if a.provider == "google"
    )
    assert gemini.requests == []
    sent = cohere.requests[0].json["messages"][0]["content"][1]
    assert sent == {"type": "image_url", "image_url": {"url": "https://x.test/a.png", "detail": "high"}}


@pytest.mark.parametrize(
    ("tool_choice", "config"),
    [
        ("auto", {"mode": "AUTO"}),
        ("none", {"mode": "NONE"}),
        ("required", {"mode": "ANY"}),
        ({"type": "function", "function": {"name": "get_time"}}, {"mode": "ANY", "allowedFunctionNames": ["get_time"]}),
    ],
)
def test_tool_choice_is_the_function_calling_mode(tool_choice: object, config: dict[str, Any]) -> None:
    body = built(tools=[WEATHER, TIME], tool_choice=tool_choice)
    assert body["toolConfig"] == {"functionCallingConfig": config}
    sdk_reads(body)


def test_a_function_without_parameters_declares_none() -> None:
    empty = {"type": "function", "function": {"name": "ping", "parameters": {"type": "object", "properties": {}}}}
    assert built(tools=[empty])["tools"] == [{"functionDeclarations": [{"name": "ping"}]}]


def test_parallel_tool_calls_false_skips_gemini() -> None:
    endpoint = Endpoint("google", DEFAULT_BASE_URLS["google"], "gemini-2.5-flash", None)
    request = ChatRequest.of("Hi", tools=[WEATHER], parallel_tool_calls=False)
    assert WIRE_FORMATS["google"].unsupported(endpoint, request) == "parallel_tool_calls"
    assert built(tools=[WEATHER], parallel_tool_calls=True)["tools"]  # the default: carried


def test_a_schema_gemini_cannot_take_is_refused_before_any_call() -> None:
    recursive = {
        "type": "function",
        "function": {
            "name": "tree",
            "parameters": {"type": "object", "properties": {"child": {"$ref": "#"}}},
        },
    }
    with GeminiServer() as server, node_for("google", server) as node:
        with pytest.raises(ClientRequestError, match=r"tools\[0\]\.function\.parameters.*recursive"):
            node.infer("Hi", tools=[recursive], force_provider="google")
        # Unforced, with no other provider to take it, the caller's request is at fault (a 400
        # at the gateway), with the reason.
        node.set_unavailable("local")
        with pytest.raises(InvalidInputError, match="recursive schema"):
            node.infer("Hi", tools=[recursive])
    assert server.requests == []


# -- the schema translation, fuzzed ---------------------------------------------------------------

NAMES = st.sampled_from(["a", "b", "c"])
SCALARS = st.sampled_from(["string", "integer", "number", "boolean", "null"])


def schemas() -> st.SearchStrategy[dict[str, Any]]:
    leaf = st.fixed_dictionaries(
        {"type": st.one_of(SCALARS, st.lists(SCALARS, min_size=1, max_size=3))},
        optional={
            "description": st.text(max_size=5),
            "pattern": st.just("^a"),
            "minLength": st.integers(0, 3),
            "const": st.sampled_from(["x", 1, True, None]),
            "enum": st.lists(st.sampled_from(["x", "y", 2, None, False]), min_size=1, max_size=3),
            "format": st.just("date-time"),
            "strict": st.booleans(),
            "$ref": st.sampled_from(["#/$defs/word", "#", "#/$defs/missing", "https://x.test/s"]),
            "not": st.just({"type": "string"}),
            "x-extension": st.just(1),
        },
    )

    def nest(children: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
        return st.one_of(
            st.fixed_dictionaries(
                {"type": st.just("object"), "properties": st.dictionaries(NAMES, children, max_size=3)},
                optional={
                    "required": st.lists(NAMES, max_size=3, unique=True),
                    "additionalProperties": st.one_of(st.booleans(), children),
                    "$schema": st.just("https://json-schema.org/draft/2020-12/schema"),
                    "nullable": st.booleans(),
                },
            ),
            st.fixed_dictionaries({"type": st.just("array"), "items": children}, optional={"maxItems": st.just(3)}),
            st.fixed_dictionaries({"anyOf": st.lists(children, min_size=1, max_size=2)}),
            st.fixed_dictionaries({"oneOf": st.lists(children, min_size=1, max_size=2)}),
            st.fixed_dictionaries({"allOf": st.lists(children, min_size=1, max_size=2)}),
        )

    return st.recursive(leaf, nest, max_leaves=12)


def nodes(schema: Any) -> list[dict[str, Any]]:
    """Every schema inside ``schema`` (itself included)."""
    found = [schema]
    for keyword in ("items", "additionalProperties"):
        if isinstance(schema.get(keyword), dict):
            found += nodes(schema[keyword])
    for keyword in ("anyOf", "prefixItems"):
        for member in schema.get(keyword, ()):
            found += nodes(member)
    for member in schema.get("properties", {}).values():
        found += nodes(member)
    return found


@given(schemas())
def test_any_schema_is_translated_to_the_documented_subset_or_refused_with_the_place(schema: dict[str, Any]) -> None:
    root = {**schema, "$defs": {"word": {"type": "string", "$comment": "a word"}}}
    try:
        translated = gemini_schema(root, "tools[0].function.parameters")
    except SchemaError as error:
        assert str(error).startswith("tools[0].function.parameters"), error
        assert ": " in str(error)
        return
    for node in nodes(translated):
        assert set(node) <= DOCUMENTED, set(node) - DOCUMENTED
        assert not set(node) & (NEVER_SENT | REFUSED)
        for value in node.get("enum", ()):
            assert isinstance(value, (str, int, float)) and not isinstance(value, bool)
    json.dumps(translated)  # plain JSON
    if "$ref" not in schema and "allOf" not in schema and "properties" in schema:
        # The object's keywords, in its own anyOf branch when the schema is also nullable.
        objects = [node for node in (translated, *translated.get("anyOf", ())) if "properties" in node]
        assert len(objects) == 1
        assert set(objects[0]["properties"]) == set(schema["properties"])  # no property lost
        assert objects[0].get("required") == schema.get("required")  # nor a requirement


def nested(levels: int) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(levels - 1):
        schema = {"type": "array", "items": schema}
    return schema


def test_a_schema_nested_past_the_limit_is_refused() -> None:
    assert gemini_schema(nested(DEPTH_MAX), "p")
    with pytest.raises(SchemaError, match=f"nested deeper than {DEPTH_MAX} levels"):
        gemini_schema(nested(DEPTH_MAX + 1), "p")


def test_references_that_multiply_are_refused_not_expanded() -> None:
    defs = {
        f"d{n}": {
            "type": "object",
            "properties": {"x": {"$ref": f"#/$defs/d{n + 1}"}, "y": {"$ref": f"#/$defs/d{n + 1}"}},
        }
        for n in range(10)
    }
    defs["d10"] = {"type": "string"}
    with pytest.raises(SchemaError, match="schemas once references are inlined"):
        gemini_schema({"$ref": "#/$defs/d0", "$defs": defs}, "p")


def test_a_malformed_function_call_is_the_attempts_failure() -> None:
    body = {"candidates": [{"content": {"role": "model", "parts": []}, "finishReason": "MALFORMED_FUNCTION_CALL"}]}
    endpoint = Endpoint("google", DEFAULT_BASE_URLS["google"], "gemini-2.5-flash", None)
    with pytest.raises(TransientError, match="MALFORMED_FUNCTION_CALL"):
        WIRE_FORMATS["google"].parse_response(endpoint, ChatRequest.of("Hi"), json.dumps(body).encode())


def test_async_tool_round_trip() -> None:
    async def run(node: TrinityHybridNode) -> list[str]:
        response = await node.ainfer(QUESTION, tools=[WEATHER], tool_choice="required", force_provider="google")
        return [call.name for call in response.tool_calls]

    with GeminiServer(responder=calling(PARIS, "", answered)) as server, node_for("google", server) as node:
        assert asyncio.run(run(node)) == ["get_weather"]
    assert server.requests[0].json["toolConfig"] == {"functionCallingConfig": {"mode": "ANY"}}


def test_a_call_in_the_streams_last_chunk_finishes_with_tool_calls() -> None:
    chunk = {
        "responseId": "r9",
        "candidates": [
            {
                "content": {
                    "role": "model",
                    "parts": [{"functionCall": {"name": "get_time", "args": {"zone": "CET"}}}],
                },
                "finishReason": "STOP",
            }
        ],
        "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 1},
    }
    endpoint = Endpoint("google", DEFAULT_BASE_URLS["google"], "gemini-2.5-flash", None)
    parser = WIRE_FORMATS["google"].new_stream_parser(endpoint, ChatRequest.of("Hi", stream=True))
    (delta,) = parser.feed("message", json.dumps(chunk))
    assert (delta.done, delta.finish_reason) == (True, "tool_calls")
    assert [(p.index, p.id, p.name, json.loads(p.arguments)) for p in delta.tool_calls] == [
        (0, "call_r9_0", "get_time", {"zone": "CET"})
    ]
