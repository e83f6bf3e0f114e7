"""Google's Gemini API: ``POST {base_url}/{version}/models/{model}:generateContent``.

The key travels in the ``x-goog-api-key`` header, never in the URL. Roles are ``user`` and
``model`` (our ``assistant``); consecutive messages of one role become the parts of one content;
system messages become the parts of ``systemInstruction``.

A stream (``:streamGenerateContent?alt=sse``) sends full response objects as unnamed events and
ends with the HTTP body, with no closing event. The last object carries ``finishReason`` and the
totals in ``usageMetadata``, so the parser reports ``done`` (and the usage, once) when it sees a
``finishReason``.

Tools, tool calls and results, images and structured output are mapped in ``gemini_request``
(schemas translated by ``gemini_schema``; one Gemini cannot take is refused before any call,
with the reason, as a ``ClientRequestError``). In answers, ``functionCall`` parts are tool calls
(their ``id``, or ``call_<responseId>_<n>`` when Gemini sends none; ``args`` as JSON text), and
``finishReason`` ``STOP`` with calls is ``tool_calls``; parts marked ``thought`` are the
reasoning; ``cachedContentTokenCount`` and ``thoughtsTokenCount`` are the cached and reasoning
tokens. ``MALFORMED_FUNCTION_CALL`` and the other function-calling failures, with nothing
generated, raise ``TransientError``. ``parallel_tool_calls: false`` cannot be asked of Gemini,
which may always call several functions: such a request skips it.

An answer withheld by the safety filters (``finishReason`` ``SAFETY`` and the like, or a prompt
blocked in ``promptFeedback``) with no text raises ``ClientRequestError``: the prompt caused it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from .._exceptions import ClientRequestError, CredentialError, ProviderError, TransientError
from . import _json
from ._errors import ErrorFields, content_blocked, error_fields, malformed, provider_error, read_error_body
from ._features import DROPPED_BY_RULE, first_missing, parameters
from ._retry_after import lower_headers, parse_duration_s, retry_after_s
from ._signed_ids import signed
from ._types import ChatRequest, Completion, Endpoint, HttpRequest, StreamDelta, ToolCall, ToolCallDelta, Usage
from .gemini_request import contents, needs_web_images, response_config, tool_fields
from .gemini_schema import SchemaError

__all__ = ["DEFAULT_API_VERSION", "WIRE_FORMAT", "GeminiStreamParser", "GeminiWireFormat"]

DEFAULT_API_VERSION = "v1beta"
_BLOCKED = frozenset({"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII"})
_FINISH_REASONS = {"STOP": "stop", "MAX_TOKENS": "length", **{reason: "content_filter" for reason in _BLOCKED}}
# The model's function calling went wrong (a call it could not form, one it was not offered...):
# with nothing generated, the attempt failed and the next provider may answer.
_FAILED_CALLING = frozenset(
    {"MALFORMED_FUNCTION_CALL", "UNEXPECTED_TOOL_CALL", "TOO_MANY_TOOL_CALLS", "MISSING_THOUGHT_SIGNATURE",
     "MALFORMED_RESPONSE"}
)  # fmt: skip
_DETAIL_TYPE_PREFIX = "type.googleapis.com/google.rpc."
# What build_request carries; anything else makes the planner skip the provider. Gemini's
# generationConfig has no logprobs in OpenAI's shape; n would be candidateCount, not carried yet.
_SAMPLING = {
    "top_p": "topP", "stop": "stopSequences", "seed": "seed", "presence_penalty": "presencePenalty",
    "frequency_penalty": "frequencyPenalty",
}  # fmt: skip
_CARRIED = frozenset(_SAMPLING) | DROPPED_BY_RULE | {
    "tools", "tool_messages", "parallel_tool_calls", "images", "response_format:json_object",
    "response_format:json_schema",
}  # fmt: skip


class GeminiWireFormat:
    """Builds and reads Gemini API calls; see the module docstring."""

    def unsupported(self, endpoint: Endpoint, request: ChatRequest) -> str | None:
        missing = first_missing(request, _CARRIED)
        if missing is None and request.parallel_tool_calls is False:
            return "parallel_tool_calls"
        if missing is None and request.has_images and needs_web_images(request):
            return "images"
        return missing

    def build_request(self, endpoint: Endpoint, request: ChatRequest) -> HttpRequest:
        """Raises ``ClientRequestError`` for what Gemini cannot take (see ``gemini_schema``)."""
        model = endpoint.model.removeprefix("models/")
        method = "streamGenerateContent?alt=sse" if request.stream else "generateContent"
        version = endpoint.api_version or DEFAULT_API_VERSION
        try:
            body: dict[str, Any] = {"contents": contents(request.messages), **tool_fields(request)}
            generation_config = response_config(request)
        except SchemaError as error:
            raise ClientRequestError(f"Gemini cannot take {error}", provider=endpoint.provider) from None
        system = [{"text": m.text} for m in request.messages if m.role in ("system", "developer") and m.text]
        if system:
            body["systemInstruction"] = {"parts": system, "role": "user"}  # the role as the SDK sends it
        if request.max_tokens is not None:
            generation_config["maxOutputTokens"] = request.max_tokens
        if request.temperature is not None:
            generation_config["temperature"] = request.temperature
        generation_config.update(parameters(request, _SAMPLING))
        if generation_config:
            body["generationConfig"] = generation_config
        headers = {"Content-Type": "application/json"}
        if endpoint.key is not None:
            headers["x-goog-api-key"] = endpoint.key.reveal()
        url = endpoint.url(f"{version}/models/{quote(model, safe='')}:{method}")
        return HttpRequest(method="POST", url=url, headers=headers, json=body)

    def parse_response(self, endpoint: Endpoint, request: ChatRequest, body: bytes) -> Completion:
        document = _json.load_object(body, provider=endpoint.provider, what="response")
        if document.get("error") is not None:
            raise _error_object(endpoint, document)
        candidate = _json.field(document, "candidates", 0)
        if not isinstance(candidate, Mapping):
            _raise_if_prompt_blocked(endpoint, document)
            raise malformed(endpoint, "response: no candidates[0] object")
        text, reasoning, calls = _parts(endpoint, candidate, _json.string(document.get("responseId")), 0)
        finish_reason = _finish_reason(endpoint, candidate.get("finishReason"), text_seen=bool(text or calls))
        return Completion.single(
            text,
            _json.string(document.get("modelVersion")) or endpoint.model,
            _usage(document.get("usageMetadata")),
            "tool_calls" if calls and finish_reason == "stop" else finish_reason,
            tuple(calls),
            reasoning or None,
        )

    def new_stream_parser(self, endpoint: Endpoint, request: ChatRequest) -> GeminiStreamParser:
        return GeminiStreamParser(endpoint)

    def classify_error(
        self, endpoint: Endpoint, status_code: int, headers: Mapping[str, str], body: bytes
    ) -> ProviderError:
        document, fields = read_error_body(body)
        wait_s = retry_after_s(lower_headers(headers))
        if wait_s is None:
            wait_s = _retry_delay_s(document)
        return _classified(endpoint, status_code, document, fields, wait_s)


class GeminiStreamParser:
    """Reads one Gemini stream: every event is a whole response object."""

    def __init__(self, endpoint: Endpoint) -> None:
        self._endpoint = endpoint
        self._text_seen = False
        self._calls_count = 0

    def feed(self, event: str, data: str) -> list[StreamDelta]:
        if not data.strip():
            return []
        document = _json.load_object(data, provider=self._endpoint.provider, what="stream event")
        if document.get("error") is not None:
            raise _error_object(self._endpoint, document)
        candidate = _json.field(document, "candidates", 0)
        if not isinstance(candidate, Mapping):
            _raise_if_prompt_blocked(self._endpoint, document)
            return []
        response_id = _json.string(document.get("responseId"))
        text, reasoning, calls = _parts(self._endpoint, candidate, response_id, self._calls_count)
        pieces = tuple(
            ToolCallDelta(self._calls_count + n, call.id, call.name, call.arguments) for n, call in enumerate(calls)
        )
        self._calls_count += len(calls)
        self._text_seen = self._text_seen or bool(text or calls)
        finish_reason = _finish_reason(self._endpoint, candidate.get("finishReason"), text_seen=self._text_seen)
        if finish_reason is None:
            return (
                [StreamDelta(text=text, tool_calls=pieces, reasoning=reasoning)] if text or pieces or reasoning else []
            )
        if finish_reason == "stop" and self._calls_count:
            finish_reason = "tool_calls"
        usage = _usage(document.get("usageMetadata"))
        return [
            StreamDelta(
                text=text, usage=usage, finish_reason=finish_reason, done=True, tool_calls=pieces, reasoning=reasoning
            )
        ]


def _parts(
    endpoint: Endpoint, candidate: Mapping[str, Any], response_id: str | None, calls_before: int
) -> tuple[str, str, list[ToolCall]]:
    """The answer's text, its reasoning (parts marked ``thought``) and its function calls;
    ``calls_before`` numbers the generated ids of a stream's later calls."""
    parts = _json.field(candidate, "content", "parts")
    if parts is None:
        return "", "", []  # no content at all: finishReason says why
    if not isinstance(parts, list):
        raise malformed(endpoint, "response: content.parts is not a list")
    texts: list[str] = []
    thoughts: list[str] = []
    calls: list[ToolCall] = []
    for part in parts:
        call = _json.field(part, "functionCall")
        if call is not None:
            signature = _json.string(_json.field(part, "thoughtSignature"))
            calls.append(_tool_call(endpoint, call, response_id, calls_before + len(calls), signature))
            continue
        text = _json.field(part, "text")
        if text is None:
            continue
        if not isinstance(text, str):
            raise malformed(endpoint, "response: a part's text is not a string")
        (thoughts if _json.field(part, "thought") is True else texts).append(text)
    return "".join(texts), "".join(thoughts), calls


