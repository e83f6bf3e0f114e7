"""Anthropic's Messages API: ``POST {base_url}/v1/messages``.

The request differs from OpenAI's in three ways handled here: the system prompt is a top-level
``system`` field (several system messages are joined by blank lines), the roles must alternate
(consecutive messages of one role are joined the same way), and ``max_tokens`` is required
(``DEFAULT_MAX_TOKENS`` when the caller gives none).

The API version is ``2023-06-01`` unless the endpoint names another. Version ``2026-10-21`` (what
the official SDKs send since their 2.x majors) rejects ``temperature`` with a 400 even at its
default value, so ``temperature`` is sent only under ``2023-06-01`` and silently left out under
any other version: a sampling hint is not worth failing the call over. The key goes in
``x-api-key``, which every version accepts (the 2.x SDKs send ``Authorization: Bearer``; the API
prefers ``x-api-key`` when both are present).

A stream is named events: ``message_start`` (input tokens), ``content_block_start``,
``content_block_delta`` (``text_delta``), ``content_block_stop``, ``message_delta`` (stop reason,
output tokens), ``message_stop``, ``ping``, and ``error``, which can arrive inside a 200 stream
(``overloaded_error`` is the usual one).

Tools, tool messages, images and structured output are translated by ``anthropic_tools`` (see
its docstring). In answers, ``tool_use`` blocks are tool calls (``arguments``: their input as
JSON text) and ``stop_reason`` ``tool_use`` is ``tool_calls``; the answer tool's input is the
text. Extended thinking: the request's ``thinking`` is sent as it came (with no ``max_tokens`` of
the caller's, ``max_tokens`` is the budget plus ``DEFAULT_MAX_TOKENS``: the API wants it above
the budget), and an assistant message's thinking blocks go back first in its content, verbatim.
The API refuses thinking beside a forced tool, so with thinking on a request that forces one
(``tool_choice`` required or a named function, or ``response_format``, which is a forced tool
here) skips Anthropic.
An answer's ``thinking`` blocks are the reasoning, and every thinking and ``redacted_thinking``
block, signature and all, is ``Choice.thinking_blocks``; a stream gives the text as it comes
and the whole block (with its ``signature_delta``) at its ``content_block_stop``. In a stream
a ``tool_use`` block's start is a tool call's first piece (id, name) and its ``input_json_delta`` fragments are the arguments; calls are numbered 0, 1, ... among
the tool calls, not among the content blocks. ``usage.cache_read_input_tokens`` is
``cached_tokens`` (and counted in ``prompt_tokens``, like cache writes).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .._exceptions import ProviderError
from . import _json
from ._errors import ErrorFields, content_blocked, error_fields, malformed, provider_error, read_error_body
from ._features import DROPPED_BY_RULE, first_missing, parameters
from ._retry_after import lower_headers, retry_after_s
from ._types import (
    ChatRequest,
    Choice,
    Completion,
    Endpoint,
    HttpRequest,
    StreamDelta,
    ThinkingBlock,
    ToolCall,
    ToolCallDelta,
    Usage,
)
from .anthropic_tools import answer_tool, has_system_images, messages, system_blocks, tool_fields

__all__ = ["DEFAULT_API_VERSION", "DEFAULT_MAX_TOKENS", "WIRE_FORMAT", "AnthropicStreamParser", "AnthropicWireFormat"]

DEFAULT_API_VERSION = "2023-06-01"
_API_VERSIONS_WITH_TEMPERATURE = frozenset({"2023-06-01"})
DEFAULT_MAX_TOKENS = 1024
# What build_request carries; anything else makes the planner skip the provider. The Messages
# API has no seed, penalties, n or logprobs; ``user`` goes as ``metadata.user_id``.
_SAMPLING = {"top_p": "top_p", "stop": "stop_sequences"}
_CARRIED = frozenset({*_SAMPLING, "user"}) | DROPPED_BY_RULE
_CARRIED_TOOLS = _CARRIED | {
    "tools", "tool_messages", "parallel_tool_calls", "images", "response_format:json_object",
    "response_format:json_schema",
}  # fmt: skip
_FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
# The HTTP status each error type is sent with, for errors that arrive inside a 200 stream.
_ERROR_TYPE_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}


class AnthropicWireFormat:
    """Builds and reads Messages API calls; see the module docstring."""

    def unsupported(self, endpoint: Endpoint, request: ChatRequest) -> str | None:
        if request.has_images and has_system_images(request):
            return "images"  # ``system`` takes text only
        if _thinking_on(request) and _forces_a_tool(request):
            # The API refuses thinking beside a forced tool, and structured output is one here.
            return "thinking:with_a_forced_tool"
        return first_missing(request, _CARRIED_TOOLS)

    def build_request(self, endpoint: Endpoint, request: ChatRequest) -> HttpRequest:
        api_version = endpoint.api_version or DEFAULT_API_VERSION
        system = system_blocks(request)
        body: dict[str, Any] = {
            "model": endpoint.model,
            "max_tokens": _max_tokens(request),
            "messages": messages(endpoint, request.messages),
        }
        if request.thinking is not None:
            body["thinking"] = dict(request.thinking)
        if system is not None:
            body["system"] = system
        if request.cache_control is not None:
            body["cache_control"] = dict(request.cache_control)
        if request.temperature is not None and api_version in _API_VERSIONS_WITH_TEMPERATURE:
            body["temperature"] = request.temperature
        body.update(parameters(request, _SAMPLING))
        if request.user is not None:
            body["metadata"] = {"user_id": request.user}
        if request.tools or request.response_format is not None:
            body.update(tool_fields(endpoint, request))
        if request.stream:
            body["stream"] = True
        headers = {"content-type": "application/json", "anthropic-version": api_version}
        if endpoint.key is not None:
            headers["x-api-key"] = endpoint.key.reveal()
        return HttpRequest(method="POST", url=endpoint.url("v1/messages"), headers=headers, json=body)

    def parse_response(self, endpoint: Endpoint, request: ChatRequest, body: bytes) -> Completion:
        document = _json.load_object(body, provider=endpoint.provider, what="response")
        if _json.field(document, "type") == "error":
            raise _error_event(endpoint, document)
        blocks = _json.field(document, "content")
        if not isinstance(blocks, list):
            raise malformed(endpoint, "response: content is not a list of blocks")
        answer = answer_tool(request)
        texts: list[str] = []
        reasoning: list[str] = []
        thinking: list[ThinkingBlock] = []
        calls: list[ToolCall] = []
        for block in blocks:
            kind = _json.field(block, "type")
            if kind == "text":
                text = _json.string(_json.field(block, "text"))
                if text is None:
                    raise malformed(endpoint, "response: a text block has no text")
                texts.append(text)
            elif kind in ("thinking", "redacted_thinking"):
                thinking.append(_thinking_block(endpoint, block))
                if kind == "thinking":
                    reasoning.append(thinking[-1].thinking)
            elif kind == "tool_use":
                call = _tool_call(endpoint, block)
                if call.name == answer:
                    texts.append(call.arguments)
                else:
                    calls.append(call)
        text = "".join(texts)
        usage = _json.field(document, "usage")
        prompt_tokens = _prompt_tokens(usage)
        completion_tokens = _json.token_count(_json.field(usage, "output_tokens"))
        usage_total = (
            None
            if prompt_tokens is None or completion_tokens is None
            else Usage(
                prompt_tokens,
                completion_tokens,
                _cached_tokens(usage),
                None,
                _cache_write_tokens(usage),
                _cache_write_1h_tokens(usage),
            )
        )
        raw_stop = _json.field(document, "stop_reason")
        if raw_stop == "tool_use" and not calls and answer is not None:
            raw_stop = "end_turn"  # the answer tool was the answer
        finish_reason = _finish_reason(endpoint, raw_stop, text_seen=bool(text or calls))
        choice = Choice(
            text,
            finish_reason,
            tuple(calls),
            "".join(reasoning) if reasoning else None,
            thinking_blocks=tuple(thinking),
        )
        return Completion((choice,), _json.string(_json.field(document, "model")) or endpoint.model, usage_total)

    def new_stream_parser(self, endpoint: Endpoint, request: ChatRequest) -> AnthropicStreamParser:
        return AnthropicStreamParser(endpoint, answer_tool(request))

    def classify_error(
        self, endpoint: Endpoint, status_code: int, headers: Mapping[str, str], body: bytes
    ) -> ProviderError:
        document, fields = read_error_body(body)
        return provider_error(
            endpoint,
            status_code,
            _with_error_code(document, fields),
            retry_after_s=retry_after_s(lower_headers(headers)),
        )


class AnthropicStreamParser:
    """Reads one Messages API stream; remembers the input tokens of ``message_start`` until
    ``message_delta`` brings the output tokens, and what each content block is."""

    def __init__(self, endpoint: Endpoint, answer_tool: str | None = None) -> None:
        self._endpoint = endpoint
        self._answer_tool = answer_tool
        self._prompt_tokens: int | None = None
        self._cached_tokens: int | None = None
        self._cache_write_tokens: int | None = None
        # The TTL split of the writes comes with message_start only (message_delta's usage has none).
        self._cache_write_1h_tokens: int | None = None
        self._text_seen = False
        # Content block index -> tool call number, or _ANSWER for the answer tool's block.
        self._tool_blocks: dict[int, int] = {}
        # Content block index -> the thinking block it is (text and signature so far).
        self._thinking_blocks: dict[int, dict[str, Any]] = {}
        self._calls_count = 0

    def feed(self, event: str, data: str) -> list[StreamDelta]:
        if event == "ping" or not data.strip():
            return []
        document = _json.load_object(data, provider=self._endpoint.provider, what="stream event")
        kind = _json.string(document.get("type")) or event
        if event == "error" or kind == "error":
            raise _error_event(self._endpoint, document)
        if kind == "message_start":
            usage = _json.field(document, "message", "usage")
            self._prompt_tokens = _prompt_tokens(usage)
            self._cached_tokens = _cached_tokens(usage)
            self._cache_write_tokens = _cache_write_tokens(usage)
            self._cache_write_1h_tokens = _cache_write_1h_tokens(usage)
            return []
        if kind == "content_block_start":
            block = _json.field(document, "content_block")
            if _json.field(block, "type") == "tool_use":
                return self._tool_start(_json.field(document, "index"), block)
            if _json.field(block, "type") in ("thinking", "redacted_thinking"):
                return self._thinking_start(_json.field(document, "index"), block)
            return self._text(block, "text")
        if kind == "content_block_delta":
            delta = _json.field(document, "delta")
            delta_type = _json.field(delta, "type")
            if delta_type == "input_json_delta":
                return self._tool_input(_json.field(document, "index"), _json.field(delta, "partial_json"))
            if delta_type == "thinking_delta":
                self._thinking_piece(_json.field(document, "index"), "thinking", _json.field(delta, "thinking"))
                return self._reasoning(_json.field(delta, "thinking"))
            if delta_type == "signature_delta":
                self._thinking_piece(_json.field(document, "index"), "signature", _json.field(delta, "signature"))
                return []
            return self._text(delta, "text_delta")
        if kind == "content_block_stop":
            return self._thinking_stop(_json.field(document, "index"))
        if kind == "message_delta":
            return [self._message_delta(document)]
        if kind == "message_stop":
            return [StreamDelta(done=True)]
        return []  # ping, and event types added after this was written

    def _text(self, block: object, text_type: str) -> list[StreamDelta]:
        if _json.field(block, "type") != text_type:
            return []  # signatures, redacted thinking and other blocks
        text = _json.field(block, "text")
        if not isinstance(text, str):
            raise malformed(self._endpoint, f"stream event: {text_type} without text")
        self._text_seen = self._text_seen or bool(text)
        return [StreamDelta(text=text)] if text else []

    def _reasoning(self, thinking: object) -> list[StreamDelta]:
        if not isinstance(thinking, str):
            raise malformed(self._endpoint, "stream event: thinking without text")
        return [StreamDelta(reasoning=thinking)] if thinking else []

    def _thinking_start(self, index: object, block: object) -> list[StreamDelta]:
        if type(index) is not int or index in self._thinking_blocks:
            raise malformed(self._endpoint, "stream event: a thinking block without a new index")
        self._thinking_blocks[index] = dict(block) if isinstance(block, Mapping) else {}
        if _json.field(block, "type") == "redacted_thinking":
            return []
        return self._reasoning(_json.field(block, "thinking"))

    def _thinking_piece(self, index: object, name: str, piece: object) -> None:
        block = self._thinking_blocks.get(index) if type(index) is int else None
        if block is None or not isinstance(piece, str):
            raise malformed(self._endpoint, f"stream event: a {name} delta outside a thinking block")
        block[name] = str(block.get(name) or "") + piece

    def _thinking_stop(self, index: object) -> list[StreamDelta]:
        block = self._thinking_blocks.get(index) if type(index) is int else None
        if block is None:
            return []  # a text or tool_use block's end
        return [StreamDelta(thinking_blocks=(_thinking_block(self._endpoint, block),))]

    def _tool_start(self, index: object, block: object) -> list[StreamDelta]:
        if type(index) is not int or index in self._tool_blocks:
            raise malformed(self._endpoint, "stream event: a tool_use block without a new index")
        call = _tool_call(self._endpoint, block)
        # The API starts every block with input {}; a server that sends the whole input here
        # sends no fragments after it.
        arguments = "" if call.arguments == "{}" else call.arguments
        if call.name == self._answer_tool:
            self._tool_blocks[index] = _ANSWER
            self._text_seen = self._text_seen or bool(arguments)
            return [StreamDelta(text=arguments)] if arguments else []
        number = self._tool_blocks[index] = self._calls_count
        self._calls_count += 1
        self._text_seen = True
        return [StreamDelta(tool_calls=(ToolCallDelta(number, call.id, call.name, arguments),))]

    def _tool_input(self, index: object, fragment: object) -> list[StreamDelta]:
        number = self._tool_blocks.get(index) if type(index) is int else None
        if number is None or not isinstance(fragment, str):
            raise malformed(self._endpoint, "stream event: input_json_delta outside a tool_use block")
        if not fragment:
            return []
        if number == _ANSWER:
            self._text_seen = True
            return [StreamDelta(text=fragment)]
        return [StreamDelta(tool_calls=(ToolCallDelta(number, arguments=fragment),))]

    def _message_delta(self, document: Mapping[str, Any]) -> StreamDelta:
        usage = document.get("usage")
        # Newer API versions repeat the input tokens here; older ones only sent them at the start.
        if _json.field(usage, "input_tokens") is not None:
            prompt_tokens, cached_tokens, written = (
                _prompt_tokens(usage),
                _cached_tokens(usage),
                _cache_write_tokens(usage),
            )
        else:
            prompt_tokens, cached_tokens, written = self._prompt_tokens, self._cached_tokens, self._cache_write_tokens
        completion_tokens = _json.token_count(_json.field(usage, "output_tokens"))
        raw_stop = _json.field(document, "delta", "stop_reason")
        if raw_stop == "tool_use" and self._calls_count == 0 and _ANSWER in self._tool_blocks.values():
            raw_stop = "end_turn"  # the answer tool was the answer
        finish_reason = _finish_reason(self._endpoint, raw_stop, text_seen=self._text_seen)
        usage_total = None
        if prompt_tokens is not None and completion_tokens is not None:
            usage_total = Usage(
                prompt_tokens, completion_tokens, cached_tokens, None, written, self._cache_write_1h_tokens
            )
        return StreamDelta(usage=usage_total, finish_reason=finish_reason)


_ANSWER = -1  # the answer tool's block, in AnthropicStreamParser._tool_blocks


def _tool_call(endpoint: Endpoint, block: object) -> ToolCall:
    identifier = _json.string(_json.field(block, "id"))
    name = _json.string(_json.field(block, "name"))
    tool_input = _json.field(block, "input")
    if not identifier or not name or not isinstance(tool_input, Mapping):
        raise malformed(endpoint, "a tool_use block without id, name or input object")
    return ToolCall(identifier, name, json.dumps(tool_input, ensure_ascii=False, separators=(",", ":")))


def _thinking_block(endpoint: Endpoint, block: object) -> ThinkingBlock:
    """A ``thinking`` or ``redacted_thinking`` block, as the API gave it."""
    if _json.field(block, "type") == "redacted_thinking":
        data = _json.string(_json.field(block, "data"))
        if not data:
            raise malformed(endpoint, "response: a redacted_thinking block without data")
        return ThinkingBlock("redacted_thinking", data=data)
    thinking, signature = _json.string(_json.field(block, "thinking")), _json.string(_json.field(block, "signature"))
    if thinking is None:
        raise malformed(endpoint, "response: a thinking block without its text")
    return ThinkingBlock("thinking", thinking, signature or "")


def _thinking_on(request: ChatRequest) -> bool:
    return request.thinking is not None and request.thinking.get("type") != "disabled"


def _forces_a_tool(request: ChatRequest) -> bool:
    """Whether the request makes the model call a tool: ``tool_choice`` required or a named
    function, or ``response_format``, which is the forced answer tool on this wire."""
    choice = request.tool_choice
    return request.response_format is not None or (choice is not None and choice.mode in ("required", "function"))


def _max_tokens(request: ChatRequest) -> int:
    """The caller's, or room for the thinking budget and an answer after it."""
    if request.max_tokens is not None:
        return request.max_tokens
    thinking = request.thinking
    if thinking is None or thinking.get("type") != "enabled" or not isinstance(thinking.get("budget_tokens"), int):
        return DEFAULT_MAX_TOKENS
    return DEFAULT_MAX_TOKENS + int(thinking["budget_tokens"])


