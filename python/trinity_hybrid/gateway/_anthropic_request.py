"""An Anthropic Messages API body (``POST /v1/messages``) as the library's one request model.

The body is checked in Anthropic's terms (an error names the field as the client sent it:
``messages[2].content[0].tool_use_id``), then written as the Chat Completions document it means
and parsed by ``ChatRequest.from_openai``, the parser every other request goes through:

- ``system`` (a string or text blocks) becomes the first message, a system message;
- text and image blocks (base64 or URL sources) become content parts; an assistant's
  ``tool_use`` blocks its ``tool_calls`` (``input`` as JSON text); a user's ``tool_result``
  blocks become tool messages, placed before the rest of that user turn as OpenAI orders them;
- ``tools`` (``input_schema``) become functions; ``tool_choice`` auto / any / tool / none
  becomes auto / required / the named function / none, ``disable_parallel_tool_use``
  ``parallel_tool_calls: false``;
- ``stop_sequences`` is ``stop``, ``metadata.user_id`` is ``user``; ``top_k``, which the
  request model has no field for, passes on to OpenAI-compatible providers as an unknown field
  does (other providers are skipped for it).

- ``output_config.format`` (a JSON schema) is ``response_format`` ``json_schema``.
- ``cache_control`` (prompt-caching breakpoints) stays where it was sent: on the request, a
  system or content block, a ``tool_use``, a ``tool_result``, a tool; sent on to Anthropic as
  it came, dropped by rule for the other formats (``_messages``' docstring).

- ``thinking`` (extended thinking) is ``ChatRequest.thinking``, and an assistant turn's
  ``thinking`` / ``redacted_thinking`` blocks its ``thinking_blocks``, signatures and all: sent
  back to Anthropic as they came, first in the turn, dropped by rule for the other formats,
  which cannot read them.

Accepted and not carried, since no provider in the chain can be asked for them in one way:
``output_config.effort`` (a provider's reasoning still comes back, as thinking blocks), and the
hints on how Anthropic itself serves a request (``service_tier``, ``speed``, ``inference_geo``). A
``tool_result``'s ``is_error`` is carried (``Message.is_error``): to Anthropic as the flag, to
other formats by the rule of ``Message.result_text``. Anything else unknown is a 400, as
Anthropic answers.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from .._messages import json_type
from ._errors import ApiError, bad_request
from ._validation import (
    GATEWAY_FIELDS,
    ChatParams,
    gateway_fields,
    parse_json_object,
    request_from_openai,
    served_model,
)

__all__ = ["parse_messages_request"]

FIELDS = frozenset(
    {
        "model",
        "messages",
        "max_tokens",
        "system",
        "stop_sequences",
        "temperature",
        "top_p",
        "top_k",
        "metadata",
        "stream",
        "tools",
        "tool_choice",
        "thinking",
        "output_config",
        "cache_control",
        # Hints on how Anthropic itself serves a request; no other provider has them.
        "service_tier",
        "speed",
        "inference_geo",
    }
)
IMAGE_MEDIA_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")
TOOL_CHOICES = {"auto": "auto", "any": "required", "none": "none"}
# The request model's field names (in its errors) by the names Anthropic's clients sent them as.
ANTHROPIC_NAMES = {"stop": "stop_sequences", "user": "metadata", "response_format": "output_config"}


def parse_messages_request(
    body: bytes, models: dict[str, str | None], strategies: tuple[str, ...], *, counting: bool = False
) -> ChatParams:
    """A Messages API body as the gateway acts on it, or an ``ApiError`` (4xx) naming the field.
    ``counting``: a ``count_tokens`` body, which has no ``max_tokens`` and no ``stream``."""
    document = parse_json_object(body)
    unknown = [name for name in document if name not in FIELDS and name not in GATEWAY_FIELDS]
    if counting:
        unknown += [name for name in ("max_tokens", "stream") if name in document]
    if unknown:
        raise bad_request(f"{unknown[0]}: Extra inputs are not permitted", param=unknown[0])
    model = served_model(document, models)
    max_tokens = None if counting else _required(document, "max_tokens", int)
    if max_tokens is not None and max_tokens < 1:
        raise bad_request("max_tokens: must be at least 1", param="max_tokens")
    messages = _required(document, "messages", list)
    if not messages:
        raise bad_request("messages: at least one message is required", param="messages")
    quality, strategy, cache, retries = gateway_fields(document, strategies)
    openai: dict[str, Any] = {"messages": _system(document.get("system")) + _messages(messages)}
    openai["max_tokens"] = max_tokens
    openai["stream"] = _optional(document, "stream", bool)
    openai["temperature"] = _unit_number(document, "temperature")
    openai["top_p"] = _unit_number(document, "top_p")
    top_k = _optional(document, "top_k", int)
    if top_k is not None and top_k < 0:
        raise bad_request("top_k: must be at least 0", param="top_k")
    openai["top_k"] = top_k
    openai["stop"] = _stop_sequences(document.get("stop_sequences"))
    openai["user"] = _user(document.get("metadata"))
    tools = _tools(document.get("tools"))
    openai["tools"] = tools
    openai.update(_tool_choice(document.get("tool_choice")))
    openai["thinking"] = document.get("thinking")
    openai["response_format"] = _output_format(document.get("output_config"))
    openai["cache_control"] = document.get("cache_control")
    try:
        request = request_from_openai({name: value for name, value in openai.items() if value is not None})
    except ApiError as error:  # named as the client sent the field
        if error.param in ANTHROPIC_NAMES:
            error.param = ANTHROPIC_NAMES[error.param]
            error.message = f"{error.param}: {error.message}"
        raise
    return ChatParams(model=model, request=request, force_provider=models[model], quality=quality, strategy=strategy,
                      cache=cache, retries=retries)  # fmt: skip


# ----------------------------------------------------------------------------------------------
# Fields.


def _required(document: Mapping[str, Any], name: str, kind: type) -> Any:
    if document.get(name) is None:
        raise bad_request(f"{name}: Field required", param=name, code="missing_required_parameter")
    return _optional(document, name, kind)


def _optional(document: Mapping[str, Any], name: str, kind: type) -> Any:
    value = document.get(name)
    if value is None:
        return None
    # bool is an int in Python, but not in JSON.
    if (isinstance(value, bool) and kind is not bool) or not isinstance(value, kind):
        raise bad_request(f"{name}: must be {_KINDS[kind]}, not {json_type(value)}", param=name, code="invalid_type")
    return value


_KINDS = {str: "a string", list: "an array", dict: "an object", bool: "a boolean", int: "an integer"}


def _unit_number(document: Mapping[str, Any], name: str) -> float | None:
    """temperature and top_p: Anthropic's range for both is 0 to 1."""
    value = document.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise bad_request(f"{name}: must be a number, not {json_type(value)}", param=name, code="invalid_type")
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise bad_request(f"{name}: must be between 0 and 1, got {value!r}", param=name)
    return float(value)


