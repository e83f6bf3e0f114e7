"""The Anthropic request's parts beyond plain text: the conversation as content blocks, tools
and ``tool_choice``, and structured output by tool forcing.

- Messages alternate user and assistant; consecutive messages of one role become one message
  (text joined by blank lines while every part is text, blocks otherwise). An assistant's
  ``tool_calls`` are ``tool_use`` blocks (``input``: the arguments parsed, which must be a JSON
  object; empty arguments are ``{}``); a ``tool`` message is a ``tool_result`` block of a user
  message, so consecutive results share one user message, as the API asks. A tool call id
  the API would refuse (it takes ``[a-zA-Z0-9_-]``; Kimi's ids hold dots and colons) is
  replaced by one derived from it, the same for the call and its result.
- Images are ``image`` blocks: a ``data:`` URL as a ``base64`` source, a web URL as a ``url``
  source; ``detail`` has no equivalent and is dropped. ``system`` takes text only, so an image
  in a system message skips Anthropic.
- ``tools`` are ``{name, description, input_schema}`` (a tool without parameters takes an empty
  object); ``strict`` is dropped. ``tool_choice``: ``auto`` -> ``{type: auto}``, ``required``
  -> ``{type: any}``, a named function -> ``{type: tool, name}``, ``none`` -> ``{type: none}``;
  ``parallel_tool_calls: false`` -> ``disable_parallel_tool_use: true``.
- An assistant's thinking blocks (extended thinking) open its content, verbatim.
- Prompt-caching breakpoints (``cache_control``, ``_messages``' docstring) go on the blocks
  they were sent on: a text or image part's block, a tool call's ``tool_use``, a tool result's
  ``tool_result``, a tool; a message's own breakpoint on its last block. A system prompt with a
  breakpoint is sent as text blocks (``system_blocks``).
- ``response_format`` is Anthropic's documented tool-forcing technique: one more tool, named
  after the schema (``json_object`` for JSON mode, whose schema is any object), whose
  ``input_schema`` is the response schema, and ``tool_choice`` forcing it. The answer's call
  of that tool is the answer's text (its input as JSON), ``finish_reason`` ``stop``. With tools
  of the caller's as well, the model must use one of them or the answer tool (``{type:
  any}``); a named ``tool_choice`` still forces that tool, ``none`` leaves only the answer tool.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from .._exceptions import ClientRequestError
from .._request import ImagePart, TextPart
from ._signed_ids import unsigned
from ._types import ChatRequest, Endpoint, Message

__all__ = ["JSON_OBJECT_TOOL", "answer_tool", "has_system_images", "messages", "system_blocks", "tool_fields"]

JOINER = "\n\n"
JSON_OBJECT_TOOL = "json_object"
_ANSWER_TOOL_DESCRIPTION = "Give your answer with this tool: its input is the answer."
_TOOL_USE_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


def answer_tool(request: ChatRequest) -> str | None:
    """The name of the tool that carries a structured answer, or None without one."""
    response_format = request.response_format
    if response_format is None:
        return None
    name = response_format.name if response_format.type == "json_schema" and response_format.name else JSON_OBJECT_TOOL
    taken = {tool.name for tool in request.tools}
    while name in taken:
        name = f"{name}_answer"
    return name


def has_system_images(request: ChatRequest) -> bool:
    return any(message.images for message in request.messages if message.role in ("system", "developer"))


def tool_fields(endpoint: Endpoint, request: ChatRequest) -> dict[str, Any]:
    """``tools`` and ``tool_choice``, the answer tool included."""
    choice = request.tool_choice
    tools: list[dict[str, Any]] = []
    if choice is None or choice.mode != "none" or request.response_format is None:
        for tool in request.tools:
            spec: dict[str, Any] = {"name": tool.name}
            if tool.description is not None:
                spec["description"] = tool.description
            spec["input_schema"] = dict(tool.parameters) if tool.parameters is not None else _EMPTY_OBJECT
            tools.append(_mark(spec, tool.cache_control))
    tool_choice: dict[str, Any] | None = None
    answer = answer_tool(request)
    if answer is not None:
        tools.append(
            {"name": answer, "description": _answer_description(request), "input_schema": _schema(endpoint, request)}
        )
        if choice is not None and choice.mode == "function":
            tool_choice = {"type": "tool", "name": choice.name}
        elif len(tools) == 1:
            tool_choice = {"type": "tool", "name": answer}
        else:
            tool_choice = {"type": "any"}
    elif choice is not None:
        tool_choice = _CHOICES[choice.mode] if choice.mode != "function" else {"type": "tool", "name": choice.name}
    if not tools:
        return {}
    if request.parallel_tool_calls is False and (tool_choice is None or tool_choice["type"] != "none"):
        tool_choice = {**(tool_choice or {"type": "auto"}), "disable_parallel_tool_use": True}
    fields: dict[str, Any] = {"tools": tools}
    if tool_choice is not None:
        fields["tool_choice"] = dict(tool_choice)
    return fields


_EMPTY_OBJECT: dict[str, Any] = {"type": "object", "properties": {}}
_CHOICES: dict[str, dict[str, Any]] = {"auto": {"type": "auto"}, "required": {"type": "any"}, "none": {"type": "none"}}


def _answer_description(request: ChatRequest) -> str:
    assert request.response_format is not None
    return request.response_format.description or _ANSWER_TOOL_DESCRIPTION


def _schema(endpoint: Endpoint, request: ChatRequest) -> dict[str, Any]:
    assert request.response_format is not None
    schema = request.response_format.schema
    if request.response_format.type == "json_object" or schema is None:
        return {"type": "object"}
    if schema.get("type") != "object":
        raise ClientRequestError(
            "response_format.json_schema.schema: Anthropic's answer tool takes an object schema "
            f"(type: object), not {schema.get('type')!r}",
            provider=endpoint.provider,
        )
    return dict(schema)


def messages(endpoint: Endpoint, conversation: tuple[Message, ...]) -> list[dict[str, Any]]:
    """The user and assistant messages, alternating, as content blocks where text is not enough."""
    merged: list[dict[str, Any]] = []
    for position, message in enumerate(conversation):
        if message.role in ("system", "developer"):
            continue
        role = "user" if message.role == "tool" else message.role
        content: str | list[dict[str, Any]]
        if (
            type(message.content) is str
            and message.role != "tool"
            and not message.tool_calls
            and message.cache_control is None
            and not message.thinking_blocks
        ):
            content = message.content
        else:
            content = _blocks(endpoint, message, position)
        if merged and merged[-1]["role"] == role:
            previous = merged[-1]["content"]
            if isinstance(previous, str) and isinstance(content, str):
                merged[-1]["content"] = previous + JOINER + content
            else:
                merged[-1]["content"] = _as_blocks(previous) + _as_blocks(content)
        else:
            merged.append({"role": role, "content": content})
    return merged


def _as_blocks(content: str | list[dict[str, Any]]) -> list[dict[str, Any]]:
    if isinstance(content, list):
        return content
    return [{"type": "text", "text": content}] if content else []


def _blocks(endpoint: Endpoint, message: Message, position: int) -> list[dict[str, Any]]:
    if message.role == "tool":
        assert message.tool_call_id is not None
        result: dict[str, Any] = {"type": "tool_result", "tool_use_id": tool_use_id(message.tool_call_id)}
        if message.text:
            result["content"] = message.text
        if message.is_error:
            result["is_error"] = True
        return _marked([result], message.cache_control)
    # Extended thinking first, as the model gave it: the API checks the signatures and, with
    # thinking on, that the turn's tool calls follow their thinking.
    blocks = [block.to_json() for block in message.thinking_blocks] + _content_blocks(message)
    for index, call in enumerate(message.tool_calls):
        where = f"messages[{position}].tool_calls[{index}].function.arguments"
        use = {"type": "tool_use", "id": tool_use_id(call.id), "name": call.name,
               "input": _input(endpoint, call.arguments, where)}  # fmt: skip
        blocks.append(_mark(use, call.cache_control))
    return _marked(blocks, message.cache_control)


def _content_blocks(message: Message) -> list[dict[str, Any]]:
    """A message's text and image parts as blocks, each with its own breakpoint."""
    if type(message.content) is str:
        return [{"type": "text", "text": message.content}] if message.content else []
    blocks: list[dict[str, Any]] = []
    block: dict[str, Any]
    for part in message.content:
        if type(part) is TextPart:
            if not part.text:
                continue
            block = {"type": "text", "text": part.text}
        else:
            assert type(part) is ImagePart
            block = _image(part)
        blocks.append(_mark(block, part.cache_control))
    return blocks


