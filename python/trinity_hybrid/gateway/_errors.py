"""OpenAI-style error answers, and the one place where the library's exceptions become them.

Every error the gateway sends is ``{"error": {"message", "type", "param", "code"}}`` with the
status OpenAI would use, so that clients' own error handling (the ``openai`` SDK's exception
classes, its retries on 429/5xx) works unchanged. Messages come from our exceptions, whose text
never carries a key; a stack trace never leaves the process.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .._exceptions import (
    AllProvidersFailed,
    CircuitOpenError,
    ClientRequestError,
    ContextLengthExceededError,
    CredentialError,
    InvalidInputError,
    NoProviderAvailable,
    ProviderError,
    ProviderUnavailableError,
    QuotaExhaustedError,
    RateLimitedError,
    StreamInterruptedError,
    TrinityError,
)

__all__ = ["ApiError", "api_error_for"]


@dataclass
class ApiError(Exception):
    """An error answer: HTTP status and the fields of OpenAI's error object. ``outcome`` is the
    metrics label the request is counted under; ``retry_after_s`` becomes a Retry-After header."""

    status: int
    message: str
    type: str = "invalid_request_error"
    param: str | None = None
    code: str | None = None
    outcome: str = "client_error"
    attempts: tuple[dict[str, Any], ...] = ()
    retry_after_s: float | None = None

    def body(self) -> bytes:
        error: dict[str, Any] = {"message": self.message, "type": self.type, "param": self.param, "code": self.code}
        if self.attempts:
            error["attempts"] = list(self.attempts)
        return json.dumps({"error": error}, ensure_ascii=False).encode()

    def headers(self) -> list[tuple[bytes, bytes]]:
        if self.retry_after_s is None:
            return []
        return [(b"retry-after", str(max(1, round(self.retry_after_s))).encode())]


def bad_request(message: str, *, param: str | None = None, code: str | None = None) -> ApiError:
    return ApiError(400, message, "invalid_request_error", param, code)


def attempts_summary(attempts: tuple[Any, ...]) -> tuple[dict[str, Any], ...]:
    """What a client may learn about each attempt: the provider, what happened, the error's
    class and the provider's HTTP status. Not the provider's message, which is for our logs."""
    return tuple(
        {
            "provider": attempt.provider,
            "outcome": attempt.outcome,
            "error_type": attempt.error_type,
            "status": attempt.status_code,
        }
        for attempt in attempts
    )


def api_error_for(error: TrinityError) -> ApiError:
    """The answer for a library exception: the one mapping from our hierarchy to HTTP."""
    if isinstance(error, InvalidInputError):
        return bad_request(str(error), param=error.param or _param_of(str(error)), code=error.code)
    if isinstance(error, AllProvidersFailed):
        summary = attempts_summary(error.attempts)
        # Every provider was held back (breaker open, rate limited): waiting helps, so 503.
        # Otherwise at least one provider answered badly: a bad gateway.
        held_back = all(
            attempt.outcome == "skipped" or attempt.error_type in {"RateLimitedError", "QuotaExhaustedError"}
            for attempt in error.attempts
        )
        tried = ", ".join(f"{item['provider']} ({item['error_type']})" for item in summary)
        return ApiError(
            503 if held_back else 502,
            f"all {len(summary)} providers failed: {tried}",
            "server_error",
            None,
            "providers_unavailable" if held_back else "upstream_error",
            "unavailable" if held_back else "upstream_error",
            summary,
        )
    if isinstance(error, NoProviderAvailable):
        return ApiError(503, str(error), "server_error", None, "no_provider_available", "unavailable")
    if isinstance(error, ProviderError):
        return _provider_error(error)
    return ApiError(
        500, "the gateway failed to handle the request", "server_error", None, "internal_error", "internal_error"
    )


def _provider_error(error: ProviderError) -> ApiError:
    """A provider's own failure, raised as is when the request forced that provider (or when
    its answer says the request itself is wrong, which no other provider would fix)."""
    summary: tuple[dict[str, Any], ...] = (
        {
            "provider": error.provider,
            "outcome": "failure",
            "error_type": type(error).__name__,
            "status": error.status_code,
        },
    )
    if isinstance(error, StreamInterruptedError) and error.attempts:
        # Every attempt of the call, the one that broke off last (with its cause's class).
        summary = attempts_summary(error.attempts)
    if isinstance(error, ContextLengthExceededError):
        return ApiError(
            400, str(error), "invalid_request_error", "messages", "context_length_exceeded", "client_error", summary
        )
    if isinstance(error, ClientRequestError):
        return ApiError(
            400, str(error), "invalid_request_error", None, "upstream_rejected_request", "client_error", summary
        )
    if isinstance(error, QuotaExhaustedError):
        return ApiError(
            429,
            str(error),
            "insufficient_quota",
            None,
            "insufficient_quota",
            "unavailable",
            summary,
            error.retry_after_s,
        )
    if isinstance(error, RateLimitedError):
        return ApiError(
            429,
            str(error),
            "rate_limit_error",
            None,
            "rate_limit_exceeded",
            "unavailable",
            summary,
            error.retry_after_s,
        )
    if isinstance(error, (CircuitOpenError, ProviderUnavailableError)):
        return ApiError(503, str(error), "server_error", None, "provider_unavailable", "unavailable", summary)
    if isinstance(error, CredentialError):
        # The gateway's key for that provider is wrong: the caller can do nothing about it.
        return ApiError(502, str(error), "server_error", None, "upstream_credential_error", "upstream_error", summary)
    return ApiError(502, str(error), "server_error", None, "upstream_error", "upstream_error", summary)


def _param_of(message: str) -> str | None:
    """The request field an ``InvalidInputError`` names, if its message starts with one."""
    head = message.split(" ", 1)[0]
    field = head.split("[", 1)[0].split(".", 1)[0]
    if field == "prompt":
        return "messages"
    return field if field in {"messages", "max_tokens", "temperature", "stream"} else None
