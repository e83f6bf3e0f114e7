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
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._exceptions import ProviderError
from . import _json
from ._errors import ErrorFields, content_blocked, error_fields, malformed, provider_error, read_error_body
from ._features import DROPPED_BY_RULE, first_missing, parameters
from ._retry_after import lower_headers, retry_after_s
from ._types import ChatRequest, Completion, Endpoint, HttpRequest, Message, StreamDelta, Usage

__all__ = ["DEFAULT_API_VERSION", "DEFAULT_MAX_TOKENS", "WIRE_FORMAT", "AnthropicStreamParser", "AnthropicWireFormat"]

DEFAULT_API_VERSION = "2023-06-01"
_API_VERSIONS_WITH_TEMPERATURE = frozenset({"2023-06-01"})
DEFAULT_MAX_TOKENS = 1024
# What build_request carries; anything else makes the planner skip the provider. The Messages
# API has no seed, penalties, n or logprobs; ``user`` goes as ``metadata.user_id``.
_SAMPLING = {"top_p": "top_p", "stop": "stop_sequences"}
_CARRIED = frozenset({*_SAMPLING, "user"}) | DROPPED_BY_RULE
_JOINER = "\n\n"
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
        return first_missing(request, _CARRIED)

    def build_request(self, endpoint: Endpoint, request: ChatRequest) -> HttpRequest:
        api_version = endpoint.api_version or DEFAULT_API_VERSION
        system = _JOINER.join(m.text for m in request.messages if m.role in ("system", "developer") and m.text)
        body: dict[str, Any] = {
            "model": endpoint.model,
            "max_tokens": DEFAULT_MAX_TOKENS if request.max_tokens is None else request.max_tokens,
            "messages": _alternating(request.messages),
        }
        if system:
            body["system"] = system
        if request.temperature is not None and api_version in _API_VERSIONS_WITH_TEMPERATURE:
            body["temperature"] = request.temperature
        body.update(parameters(request, _SAMPLING))
        if request.user is not None:
            body["metadata"] = {"user_id": request.user}
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
        # Only text blocks are the answer; thinking blocks and the like are skipped.
        texts = [_json.string(_json.field(block, "text")) for block in blocks if _json.field(block, "type") == "text"]
        if any(text is None for text in texts):
            raise malformed(endpoint, "response: a text block has no text")
        text = "".join(text for text in texts if text)
        usage = _json.field(document, "usage")
        prompt_tokens = _prompt_tokens(usage)
        completion_tokens = _json.token_count(_json.field(usage, "output_tokens"))
        usage_total = (
            None if prompt_tokens is None or completion_tokens is None else Usage(prompt_tokens, completion_tokens)
        )
        return Completion.single(
            text,
            _json.string(_json.field(document, "model")) or endpoint.model,
            usage_total,
            _finish_reason(endpoint, _json.field(document, "stop_reason"), text_seen=bool(text)),
        )

    def new_stream_parser(self, endpoint: Endpoint, request: ChatRequest) -> AnthropicStreamParser:
        return AnthropicStreamParser(endpoint)

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
    ``message_delta`` brings the output tokens."""

    def __init__(self, endpoint: Endpoint) -> None:
        self._endpoint = endpoint
        self._prompt_tokens: int | None = None
        self._text_seen = False

    def feed(self, event: str, data: str) -> list[StreamDelta]:
        if event == "ping" or not data.strip():
            return []
        document = _json.load_object(data, provider=self._endpoint.provider, what="stream event")
        kind = _json.string(document.get("type")) or event
        if event == "error" or kind == "error":
            raise _error_event(self._endpoint, document)
        if kind == "message_start":
            self._prompt_tokens = _prompt_tokens(_json.field(document, "message", "usage"))
            return []
        if kind == "content_block_start":
            return self._text(_json.field(document, "content_block"), "text")
        if kind == "content_block_delta":
            return self._text(_json.field(document, "delta"), "text_delta")
        if kind == "message_delta":
            return [self._message_delta(document)]
        if kind == "message_stop":
            return [StreamDelta(done=True)]
        return []  # ping, content_block_stop, and event types added after this was written

    def _text(self, block: object, text_type: str) -> list[StreamDelta]:
        if _json.field(block, "type") != text_type:
            return []  # thinking, tool input and other non-text blocks
        text = _json.field(block, "text")
        if not isinstance(text, str):
            raise malformed(self._endpoint, f"stream event: {text_type} without text")
        self._text_seen = self._text_seen or bool(text)
        return [StreamDelta(text=text)] if text else []

    def _message_delta(self, document: Mapping[str, Any]) -> StreamDelta:
        usage = document.get("usage")
        # Newer API versions repeat the input tokens here; older ones only sent them at the start.
        prompt_tokens = _prompt_tokens(usage) if _json.field(usage, "input_tokens") is not None else self._prompt_tokens
        completion_tokens = _json.token_count(_json.field(usage, "output_tokens"))
        finish_reason = _finish_reason(
            self._endpoint, _json.field(document, "delta", "stop_reason"), text_seen=self._text_seen
        )
        usage_total = None
        if prompt_tokens is not None and completion_tokens is not None:
            usage_total = Usage(prompt_tokens, completion_tokens)
        return StreamDelta(usage=usage_total, finish_reason=finish_reason)


def _alternating(messages: tuple[Message, ...]) -> list[dict[str, str]]:
    """The user and assistant messages, consecutive ones of one role joined into one."""
    merged: list[dict[str, str]] = []
    for message in messages:
        if message.role in ("system", "developer"):
            continue
        if merged and merged[-1]["role"] == message.role:
            merged[-1]["content"] += _JOINER + message.text
        else:
            merged.append({"role": message.role, "content": message.text})
    return merged


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