def _mark(block: dict[str, Any], cache_control: Any) -> dict[str, Any]:
    """``block`` with the prompt-caching breakpoint ``cache_control`` (None: none), unless it
    has one of its own already."""
    if cache_control is not None and "cache_control" not in block:
        block["cache_control"] = dict(cache_control)
    return block


def _marked(blocks: list[dict[str, Any]], cache_control: Any) -> list[dict[str, Any]]:
    """``blocks`` with a message's own breakpoint on the last of them (kept if it has one)."""
    if blocks:
        _mark(blocks[-1], cache_control)
    return blocks


def system_blocks(request: ChatRequest) -> str | list[dict[str, Any]] | None:
    """``system``: the system and developer messages' text joined, or as text blocks when one
    of them carries a prompt-caching breakpoint; None without a system prompt."""
    system = [message for message in request.messages if message.role in ("system", "developer")]
    if not any(_has_breakpoint(message) for message in system):
        text = JOINER.join(message.text for message in system if message.text)
        return text or None
    blocks = [block for message in system for block in _marked(_content_blocks(message), message.cache_control)]
    return [block for block in blocks if block["type"] == "text"] or None


def _has_breakpoint(message: Message) -> bool:
    if message.cache_control is not None:
        return True
    content = message.content
    return isinstance(content, tuple) and any(part.cache_control is not None for part in content)


def _image(part: ImagePart) -> dict[str, Any]:
    inline = part.inline
    if inline is None:
        return {"type": "image", "source": {"type": "url", "url": part.url}}
    media_type, data = inline
    return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}


def _input(endpoint: Endpoint, arguments: str, where: str) -> dict[str, Any]:
    if not arguments.strip():
        return {}
    try:
        value = json.loads(arguments)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise ClientRequestError(
            f"{where}: Anthropic takes a tool call's arguments as a JSON object", provider=endpoint.provider
        )
    return value


def tool_use_id(identifier: str) -> str:
    """``identifier`` if Anthropic takes it as a ``tool_use`` id, else one derived from it; a
    Gemini signature it carries is no part of it (``_signed_ids``)."""
    identifier = unsigned(identifier)
    if _TOOL_USE_ID.match(identifier):
        return identifier
    return "toolu_" + hashlib.sha256(identifier.encode()).hexdigest()[:24]
