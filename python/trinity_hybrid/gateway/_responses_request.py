"""An OpenAI Responses API body (``POST /v1/responses``) as the library's one request model.

The body is checked in the Responses API's terms (an error names the field as the client sent
it: ``input[2].call_id``, ``text.format``, ``max_output_tokens``), then written as the Chat
Completions document it means and parsed by ``ChatRequest.from_openai``, the parser every other
request goes through, so routing, fallback and the cache are those of chat completions:

- ``instructions`` becomes the first message, a system message; ``input`` a string, one user
  message; ``input`` items: ``message`` items (``input_text`` / ``input_image`` parts, an
  assistant's ``output_text`` / ``refusal`` parts) are messages, consecutive ``function_call``
  items are one assistant message's ``tool_calls`` (joined to the assistant text just before
  them), and each ``function_call_output`` is a tool message answering its ``call_id``;
- ``tools`` (the flat ``{type: function, name, parameters, strict}``) become functions;
  ``tool_choice`` auto / none / required / ``{type: function, name}`` as in Chat Completions;
- ``text.format`` ``json_schema`` / ``json_object`` is ``response_format``;
  ``max_output_tokens`` is ``max_tokens``; ``safety_identifier`` is ``user`` when no user is set.

The gateway is stateless: nothing is stored, so ``store: true``, ``previous_response_id``,
``conversation``, ``background`` and ``item_reference`` items, which all need a stored
response, are a 400 saying so; the client sends the whole conversation each turn (with
``store: false``, as stateless clients do). Built-in tools (``web_search``, ``file_search``,
``code_interpreter``, ...) are run by OpenAI's servers, not by a model: a 400 as well.

Accepted and not carried, as hints on how OpenAI itself serves a request or on a reasoning the
providers are not asked for in one way: ``reasoning``, ``include``, ``truncation``,
``service_tier``, ``prompt_cache_key``, ``prompt_cache_retention``, ``stream_options``,
``text.verbosity``; and ``reasoning`` items in ``input`` (a provider's own reasoning, which no
other provider can read). Anything else unknown is a 400.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
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

__all__ = ["RESPONSES_PATH", "ResponsesParams", "parse_responses_request"]

RESPONSES_PATH = "/v1/responses"

CARRIED = frozenset(
    {
        "input",
        "instructions",
        "max_output_tokens",
        "temperature",
        "top_p",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "text",
        "stream",
        "store",
        "metadata",
        "user",
        "safety_identifier",
    }
)
# Hints on how OpenAI itself serves a request: accepted, not carried (see the module's text).
HINTS = frozenset(
    {
        "reasoning",
        "include",
        "truncation",
        "service_tier",
        "prompt_cache_key",
        "prompt_cache_retention",
        "stream_options",
    }
)
# Fields that need a stored response or conversation: this gateway keeps none.
STATEFUL = ("previous_response_id", "conversation", "background", "prompt")
STATELESS = "this gateway is stateless: it stores no responses or conversations; send the whole conversation as input"
# The request model's field names (in its errors) by the names Responses clients sent them as.
RESPONSES_NAMES = {"messages": "input", "max_tokens": "max_output_tokens", "response_format": "text.format"}


# Not frozen, as ChatParams (a frozen dataclass cannot inherit from a non-frozen one).
@dataclass(slots=True)
class ResponsesParams(ChatParams):
    """``ChatParams`` and what a Response echoes of its request that the request model does not
    keep: the instructions as sent."""

    instructions: str | None = None


def parse_responses_request(body: bytes, models: dict[str, str | None], strategies: tuple[str, ...]) -> ChatParams:
    """A Responses API body as the gateway acts on it, or an ``ApiError`` (4xx) naming the field."""
    document = parse_json_object(body)
    for name in STATEFUL:
        if document.get(name) not in (None, False):
            raise bad_request(f"{name}: {STATELESS}", param=name, code="unsupported_parameter")
    unknown = [name for name in document if name not in CARRIED and name not in HINTS and name not in GATEWAY_FIELDS
               and name not in STATEFUL]  # fmt: skip
    if unknown:
        raise bad_request(f"{unknown[0]}: unknown or unsupported parameter", param=unknown[0],
                          code="unknown_parameter")  # fmt: skip
    store = document.get("store")
    if store is not None and not isinstance(store, bool):
        raise bad_request(f"store: must be a boolean, not {json_type(store)}", param="store", code="invalid_type")
    if store:
        raise bad_request(f"store: {STATELESS} (send store: false)", param="store", code="unsupported_parameter")
    model = served_model(document, models)
    quality, strategy, cache, retries = gateway_fields(document, strategies)
    instructions = document.get("instructions")
    if instructions is not None and not isinstance(instructions, str):
        raise bad_request("instructions: must be a string", param="instructions", code="invalid_type")
    if document.get("input") is None:
        raise bad_request("input: Field required", param="input", code="missing_required_parameter")
    system = [{"role": "system", "content": instructions}] if instructions else []
    tools = _tools(document.get("tools"))
    openai: dict[str, Any] = {
        "messages": system + _input(document["input"]),
        "max_tokens": _integer(document, "max_output_tokens"),
        "temperature": document.get("temperature"),
        "top_p": document.get("top_p"),
        "stream": document.get("stream"),
        "parallel_tool_calls": document.get("parallel_tool_calls"),
        "metadata": document.get("metadata"),
        "user": _user(document),
        "tools": tools,
        "tool_choice": _tool_choice(document.get("tool_choice")),
        "response_format": _text_format(document.get("text")),
    }
    try:
        request = request_from_openai({name: value for name, value in openai.items() if value is not None})
    except ApiError as error:  # named as the client sent the field
        if error.param in RESPONSES_NAMES:
            renamed = RESPONSES_NAMES[error.param]
            # The request model counts chat messages: the instructions first, then the input
            # items, consecutive function calls as one message, reasoning items left out.
            where = " (messages[i]: the instructions and input items as chat messages)" if renamed == "input" else ""
            error.message = f"{renamed}: {error.message}{where}"
            error.param = renamed
        raise
    return ResponsesParams(model=model, request=request, force_provider=models[model], quality=quality,
                           strategy=strategy, cache=cache, retries=retries, instructions=instructions)  # fmt: skip


# ----------------------------------------------------------------------------------------------
# Fields.


def _integer(document: Mapping[str, Any], name: str) -> int | None:
    value = document.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad_request(f"{name}: must be an integer, not {json_type(value)}", param=name, code="invalid_type")
    return value


def _user(document: Mapping[str, Any]) -> str | None:
    user, safety = document.get("user"), document.get("safety_identifier")
    if safety is not None and not isinstance(safety, str):
        raise bad_request("safety_identifier: must be a string", param="safety_identifier", code="invalid_type")
    chosen: str | None = user if user is not None else safety
    return chosen


def _text_format(text: object) -> dict[str, Any] | None:
    """``text.format`` as ``response_format``; ``text.verbosity`` is a hint, not carried."""
    if text is None:
        return None
    if not isinstance(text, dict):
        raise bad_request(f"text: must be an object, not {json_type(text)}", param="text", code="invalid_type")
    unknown = [name for name in text if name not in ("format", "verbosity")]
    if unknown:
        raise bad_request(f"text.{unknown[0]}: unknown parameter", param="text")
    verbosity = text.get("verbosity")
    if verbosity is not None and verbosity not in ("low", "medium", "high"):
        raise bad_request("text.verbosity: must be low, medium or high", param="text")
    fmt = text.get("format")
    if fmt is None:
        return None
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    if kind == "text":
        return None
    if kind == "json_object":
        return {"type": "json_object"}
    if kind != "json_schema":
        raise bad_request('text.format: must be {type: "text"}, {type: "json_object"} or '
                          '{type: "json_schema", name, schema, strict?}', param="text.format")  # fmt: skip
    spec = {name: fmt[name] for name in ("name", "schema", "strict", "description") if fmt.get(name) is not None}
    if "schema" not in spec:
        raise bad_request("text.format.schema: a json_schema format needs its schema", param="text.format")
    return {"type": "json_schema", "json_schema": spec}


def _tools(value: object) -> list[dict[str, Any]] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise bad_request(f"tools: must be an array, not {json_type(value)}", param="tools", code="invalid_type")
    tools: list[dict[str, Any]] = []
    for index, tool in enumerate(value):
        at = f"tools[{index}]"
        kind = tool.get("type") if isinstance(tool, dict) else None
        if kind != "function":
            shown = repr(kind) if isinstance(kind, str) else json_type(tool if kind is None else kind)
            raise bad_request(f"{at}.type: {shown} tools are not served by this gateway (built-in tools run on "
                              "OpenAI's servers); only function tools {type: function, name, parameters}",
                              param="tools")  # fmt: skip
        assert isinstance(tool, dict)  # a dict: its type was read above
        function = {name: tool[name] for name in ("name", "description", "parameters", "strict")
                    if tool.get(name) is not None}  # fmt: skip
        tools.append({"type": "function", "function": function})
    return tools or None


def _tool_choice(value: object) -> object:
    if value is None or value in ("auto", "none", "required"):
        return value
    if isinstance(value, dict) and value.get("type") == "function":
        name = value.get("name")
        if not isinstance(name, str) or not name:
            raise bad_request("tool_choice.name: must name one of the tools", param="tool_choice")
        return {"type": "function", "function": {"name": name}}
    raise bad_request('tool_choice: must be "auto", "none", "required" or {type: "function", name}; '
                      "built-in tool choices are not served by this gateway", param="tool_choice")  # fmt: skip


# ----------------------------------------------------------------------------------------------
# Input items.


def _input(value: object) -> list[dict[str, Any]]:
    if isinstance(value, str):
        return [{"role": "user", "content": value}]
    if not isinstance(value, list) or not value:
        raise bad_request("input: must be a string or a non-empty array of input items", param="input")
    messages: list[dict[str, Any]] = []
    for position, item in enumerate(value):
        at = f"input[{position}]"
        if not isinstance(item, dict):
            raise bad_request(f"{at}: must be an input item object, not {json_type(item)}", param="input")
        kind = item.get("type", "message" if "role" in item else None)
        if kind == "message":
            messages.append(_message(item, at))
        elif kind == "function_call":
            _function_call(item, at, messages)
        elif kind == "function_call_output":
            messages.append(_function_call_output(item, at))
        elif kind == "item_reference":
            raise bad_request(f"{at}: item_reference: {STATELESS}", param="input", code="unsupported_parameter")
        elif kind != "reasoning":  # a provider's own reasoning: not carried
            shown = repr(kind) if isinstance(kind, str) else json_type(kind)
            raise bad_request(f"{at}.type: must be message, function_call, function_call_output or reasoning, "
                              f"got {shown}", param="input")  # fmt: skip
    return messages


def _message(item: dict[str, Any], at: str) -> dict[str, Any]:
    role, content = item.get("role"), item.get("content")
    if role not in ("user", "assistant", "system", "developer"):
        raise bad_request(f"{at}.role: must be user, assistant, system or developer, got {_shown(role)}",
                          param="input")  # fmt: skip
    if isinstance(content, str):
        return {"role": role, "content": content}
    if not isinstance(content, list):
        raise bad_request(f"{at}.content: must be a string or an array of content parts", param="input")
    parts = [_part(part, f"{at}.content[{index}]", role) for index, part in enumerate(content)]
    if role == "assistant":
        return {"role": "assistant", "content": "".join(part["text"] for part in parts)}
    return {"role": role, "content": parts}


def _part(value: object, at: str, role: str) -> dict[str, Any]:
    part: dict[str, Any] = value if isinstance(value, dict) else {}
    kind = part.get("type")
    if role == "assistant":
        if kind == "output_text" and isinstance(part.get("text"), str):
            return {"type": "text", "text": part["text"]}
        if kind == "refusal" and isinstance(part.get("refusal"), str):
            return {"type": "text", "text": part["refusal"]}
        raise bad_request(f"{at}: an assistant message's parts must be output_text {{text}} or refusal, "
                          f"got {_shown(kind)}", param="input")  # fmt: skip
    if kind == "input_text" and isinstance(part.get("text"), str):
        return {"type": "text", "text": part["text"]}
    if kind == "input_image":
        url, detail = part.get("image_url"), part.get("detail")
        if part.get("file_id") is not None:
            raise bad_request(f"{at}.file_id: {STATELESS} (no uploaded files); send image_url", param="input")
        if not isinstance(url, str):
            raise bad_request(f"{at}.image_url: must be an http(s) or data: URL", param="input")
        image: dict[str, Any] = {"url": url}
        if detail is not None:
            image["detail"] = detail
        return {"type": "image_url", "image_url": image}
    if kind in ("input_file", "input_audio"):
        raise bad_request(f"{at}: {kind} parts are not carried by this router", param="input")
    raise bad_request(f"{at}: must be an input_text {{text}} or input_image {{image_url}} part, got {_shown(kind)}",
                      param="input")  # fmt: skip


def _function_call(item: dict[str, Any], at: str, messages: list[dict[str, Any]]) -> None:
    """A call the model made: one of the tool calls of the assistant message it follows."""
    call_id, name, arguments = item.get("call_id"), item.get("name"), item.get("arguments", "")
    if not isinstance(call_id, str) or not call_id:
        raise bad_request(f"{at}.call_id: must be a non-empty string", param="input")
    if not isinstance(name, str) or not name:
        raise bad_request(f"{at}.name: must be a non-empty string", param="input")
    if not isinstance(arguments, str):
        raise bad_request(f"{at}.arguments: must be a string of JSON", param="input")
    call = {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}
    last = messages[-1] if messages else None
    if last is not None and last["role"] == "assistant" and isinstance(last.get("content"), (str, type(None))):
        last.setdefault("tool_calls", []).append(call)
        return
    messages.append({"role": "assistant", "content": None, "tool_calls": [call]})


def _function_call_output(item: dict[str, Any], at: str) -> dict[str, Any]:
    call_id, output = item.get("call_id"), item.get("output")
    if not isinstance(call_id, str) or not call_id:
        raise bad_request(f"{at}.call_id: must be a non-empty string", param="input")
    if isinstance(output, list):
        texts = []
        for index, part in enumerate(output):
            if not isinstance(part, dict) or part.get("type") != "input_text" or not isinstance(part.get("text"), str):
                raise bad_request(f"{at}.output[{index}]: a tool output's parts are carried as input_text only "
                                  "(tool messages take text)", param="input")  # fmt: skip
            texts.append(part["text"])
        output = "\n".join(texts)
    elif not isinstance(output, str):
        raise bad_request(f"{at}.output: must be a string or an array of input_text parts", param="input")
    return {"role": "tool", "tool_call_id": call_id, "content": output}


def _shown(value: object) -> str:
    return repr(value) if isinstance(value, str) else json_type(value)
