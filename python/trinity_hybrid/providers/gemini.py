"""Google's Gemini API: ``POST {base_url}/{version}/models/{model}:generateContent``.

The key travels in the ``x-goog-api-key`` header, never in the URL. Roles are ``user`` and
``model`` (our ``assistant``); consecutive messages of one role become the parts of one content;
system messages become the parts of ``systemInstruction``.

A stream (``:streamGenerateContent?alt=sse``) sends full response objects as unnamed events and
ends with the HTTP body, with no closing event. The last object carries ``finishReason`` and the
totals in ``usageMetadata``, so the parser reports ``done`` (and the usage, once) when it sees a
``finishReason``.

An answer withheld by the safety filters (``finishReason`` ``SAFETY`` and the like, or a prompt
blocked in ``promptFeedback``) with no text raises ``ClientRequestError``: the prompt caused it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from .._exceptions import CredentialError, ProviderError
from . import _json
from ._errors import ErrorFields, content_blocked, error_fields, malformed, provider_error, read_error_body
from ._features import DROPPED_BY_RULE, first_missing, parameters
from ._retry_after import lower_headers, parse_duration_s, retry_after_s
from ._types import ChatRequest, Completion, Endpoint, HttpRequest, Message, StreamDelta, Usage

__all__ = ["DEFAULT_API_VERSION", "WIRE_FORMAT", "GeminiStreamParser", "GeminiWireFormat"]

DEFAULT_API_VERSION = "v1beta"
_ROLES = {"user": "user", "assistant": "model"}
_BLOCKED = frozenset({"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII"})
_FINISH_REASONS = {"STOP": "stop", "MAX_TOKENS": "length", **{reason: "content_filter" for reason in _BLOCKED}}
_DETAIL_TYPE_PREFIX = "type.googleapis.com/google.rpc."
# What build_request carries; anything else makes the planner skip the provider. Gemini's
# generationConfig has no logprobs in OpenAI's shape; n would be candidateCount, not carried yet.
_SAMPLING = {
    "top_p": "topP", "stop": "stopSequences", "seed": "seed", "presence_penalty": "presencePenalty",
    "frequency_penalty": "frequencyPenalty",
}  # fmt: skip
_CARRIED = frozenset(_SAMPLING) | DROPPED_BY_RULE


class GeminiWireFormat:
    """Builds and reads Gemini API calls; see the module docstring."""

    def unsupported(self, endpoint: Endpoint, request: ChatRequest) -> str | None:
        return first_missing(request, _CARRIED)

    def build_request(self, endpoint: Endpoint, request: ChatRequest) -> HttpRequest:
        model = endpoint.model.removeprefix("models/")
        method = "streamGenerateContent?alt=sse" if request.stream else "generateContent"
        version = endpoint.api_version or DEFAULT_API_VERSION
        body: dict[str, Any] = {"contents": _contents(request.messages)}
        system = [{"text": m.text} for m in request.messages if m.role in ("system", "developer") and m.text]
        if system:
            body["systemInstruction"] = {"parts": system, "role": "user"}  # the role as the SDK sends it
        generation_config: dict[str, Any] = {}
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
        text = _text(endpoint, candidate)
        return Completion.single(
            text,
            _json.string(document.get("modelVersion")) or endpoint.model,
            _usage(document.get("usageMetadata")),
            _finish_reason(endpoint, candidate.get("finishReason"), text_seen=bool(text)),
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
        text = _text(self._endpoint, candidate)
        self._text_seen = self._text_seen or bool(text)
        finish_reason = _finish_reason(self._endpoint, candidate.get("finishReason"), text_seen=self._text_seen)
        if finish_reason is None:
            return [StreamDelta(text=text)] if text else []
        return [
            StreamDelta(text=text, usage=_usage(document.get("usageMetadata")), finish_reason=finish_reason, done=True)
        ]


def _contents(messages: tuple[Message, ...]) -> list[dict[str, Any]]:
    contents: list[dict[str, Any]] = []
    for message in messages:
        role = _ROLES.get(message.role)
        if role is None:
            continue  # system: sent as systemInstruction
        if contents and contents[-1]["role"] == role:
            contents[-1]["parts"].append({"text": message.text})
        else:
            contents.append({"role": role, "parts": [{"text": message.text}]})
    return contents


def _text(endpoint: Endpoint, candidate: Mapping[str, Any]) -> str:
    """The answer's text parts joined; thought summaries (``thought: true``) are not the answer."""
    parts = _json.field(candidate, "content", "parts")
    if parts is None:
        return ""  # no content at all: finishReason says why
    if not isinstance(parts, list):
        raise malformed(endpoint, "response: content.parts is not a list")
    texts: list[str] = []
    for part in parts:
        text = _json.field(part, "text")
        if text is None or _json.field(part, "thought") is True:
            continue
        if not isinstance(text, str):
            raise malformed(endpoint, "response: a part's text is not a string")
        texts.append(text)
    return "".join(texts)


def _finish_reason(endpoint: Endpoint, raw: object, *, text_seen: bool) -> str | None:
    if not isinstance(raw, str) or raw == "FINISH_REASON_UNSPECIFIED":
        return None
    if raw in _BLOCKED and not text_seen:
        raise content_blocked(endpoint, raw)
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
    generated = (_json.token_count(_json.field(value, name)) for name in ("candidatesTokenCount", "thoughtsTokenCount"))
    return Usage(prompt_tokens=prompt_tokens, completion_tokens=sum(tokens or 0 for tokens in generated))


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