def _tool_call(
    endpoint: Endpoint, call: object, response_id: str | None, number: int, signature: str | None
) -> ToolCall:
    """A functionCall part's call; its thought signature rides in the id (``_signed_ids``)."""
    name = _json.string(_json.field(call, "name"))
    arguments = _json.field(call, "args")
    if not name:
        raise malformed(endpoint, "response: a functionCall has no name")
    if arguments is not None and not isinstance(arguments, Mapping):
        raise malformed(endpoint, "response: a functionCall's args is not an object")
    call_id = _json.string(_json.field(call, "id")) or (
        f"call_{response_id}_{number}" if response_id else f"call_{number}"
    )
    return ToolCall(signed(call_id, signature), name, json.dumps(arguments or {}, ensure_ascii=False))


def _finish_reason(endpoint: Endpoint, raw: object, *, text_seen: bool) -> str | None:
    if not isinstance(raw, str) or raw == "FINISH_REASON_UNSPECIFIED":
        return None
    if raw in _BLOCKED and not text_seen:
        raise content_blocked(endpoint, raw)
    if raw in _FAILED_CALLING and not text_seen:
        raise TransientError(f"the generation failed: finishReason {raw}", provider=endpoint.provider)
    return _FINISH_REASONS.get(raw, raw.lower())


