"""The parts of an OpenAI-compatible request beyond plain text: messages with image parts,
tool calls and tool results, tools, ``tool_choice`` and ``response_format``; which models see
images; Mistral's form of tool call ids. What each provider takes is in ``openai_compatible``'s
docstring.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from typing import Any

from .._request import ImagePart, TextPart, Tool
from ._signed_ids import unsigned
from ._types import ChatRequest, Endpoint, Message

__all__ = ["message_json", "mistral_tool_call_id", "sees_images", "tool_fields"]

_VISION_MODEL = re.compile(r"vision|pixtral|-vl|llama-4|glm-4(\.\d+)?v|^mistral-(medium|small)", re.IGNORECASE)
_OPENAI_TEXT_ONLY_MODEL = re.compile(r"^(gpt-3\.5|o1-mini|o3-mini)", re.IGNORECASE)
_MISTRAL_TOOL_CALL_ID = re.compile(r"^[A-Za-z0-9]{9}$")
_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def sees_images(endpoint: Endpoint) -> bool:
    """Whether the endpoint's model takes images (the rule of openai_compatible's docstring)."""
    if endpoint.provider == "custom":
        return True
    if endpoint.provider == "openai":
        return not _OPENAI_TEXT_ONLY_MODEL.match(endpoint.model)
    return endpoint.provider != "local" and _VISION_MODEL.search(endpoint.model) is not None


def mistral_tool_call_id(identifier: str) -> str:
    """Mistral's form of a tool call id: 9 letters or digits, derived from the id (kept when it
    already has that form); a Gemini signature it carries is no part of it."""
    identifier = unsigned(identifier)
    if _MISTRAL_TOOL_CALL_ID.match(identifier):
        return identifier
    number = int.from_bytes(hashlib.sha256(identifier.encode()).digest()[:8], "big")
    letters = []
    for _ in range(9):
        number, digit = divmod(number, len(_ID_ALPHABET))
        letters.append(_ID_ALPHABET[digit])
    return "".join(letters)


def message_json(message: Message, rename: Callable[[str], str] | None) -> dict[str, Any]:
    """A message with parts, tool calls or a tool result, as OpenAI takes it."""
    item: dict[str, Any] = {"role": message.role}
    if isinstance(message.content, str):
        item["content"] = message.content
    else:
        item["content"] = [_part(part) for part in message.content]
    if message.name is not None:
        item["name"] = message.name
    if message.tool_calls:
        if not message.content:
            item["content"] = None  # as OpenAI sends an assistant message that only calls
        item["tool_calls"] = [
            {
                "id": rename(call.id) if rename else call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments},
            }
            for call in message.tool_calls
        ]
    if message.tool_call_id is not None:
        item["tool_call_id"] = rename(message.tool_call_id) if rename else message.tool_call_id
        if message.is_error:  # OpenAI's tool messages have no error flag: the rule of result_text
            item["content"] = message.result_text
    return item


def _part(part: TextPart | ImagePart) -> dict[str, Any]:
    if type(part) is TextPart:
        return {"type": "text", "text": part.text}
    assert type(part) is ImagePart
    image: dict[str, Any] = {"url": part.url}
    if part.detail is not None:
        image["detail"] = part.detail
    return {"type": "image_url", "image_url": image}


def tool_fields(request: ChatRequest, *, send_parallel_tool_calls: bool) -> dict[str, Any]:
    """``tools``, ``tool_choice``, ``parallel_tool_calls`` (where the provider documents it) and
    ``response_format``, as OpenAI takes them."""
    fields: dict[str, Any] = {}
    if request.tools:
        fields["tools"] = [_tool(tool) for tool in request.tools]
    choice = request.tool_choice
    if choice is not None:
        fields["tool_choice"] = (
            {"type": "function", "function": {"name": choice.name}} if choice.mode == "function" else choice.mode
        )
    if request.parallel_tool_calls is not None and send_parallel_tool_calls:
        fields["parallel_tool_calls"] = request.parallel_tool_calls
    response_format = request.response_format
    if response_format is not None:
        if response_format.type == "json_object":
            fields["response_format"] = {"type": "json_object"}
        else:
            spec: dict[str, Any] = {"name": response_format.name}
            for name in ("description", "schema", "strict"):
                if getattr(response_format, name) is not None:
                    spec[name] = getattr(response_format, name)
            fields["response_format"] = {"type": "json_schema", "json_schema": spec}
    return fields


def _tool(tool: Tool) -> dict[str, Any]:
    function: dict[str, Any] = {"name": tool.name}
    if tool.description is not None:
        function["description"] = tool.description
    if tool.parameters is not None:
        function["parameters"] = tool.parameters
    if tool.strict is not None:
        function["strict"] = tool.strict
    return {"type": "function", "function": function}
