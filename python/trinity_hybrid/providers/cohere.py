"""Cohere's v2 chat: ``POST {base_url}/v2/chat`` with ``Authorization: Bearer``.

The request is close to OpenAI's (system, user and assistant messages with string content). The
answer's text is ``message.content[*].text`` and usage is ``usage.tokens`` (``billed_units``
when tokens are missing), counted as floats. A stream is named events whose names equal the
JSON ``type``: ``message-start``, ``content-start``, ``content-delta``
(``delta.message.content.text``), ``content-end``, then ``message-end`` with the finish reason
and usage, which ends the answer.

Tools are sent in OpenAI's shape (``tools[{type: function, function}]``); ``strict_tools`` is
set when every tool is ``strict``. ``tool_choice`` ``required``/``none`` are ``REQUIRED``/
``NONE`` (``auto`` is the default); a named function has no equivalent, nor has
``parallel_tool_calls: false``: such requests skip Cohere. An assistant message's calls are
``tool_calls`` with its text as the ``tool_plan``; a tool message is ``{role: tool,
tool_call_id, content}``. Images (``image_url`` content parts, ``data:`` or web URLs) go to
Cohere's vision models only (a model name with ``vision``: ``command-a-vision-*``,
``c4ai-aya-vision-*``), in user messages; other models, and images in system messages, skip
Cohere. ``response_format`` is
``{type: json_object, json_schema?}``. Tool parameters and the response format's schema are
translated to the subset of JSON Schema Cohere takes, or refused with the reason before any
call (``cohere_schema``).

In answers, ``message.tool_calls`` are the tool calls and ``tool_plan`` (the model's plan
before it calls tools, not its answer) is the reasoning; ``TOOL_CALL`` is ``tool_calls``. A
stream's ``tool-plan-delta`` events are reasoning, ``tool-call-start`` (id, name, first
arguments) and ``tool-call-delta`` (argument fragments) the calls' pieces, by the event's
``index``.

``finish_reason`` ``ERROR`` or ``TIMEOUT`` (and ``message-end`` carrying ``delta.error``) mean
the generation failed on Cohere's side: they raise ``TransientError``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._exceptions import ClientRequestError, ProviderError, TransientError
from .._request import TextPart, Tool
from . import _json
from ._errors import malformed, provider_error, read_error_body, scrub
from ._features import DROPPED_BY_RULE, first_missing, parameters
from ._retry_after import lower_headers, retry_after_s
from ._signed_ids import unsigned
from ._types import ChatRequest, Completion, Endpoint, HttpRequest, Message, StreamDelta, ToolCall, ToolCallDelta, Usage
from .cohere_schema import FIELDS_MAX, CohereSchemaError, cohere_schema, fields_count

__all__ = ["WIRE_FORMAT", "CohereStreamParser", "CohereWireFormat"]

_FINISH_REASONS = {"COMPLETE": "stop", "STOP_SEQUENCE": "stop", "MAX_TOKENS": "length", "TOOL_CALL": "tool_calls"}
_FINISH_REASONS_FAILED = frozenset({"ERROR", "TIMEOUT"})
# What build_request carries; anything else makes the planner skip the provider (Cohere v2
# chat has no n and no logprobs in OpenAI's shape).
_SAMPLING = {
    "top_p": "p", "stop": "stop_sequences", "seed": "seed", "presence_penalty": "presence_penalty",
    "frequency_penalty": "frequency_penalty",
}  # fmt: skip
_CARRIED = frozenset(_SAMPLING) | DROPPED_BY_RULE | {
    "tools", "tool_messages", "parallel_tool_calls", "images", "response_format:json_object",
    "response_format:json_schema",
}  # fmt: skip
_TOOL_CHOICES = {"required": "REQUIRED", "none": "NONE"}


class CohereWireFormat:
    """Builds and reads Cohere v2 chat calls; see the module docstring."""

    def unsupported(self, endpoint: Endpoint, request: ChatRequest) -> str | None:
        missing = first_missing(request, _CARRIED)
        if missing is not None:
            return missing
        if request.tool_choice is not None and request.tool_choice.mode == "function":
            return "tool_choice"
        if request.parallel_tool_calls is False:
            return "parallel_tool_calls"
        if request.has_images and ("vision" not in endpoint.model or _system_images(request)):
            return "images"
        return None

    def build_request(self, endpoint: Endpoint, request: ChatRequest) -> HttpRequest:
        body: dict[str, Any] = {
            "model": endpoint.model,
            "messages": [_message(m) for m in request.messages],
            "stream": request.stream,
        }
        try:
            body.update(_schemas(request))
        except CohereSchemaError as error:
            raise ClientRequestError(f"Cohere cannot take {error}", provider=endpoint.provider) from None
        if request.tool_choice is not None and request.tool_choice.mode in _TOOL_CHOICES:
            body["tool_choice"] = _TOOL_CHOICES[request.tool_choice.mode]
        if request.max_tokens is not None:
            body["max_tokens"] = request.max_tokens
        if request.temperature is not None:
            body["temperature"] = request.temperature
        body.update(parameters(request, _SAMPLING))
        headers = {"content-type": "application/json"}
        if endpoint.key is not None:
            headers["Authorization"] = f"Bearer {endpoint.key.reveal()}"
        return HttpRequest(method="POST", url=endpoint.url("v2/chat"), headers=headers, json=body)

    def parse_response(self, endpoint: Endpoint, request: ChatRequest, body: bytes) -> Completion:
        document = _json.load_object(body, provider=endpoint.provider, what="response")
        message = document.get("message")
        if not isinstance(message, Mapping):
            raise malformed(endpoint, "response: no message object")
        content = message.get("content")
        if content is None:
            content = []  # an answer that is only a tool plan, or empty
        if not isinstance(content, list):
            raise malformed(endpoint, "response: message.content is not a list")
        texts = [_json.field(item, "text") for item in content if _json.field(item, "type") == "text"]
        if not all(isinstance(text, str) for text in texts):
            raise malformed(endpoint, "response: a text item has no text")
        calls = tuple(_tool_call(endpoint, call) for call in _json.sequence(message.get("tool_calls")))
        return Completion.single(
            "".join(texts),
            endpoint.model,  # v2 answers do not name the model
            _usage(document.get("usage")),
            _finish_reason(endpoint, document.get("finish_reason"), None),
            calls,
            _json.string(message.get("tool_plan")) or None,
        )

    def new_stream_parser(self, endpoint: Endpoint, request: ChatRequest) -> CohereStreamParser:
        return CohereStreamParser(endpoint)

    def classify_error(
        self, endpoint: Endpoint, status_code: int, headers: Mapping[str, str], body: bytes
    ) -> ProviderError:
        _, fields = read_error_body(body)
        return provider_error(endpoint, status_code, fields, retry_after_s=retry_after_s(lower_headers(headers)))


class CohereStreamParser:
    """Reads one Cohere v2 chat stream."""

    def __init__(self, endpoint: Endpoint) -> None:
        self._endpoint = endpoint

    def feed(self, event: str, data: str) -> list[StreamDelta]:
        document = _json.load_stream_event(data, provider=self._endpoint.provider)
        if document == _json.STREAM_DONE:
            return [StreamDelta(done=True)]
        if isinstance(document, str):
            return []
        kind = _json.string(document.get("type")) or event
        if kind in ("content-start", "content-delta"):
            text = _json.field(document, "delta", "message", "content", "text")
            if text is not None and not isinstance(text, str):
                raise malformed(self._endpoint, f"stream event: {kind} text is not a string")
            return [StreamDelta(text=text)] if text else []  # thinking content has no text
        if kind == "tool-plan-delta":
            plan = _json.string(_json.field(document, "delta", "message", "tool_plan"))
            return [StreamDelta(reasoning=plan)] if plan else []
        if kind in ("tool-call-start", "tool-call-delta"):
            return self._tool_call_piece(kind, document)
        if kind == "message-end":
            delta = _json.mapping(document.get("delta"))
            finish_reason = _finish_reason(self._endpoint, delta.get("finish_reason"), delta.get("error"))
            return [StreamDelta(usage=_usage(delta.get("usage")), finish_reason=finish_reason, done=True)]
        return []  # message-start, content-end, tool-call-end, citation events, debug

    def _tool_call_piece(self, kind: str, document: Mapping[str, Any]) -> list[StreamDelta]:
        call = _json.field(document, "delta", "message", "tool_calls")
        index = document.get("index")
        if type(index) is not int or index < 0:
            raise malformed(self._endpoint, f"stream event: {kind} has no index")
        arguments = _json.field(call, "function", "arguments") or ""
        if not isinstance(arguments, str):
            raise malformed(self._endpoint, f"stream event: {kind} arguments are not a string")
        if kind == "tool-call-delta":
            return [StreamDelta(tool_calls=(ToolCallDelta(index, arguments=arguments),))] if arguments else []
        started = _tool_call(self._endpoint, call, arguments)
        return [StreamDelta(tool_calls=(ToolCallDelta(index, started.id, started.name, arguments),))]


def _system_images(request: ChatRequest) -> bool:
    """Whether a system message holds an image (Cohere's system content is text)."""
    return any(message.images for message in request.messages if message.role in ("system", "developer"))


def _message(message: Message) -> dict[str, Any]:
    if message.role == "tool":
        return {"role": "tool", "tool_call_id": unsigned(message.tool_call_id or ""), "content": message.result_text}
    role = "system" if message.role == "developer" else message.role
    if message.tool_calls:
        calls = [
            {"id": unsigned(call.id), "type": "function", "function": {"name": call.name, "arguments": call.arguments}}
            for call in message.tool_calls
        ]
        sent: dict[str, Any] = {"role": role, "tool_calls": calls}
        if message.text:
            sent["tool_plan"] = message.text
        return sent
    if isinstance(message.content, str):
        return {"role": role, "content": message.content}
    parts: list[dict[str, Any]] = []
    for part in message.content:
        if isinstance(part, TextPart):
            parts.append({"type": "text", "text": part.text})
        else:
            image: dict[str, Any] = {"url": part.url}
            if part.detail is not None:
                image["detail"] = part.detail
            parts.append({"type": "image_url", "image_url": image})
    return {"role": role, "content": parts}


def _schemas(request: ChatRequest) -> dict[str, Any]:
    """``tools`` (``strict_tools`` when every tool is strict) and ``response_format``, their
    schemas translated by ``cohere_schema``; raises ``CohereSchemaError``."""
    fields: dict[str, Any] = {}
    if request.tools:
        strict = all(tool.strict for tool in request.tools)
        fields["tools"] = [_tool(tool, index, strict) for index, tool in enumerate(request.tools)]
        if strict:
            fields["strict_tools"] = True
            count = sum(fields_count(tool["function"]["parameters"]) for tool in fields["tools"])
            if count > FIELDS_MAX:
                raise CohereSchemaError(f"tools: {count} fields with strict tools (Cohere takes {FIELDS_MAX} in all)")
    if request.response_format is not None:
        response_format: dict[str, Any] = {"type": "json_object"}
        schema = request.response_format.schema
        if schema is not None:
            response_format["json_schema"] = cohere_schema(schema, "response_format.json_schema.schema",
                                                           structured=True)  # fmt: skip
        fields["response_format"] = response_format
    return fields


def _tool(tool: Tool, index: int, strict: bool) -> dict[str, Any]:
    where = f"tools[{index}].function.parameters"
    function: dict[str, Any] = {"name": tool.name}
    if tool.description:
        function["description"] = tool.description
    if tool.parameters is None:
        parameters: dict[str, Any] = {"type": "object", "properties": {}}
    else:
        parameters = cohere_schema(tool.parameters, where, structured=strict)
    if strict and not parameters.get("required"):
        raise CohereSchemaError(f"{where}: a strict tool needs at least one required parameter at Cohere")
    function["parameters"] = parameters
    return {"type": "function", "function": function}


def _tool_call(endpoint: Endpoint, call: object, arguments: str | None = None) -> ToolCall:
    """A call of ``message.tool_calls`` (or a stream's ``tool-call-start``, whose arguments
    are only the first fragment)."""
    call_id = _json.string(_json.field(call, "id"))
    name = _json.string(_json.field(call, "function", "name"))
    if arguments is None:
        arguments = _json.field(call, "function", "arguments")
        if arguments is None:
            arguments = "{}"
    if not call_id or not name or not isinstance(arguments, str):
        raise malformed(endpoint, "response: a tool call lacks its id, name or arguments")
    return ToolCall(call_id, name, arguments)


def _finish_reason(endpoint: Endpoint, raw: object, error: object) -> str | None:
    if isinstance(raw, str) and raw in _FINISH_REASONS_FAILED or isinstance(error, str) and error:
        reason = _json.string(error) or f"finish_reason {raw}"
        raise TransientError(f"the generation failed: {scrub(reason, endpoint.key)}", provider=endpoint.provider)
    if not isinstance(raw, str):
        return None
    return _FINISH_REASONS.get(raw, raw.lower())


def _usage(value: object) -> Usage | None:
    for source in ("tokens", "billed_units"):
        prompt_tokens = _json.token_count(_json.field(value, source, "input_tokens"))
        completion_tokens = _json.token_count(_json.field(value, source, "output_tokens"))
        if prompt_tokens is not None and completion_tokens is not None:
            return Usage(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)
    return None


WIRE_FORMAT = CohereWireFormat()
