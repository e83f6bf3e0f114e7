"""JSON schemas as Cohere's v2 chat takes them: tool parameters and ``response_format.json_schema``.

Cohere documents a subset of JSON Schema (docs.cohere.com, "How do Structured Outputs Work?",
"Parameter types support" and "Unsupported schema features"): types, nested objects, arrays,
``enum``, ``const`` of a string, number, boolean or null, ``pattern``, ``format`` (only
``date-time``, ``uuid``, ``date``, ``time``), ``$ref`` / ``$defs``, ``additionalProperties`` and
``anyOf``. Not supported: ``allOf``, ``oneOf``, ``not``; numeric ranges (``minimum``,
``maximum``); array lengths (``minItems``, ``maxItems``); string lengths (``minLength``,
``maxLength``); ``^``, ``$``, ``?=`` and ``?!`` in patterns; ``uniqueItems``. In structured
output (``response_format``, and tools with ``strict_tools``) the top-level schema must be an
object and every object must name at least one ``required`` field; strict tools take at most
200 fields in all. Clients send such schemas (pydantic writes ``minimum``, ``maxLength``,
``format: email``...), and a schema Cohere cannot take fails the whole request; so it is
translated here, before any call, and what cannot be translated is refused with the reason
(the planner then skips Cohere, as it skips Gemini for a schema Gemini cannot take):

- ``oneOf`` becomes ``anyOf`` (its branches are the model's choices either way);
- constraints Cohere does not enforce (the ranges and lengths above, ``multipleOf``,
  ``exclusiveMinimum`` / ``exclusiveMaximum``, ``uniqueItems``, ``minProperties`` /
  ``maxProperties``, a ``pattern`` with anchors or lookaheads, another ``format``) are written
  into the ``description``, so the model still reads them;
- ``allOf``, ``not``, ``if`` / ``then`` / ``else``, a ``const`` that is an object or an array,
  and the structured-output rules above when broken, are refused.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["FIELDS_MAX", "CohereSchemaError", "cohere_schema", "fields_count"]

FIELDS_MAX = 200  # fields across all tools, with strict_tools
FORMATS = frozenset({"date-time", "uuid", "date", "time"})
CONSTRAINTS_AS_TEXT = (
    "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minItems", "maxItems",
    "minLength", "maxLength", "uniqueItems", "minProperties", "maxProperties",
)  # fmt: skip
REFUSED = ("allOf", "not", "if", "then", "else")
PATTERN_UNSUPPORTED = ("^", "$", "?=", "?!")
# Keywords whose value is one schema, a list of schemas, or a map of names to schemas.
_ONE = ("items", "additionalProperties")
_LIST = ("anyOf", "oneOf", "prefixItems")
_MAP = ("properties", "$defs", "definitions")


class CohereSchemaError(ValueError):
    """A schema Cohere cannot take, with where and why."""


def cohere_schema(schema: Mapping[str, Any], where: str, *, structured: bool) -> dict[str, Any]:
    """``schema`` as Cohere takes it (see the module docstring). ``structured``: for
    ``response_format`` or a strict tool, whose rules are stricter. Raises
    ``CohereSchemaError`` naming the place (``where`` is the request field) and the reason."""
    if structured and schema.get("type") != "object":
        raise CohereSchemaError(f"{where}: Cohere's structured output needs an object schema at the top")
    return _node(schema, where, structured)


def fields_count(schema: Mapping[str, Any]) -> int:
    """The fields of a tool's parameters, nested ones included (strict tools' 200 in all)."""
    count = 0
    stack: list[object] = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, Mapping):
            properties = node.get("properties")
            if isinstance(properties, Mapping):
                count += len(properties)
            stack.extend(value for value in node.values() if isinstance(value, (Mapping, list)))
        elif isinstance(node, list):
            stack.extend(node)
    return count


def _node(node: Mapping[str, Any], at: str, structured: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    notes: list[str] = []
    for keyword, value in node.items():
        if keyword in REFUSED:
            raise CohereSchemaError(f"{at}: {keyword!r} (Cohere's schemas have no {keyword})")
        if keyword in CONSTRAINTS_AS_TEXT:
            notes.append(f"{keyword}: {_shown(value)}")
        elif keyword == "format" and not (isinstance(value, str) and value in FORMATS):
            notes.append(f"format: {_shown(value)}")
        elif keyword == "pattern" and isinstance(value, str) and any(part in value for part in PATTERN_UNSUPPORTED):
            notes.append(f"pattern: {value}")
        elif keyword == "const" and isinstance(value, (Mapping, list)):
            raise CohereSchemaError(f"{at}.const: Cohere takes a const string, number, boolean or null only")
        elif keyword in _ONE and isinstance(value, Mapping):
            out[keyword] = _node(value, f"{at}.{keyword}", structured)
        elif keyword in _LIST:
            if not isinstance(value, Sequence) or isinstance(value, str):
                raise CohereSchemaError(f"{at}.{keyword}: must be an array of schemas")
            name = "anyOf" if keyword == "oneOf" else keyword
            branches = [_node(item, f"{at}.{keyword}[{index}]", structured) if isinstance(item, Mapping) else item
                        for index, item in enumerate(value)]  # fmt: skip
            out[name] = out.get(name, []) + branches
        elif keyword in _MAP:
            if not isinstance(value, Mapping):
                raise CohereSchemaError(f"{at}.{keyword}: must be an object of schemas")
            out[keyword] = {name: _node(item, f"{at}.{keyword}.{name}", structured) if isinstance(item, Mapping)
                            else item for name, item in value.items()}  # fmt: skip
        else:
            out[keyword] = value
    if notes:
        text = ", ".join(notes)
        description = out.get("description")
        out["description"] = f"{description} ({text})" if isinstance(description, str) and description else f"({text})"
    if structured and isinstance(out.get("properties"), Mapping) and out["properties"] and not out.get("required"):
        raise CohereSchemaError(f"{at}: Cohere's structured output needs every object to name a required field")
    return out


def _shown(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)
