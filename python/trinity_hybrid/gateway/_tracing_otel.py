"""The OpenTelemetry side of ``_tracing``: imported only when tracing is on (the ``otel`` extra).

A provider of its own (not the global one), so the gateway's spans go to the configured
endpoint whatever else the process sets up; spans are exported in batches off the request's
path by the SDK's BatchSpanProcessor. Attribute names follow the GenAI semantic conventions
(``gen_ai.*``, opentelemetry-semantic-conventions 0.66b) and the HTTP server span's stable ones.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

if TYPE_CHECKING:
    from typing_extensions import Self  # typing.Self from Python 3.11

    from .._results import Attempt, Response, StreamChunk

__all__ = ["PROVIDER_NAMES", "OtelTracing"]

# A provider's model name (``_tracing.ModelOf``; not imported from there: that module imports this one).
ModelOf = Callable[[str], "str | None"]

# Our provider names -> the GenAI conventions' well-known gen_ai.provider.name values; others
# are given as they are.
PROVIDER_NAMES = {
    "openai": "openai", "anthropic": "anthropic", "google": "gcp.gemini", "groq": "groq", "deepseek": "deepseek",
    "cohere": "cohere", "mistral": "mistral_ai",
}  # fmt: skip
MODEL_CHARS_MAX = 128  # a client's model string is bounded before it names a span


class OtelTracing:
    def __init__(self, endpoint: str, headers: dict[str, str], timeout_s: float, service_name: str) -> None:
        # Closed by the app (``close``), within its time: not again at exit, where the SDK's own
        # hook would wait out the exporter's retries against a collector that is down.
        self._provider = TracerProvider(
            resource=Resource.create({"service.name": service_name}), shutdown_on_exit=False
        )
        exporter = OTLPSpanExporter(endpoint=endpoint, headers=headers, timeout=timeout_s)
        self._provider.add_span_processor(BatchSpanProcessor(exporter))
        self._tracer = self._provider.get_tracer("trinity_hybrid.gateway")
        self._propagator = TraceContextTextMapPropagator()

    def request(
        self,
        method: str,
        path: str,
        model: str | None,
        *,
        operation: str,
        stream: bool | None,
        request_id: str | None,
        traceparent: bytes | None,
        tracestate: bytes | None,
    ) -> _OtelRequestSpan:
        parent = None
        if traceparent is not None:
            carrier = {"traceparent": traceparent.decode("latin-1")}
            if tracestate is not None:
                carrier["tracestate"] = tracestate.decode("latin-1")
            parent = self._propagator.extract(carrier)
        model = model[:MODEL_CHARS_MAX] if model else None
        attributes: dict[str, Any] = {
            "http.request.method": method,
            "url.path": path,
            "gen_ai.operation.name": operation,
        }
        if model:
            attributes["gen_ai.request.model"] = model
        if stream is not None:
            attributes["gen_ai.request.stream"] = stream
        if request_id is not None:
            attributes["trinity.request_id"] = request_id
        span = self._tracer.start_span(
            f"{operation} {model}" if model else operation, context=parent, kind=SpanKind.SERVER,
            attributes=attributes, record_exception=False, set_status_on_exception=False,
        )  # fmt: skip
        return _OtelRequestSpan(self._tracer, span, operation)

    def close(self, timeout_s: float) -> None:
        """Exports what is queued and stops, waiting ``timeout_s`` at most: the SDK's flush
        (1.45) ignores its own timeout and exports in the caller's thread, retrying for the
        exporter's timeout against a collector that is down, so both run on a thread of their own."""

        def flush_and_stop() -> None:
            self._provider.force_flush(int(timeout_s * 1000))
            self._provider.shutdown()

        closer = threading.Thread(target=flush_and_stop, name="trinity-otel-close", daemon=True)
        closer.start()
        closer.join(timeout_s)