def _stop_sequences(value: object) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(stop, str) and stop for stop in value):
        raise bad_request("stop_sequences: must be an array of non-empty strings", param="stop_sequences")
    return value or None


def _user(metadata: object) -> str | None:
    if metadata is None:
        return None
    if not isinstance(metadata, dict) or any(name != "user_id" for name in metadata):
        raise bad_request("metadata: must be an object with at most user_id", param="metadata")
    user = metadata.get("user_id")
    if user is not None and not isinstance(user, str):
        raise bad_request("metadata.user_id: must be a string", param="metadata")
    return user


def _output_format(config: object) -> dict[str, Any] | None:
    """``output_config.format`` (a JSON schema the answer must follow) as ``response_format``."""
    if config is None:
        return None
    if not isinstance(config, dict):
        raise bad_request("output_config: must be an object", param="output_config")
    effort = config.get("effort")
    if effort is not None and not isinstance(effort, str):
        raise bad_request("output_config.effort: must be a string", param="output_config")
    output_format = config.get("format")
    if output_format is None:
        return None
    if not isinstance(output_format, dict) or output_format.get("type") != "json_schema":
        raise bad_request("output_config.format: must be {type: json_schema, schema}", param="output_config")
    schema = output_format.get("schema")
    if not isinstance(schema, dict):
        raise bad_request("output_config.format.schema: must be a JSON schema object", param="output_config")
    return {"type": "json_schema", "json_schema": {"name": "output", "schema": schema}}


def _system(value: object) -> list[dict[str, Any]]:
    if value is None:
        return []
    if isinstance(value, str):
        text = value
    elif isinstance(value, list):
        texts = [_text_block(block, f"system[{index}]", "system") for index, block in enumerate(value)]
        if any(block.get("cache_control") is not None for block in value):
            # A breakpoint in the system prompt: its blocks kept apart, each with its own.
            parts = [_cached({"type": "text", "text": text}, block) for text, block in zip(texts, value, strict=True)]
            return [{"role": "system", "content": parts}]
        text = "\n".join(texts)
    else:
        raise bad_request(f"system: must be a string or an array of text blocks, not {json_type(value)}",
                          param="system")  # fmt: skip
    return [{"role": "system", "content": text}] if text else []


