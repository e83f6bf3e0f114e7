"""JSON schemas as Gemini takes them: tool parameters (``parametersJsonSchema``) and structured
output (``responseJsonSchema``).

Both fields take JSON Schema, but only a documented subset of it (google-genai's
``GenerationConfig.response_json_schema``, from the API reference): ``$id``, ``$defs``,
``$ref``, ``$anchor``, ``type``, ``format``, ``title``, ``description``, ``enum`` (strings and
numbers), ``items``, ``prefixItems``, ``minItems``, ``maxItems``, ``minimum``, ``maximum``,
``anyOf``, ``oneOf`` (read as ``anyOf``), ``properties``, ``additionalProperties``,
``required`` and ``propertyOrdering``. A ``$ref`` may have no siblings there, cyclic references
are only "unrolled to a limited degree" in optional properties, and a schema nested too deeply
is answered ``400 ... exceeds the maximum allowed nesting depth`` (no limit is documented).
Clients send OpenAI-flavoured schemas with ``strict``, ``$schema``, ``pattern``, ``const``,
``allOf``... and get a 400 from Gemini for the whole request; so the schema is translated here,
before any call, and what cannot be translated is refused with the reason:

- ``$ref`` to a place in the same document (``#/$defs/X``, any ``#/...`` pointer) is inlined,
  its siblings applied over the target; a cycle, a remote reference or one that does not
  resolve is refused. ``$defs``/``definitions`` then go.
- ``oneOf`` becomes ``anyOf``; ``const`` becomes a one-value ``enum``; an ``allOf`` whose
  members do not contradict each other is merged into one schema, else refused.
- ``type: ["string", "null"]`` (several types) becomes ``anyOf`` with one branch per type, each
  with the keywords that apply to it; ``enum`` with ``null`` likewise. Booleans, objects or
  arrays in an ``enum`` are refused (Gemini's enums hold strings and numbers).
- Constraints Gemini does not enforce (``pattern``, ``minLength``, ``exclusiveMinimum``,
  ``uniqueItems``...) are written into the ``description``, so the model still reads them.
- Keywords that do not constrain a value (``$schema``, ``$id``, ``$comment``, ``examples``,
  ``default``, OpenAI's ``strict``, unknown ones, which JSON Schema ignores) are left out.
- Keywords whose meaning cannot be carried (``not``, ``if``/``then``/``else``,
  ``patternProperties``, ``dependentSchemas``, ``contains``...) are refused.
- A schema nested more than ``DEPTH_MAX`` levels after inlining, or grown past ``NODES_MAX``
  schemas by it, is refused.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, NoReturn

__all__ = ["DEPTH_MAX", "NODES_MAX", "REFUSED", "SchemaError", "gemini_schema"]

# Schema levels (each properties / items / anyOf member / additionalProperties step is one).
# Google documents no number; deeply nested MCP tool schemas are refused by the API, and a
# refusal here only skips Gemini, where the API's 400 would end the call.
DEPTH_MAX = 12
NODES_MAX = 2000

_KEPT = frozenset({"title", "description", "format", "minItems", "maxItems", "minimum", "maximum", "propertyOrdering"})
_CONSTRAINTS_AS_TEXT = (
    "pattern", "minLength", "maxLength", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "uniqueItems",
    "minProperties", "maxProperties", "minContains", "maxContains",
)  # fmt: skip
REFUSED = frozenset(
    {
        "not", "if", "then", "else", "patternProperties", "dependentSchemas", "dependentRequired",
        "dependencies", "contains", "propertyNames", "unevaluatedItems", "$dynamicRef", "$recursiveRef",
    }
)  # fmt: skip
_TYPE_KEYWORDS = {
    "object": ("properties", "required", "additionalProperties", "propertyOrdering"),
    "array": ("items", "prefixItems", "minItems", "maxItems"),
    "string": ("format", "enum"),
    "number": ("format", "minimum", "maximum", "enum"),
    "integer": ("format", "minimum", "maximum", "enum"),
    "boolean": (),
    "null": (),
}
_JSON_TYPES = frozenset(_TYPE_KEYWORDS)


class SchemaError(ValueError):
    """A schema Gemini cannot take, with where and why."""


def gemini_schema(schema: Mapping[str, Any], where: str) -> dict[str, Any]:
    """``schema`` translated to what Gemini takes (see the module docstring); raises
    ``SchemaError`` naming the place (``where`` is the request field) and the reason."""
    walk = _Walk(schema, where)
    return walk.schema(schema, where, 1, ())


class _Walk:
    def __init__(self, root: Mapping[str, Any], where: str) -> None:
        self.root = root
        self.where = where
        self.nodes = 0

    def schema(self, node: object, at: str, depth: int, refs: tuple[str, ...]) -> dict[str, Any]:
        if isinstance(node, bool):
            return {} if node else _refuse(at, "the schema false (nothing is valid) has no Gemini equivalent")
        if not isinstance(node, Mapping):
            _refuse(at, "a schema must be an object")
        if depth > DEPTH_MAX:
            _refuse(at, f"nested deeper than {DEPTH_MAX} levels, which Gemini refuses")
        self.nodes += 1
        if self.nodes > NODES_MAX:
            _refuse(self.where, f"more than {NODES_MAX} schemas once references are inlined")
        node, refs = self.resolved(node, at, refs)
        for keyword in node:
            if keyword in REFUSED:
                _refuse(at, f"{keyword!r} has no Gemini equivalent")
        if "allOf" in node:
            node = self.merged(node, at, refs)
        out: dict[str, Any] = {}
        notes: list[str] = []
        for keyword, value in node.items():
            if keyword in _KEPT:
                out[keyword] = value
            elif keyword in _CONSTRAINTS_AS_TEXT:
                notes.append(f"{keyword}: {value}")
            elif keyword == "properties":
                out[keyword] = self.properties(value, f"{at}.properties", depth, refs)
            elif keyword in ("items", "additionalProperties"):
                out[keyword] = (
                    value if isinstance(value, bool) else self.schema(value, f"{at}.{keyword}", depth + 1, refs)
                )
            elif keyword in ("prefixItems", "anyOf", "oneOf"):
                out["anyOf" if keyword == "oneOf" else keyword] = self.list(value, f"{at}.{keyword}", depth, refs)
            elif keyword == "required":
                out[keyword] = _names(value, f"{at}.required")
        if notes:
            text = "; ".join(notes)
            out["description"] = f"{out['description']} ({text})" if out.get("description") else f"({text})"
        values = _enum(node, at)
        if values is not None:
            out["enum"] = values
        nullable = node.get("nullable") is True or (values is not None and None in node.get("enum", ()))
        return _typed(out, node.get("type"), at, nullable=nullable)

    def resolved(
        self, node: Mapping[str, Any], at: str, refs: tuple[str, ...]
    ) -> tuple[Mapping[str, Any], tuple[str, ...]]:
        """``node`` with its ``$ref`` (and the target's, in turn) replaced by the target, and
        the references followed to reach it (a cycle is one met again below itself)."""
        while "$ref" in node:
            ref = node["$ref"]
            if not isinstance(ref, str) or not ref.startswith("#"):
                _refuse(at, f"$ref {ref!r} is not a reference inside this schema")
            if ref in refs:
                _refuse(at, f"$ref {ref!r} refers to itself (a recursive schema), which Gemini cannot take")
            refs = (*refs, ref)
            siblings = {key: value for key, value in node.items() if key != "$ref"}
            node = {**_pointer(self.root, ref, at), **siblings}
        return node, refs

    def merged(self, node: Mapping[str, Any], at: str, refs: tuple[str, ...]) -> dict[str, Any]:
        """An ``allOf`` folded into its schema, members' references inlined first, when no
        keyword is given two different values (``properties`` and ``required`` add up)."""
        members = node["allOf"]
        if not isinstance(members, Sequence) or isinstance(members, str) or not members:
            _refuse(f"{at}.allOf", "must be a non-empty array of schemas")
        merged: dict[str, Any] = {key: value for key, value in node.items() if key != "allOf"}
        for index, member in enumerate(members):
            if not isinstance(member, Mapping):
                _refuse(f"{at}.allOf[{index}]", "a schema must be an object")
            member, member_refs = self.resolved(member, f"{at}.allOf[{index}]", refs)
            if "allOf" in member:
                member = self.merged(member, f"{at}.allOf[{index}]", member_refs)
            for key, value in member.items():
                if key == "properties" and isinstance(value, Mapping):
                    mine = merged.get("properties", {})
                    clash = [name for name in value if name in mine and mine[name] != value[name]]
                    if clash:
                        _refuse(f"{at}.allOf[{index}]", f"property {clash[0]!r} is defined twice, differently")
                    merged["properties"] = {**mine, **value}
                elif key == "required" and isinstance(value, list):
                    merged["required"] = [
                        *merged.get("required", []),
                        *(n for n in value if n not in merged.get("required", [])),
                    ]
                elif key in merged and merged[key] != value and key not in ("description", "title"):
                    _refuse(f"{at}.allOf[{index}]", f"{key!r} contradicts another member; allOf cannot be merged")
                else:
                    merged.setdefault(key, value)
        return merged

    def properties(self, value: object, at: str, depth: int, refs: tuple[str, ...]) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            _refuse(at, "properties must be an object")
        return {name: self.schema(sub, f"{at}.{name}", depth + 1, refs) for name, sub in value.items()}

    def list(self, value: object, at: str, depth: int, refs: tuple[str, ...]) -> list[dict[str, Any]]:
        if not isinstance(value, Sequence) or isinstance(value, str) or not value:
            _refuse(at, "must be a non-empty array of schemas")
        return [self.schema(sub, f"{at}[{index}]", depth + 1, refs) for index, sub in enumerate(value)]


def _refuse(at: str, reason: str) -> NoReturn:
    raise SchemaError(f"{at}: {reason}")


def _pointer(root: Mapping[str, Any], ref: str, at: str) -> Mapping[str, Any]:
    target: Any = root
    for step in ref[1:].lstrip("/").split("/") if ref != "#" else ():
        step = step.replace("~1", "/").replace("~0", "~")
        if isinstance(target, Mapping) and step in target:
            target = target[step]
        elif isinstance(target, list) and step.isdigit() and int(step) < len(target):
            target = target[int(step)]
        else:
            _refuse(at, f"$ref {ref!r} does not resolve")
    if not isinstance(target, Mapping):
        _refuse(at, f"$ref {ref!r} does not point at a schema object")
    return target


def _names(value: object, at: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
        _refuse(at, "required must be an array of property names")
    return [str(name) for name in value]


def _enum(node: Mapping[str, Any], at: str) -> list[Any] | None:
    """The enum's values without ``null`` (which makes the schema nullable), ``const`` as a
    one-value enum."""
    if "const" in node:
        values: Any = [node["const"]]
    elif "enum" in node:
        values = node["enum"]
    else:
        return None
    if not isinstance(values, list) or not values:
        _refuse(at, "enum must be a non-empty array")
    kept = []
    for value in values:
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            _refuse(at, f"enum value {value!r}: Gemini's enums hold strings and numbers only")
        if isinstance(value, float) and not math.isfinite(value):
            _refuse(at, f"enum value {value!r} is not a JSON number")
        kept.append(value)
    return kept


def _typed(out: dict[str, Any], kind: object, at: str, *, nullable: bool) -> dict[str, Any]:
    """``out`` with its type: one type as it is; several (or a nullable enum) as ``anyOf``,
    one branch per type holding the keywords that apply to that type."""
    if kind is None:
        kinds: list[str] = []
    elif isinstance(kind, str):
        kinds = [kind]
    elif isinstance(kind, list) and kind and all(isinstance(name, str) for name in kind):
        kinds = list(dict.fromkeys(kind))
    else:
        _refuse(f"{at}.type", "type must be a type name or an array of them")
    unknown = [name for name in kinds if name not in _JSON_TYPES]
    if unknown:
        _refuse(f"{at}.type", f"{unknown[0]!r} is not a JSON Schema type")
    implied = _enum_type(out["enum"]) if not kinds and out.get("enum") else None
    if implied is not None:
        kinds = [implied]
    if nullable and kinds and "null" not in kinds:
        kinds.append("null")
    if nullable and not kinds:
        values = {key: out.pop(key) for key in ("enum",) if key in out}
        out["anyOf"] = [values, {"type": "null"}]
        return out
    if len(kinds) <= 1:
        if kinds:
            out["type"] = kinds[0]
        return out
    if "anyOf" in out:
        _refuse(at, "a schema with several types and anyOf cannot be translated")
    branches = []
    for name in kinds:
        branch: dict[str, Any] = {"type": name}
        for key in _TYPE_KEYWORDS[name]:
            if key in out:
                branch[key] = out[key]
        branches.append(branch)
    shared = {key: value for key, value in out.items() if not any(key in keys for keys in _TYPE_KEYWORDS.values())}
    return {**shared, "anyOf": branches}


def _enum_type(values: list[Any]) -> str | None:
    """The type an enum without one implies (Gemini's enums are typed)."""
    if all(isinstance(value, str) for value in values):
        return "string"
    if all(isinstance(value, int) for value in values):
        return "integer"
    if all(isinstance(value, (int, float)) for value in values):
        return "number"
    return None