class _OtelRequestSpan:
    def __init__(self, tracer: trace.Tracer, span: trace.Span, operation: str) -> None:
        self._tracer = tracer
        self._span = span
        self._operation = operation
        self._failed = False
        self._attempts_from_ns: int | None = None

    @property
    def trace_id(self) -> str | None:
        return f"{self._span.get_span_context().trace_id:032x}"

    def requested(self, model: str, *, stream: bool | None = None) -> None:
        model = model[:MODEL_CHARS_MAX]
        self._span.update_name(f"{self._operation} {model}")
        self._span.set_attribute("gen_ai.request.model", model)
        if stream is not None:
            self._span.set_attribute("gen_ai.request.stream", stream)

    def upstream(self) -> None:
        self._attempts_from_ns = time.time_ns()

    def answered(self, result: Response | StreamChunk, model: str, *, models: ModelOf | None = None) -> None:
        provider = result.provider
        reasons = _finish_reasons(result)
        attributes: dict[str, Any] = {
            "gen_ai.provider.name": PROVIDER_NAMES.get(provider, provider),
            "trinity.provider": provider,
            "gen_ai.response.model": model,
            "trinity.cost_usd": result.cost_usd,
            "trinity.cache_hit": getattr(result, "cached", False),
        }
        if reasons:
            attributes["gen_ai.response.finish_reasons"] = reasons
        if result.usage is not None:
            attributes["gen_ai.usage.input_tokens"] = result.usage.prompt_tokens
            attributes["gen_ai.usage.output_tokens"] = result.usage.completion_tokens
        self._span.set_attributes(attributes)  # one call: each takes the span's lock
        self._children(result.attempts, models, answered=(result, model, reasons))

    def failed(
        self, attempts: Iterable[Attempt], error_type: str, status: int, *, models: ModelOf | None = None
    ) -> None:
        self._children(attempts, models, answered=None)
        self._fail(error_type)
        self.status(status)

    def status(self, code: int) -> None:
        self._span.set_attribute("http.response.status_code", code)
        if code >= 500 and not self._failed:
            self._fail(str(code))

    def _fail(self, error_type: str) -> None:
        self._failed = True
        self._span.set_attribute("error.type", error_type)
        self._span.set_status(Status(StatusCode.ERROR))

    def _children(self, attempts: Iterable[Attempt], models: ModelOf | None, answered: Any) -> None:
        context = trace.set_span_in_context(self._span)
        now_ns = time.time_ns()
        cursor_ns = self._attempts_from_ns or self._span.start_time or now_ns  # type: ignore[attr-defined]
        for attempt in attempts:
            end_ns = min(now_ns, cursor_ns + round(attempt.latency_s * 1e9))
            provider = attempt.provider
            model = models(provider) if models is not None else None
            attributes: dict[str, Any] = {
                "gen_ai.operation.name": self._operation,
                "gen_ai.provider.name": PROVIDER_NAMES.get(provider, provider),
                "gen_ai.system": PROVIDER_NAMES.get(provider, provider),  # before semconv 1.37
                "trinity.provider": provider,
                "trinity.attempt.outcome": attempt.outcome,
            }
            if model:
                attributes["gen_ai.request.model"] = model
            if attempt.status_code is not None:
                attributes["http.response.status_code"] = attempt.status_code
            if attempt.outcome == "failure":
                attributes["error.type"] = attempt.error_type or "failure"
            if attempt.outcome == "success" and answered is not None:
                result, response_model, reasons = answered
                attributes["gen_ai.response.model"] = model or response_model
                if result.usage is not None:
                    attributes["gen_ai.usage.input_tokens"] = result.usage.prompt_tokens
                    attributes["gen_ai.usage.output_tokens"] = result.usage.completion_tokens
                if reasons:
                    attributes["gen_ai.response.finish_reasons"] = reasons
            child = self._tracer.start_span(
                f"{self._operation} {model or provider}", context=context, kind=SpanKind.CLIENT,
                attributes=attributes, start_time=cursor_ns, record_exception=False,
                set_status_on_exception=False,
            )  # fmt: skip
            if attempt.outcome == "failure":
                child.set_status(Status(StatusCode.ERROR))
            child.end(end_time=end_ns)
            cursor_ns = end_ns

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if kind is not None and not self._failed:
            self._fail(kind.__name__)  # the class only: an exception's text may quote anything
        self._span.end()


def _finish_reasons(result: Response | StreamChunk) -> list[str]:
    choices = getattr(result, "choices", ())
    reasons = [choice.finish_reason for choice in choices if getattr(choice, "finish_reason", None)]
    if not reasons and result.finish_reason:
        reasons = [result.finish_reason]
    return reasons