def _cached(converted: dict[str, Any], block: Mapping[str, Any]) -> dict[str, Any]:
    """``converted`` with the prompt-caching breakpoint of the ``block`` it came from, if any
    (checked by the request model's parser, ``_messages.cache_control_of``)."""
    cache_control = block.get("cache_control")
    if cache_control is not None:
        converted["cache_control"] = cache_control
    return converted


def _text_block(block: object, where: str, param: str) -> str:
    if not isinstance(block, dict) or block.get("type") != "text" or not isinstance(block.get("text"), str):
        raise bad_request(f"{where}: must be a text block {{type: text, text}}", param=param)
    return block["text"]  # type: ignore[no-any-return]


# ----------------------------------------------------------------------------------------------
# Messages.


def _messages(messages: list[Any]) -> list[dict[str, Any]]:
    converted: list[dict[str, Any]] = []
    called: set[str] = set()  # tool_use ids so far, which a tool_result must answer
    for position, message in enumerate(messages):
        where = f"messages[{position}]"
        if not isinstance(message, dict):
            raise bad_request(f"{where}: must be an object with role and content", param="messages")
        role, content = message.get("role"), message.get("content")
        if role not in ("user", "assistant"):
            raise bad_request(f"{where}.role: must be user or assistant, got {role!r}", param="messages")
        if isinstance(content, str):
            converted.append({"role": role, "content": content})
            continue
        if not isinstance(content, list) or not content:
            raise bad_request(f"{where}.content: must be a string or a non-empty array of blocks", param="messages")
        if role == "assistant":
            converted.append(_assistant(content, where, called))
        else:
            converted.extend(_user_turn(content, where, called))
    return converted


def _assistant(blocks: list[Any], where: str, called: set[str]) -> dict[str, Any]:
    texts: list[dict[str, Any]] = []
    calls: list[dict[str, Any]] = []
    thinking: list[dict[str, Any]] = []  # checked with the message (``_messages.thinking_blocks_of``)
    for index, block in enumerate(blocks):
        at = f"{where}.content[{index}]"
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            texts.append(_cached({"type": "text", "text": _text_block(block, at, "messages")}, block))
        elif kind == "tool_use":
            calls.append(_cached(_tool_use(block, at), block))
            called.add(calls[-1]["id"])
        elif kind in ("thinking", "redacted_thinking"):
            thinking.append(block)
        else:
            raise bad_request(f"{at}: an assistant block must be text, tool_use, thinking or redacted_thinking, "
                              f"got {_shown(block)}", param="messages")  # fmt: skip
    content: str | list[dict[str, Any]] | None = None
    if any("cache_control" in text for text in texts):
        content = texts  # parts, each block's breakpoint on its own
    elif texts or not calls:
        content = "".join(text["text"] for text in texts)
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if calls:
        message["tool_calls"] = calls
    if thinking:
        message["thinking_blocks"] = thinking
    return message


def _tool_use(block: dict[str, Any], at: str) -> dict[str, Any]:
    identifier, name, arguments = block.get("id"), block.get("name"), block.get("input")
    if not isinstance(identifier, str) or not identifier:
        raise bad_request(f"{at}.id: must be a non-empty string", param="messages")
    if not isinstance(name, str) or not name:
        raise bad_request(f"{at}.name: must be a non-empty string", param="messages")
    if not isinstance(arguments, dict):
        raise bad_request(f"{at}.input: must be an object", param="messages")
    try:
        text = json.dumps(arguments, ensure_ascii=False)
    except (ValueError, RecursionError):
        raise bad_request(f"{at}.input: cannot be written as JSON", param="messages") from None
    return {"id": identifier, "type": "function", "function": {"name": name, "arguments": text}}


def _user_turn(blocks: list[Any], where: str, called: set[str]) -> list[dict[str, Any]]:
    """Tool results first (each a tool message), then the turn's text and images."""
    results: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for index, block in enumerate(blocks):
        at = f"{where}.content[{index}]"
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            parts.append(_cached({"type": "text", "text": _text_block(block, at, "messages")}, block))
        elif kind == "image":
            parts.append(_cached(_image(block.get("source"), at), block))
        elif kind == "tool_result":
            results.append(_cached(_tool_result(block, at, called), block))
        else:
            raise bad_request(f"{at}: a user block must be text, image or tool_result, got {_shown(block)}",
                              param="messages")  # fmt: skip
    if parts:
        results.append({"role": "user", "content": parts})
    return results


