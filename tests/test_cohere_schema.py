"""JSON schemas through Cohere's v2 chat (``providers/cohere_schema``): tool parameters and the
response format's schema are translated to the subset Cohere documents, as the loopback Cohere
server receives them (and the cohere SDK's request types read them), or refused before any call
with the place and the reason; and a fuzzer: any schema is translated with nothing Cohere lacks
left in it, or refused naming where."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cohere.types import ToolV2
from hypothesis import given, settings
from hypothesis import strategies as st
from loopback import CohereServer
from tools_harness import node_for
from trinity_hybrid import ClientRequestError, InvalidInputError
from trinity_hybrid.providers.cohere_schema import CONSTRAINTS_AS_TEXT, FORMATS, CohereSchemaError, cohere_schema

PYDANTIC_LIKE = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "minLength": 1, "maxLength": 80, "description": "The city"},
        "email": {"type": "string", "format": "email"},
        "when": {"type": "string", "format": "date-time"},
        "code": {"type": "string", "pattern": "^[A-Z]{3}$"},
        "plain": {"type": "string", "pattern": "[a-z]+"},
        "days": {"type": "array", "items": {"type": "integer", "minimum": 1, "maximum": 7}, "maxItems": 7},
        "unit": {"oneOf": [{"const": "C"}, {"const": "F"}]},
        "place": {"$ref": "#/$defs/Place"},
    },
    "required": ["city"],
    "$defs": {"Place": {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}},
}


def tool(parameters: dict[str, Any], *, strict: bool | None = None) -> dict[str, Any]:
    function: dict[str, Any] = {"name": "weather", "description": "Weather", "parameters": parameters}
    if strict is not None:
        function["strict"] = strict
    return {"type": "function", "function": function}


def test_what_cohere_lacks_is_translated_and_reaches_it_so() -> None:
    response_format = {"type": "json_schema", "json_schema": {"name": "w", "schema": PYDANTIC_LIKE}}
    with CohereServer(responder=lambda request: '{"city": "Paris"}') as server, node_for("cohere", server) as node:
        node.infer("Hi", tools=[tool(PYDANTIC_LIKE)], force_provider="cohere")
        node.infer("Hi", response_format=response_format, force_provider="cohere")
    sent_tool = server.requests[0].json["tools"][0]
    ToolV2.model_validate(sent_tool)
    for sent in (sent_tool["function"]["parameters"], server.requests[1].json["response_format"]["json_schema"]):
        properties = sent["properties"]
        assert properties["city"] == {"type": "string", "description": "The city (minLength: 1, maxLength: 80)"}
        assert properties["email"] == {"type": "string", "description": "(format: email)"}
        assert properties["when"] == {"type": "string", "format": "date-time"}  # a format Cohere takes
        assert properties["code"] == {"type": "string", "description": "(pattern: ^[A-Z]{3}$)"}
        assert properties["plain"] == {"type": "string", "pattern": "[a-z]+"}
        assert properties["days"] == {"type": "array", "description": "(maxItems: 7)",
                                      "items": {"type": "integer", "description": "(minimum: 1, maximum: 7)"}}  # fmt: skip
        assert properties["unit"] == {"anyOf": [{"const": "C"}, {"const": "F"}]}
        assert properties["place"] == {"$ref": "#/$defs/Place"} and sent["$defs"] == PYDANTIC_LIKE["$defs"]
        assert not any(keyword in json.dumps(sent) for keyword in ('"minLength"', '"oneOf"', '"maximum"'))


@pytest.mark.parametrize(
    ("parameters", "wording"),
    [
        ({"tools": [tool({"type": "object", "allOf": [{"properties": {"a": {"type": "string"}}}]})]},
         r"tools\[0\]\.function\.parameters: 'allOf'"),
        ({"tools": [tool({"type": "object", "properties": {"a": {"not": {"type": "null"}}}})]},
         r"tools\[0\]\.function\.parameters\.properties\.a: 'not'"),
        ({"tools": [tool({"type": "object", "properties": {"a": {"type": "string"}}}, strict=True)]},
         "needs every object to name a required field"),
        ({"tools": [tool({"type": "object", "properties": {"a": {"const": {"x": 1}}}, "required": ["a"]})]},
         "const string, number, boolean or null"),
        ({"tools": [tool({"type": "object", "properties": {f"f{i}": {"type": "string"} for i in range(201)},
                          "required": ["f0"]}, strict=True)]}, "201 fields with strict tools"),
        ({"response_format": {"type": "json_schema", "json_schema": {"name": "n", "schema": {"type": "array"}}}},
         "object schema at the top"),
        ({"response_format": {"type": "json_schema", "json_schema": {
            "name": "n", "schema": {"type": "object", "properties": {"a": {"type": "string"}}}}}},
         "needs every object to name a required field"),
    ],
)  # fmt: skip
def test_a_schema_cohere_cannot_take_is_refused_before_any_call(parameters: dict[str, Any], wording: str) -> None:
    with CohereServer() as server, node_for("cohere", server) as node:
        with pytest.raises(ClientRequestError, match=wording):
            node.infer("Hi", force_provider="cohere", **parameters)
        node.set_unavailable("local")
        with pytest.raises(InvalidInputError, match="Cohere cannot take"):  # unforced: the caller's request
            node.infer("Hi", **parameters)
    assert server.requests == []


def test_a_plain_tool_schema_keeps_its_optional_fields() -> None:
    """Only structured output (response_format, strict tools) needs a required field per object."""
    schema = {"type": "object", "properties": {"a": {"type": "string", "uniqueItems": True}}}
    assert cohere_schema(schema, "p", structured=False) == {
        "type": "object", "properties": {"a": {"type": "string", "description": "(uniqueItems: true)"}}}  # fmt: skip


# -- fuzzed --------------------------------------------------------------------------------------

KEYWORDS = st.sampled_from(
    ["type", "description", "minimum", "maxLength", "format", "pattern", "oneOf", "anyOf", "allOf", "not",
     "items", "properties", "required", "const", "enum", "uniqueItems", "$ref", "additionalProperties"]
)  # fmt: skip
VALUES = st.sampled_from(["object", "string", 3, True, "email", "date", "^a$", "a+", None, [], {}, ["a"], {"x": 1}])
SCHEMAS = st.recursive(
    st.dictionaries(KEYWORDS, VALUES, max_size=4),
    lambda children: st.dictionaries(
        KEYWORDS,
        VALUES | children | st.lists(children, max_size=3) | st.dictionaries(st.sampled_from("ab"), children),
        max_size=4,
    ),
    max_leaves=12,
)


@settings(max_examples=400, deadline=None)
@given(schema=SCHEMAS, structured=st.booleans())
def test_any_schema_is_translated_to_the_subset_or_refused_with_the_place(schema: Any, structured: bool) -> None:
    try:
        translated = cohere_schema(schema, "tools[0].function.parameters", structured=structured)
    except CohereSchemaError as error:
        assert str(error).startswith("tools[0].function.parameters")
        return
    stack: list[Any] = [translated]
    while stack:  # every schema in it: the root, and what properties, items, anyOf... hold
        node = stack.pop()
        if not isinstance(node, dict):
            continue
        assert not {"oneOf", "allOf", "not"} & node.keys()
        assert not set(CONSTRAINTS_AS_TEXT) & node.keys()
        assert not isinstance(node.get("format"), str) or node["format"] in FORMATS
        for keyword in ("items", "additionalProperties"):
            stack.append(node.get(keyword))
        for keyword in ("anyOf", "prefixItems"):
            stack.extend(node.get(keyword) or ())
        for keyword in ("properties", "$defs", "definitions"):
            stack.extend((node.get(keyword) or {}).values())
