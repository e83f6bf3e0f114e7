"""OpenAI's Chat Completions format, which most providers imitate.

Used for OpenAI, Groq, DeepSeek, Kimi (Moonshot), NVIDIA NIM, Zhipu (its v4 API), Mistral and any
compatible URL. ``POST {base_url}/chat/completions`` with ``Authorization: Bearer``; a stream is
``data:`` chunks (``choices[0].delta.content``), a usage chunk with no choices when asked for with
``stream_options``, then ``data: [DONE]``.

The imitators differ in small ways, handled here and nowhere else: Mistral refuses
``stream_options`` (422 ``extra_forbidden``) but sends usage in its last chunk anyway; Kimi puts
usage inside the last choice and Groq in ``x_groq.usage``; Zhipu finishes with ``sensitive`` or
``network_error``; error bodies may lack the ``error`` wrapper (Mistral) or be problem JSON
(NVIDIA).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._exceptions import ProviderError, TransientError
from . import _json
from ._errors import ErrorFields, content_blocked, error_fields, malformed, provider_error, read_error_body
from ._features import DROPPED_BY_RULE, first_missing, parameters
from ._retry_after import lower_headers, parse_duration_s, retry_after_s, shortest_s
from ._types import ChatRequest, Completion, Endpoint, HttpRequest, StreamDelta, Usage

__all__ = ["WIRE_FORMAT", "OpenAICompatibleWireFormat"]

# What build_request carries; anything else makes the planner skip the provider. Every
# OpenAI-compatible API takes the sampling parameters and passes unknown fields on; n, logprobs
# and metadata only OpenAI's own (and a custom endpoint, which is taken at its word).
_SAMPLING = {name: name for name in ("top_p", "stop", "seed", "presence_penalty", "frequency_penalty", "user")}
_OPENAI_ONLY = {name: name for name in ("n", "logprobs", "top_logprobs", "metadata")}
_CARRIED = frozenset({*_SAMPLING, "extra:*"})
_CARRIED_OPENAI = _CARRIED | frozenset(_OPENAI_ONLY)
_PROVIDERS_WITH_ALL_PARAMETERS = frozenset({"openai", "custom"})
_PROVIDERS_WITHOUT_STREAM_OPTIONS = frozenset({"mistral"})
# OpenAI deprecated max_tokens, and its reasoning models refuse it; the imitators only know it.
_PROVIDERS_WITH_MAX_COMPLETION_TOKENS = frozenset({"openai"})
_FINISH_REASONS = {"sensitive": "content_filter"}  # Zhipu's name for a filtered answer
_FINISH_REASONS_TRANSIENT = frozenset({"network_error"})  # Zhipu: the generation broke off
# The HTTP status an in-stream error would have had, by its type or code.
_STREAM_ERROR_STATUS = {
    "invalid_request_error": 400,
    "context_length_exceeded": 400,
    "authentication_error": 401,
    "invalid_api_key": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "rate_limit_exceeded": 429,
    "insufficient_quota": 429,
    "tokens": 429,
    "requests": 429,
}


class OpenAICompatibleWireFormat:
    """Builds and reads Chat Completions calls; see the module docstring."""

    def unsupported(self, endpoint: Endpoint, request: ChatRequest) -> str | None:
        if endpoint.provider in _PROVIDERS_WITH_ALL_PARAMETERS:
            return first_missing(request, _CARRIED_OPENAI)
        return first_missing(request, _CARRIED | DROPPED_BY_RULE)

    def build_request(self, endpoint: Endpoint, request: ChatRequest) -> HttpRequest:
        body: dict[str, Any] = {
            "model": endpoint.model,
            "messages": [{"role": message.role, "content": message.text} for message in request.messages],
        }
        if request.max_tokens is not None:
            uses_new_name = endpoint.provider in _PROVIDERS_WITH_MAX_COMPLETION_TOKENS
            body["max_completion_tokens" if uses_new_name else "max_tokens"] = request.max_tokens
        if request.temperature is not None:
            body["temperature"] = request.temperature
        body.update(parameters(request, _SAMPLING))
        if endpoint.provider in _PROVIDERS_WITH_ALL_PARAMETERS:
            body.update(parameters(request, _OPENAI_ONLY))
        else:
            body.pop("user", None)  # dropped by rule (providers._features.DROPPED_BY_RULE)
        # Unknown fields pass on as they came; a known field is never overwritten by one.
        body.update({name: value for name, value in request.extra.items() if name not in body})
        if request.stream:
            body["stream"] = True
            if endpoint.provider not in _PROVIDERS_WITHOUT_STREAM_OPTIONS:
                body["stream_options"] = {"include_usage": True}
        headers = {"Content-Type": "application/json"}
        if endpoint.key is not None:
            headers["Authorization"] = f"Bearer {endpoint.key.reveal()}"
        return HttpRequest(method="POST", url=endpoint.url("chat/completions"), headers=headers, json=body)

    def parse_response(self, endpoint: Endpoint, request: ChatRequest, body: bytes) -> Completion:
        document = _json.load_object(body, provider=endpoint.provider, what="response")
        choice = _json.field(document, "choices", 0)
        if type(choice) is not dict and not isinstance(choice, Mapping):
            raise malformed(endpoint, "response: no choices[0] object")
        message = _json.mapping(choice.get("message"))
        content = message.get("content")
        if content is not None and not isinstance(content, str):
            raise malformed(endpoint, "response: choices[0].message.content is not a string")
        # A refusal is the model's answer, carried beside content rather than in it.
        text = content or _json.string(message.get("refusal")) or ""
        finish_reason = _finish_reason(endpoint, choice.get("finish_reason"), text_seen=bool(text))
        return Completion.single(
            text, _json.string(document.get("model")) or endpoint.model, _usage(document.get("usage")), finish_reason
        )

    def new_stream_parser(self, endpoint: Endpoint, request: ChatRequest) -> OpenAICompatibleStreamParser:
        return OpenAICompatibleStreamParser(endpoint)

    def classify_error(
        self, endpoint: Endpoint, status_code: int, headers: Mapping[str, str], body: bytes
    ) -> ProviderError:
        lowered = lower_headers(headers)
        _, fields = read_error_body(body)
        wait_s = retry_after_s(lowered)
        if wait_s is None:
            wait_s = _rate_limit_reset_s(lowered)
        return provider_error(endpoint, status_code, fields, retry_after_s=wait_s)


class OpenAICompatibleStreamParser:
    """Reads one Chat Completions stream."""

    def __init__(self, endpoint: Endpoint) -> None:
        self._endpoint = endpoint
        self._text_seen = False

    def feed(self, event: str, data: str) -> list[StreamDelta]:
        chunk = _json.load_stream_event(data, provider=self._endpoint.provider)
        if chunk == _json.STREAM_DONE:
            return [StreamDelta(done=True)]
        if isinstance(chunk, str):
            return []
        if event == "error" or chunk.get("error") is not None:
            raise _stream_error(self._endpoint, chunk)
        choice = _json.field(chunk, "choices", 0)
        content = _json.field(choice, "delta", "content")
        if content is not None and not isinstance(content, str):
            raise malformed(self._endpoint, "stream event: choices[0].delta.content is not a string")
        text = content or ""
        self._text_seen = self._text_seen or bool(text)
        finish_reason = _finish_reason(self._endpoint, _json.field(choice, "finish_reason"), text_seen=self._text_seen)
        usage = (
            _usage(chunk.get("usage"))
            or _usage(_json.field(choice, "usage"))
            or _usage(_json.field(chunk, "x_groq", "usage"))
        )
        if not text and usage is None and finish_reason is None:
            return []
        return [StreamDelta(text=text, usage=usage, finish_reason=finish_reason)]


def _finish_reason(endpoint: Endpoint, raw: object, *, text_seen: bool) -> str | None:
    if not isinstance(raw, str):
        return None
    if raw in _FINISH_REASONS_TRANSIENT:
        raise TransientError(f"the generation broke off (finish_reason {raw})", provider=endpoint.provider)
    reason = _FINISH_REASONS.get(raw, raw.lower())
    if reason == "content_filter" and not text_seen:
        raise content_blocked(endpoint, raw)
    return reason


def _usage(value: object) -> Usage | None:
    counts = _json.mapping(value)
    prompt_tokens = _json.token_count(counts.get("prompt_tokens"))
    completion_tokens = _json.token_count(counts.get("completion_tokens"))
    if prompt_tokens is None or completion_tokens is None:
        return None
    return Usage(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)


def _stream_error(endpoint: Endpoint, chunk: Mapping[str, Any]) -> ProviderError:
    fields = error_fields(chunk)
    status_code = _stream_error_status(_json.field(chunk, "error", "code"), fields)
    return provider_error(endpoint, status_code, fields, where="stream error")


def _stream_error_status(code: object, fields: ErrorFields) -> int:
    # Imitators built on vLLM put the HTTP status itself in ``code``.
    if isinstance(code, int) and not isinstance(code, bool) and 400 <= code <= 599:
        return code
    for name in (fields.code, fields.type):
        if name in _STREAM_ERROR_STATUS:
            return _STREAM_ERROR_STATUS[name]
    return 500  # "server_error" and anything unknown: the provider failed mid-answer


def _rate_limit_reset_s(headers: Mapping[str, str]) -> float | None:
    """OpenAI's and Groq's ``x-ratelimit-reset-{requests,tokens}`` ("6m0s"): the reset of the
    bucket that ran out, or the sooner reset when the headers do not say which did."""
    resets_s: dict[str, float | None] = {}
    for bucket in ("requests", "tokens"):
        value = headers.get(f"x-ratelimit-reset-{bucket}")
        if value is not None:
            resets_s[bucket] = parse_duration_s(value)
    exhausted = [
        reset_s
        for bucket, reset_s in resets_s.items()
        if reset_s is not None and headers.get(f"x-ratelimit-remaining-{bucket}", "").strip() == "0"
    ]
    return max(exhausted) if exhausted else shortest_s(resets_s.values())


WIRE_FORMAT = OpenAICompatibleWireFormat()
