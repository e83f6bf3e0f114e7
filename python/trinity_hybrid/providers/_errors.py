"""From a provider's failure to one of our exceptions, in one place for every wire format.

A wire format reads its provider's error JSON into ``ErrorFields`` and says what it knows that
wording cannot tell (a quota code, a per-minute limit); ``provider_error`` then picks the class
from the status and the fields, and writes a message that quotes the provider (scrubbed of the
key, shortened) but never the key.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .._exceptions import (
    ClientRequestError,
    ContextLengthExceededError,
    CredentialError,
    ProviderError,
    QuotaExhaustedError,
    RateLimitedError,
    TransientError,
)
from .._secret import Secret, mask_key
from . import _json
from ._types import Endpoint

__all__ = ["ErrorFields", "content_blocked", "error_fields", "malformed", "provider_error", "read_error_body", "scrub"]

QUOTED_CHARS_MAX = 300
# A shorter piece of a key tells nothing (the mask itself shows 8 characters); a longer one is
# scrubbed like the whole key, in case a provider echoes part of it.
KEY_FRAGMENT_CHARS_MIN = 12

# Lower-case fragments of error codes, types and messages, as the providers word them.
_CONTEXT_LENGTH_MARKERS = (
    "context_length_exceeded",  # OpenAI code
    "maximum context length",  # OpenAI, DeepSeek, Mistral, vLLM (NVIDIA NIM)
    "context window",
    "reduce the length of the messages",  # OpenAI, Groq
    "prompt is too long",  # Anthropic
    "exceed context limit",  # Anthropic: "input length and `max_tokens` exceed context limit"
    "exceeds the maximum number of tokens",  # Gemini
    "exceeded model token limit",  # Kimi
    "too many tokens",  # Cohere
    "prompt exceeds max length",  # Zhipu 1261
)
_QUOTA_MARKERS = (
    "insufficient_quota",  # OpenAI code
    "exceeded your current quota",  # OpenAI; Gemini (which also uses it per minute: see gemini.py)
    "exceeded_current_quota",  # Kimi type
    "billing_error",  # Anthropic type
    "spend_limit_reached",  # Anthropic error codes
    "credit balance is too low",  # Anthropic, sent as a 400
    "insufficient balance",  # DeepSeek 402
    "insufficient_user_quota",
    "trial key",  # Cohere: "You are using a Trial key, which is limited to 1000 API calls / month"
    "余额不足",  # "balance insufficient"
    "欠费",  # "in arrears" (Zhipu 1113)
)
_QUOTA_CODES = frozenset({"1113"})  # Zhipu: account in arrears
_CREDENTIAL_STATUSES = frozenset({401, 403, 498})  # 498: Cohere's invalid token
_TRANSIENT_STATUSES = frozenset({408, 499, 529})  # timeout, client closed (server side), overloaded


@dataclass(frozen=True, slots=True)
class ErrorFields:
    """What a provider said about a failure: its message, type (or status) and code."""

    message: str
    type: str | None = None
    code: str | None = None

    def mentions(self, markers: tuple[str, ...]) -> bool:
        text = " ".join(part for part in (self.message, self.type, self.code) if part).lower()
        return any(marker in text for marker in markers)


def read_error_body(body: bytes) -> tuple[Any, ErrorFields]:
    """The decoded error document (``None`` if it is not JSON) and its ``error_fields``; a body
    that is not JSON is quoted as text."""
    try:
        document: Any = json.loads(body)
    except (ValueError, RecursionError):
        return None, ErrorFields(message=body.decode("utf-8", "replace").strip())
    return document, error_fields(document)


def error_fields(document: Any) -> ErrorFields:
    """The fields of an error document, from the usual places: ``{"error": {"message",
    "type"|"status", "code"}}`` (OpenAI and its imitators, Gemini, Anthropic), ``{"error":
    "text"}``, a top-level ``message`` (Cohere, Mistral), ``detail`` (problem JSON, FastAPI), or
    a one-element list of those (Gemini). Anything else is quoted whole."""
    if isinstance(document, list) and len(document) == 1:
        document = document[0]
    error = _json.field(document, "error")
    source = error if isinstance(error, Mapping) else _json.mapping(document)
    message = _text(source.get("message"))
    if message is None:
        message = _text(error) or _text(source.get("detail")) or _text(source.get("title")) or _text(document)
    return ErrorFields(
        message=message or "",
        type=_text(source.get("type")) or _text(source.get("status")),
        code=_text(source.get("code")),
    )


def _text(value: object) -> str | None:
    """A field as text: strings as they are, numbers and objects (Mistral's message can be a
    validation report) as compact JSON."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    except (ValueError, RecursionError):
        return None


