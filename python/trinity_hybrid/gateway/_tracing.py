"""OpenTelemetry traces of gateway requests: on when an OTLP endpoint is configured, else off and
free (this module imports nothing of OpenTelemetry; ``_tracing_otel`` does, only when on).

Configuration, OpenTelemetry's standard variables, read from the mapping given to ``from_env``:
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` (used as is) or ``OTEL_EXPORTER_OTLP_ENDPOINT`` (``/v1/traces``
appended); ``OTEL_EXPORTER_OTLP[_TRACES]_HEADERS``, ``…_TIMEOUT`` (ms), ``…_PROTOCOL`` (only
``http/protobuf``); ``OTEL_SERVICE_NAME`` (default ``trinity-hybrid-gateway``); ``OTEL_SDK_DISABLED=true``
or ``OTEL_TRACES_EXPORTER=none`` turn it off. Spans are exported in batches by the SDK's own
thread (the ``otel`` extra: opentelemetry-sdk and the OTLP http/protobuf exporter).

What the app does::

    tracing = Tracing.from_env(environ)                       # once; Tracing.OFF when unset
    model_of = lambda provider: node.provider_info(provider)["model"]   # a child span's model
    ...
    with tracing.request("POST", path, request_id=request_id,          # as the request arrives
                         traceparent=_header(scope, b"traceparent"),
                         tracestate=_header(scope, b"tracestate")) as span:
        params = parse(body)
        span.requested(params.model, stream=params.stream)   # the validated model names the span
        span.upstream()                                       # just before the providers are called
        response = await call()                               # or the stream's last chunk
        span.answered(response, model_id, models=model_of)   # success: attributes + attempts
        span.status(200)
    # when no provider answered, instead of ``answered``: span.failed(call.attempts,
    # "AllProvidersFailed", 502, models=model_of); a client's error (a 400 before any call):
    # span.status(400) only (a 4xx is not the server span's error, a 5xx is); an exception
    # leaving the block marks the span failed with its class name.
    record = RequestRecord(..., trace_id=span.trace_id)       # ties the log line to the trace
    tracing.close()                                           # lifespan shutdown: exports what is left

The request span (kind SERVER) is named ``"{operation} {model}"`` (``chat auto``) and carries
``http.request.method``, ``url.path``, ``http.response.status_code``, ``gen_ai.operation.name``,
``gen_ai.request.model`` and, once answered, ``gen_ai.provider.name``, ``gen_ai.response.model``,
``gen_ai.usage.input_tokens`` / ``output_tokens``, ``gen_ai.response.finish_reasons``; ``error.type``
and status ERROR on a failure or a 5xx. Each provider attempt is a child span (kind CLIENT,
``"chat {provider's model}"``) with the GenAI attributes of that call (``gen_ai.provider.name`` and
its predecessor ``gen_ai.system``, request and response model, usage and finish reasons on the
attempt that answered, ``error.type`` and status ERROR on a failed one, ``trinity.attempt.outcome``).
``Attempt`` carries a latency and no start time, so attempts are laid end to end from the moment
``span.upstream()`` was called (the request span's start if never): exact for a fallback chain,
approximate for hedged attempts, which overlapped.

Cost, measured on this machine: off, importing this module and opening a request's span (a
shared no-op object) is about 1.5 ms once and 150 ns per request, and no ``opentelemetry``
module is loaded (``tests/test_tracing.py`` checks it in a fresh interpreter); on, importing
and setting up the SDK and exporter takes 75 to 140 ms, once, at startup, and a request that
took two attempts costs about 100 µs of CPU (three spans: the SDK's span creation and attribute
checks, about 30 µs a span), the export itself on the SDK's thread.

No free text enters a span (no error message, no prompt): names, models, counts and error class
names only, so no key can.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

from .._exceptions import ConfigurationError

if TYPE_CHECKING:
    from typing_extensions import Self  # typing.Self from Python 3.11

    from .._results import Attempt, Response, StreamChunk

__all__ = ["RequestSpan", "Tracing", "otlp_settings"]

SERVICE_NAME_DEFAULT = "trinity-hybrid-gateway"
TIMEOUT_MS_DEFAULT = 10_000
PROTOCOL = "http/protobuf"
MISSING_EXTRA = "pip install 'trinity-hybrid[otel]'"

ModelOf = Callable[[str], "str | None"]


class RequestSpan(Protocol):
    """One request's span; see the module docstring for when each method is called."""

    @property
    def trace_id(self) -> str | None: ...  # 32 hex digits, None when off

    def requested(self, model: str, *, stream: bool | None = None) -> None: ...

    def upstream(self) -> None: ...

    def answered(self, result: Response | StreamChunk, model: str, *, models: ModelOf | None = None) -> None: ...

    def failed(
        self, attempts: Iterable[Attempt], error_type: str, status: int, *, models: ModelOf | None = None
    ) -> None: ...

    def status(self, code: int) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None: ...