def _image(source: object, at: str) -> dict[str, Any]:
    # ``kind`` is not None only when ``source`` is a dict, a narrowing mypy cannot follow: hence
    # the ignores below.
    kind = source.get("type") if isinstance(source, dict) else None
    if kind == "base64":
        media_type, data = source.get("media_type"), source.get("data")  # type: ignore[attr-defined]
        if media_type not in IMAGE_MEDIA_TYPES:
            raise bad_request(f"{at}.source.media_type: must be one of {', '.join(IMAGE_MEDIA_TYPES)}",
                              param="messages")  # fmt: skip
        if not isinstance(data, str) or not data:
            raise bad_request(f"{at}.source.data: must be base64 text", param="messages")
        return {"type": "image_url", "image_url": {"url": f"data:{media_type};base64,{data}"}}
    if kind == "url":
        url = source.get("url")  # type: ignore[attr-defined]
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise bad_request(f"{at}.source.url: must be an http(s) URL", param="messages")
        return {"type": "image_url", "image_url": {"url": url}}
    raise bad_request(f"{at}.source: must be {{type: base64, media_type, data}} or {{type: url, url}}",
                      param="messages")  # fmt: skip


def _tool_result(block: dict[str, Any], at: str, called: set[str]) -> dict[str, Any]:
    identifier = block.get("tool_use_id")
    if not isinstance(identifier, str) or not identifier:
        raise bad_request(f"{at}.tool_use_id: must be a non-empty string", param="messages")
    if identifier not in called:
        raise bad_request(f"{at}.tool_use_id: no earlier tool_use block has id {identifier!r}", param="messages")
    content = block.get("content", "")
    if isinstance(content, list) and any(isinstance(part, dict) and part.get("type") == "image" for part in content):
        raise bad_request(f"{at}.content: images in a tool result are not carried (tool messages take text only)",
                          param="messages")  # fmt: skip
    if isinstance(content, list):
        content = "\n".join(_text_block(part, f"{at}.content[{index}]", "messages")
                            for index, part in enumerate(content))  # fmt: skip
    elif not isinstance(content, str):
        raise bad_request(f"{at}.content: must be a string or an array of text blocks", param="messages")
    is_error = block.get("is_error")
    if is_error is not None and not isinstance(is_error, bool):
        raise bad_request(f"{at}.is_error: must be a boolean", param="messages")
    result: dict[str, Any] = {"role": "tool", "tool_call_id": identifier, "content": content}
    if is_error:
        result["is_error"] = True
    return result


def _shown(block: object) -> str:
    kind = block.get("type") if isinstance(block, dict) else None
    return repr(kind) if isinstance(kind, str) else json_type(block if kind is None else kind)


# ----------------------------------------------------------------------------------------------
# Tools.


def _tools(value: object) -> list[dict[str, Any]] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise bad_request(f"tools: must be an array, not {json_type(value)}", param="tools")
    tools: list[dict[str, Any]] = []
    for index, tool in enumerate(value):
        at = f"tools[{index}]"
        if not isinstance(tool, dict):
            raise bad_request(f"{at}: must be an object with name and input_schema", param="tools")
        kind = tool.get("type", "custom")
        if kind != "custom":
            raise bad_request(f"{at}.type: {_shown(tool)} tools (Anthropic's server tools) are not served here; "
                              "only custom tools with input_schema", param="tools")  # fmt: skip
        name, description, schema = tool.get("name"), tool.get("description"), tool.get("input_schema")
        if not isinstance(name, str):
            raise bad_request(f"{at}.name: must be a string", param="tools")
        if description is not None and not isinstance(description, str):
            raise bad_request(f"{at}.description: must be a string", param="tools")
        if not isinstance(schema, dict):
            raise bad_request(f"{at}.input_schema: must be a JSON schema object", param="tools")
        function: dict[str, Any] = {"name": name, "parameters": schema}
        if description is not None:
            function["description"] = description
        tools.append(_cached({"type": "function", "function": function}, tool))
    return tools or None


def _tool_choice(value: object) -> dict[str, Any]:
    if value is None:
        return {}
    # ``kind`` is one of the four only when ``value`` is a dict: hence the ignores below.
    kind = value.get("type") if isinstance(value, dict) else None
    if kind not in ("auto", "any", "tool", "none"):
        raise bad_request("tool_choice: must be {type: auto | any | tool | none}", param="tool_choice")
    disable_parallel = value.get("disable_parallel_tool_use")  # type: ignore[attr-defined]
    if disable_parallel is not None and not isinstance(disable_parallel, bool):
        raise bad_request("tool_choice.disable_parallel_tool_use: must be a boolean", param="tool_choice")
    choice: dict[str, Any] = {}
    if kind == "tool":
        name = value.get("name")  # type: ignore[attr-defined]
        if not isinstance(name, str) or not name:
            raise bad_request("tool_choice.name: must name one of the tools", param="tool_choice")
        choice["tool_choice"] = {"type": "function", "function": {"name": name}}
    else:
        choice["tool_choice"] = TOOL_CHOICES[kind]
    if disable_parallel:
        choice["parallel_tool_calls"] = False
    return choice