def scrub(text: str, key: Secret | None) -> str:
    """``text`` on one line, shortened to ``QUOTED_CHARS_MAX``, with the key and any piece of
    it long enough to matter (``KEY_FRAGMENT_CHARS_MIN``) replaced by the key's mask."""
    text = " ".join(text[: QUOTED_CHARS_MAX * 4].split())
    secret = key.reveal() if key is not None else ""
    if secret:
        text = _redacted(text, secret)
    if len(text) > QUOTED_CHARS_MAX:
        text = text[: QUOTED_CHARS_MAX - 1] + "…"
    return text


def _redacted(text: str, secret: str) -> str:
    mask = mask_key(secret)
    width = min(KEY_FRAGMENT_CHARS_MIN, len(secret))
    fragments = {secret[start : start + width] for start in range(len(secret) - width + 1)}
    pieces: list[str] = []
    position = 0
    while position < len(text):
        if text[position : position + width] not in fragments:
            pieces.append(text[position])
            position += 1
            continue
        end = position + width
        while end < len(text) and text[position : end + 1] in secret:
            end += 1
        pieces.append(mask)
        position = end
    return "".join(pieces)


def provider_error(
    endpoint: Endpoint,
    status_code: int,
    fields: ErrorFields,
    *,
    retry_after_s: float | None = None,
    quota_exhausted: bool | None = None,
    context_length_exceeded: bool | None = None,
    error_class: type[ProviderError] | None = None,
    where: str | None = None,
) -> ProviderError:
    """The exception for a failure with ``status_code`` (or, inside a stream, the status the
    same failure has outside one). ``quota_exhausted`` and ``context_length_exceeded`` override
    the guess from wording when the wire format knows better. ``where`` replaces ``HTTP <status>``
    in the message (e.g. ``stream error``); ``error_class`` skips the guessing altogether."""
    if error_class is None:
        error_class = _guessed_class(status_code, fields, quota_exhausted, context_length_exceeded)
    label = " ".join(part for part in (fields.type, fields.code) if part)
    quoted = scrub(fields.message, endpoint.key) or "(no message)"
    message = f"{where or f'HTTP {status_code}'}{f' {scrub(label, endpoint.key)}' if label else ''}: {quoted}"
    keeps_wait = issubclass(error_class, (RateLimitedError, TransientError))
    return error_class(
        message,
        provider=endpoint.provider,
        status_code=status_code,
        retry_after_s=retry_after_s if keeps_wait else None,
    )


def _guessed_class(
    status_code: int, fields: ErrorFields, quota_exhausted: bool | None, context_length_exceeded: bool | None
) -> type[ProviderError]:
    if quota_exhausted is None:
        quota_exhausted = status_code == 402 or fields.code in _QUOTA_CODES or fields.mentions(_QUOTA_MARKERS)
    error_class = _error_class(status_code, fields, quota_exhausted=quota_exhausted)
    if error_class is ClientRequestError:
        if context_length_exceeded is None:
            context_length_exceeded = fields.mentions(_CONTEXT_LENGTH_MARKERS)
        if context_length_exceeded:
            return ContextLengthExceededError
    return error_class


def _error_class(status_code: int, fields: ErrorFields, *, quota_exhausted: bool) -> type[ProviderError]:
    if quota_exhausted and 400 <= status_code < 500 and status_code not in (401, 498):
        return QuotaExhaustedError
    if status_code == 429:
        return RateLimitedError
    if status_code in _CREDENTIAL_STATUSES:
        return CredentialError
    if status_code in _TRANSIENT_STATUSES or status_code >= 500:
        return TransientError
    if 400 <= status_code < 500:
        # Groq answers 413 with code rate_limit_exceeded for a request over its tokens-per-minute
        # limit: another provider can take it, so it is a rate limit, not a bad request.
        if fields.code == "rate_limit_exceeded":
            return RateLimitedError
        return ClientRequestError
    return TransientError  # 1xx/3xx that reached us, or a made-up status: not the caller's fault


def content_blocked(endpoint: Endpoint, reason: str) -> ClientRequestError:
    """A 2xx answer whose content the provider withheld (safety filters). The prompt caused it,
    so it is the caller's to change: no other provider is tried."""
    return ClientRequestError(
        f"the answer was blocked by the provider's content filter ({scrub(reason, endpoint.key)})",
        provider=endpoint.provider,
    )


def malformed(endpoint: Endpoint, what: str) -> TransientError:
    """A 2xx answer of an unexpected shape: the provider's fault, so the next one is tried."""
    return TransientError(f"unexpected {what}", provider=endpoint.provider)