def _cached_tokens(usage: object) -> int | None:
    return _json.token_count(_json.field(usage, "cache_read_input_tokens"))


def _cache_write_tokens(usage: object) -> int | None:
    return _json.token_count(_json.field(usage, "cache_creation_input_tokens"))


def _cache_write_1h_tokens(usage: object) -> int | None:
    """Of the cache writes, those at the 1-hour TTL (billed at twice the input's price, the
    5-minute ones at 1.25 times)."""
    return _json.token_count(_json.field(usage, "cache_creation", "ephemeral_1h_input_tokens"))


def _prompt_tokens(usage: object) -> int | None:
    """Every prompt token: cache writes and cache reads are counted apart from ``input_tokens``."""
    input_tokens = _json.token_count(_json.field(usage, "input_tokens"))
    if input_tokens is None:
        return None
    cached = (
        _json.token_count(_json.field(usage, name))
        for name in ("cache_creation_input_tokens", "cache_read_input_tokens")
    )
    return input_tokens + sum(tokens or 0 for tokens in cached)


def _finish_reason(endpoint: Endpoint, raw: object, *, text_seen: bool) -> str | None:
    if not isinstance(raw, str):
        return None
    reason = _FINISH_REASONS.get(raw, raw.lower())
    if reason == "content_filter" and not text_seen:
        raise content_blocked(endpoint, raw)
    return reason


def _with_error_code(document: Any, fields: ErrorFields) -> ErrorFields:
    """``fields`` with ``error.details.error_code`` (``enforced_spend_limit_reached``...) as code."""
    error_code = _json.string(_json.field(document, "error", "details", "error_code"))
    return fields if error_code is None else ErrorFields(message=fields.message, type=fields.type, code=error_code)


def _error_event(endpoint: Endpoint, document: Any) -> ProviderError:
    fields = _with_error_code(document, error_fields(document))
    status_code = _ERROR_TYPE_STATUS.get(fields.type or "", 500)
    return provider_error(endpoint, status_code, fields, where="error event")


WIRE_FORMAT = AnthropicWireFormat()
