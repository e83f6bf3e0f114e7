"""The Gemini request body's parts beyond plain text: tools and ``toolConfig``, the
conversation's function calls and responses, images, and structured output.

- ``tools`` become one ``tools[{functionDeclarations: [{name, description,
  parametersJsonSchema}]}]`` entry, each schema translated by ``gemini_schema``. A tool's
  ``strict`` is dropped: Gemini has no per-function switch.
- ``tool_choice``: ``auto``/``none``/``required`` are ``toolConfig.functionCallingConfig.mode``
  ``AUTO``/``NONE``/``ANY``; a named function is ``ANY`` with ``allowedFunctionNames``.
- An assistant message's ``tool_calls`` are ``functionCall`` parts (``id``, ``name``, ``args``
  as an object) of the ``model`` turn; a ``tool`` message is a ``functionResponse`` part
  (``id``, ``name``: the name of the call it answers, found by its id) of a ``user`` turn. Its
  ``response`` is the tool's output when that is a JSON object, else ``{"output": ...}``, as
  the API reference asks ("Use 'output' key to specify function output").
- Gemini 3 (and 2.5 with thinking) answers a call with a ``thoughtSignature`` and refuses the
  next turn with a 400 when the ``functionCall`` part comes back without one. The signature
  rides in the call's id (``_signed_ids``) and goes back on its call, with the id without it.
  A turn whose first call carries none (the conversation came from another model, or a client
  rebuilt the ids) gets the value Google documents for conversations it did not sign,
  ``skip_thought_signature_validator`` (ai.google.dev/gemini-api/docs/thought-signatures):
  accepted, at some cost to the model's reasoning about earlier calls.
- An image given as a ``data:`` URL is an ``inlineData`` part. ``fileData.fileUri`` is
  documented for files in Google Cloud Storage (or uploaded with the Files API), not for any
  web URL, so a request with a web image URL skips Gemini (``needs_web_images``). ``detail``
  has no equivalent and is dropped.
- ``response_format`` ``json_object`` is ``responseMimeType: application/json``;
  ``json_schema`` adds ``responseJsonSchema`` (translated the same way). ``strict`` needs no
  flag: a response schema always constrains the answer.
"""

from __future__ import annotations

import json
from typing import Any

from .._request import TextPart
from ._signed_ids import signature_of, unsigned
from ._types import ChatRequest, Message
from .gemini_schema import SchemaError, gemini_schema

__all__ = ["contents", "needs_web_images", "response_config", "tool_fields"]

_ROLES = {"user": "user", "assistant": "model", "tool": "user"}
_MODES = {"auto": "AUTO", "none": "NONE", "required": "ANY", "function": "ANY"}
UNSIGNED = "skip_thought_signature_validator"


def needs_web_images(request: ChatRequest) -> bool:
    """Whether an image is a web URL (Gemini takes inline data only), or sits in a system
    message (``systemInstruction`` takes text)."""
    for message in request.messages:
        for image in message.images:
            if image.inline is None or message.role in ("system", "developer"):
                return True
    return False


def tool_fields(request: ChatRequest) -> dict[str, Any]:
    """``tools`` and ``toolConfig``; raises ``SchemaError`` for a schema Gemini cannot take."""
    fields: dict[str, Any] = {}
    if request.tools:
        declarations = []
        for index, tool in enumerate(request.tools):
            declaration: dict[str, Any] = {"name": tool.name}
            if tool.description:
                declaration["description"] = tool.description
            parameters = _parameters(tool.parameters, f"tools[{index}].function.parameters")
            if parameters is not None:
                declaration["parametersJsonSchema"] = parameters
            declarations.append(declaration)
        fields["tools"] = [{"functionDeclarations": declarations}]
    choice = request.tool_choice
    if choice is not None:
        config: dict[str, Any] = {"mode": _MODES[choice.mode]}
        if choice.mode == "function":
            config["allowedFunctionNames"] = [choice.name]
        fields["toolConfig"] = {"functionCallingConfig": config}
    return fields


def _parameters(schema: Any, where: str) -> dict[str, Any] | None:
    """The declaration's parameters: an object schema, or None for a function without any."""
    if schema is None:
        return None
    translated = gemini_schema(schema, where)
    if translated.get("type", "object") != "object" or "anyOf" in translated:
        raise SchemaError(f"{where}: Gemini takes a function's parameters as one object schema")
    if not translated.get("properties"):
        return None  # no parameters; Gemini refuses an object schema without properties
    translated["type"] = "object"
    return translated


def response_config(request: ChatRequest) -> dict[str, Any]:
    """The ``generationConfig`` fields of ``response_format``."""
    response_format = request.response_format
    if response_format is None:
        return {}
    config: dict[str, Any] = {"responseMimeType": "application/json"}
    if response_format.type == "json_schema" and response_format.schema is not None:
        config["responseJsonSchema"] = gemini_schema(response_format.schema, "response_format.json_schema.schema")
    return config


def contents(messages: tuple[Message, ...]) -> list[dict[str, Any]]:
    """The conversation as ``contents``: consecutive messages of one role are one turn (the
    answers to parallel calls must be one turn). Raises ``SchemaError`` for a call whose
    arguments are not a JSON object."""
    turns: list[dict[str, Any]] = []
    names: dict[str, str] = {}
    for position, message in enumerate(messages):
        role = _ROLES.get(message.role)
        if role is None:
            continue  # system: sent as systemInstruction
        parts = _parts(message, names, f"messages[{position}]")
        if turns and turns[-1]["role"] == role:
            turns[-1]["parts"].extend(parts)
        else:
            turns.append({"role": role, "parts": parts})
    return turns


def _parts(message: Message, names: dict[str, str], where: str) -> list[dict[str, Any]]:
    if message.role == "tool":
        call_id = message.tool_call_id or ""
        # A failed tool's result goes under "error", the key Gemini documents for it.
        output = {"error": message.text} if message.is_error else _tool_output(message.text)
        response = {"id": unsigned(call_id), "name": names.get(call_id, ""), "response": output}
        return [{"functionResponse": response}]
    parts: list[dict[str, Any]] = []
    if isinstance(message.content, str):
        if message.content or not message.tool_calls:
            parts.append({"text": message.content})
    else:
        for part in message.content:
            if isinstance(part, TextPart):
                parts.append({"text": part.text})
            elif part.inline is not None:  # a web URL never gets here: needs_web_images
                parts.append({"inlineData": {"mimeType": part.inline[0], "data": part.inline[1]}})
    for index, call in enumerate(message.tool_calls):
        names[call.id] = call.name
        call_part = {
            "id": unsigned(call.id),
            "name": call.name,
            "args": _arguments(call.arguments, f"{where}.tool_calls[{index}]"),
        }
        # Each call's own signature; the turn's first call needs one, as Gemini signs it.
        signature = signature_of(call.id) or (UNSIGNED if index == 0 else None)
        parts.append(
            {"functionCall": call_part, "thoughtSignature": signature} if signature else {"functionCall": call_part}
        )
    return parts or [{"text": ""}]


def _arguments(text: str, where: str) -> dict[str, Any]:
    if not text.strip():
        return {}
    try:
        arguments = json.loads(text)
    except ValueError:
        arguments = None
    if not isinstance(arguments, dict):
        raise SchemaError(f"{where}.function.arguments: Gemini takes a call's arguments as a JSON object")
    return arguments


def _tool_output(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return {"output": text}
    return value if isinstance(value, dict) else {"output": value}