class _NoSpan:
    """Tracing off: one shared object whose every method does nothing."""

    __slots__ = ()
    trace_id = None

    def requested(self, model: str, *, stream: bool | None = None) -> None:
        pass

    def upstream(self) -> None:
        pass

    def answered(self, result: Response | StreamChunk, model: str, *, models: ModelOf | None = None) -> None:
        pass

    def failed(
        self, attempts: Iterable[Attempt], error_type: str, status: int, *, models: ModelOf | None = None
    ) -> None:
        pass

    def status(self, code: int) -> None:
        pass

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        pass


_NO_SPAN = _NoSpan()


class Tracing:
    """Off (``Tracing.OFF``, no exporter) or exporting to an OTLP/HTTP endpoint."""

    OFF: Tracing

    def __init__(self, backend: Any = None) -> None:
        self._backend = backend  # a _tracing_otel.OtelTracing, or None when off

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Tracing:
        """On when an OTLP endpoint is set; raises ``ConfigurationError`` for a bad setting or
        when the ``otel`` extra is missing."""
        settings = otlp_settings(environ)
        if settings is None:
            return cls.OFF
        try:
            from . import _tracing_otel
        except ImportError as error:
            raise ConfigurationError(
                f"an OTLP endpoint is set but OpenTelemetry is not installed ({error.name}): {MISSING_EXTRA}"
            ) from None
        return cls(_tracing_otel.OtelTracing(**settings))

    @property
    def enabled(self) -> bool:
        return self._backend is not None

    def request(
        self,
        method: str,
        path: str,
        model: str | None = None,
        *,
        operation: str = "chat",
        stream: bool | None = None,
        request_id: str | None = None,
        traceparent: bytes | None = None,
        tracestate: bytes | None = None,
    ) -> RequestSpan:
        """The request's span, to be used as a context manager; a continuation of the caller's
        trace when ``traceparent`` (W3C Trace Context) is given and valid. ``model`` may be
        left out and given later (``span.requested``), once the body is parsed."""
        if self._backend is None:
            return _NO_SPAN
        return self._backend.request(  # type: ignore[no-any-return]
            method, path, model, operation=operation, stream=stream, request_id=request_id,
            traceparent=traceparent, tracestate=tracestate,
        )  # fmt: skip

    def close(self, timeout_s: float = 10.0) -> None:
        """Exports the spans still queued, then stops the exporter."""
        if self._backend is not None:
            self._backend.close(timeout_s)

    def __repr__(self) -> str:  # the headers may hold the collector's token: never shown
        return f"Tracing({'on' if self.enabled else 'off'})"


Tracing.OFF = Tracing()


def otlp_settings(environ: Mapping[str, str]) -> dict[str, Any] | None:
    """The exporter's settings from OpenTelemetry's variables, or None when tracing is off."""
    if _get(environ, "OTEL_SDK_DISABLED").lower() == "true" or _get(environ, "OTEL_TRACES_EXPORTER").lower() == "none":
        return None
    traces = _get(environ, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    base = _get(environ, "OTEL_EXPORTER_OTLP_ENDPOINT")
    if traces:
        endpoint, variable = traces, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
    elif base:
        endpoint, variable = base.rstrip("/") + "/v1/traces", "OTEL_EXPORTER_OTLP_ENDPOINT"
    else:
        return None
    parts = urllib.parse.urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigurationError(f"{variable}={endpoint!r}: expected an http:// or https:// URL")
    protocol_variable, protocol = _first(environ, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL")
    if protocol and protocol != PROTOCOL:
        raise ConfigurationError(f"{protocol_variable}={protocol!r}: the gateway exports {PROTOCOL} only")
    headers_variable, headers = _first(environ, "OTEL_EXPORTER_OTLP_TRACES_HEADERS", "OTEL_EXPORTER_OTLP_HEADERS")
    timeout_variable, timeout = _first(environ, "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT")
    if timeout and not (timeout.isdigit() and 0 < int(timeout) <= 600_000):
        raise ConfigurationError(f"{timeout_variable}={timeout!r}: expected milliseconds, 1 to 600000")
    return {
        "endpoint": endpoint,
        "headers": _headers(headers_variable, headers),
        "timeout_s": int(timeout or TIMEOUT_MS_DEFAULT) / 1000,
        "service_name": _get(environ, "OTEL_SERVICE_NAME") or SERVICE_NAME_DEFAULT,
    }


def _get(environ: Mapping[str, str], name: str) -> str:
    return environ.get(name, "").strip()


def _first(environ: Mapping[str, str], *names: str) -> tuple[str, str]:
    for name in names:
        value = _get(environ, name)
        if value:
            return name, value
    return names[-1], ""


def _headers(variable: str, value: str) -> dict[str, str]:
    """``key1=value1,key2=value2``, URL-encoded (the OTLP exporter specification's format). A
    malformed entry is named by its key only: a header's value is often a token."""
    headers: dict[str, str] = {}
    for entry in filter(None, (part.strip() for part in value.split(","))):
        key, separator, item = entry.partition("=")
        if not separator or not key.strip():
            raise ConfigurationError(f"{variable}: expected key=value pairs, got an entry without '=' or key")
        headers[urllib.parse.unquote(key.strip()).lower()] = urllib.parse.unquote(item.strip())
    return headers
