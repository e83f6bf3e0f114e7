"""The one exception hierarchy of trinity_hybrid.

Every error the package raises is a ``TrinityError``. Lower-level errors (cffi, httpx, a
provider's JSON) are mapped into it in one place each, and no error message, ``repr`` or
attribute ever carries an API key: keys appear only masked, as ``key[:8]***``.

    TrinityError
    ├── NativeLibraryError        the native core is missing, unloadable or of another ABI
    ├── ConfigurationError        bad configuration: an environment variable, option or file
    ├── InvalidInputError         bad input from the caller (wrong type, unknown name)
    ├── NoProviderAvailable       no configured provider can take this request
    └── ProviderError             one provider failed one call
        ├── TransientError        5xx, timeouts, connection errors: try the next provider
        │   └── StreamInterruptedError   a stream broke after its first token: raised, no fallback
        ├── RateLimitedError      429: try the next provider; the breaker holds this one
        │   └── QuotaExhaustedError   the quota, credit or balance is used up: hold it much longer
        ├── CredentialError       401/403: try the next provider; this one is marked unhealthy
        ├── ClientRequestError    400/404/422: the request itself is wrong; no fallback
        │   └── ContextLengthExceededError  the prompt is too long for this model's window
        ├── ProviderUnavailableError   the provider's runtime or address is missing here
        └── CircuitOpenError      the breaker refused the call
    AllProvidersFailed            every provider of the chain failed (carries every attempt)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = [
    "AllProvidersFailed",
    "CircuitOpenError",
    "ClientRequestError",
    "ConfigurationError",
    "ContextLengthExceededError",
    "CredentialError",
    "InvalidInputError",
    "NativeLibraryError",
    "NoProviderAvailable",
    "ProviderError",
    "ProviderUnavailableError",
    "QuotaExhaustedError",
    "RateLimitedError",
    "StreamInterruptedError",
    "TransientError",
    "TrinityError",
]


class TrinityError(Exception):
    """Base class of every error raised by trinity_hybrid."""


class NativeLibraryError(TrinityError):
    """The native core library is missing, cannot be loaded, or speaks another ABI version."""


class ConfigurationError(TrinityError):
    """A configuration value (environment variable, option, config file) is invalid."""


class InvalidInputError(TrinityError, ValueError):
    """The caller passed an argument of the wrong type or an unknown name. ``param`` names the
    request field at fault (``messages``, ``tools``, ...) when there is one."""

    param: str | None = None
    # OpenAI's error code where one applies (``invalid_type`` for a value of the wrong JSON type).
    code: str | None = None


class NoProviderAvailable(TrinityError):
    """No configured provider can take this request (none available, or none fits it)."""

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason


class ProviderError(TrinityError):
    """One provider failed one call. ``provider`` names it; ``status_code`` is the HTTP status."""

    failure_kind = "transient"

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        status_code: int | None = None,
        retry_after_s: float | None = None,
        cause: BaseException | None = None,
    ) -> None:
        super().__init__(f"{provider}: {message}")
        self.provider = provider
        self.status_code = status_code
        self.retry_after_s = retry_after_s
        self.cause = cause


class TransientError(ProviderError):
    """A failure that may pass: 5xx, timeout, connection reset. The next provider is tried."""

    failure_kind = "transient"


class RateLimitedError(ProviderError):
    """429 Too Many Requests. The breaker holds the provider for at least its Retry-After."""

    failure_kind = "rate_limited"


class QuotaExhaustedError(RateLimitedError):
    """The account's quota, credit or balance is used up: no short wait helps, so the breaker
    holds the provider for its (long) quota cooldown."""

    failure_kind = "quota_exhausted"


class StreamInterruptedError(TransientError):
    """A stream failed after its first token; no fallback, since the answer is half given.
    ``attempts`` holds every attempt of the call, this one last (outcome ``"failure"``)."""

    failure_kind = "transient"
    attempts: tuple[Any, ...] = ()


class ProviderUnavailableError(ProviderError):
    """The provider cannot be used on this machine: its runtime or its address is missing."""

    failure_kind = "credential"


class CredentialError(ProviderError):
    """401/403: the key is missing, wrong or not allowed. The provider is marked unhealthy."""

    failure_kind = "credential"


class ClientRequestError(ProviderError):
    """400/404/422: the request itself is wrong, so no other provider is tried."""

    failure_kind = "client"


class ContextLengthExceededError(ClientRequestError):
    """The prompt (with the room reserved for the answer) exceeds the model's context window; a
    model with a larger window may still take the request."""

    failure_kind = "context_length"


class CircuitOpenError(ProviderError):
    """The provider's circuit breaker is open (or its half-open probe is taken)."""

    failure_kind = "circuit_open"


class AllProvidersFailed(TrinityError):
    """Every provider of the chain failed; ``attempts`` holds each one's outcome."""

    def __init__(self, attempts: Sequence[Any]) -> None:
        self.attempts = tuple(attempts)
        # A provider's error already starts with its name: it is not said twice.
        summary = "; ".join(
            f"{attempt.provider}: {str(attempt.error).removeprefix(f'{attempt.provider}: ')}"
            for attempt in self.attempts
        )
        super().__init__(f"all {len(self.attempts)} providers failed: {summary}")
