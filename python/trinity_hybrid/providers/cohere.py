"""Cohere's v2 chat: ``POST {base_url}/v2/chat`` with ``Authorization: Bearer``.

The request is close to OpenAI's (system, user and assistant messages with string content). The
answer's text is ``message.content[*].text`` and usage is ``usage.tokens`` (``billed_units``
when tokens are missing), counted as floats. A stream is named events whose names equal the
JSON ``type``: ``message-start``, ``content-start``, ``content-delta``
(``delta.message.content.text``), ``content-end``, then ``message-end`` with the finish reason
and usage, which ends the answer.

``finish_reason`` ``ERROR`` or ``TIMEOUT`` (and ``message-end`` carrying ``delta.error``) mean
the generation failed on Cohere's side: they raise ``TransientError``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._exceptions import ProviderError, TransientError
from . import _json
from ._errors import malformed, provider_error, read_error_body, scrub
from ._features import DROPPED_BY_RULE, first_missing, parameters
from ._retry_after import lower_headers, retry_after_s
from ._types import ChatRequest, Completion, Endpoint, HttpRequest, StreamDelta, Usage

__all__ = ["WIRE_FORMAT", "CohereStreamParser", "CohereWireFormat"]

_FINISH_REASONS = {"COMPLETE": "stop", "STOP_SEQUENCE": "stop", "MAX_TOKENS": "length", "TOOL_CALL": "tool_calls"}
_FINISH_REASONS_FAILED = frozenset({"ERROR", "TIMEOUT"})
# What build_request carries; anything else makes the planner skip the provider (Cohere v2
# chat has no n and no logprobs in OpenAI's shape).
_SAMPLING = {
    "top_p": "p", "stop": "stop_sequences", "seed": "seed", "presence_penalty": "presence_penalty",
    "frequency_penalty": "frequency_penalty",
}  # fmt: skip
_CARRIED = frozenset(_SAMPLING) | DROPPED_BY_RULE


class CohereWireFormat:
    """Builds and reads Cohere v2 chat calls; see the module docstring."""

    def unsupported(self, endpoint: Endpoint, request: ChatRequest) -> str | None:
        return first_missing(request, _CARRIED)

    def build_request(self, endpoint: Endpoint, request: ChatRequest) -> HttpRequest:
        body: dict[str, Any] = {
            "model": endpoint.model,
            "messages": [
                {"role": "system" if m.role == "developer" else m.role, "content": m.text} for m in request.messages
            ],
            "stream": request.stream,
        }
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
        return Completion.single(
            "".join(texts),
            endpoint.model,  # v2 answers do not name the model
            _usage(document.get("usage")),
            _finish_reason(endpoint, document.get("finish_reason"), None),
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
        if kind == "message-end":
            delta = _json.mapping(document.get("delta"))
            finish_reason = _finish_reason(self._endpoint, delta.get("finish_reason"), delta.get("error"))
            return [StreamDelta(usage=_usage(delta.get("usage")), finish_reason=finish_reason, done=True)]
        return []  # message-start, content-end, tool and citation events, debug


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