def _raise_if_prompt_blocked(endpoint: Endpoint, document: Mapping[str, Any]) -> None:
    reason = _json.string(_json.field(document, "promptFeedback", "blockReason"))
    if reason is not None:
        raise content_blocked(endpoint, f"prompt {reason}")


def _usage(value: object) -> Usage | None:
    """Thinking tokens are billed as output, so they count as completion tokens."""
    prompt_tokens = _json.token_count(_json.field(value, "promptTokenCount"))
    if prompt_tokens is None:
        return None
    thoughts = _json.token_count(_json.field(value, "thoughtsTokenCount"))
    candidates = _json.token_count(_json.field(value, "candidatesTokenCount")) or 0
    return Usage(
        prompt_tokens=prompt_tokens,
        completion_tokens=candidates + (thoughts or 0),
        cached_tokens=_json.token_count(_json.field(value, "cachedContentTokenCount")),
        reasoning_tokens=thoughts,
    )


def _details(document: Any, kind: str) -> list[Mapping[str, Any]]:
    """The ``error.details`` entries of one ``google.rpc`` type (``RetryInfo``, ``ErrorInfo``...)."""
    if isinstance(document, list) and len(document) == 1:
        document = document[0]
    details = _json.sequence(_json.field(document, "error", "details"))
    return [_json.mapping(d) for d in details if _json.field(d, "@type") == _DETAIL_TYPE_PREFIX + kind]


def _retry_delay_s(document: Any) -> float | None:
    for detail in _details(document, "RetryInfo"):
        delay = _json.string(detail.get("retryDelay"))
        if delay is not None:
            return parse_duration_s(delay)
    return None


def _quota_exhausted(document: Any, fields: ErrorFields) -> bool | None:
    """RESOURCE_EXHAUSTED says "You exceeded your current quota" for a per-minute limit too; it
    is exhausted only when a violated quota is not per-minute (per day, say). Without details,
    the wording decides."""
    if fields.type != "RESOURCE_EXHAUSTED":
        return None
    quota_ids = [
        _json.string(_json.field(violation, "quotaId")) or ""
        for detail in _details(document, "QuotaFailure")
        for violation in _json.sequence(detail.get("violations"))
    ]
    if quota_ids:
        return any("PerMinute" not in quota_id and "PerSecond" not in quota_id for quota_id in quota_ids)
    return "quota" in fields.message.lower()


def _key_rejected(document: Any, fields: ErrorFields) -> bool:
    """Gemini answers a wrong key with 400 INVALID_ARGUMENT, reason API_KEY_INVALID."""
    reasons = {_json.string(detail.get("reason")) for detail in _details(document, "ErrorInfo")}
    return "API_KEY_INVALID" in reasons or "api key not valid" in fields.message.lower()


def _classified(
    endpoint: Endpoint,
    status_code: int,
    document: Any,
    fields: ErrorFields,
    wait_s: float | None,
    where: str | None = None,
) -> ProviderError:
    return provider_error(
        endpoint,
        status_code,
        fields,
        retry_after_s=wait_s,
        quota_exhausted=_quota_exhausted(document, fields),
        error_class=CredentialError if _key_rejected(document, fields) else None,
        where=where,
    )


def _error_object(endpoint: Endpoint, document: Mapping[str, Any]) -> ProviderError:
    """An ``{"error": ...}`` object where a response was expected (inside a stream)."""
    code = _json.field(document, "error", "code")
    status_code: int = code if isinstance(code, int) and not isinstance(code, bool) and 400 <= code <= 599 else 500
    return _classified(
        endpoint, status_code, document, error_fields(document), _retry_delay_s(document), where="stream error"
    )


WIRE_FORMAT = GeminiWireFormat()
