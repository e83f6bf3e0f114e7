"""What the gateway writes down about each request: its ``x-request-id``, its request log record
(``_request_log``) and its trace span (``_tracing``), wired as those modules' docstrings say.

``Gateway.__call__`` opens an ``Exchange`` for every HTTP request (the id, echoed on every
answer by ``Exchange.send``), and one with a span and a record for the endpoints that are logged
(chat completions, ``/v1/messages``, embeddings). The handlers tell it what they learn
(``requested``, ``upstream``, ``answered``, ``failed``); ``__call__`` closes it with the status
sent, which submits the record. Everything here is a few attribute writes per request; the
record's document and the sinks' writes happen on the log's own threads.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from ._asgi import header
from ._request_log import REQUEST_ID_HEADER, RequestLog, RequestRecord, request_id_of
from ._tracing import Tracing

if TYPE_CHECKING:
    from .._node import TrinityHybridNode
    from ._tracing import RequestSpan

__all__ = ["EXCHANGE", "Exchange", "Observer"]

EXCHANGE = "trinity.exchange"  # the scope's key under which handlers find their request's Exchange
Send = Callable[[dict[str, Any]], Awaitable[None]]


class Exchange:
    """One request as it is observed: filled in by the handler, submitted once by ``close``."""

    # What every request starts with, as class attributes rather than slots: a request that is
    # neither logged nor traced (no sink, no exporter: the default) sets only what it must.
    model_requested: str | None = None
    stream = False
    provider: str | None = None
    model: str | None = None
    error_type: str | None = None  # a stream's error after its 200 was sent
    outcome = "success"
    cache_hit: bool | None = None
    tokens_input: int | None = None
    tokens_output: int | None = None
    cost_usd = 0.0
    attempts: tuple[Any, ...] = ()
    time_s = 0.0  # time.time() when the request came in, for its record
    started_s = 0.0
    # A virtual key's name (never its secret) and its admitted request's ``_admission.Ticket``.
    key_name: str | None = None
    ticket: Any = None

    def __init__(self, send: Send, request_id: str, endpoint: str | None, log: RequestLog | None,
                 span: RequestSpan | None, models: Callable[[str], str | None]) -> None:  # fmt: skip
        self._send = send
        self.request_id = request_id
        self.header = (REQUEST_ID_HEADER, request_id.encode("ascii"))
        self.endpoint = endpoint
        self.log = log
        self.span = span
        self.models = models
        if log is not None:
            self.time_s = time.time()
            self.started_s = time.perf_counter()

    def send(self, message: dict[str, Any]) -> Awaitable[None]:
        """The ASGI send, with ``x-request-id`` added to the response's headers. (A function
        that returns the server's awaitable, not a coroutine around it: a frame less per send.)"""
        if message["type"] == "http.response.start":
            message["headers"] = [*message["headers"], self.header]
            if self.ticket is not None and not self.ticket.answered:
                self.ticket.streaming = message["status"] == 200  # a stream's answer comes later
        return self._send(message)

    def requested(self, model: str, *, stream: bool = False) -> None:
        self.model_requested, self.stream = model, stream
        if self.span is not None:
            self.span.requested(model, stream=stream)

    def upstream(self) -> None:
        if self.span is not None:
            self.span.upstream()

    def answered(self, result: Any, model: str, *, cache_hit: bool | None = None, traced: bool = True) -> None:
        """A whole answer, a stream's last chunk or an embeddings answer (``traced=False``: its
        result has no finish reasons for the span)."""
        if self.ticket is not None:
            self.ticket.spent(result)
        if self.log is None and self.span is None:
            return  # nothing would read what follows
        self.provider, self.model, self.cache_hit = result.provider, model, cache_hit
        self.attempts, self.cost_usd = tuple(result.attempts), result.cost_usd
        usage = result.usage
        if usage is not None:
            self.tokens_input, self.tokens_output = usage.prompt_tokens, usage.completion_tokens
        if self.span is not None and traced:
            self.span.answered(result, model, models=self.models)

    def failed(self, attempts: Any) -> None:
        """No answer came (or a stream broke off): the attempts the call made."""
        self.attempts = tuple(attempts)

    def close(self, status: int, outcome: str | None = None, error_type: str | None = None) -> None:
        """The request's end: ``outcome`` and ``error_type`` None for what the handler said."""
        # The server's send holds its request cycle, which holds the scope, which holds this
        # exchange (``scope[EXCHANGE]``): let go of it, so that the request's objects are freed by
        # reference counting when it ends rather than left to the cyclic collector.
        self._send = _closed
        error_type = error_type or self.error_type
        span = self.span
        if span is not None:
            if error_type is not None and status >= 500:
                span.failed(self.attempts, error_type, status, models=self.models)
            span.status(status)
        if self.log is None:
            return
        self.log.submit(
            RequestRecord(
                request_id=self.request_id, time_s=self.time_s, endpoint=self.endpoint or "other", status=status,
                outcome=outcome or self.outcome, latency_ms=(time.perf_counter() - self.started_s) * 1000,
                model_requested=self.model_requested, provider=self.provider, model=self.model,
                error_type=error_type, stream=self.stream, cache_hit=self.cache_hit,
                tokens_input=self.tokens_input, tokens_output=self.tokens_output, cost_usd=self.cost_usd,
                attempts=self.attempts, trace_id=None if span is None else span.trace_id, key_name=self.key_name,
            )
        )  # fmt: skip


async def _closed(message: dict[str, Any]) -> None:
    raise RuntimeError("the request's exchange is closed: nothing more can be sent")


class Observer:
    """The gateway's request log and tracing, from the environment and ``TRINITY_CONFIG``."""

    def __init__(self, log: RequestLog, tracing: Tracing, node: TrinityHybridNode) -> None:
        self.log = log
        # No sink (every one switched off): no record is built at all.
        self._records = log if log.sinks else None
        self.tracing = tracing
        self._node = node

    @classmethod
    def from_env(cls, environ: Any, document: dict[str, Any], node: TrinityHybridNode) -> Observer:
        secrets = [key.reveal() for provider in node.status()["providers"] if (key := node.key(provider)) is not None]
        log = RequestLog.from_env(environ, config=document.get("request_log"), secrets=secrets)
        return cls(log, Tracing.from_env(environ), node)

    def model_of(self, provider: str) -> str | None:
        try:
            return self._node.provider_info(provider)["model"]  # type: ignore[no-any-return]
        except Exception:  # noqa: BLE001 - a span without a model rather than no span
            return None

    def open(self, send: Send, request_id_header: bytes | None, method: str, path: str, endpoint: str | None,
             scope: Any) -> tuple[Exchange, Any]:  # fmt: skip
        """The request's Exchange, and its span as a context manager for the caller to enter
        (for an endpoint not logged, a shared no-op)."""
        request_id = request_id_of(request_id_header)
        if endpoint is None:
            return Exchange(send, request_id, None, None, None, self.model_of), _NO_CONTEXT
        if not self.tracing.enabled:
            return Exchange(send, request_id, endpoint, self._records, None, self.model_of), _NO_CONTEXT
        operation = "embeddings" if endpoint == "embeddings" else "chat"
        context = self.tracing.request(method, path, operation=operation, request_id=request_id,
                                       traceparent=header(scope, b"traceparent"),
                                       tracestate=header(scope, b"tracestate"))  # fmt: skip
        return Exchange(send, request_id, endpoint, self._records, context, self.model_of), context

    def close(self) -> None:
        self.log.close()
        self.tracing.close()


class _NoContext:
    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(self, *_: object) -> None:
        return None


_NO_CONTEXT = _NoContext()
