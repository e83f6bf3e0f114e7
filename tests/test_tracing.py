"""OpenTelemetry traces (gateway/_tracing): exported over OTLP/HTTP to a real receiver on
127.0.0.1 (aiohttp, decoding opentelemetry-proto's ExportTraceServiceRequest), checked span by
span; and off when no endpoint is set: nothing of OpenTelemetry imported, nothing sent."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk", reason="the otel extra is not installed")
pytest.importorskip("opentelemetry.proto", reason="opentelemetry-proto is not installed")

from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status
from otlp_receiver import OtlpReceiver, attributes
from trinity_hybrid._exceptions import ConfigurationError
from trinity_hybrid._results import Attempt, Response, StreamChunk
from trinity_hybrid.gateway._tracing import Tracing, otlp_settings
from trinity_hybrid.providers._types import Choice, Usage

PROVIDER_KEY = "sk-proj-Zq8uV1xW3yT5rE7wQ9aS2dF4gH6jK8lL0pO"
MODELS = {"openai": "gpt-4o-mini", "groq": "llama-3.3-70b-versatile", "anthropic": "claude-sonnet-4"}


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    server = OtlpReceiver()
    server.start()
    yield server
    server.stop()


def response(attempts: tuple[Attempt, ...], **fields: Any) -> Response:
    values: dict[str, Any] = {
        "text": "hi", "provider": "groq", "model": "llama-3.3-70b-versatile", "usage": Usage(11, 7),
        "latency_s": 0.4, "cost_usd": 0.0001, "attempts": attempts, "route": None, "finish_reason": "stop",
        "choices": (Choice("hi", "stop"), Choice("ho", "length")), **fields,
    }  # fmt: skip
    return Response(**values)


def tracing_to(receiver: OtlpReceiver, **extra: str) -> Tracing:
    environ = {"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{receiver.port}", **extra}
    tracing = Tracing.from_env(environ)
    assert tracing.enabled
    return tracing


def test_a_fallback_is_one_server_span_with_a_child_per_attempt(receiver: OtlpReceiver) -> None:
    tracing = tracing_to(
        receiver, OTEL_EXPORTER_OTLP_HEADERS="authorization=Bearer%20collector-token", OTEL_SERVICE_NAME="gw-test"
    )
    attempts = (
        Attempt("openai", "failure", f"429 rate limited for key {PROVIDER_KEY}", "RateLimitError", 0.05, 429),
        Attempt("groq", "success", latency_s=0.2, status_code=200),
    )
    with tracing.request("POST", "/v1/chat/completions", "auto", stream=False, request_id="req-1") as span:
        span.upstream()
        time.sleep(0.3)  # longer than the attempts took together: none is cut short at "now"
        span.answered(response(attempts), "groq/llama-3.3-70b-versatile", models=MODELS.get)
        span.status(200)
        trace_id = span.trace_id
    tracing.close()

    assert receiver.headers[0]["authorization"] == "Bearer collector-token"
    assert receiver.headers[0]["content-type"] == "application/x-protobuf"
    resource = attributes(receiver.requests[0].resource_spans[0].resource)
    assert resource["service.name"] == "gw-test"
    spans = receiver.spans
    assert len(spans) == 3
    (root,) = [span for span in spans if span.kind == Span.SPAN_KIND_SERVER]
    children = sorted(
        (span for span in spans if span.kind == Span.SPAN_KIND_CLIENT), key=lambda s: s.start_time_unix_nano
    )
    assert root.name == "chat auto"
    assert root.trace_id.hex() == trace_id
    assert root.parent_span_id == b""
    assert root.status.code != Status.STATUS_CODE_ERROR
    assert attributes(root) == {
        "http.request.method": "POST", "url.path": "/v1/chat/completions", "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "auto", "gen_ai.request.stream": False, "trinity.request_id": "req-1",
        "gen_ai.provider.name": "groq", "trinity.provider": "groq",
        "gen_ai.response.model": "groq/llama-3.3-70b-versatile", "gen_ai.response.finish_reasons": ["stop", "length"],
        "gen_ai.usage.input_tokens": 11, "gen_ai.usage.output_tokens": 7, "trinity.cost_usd": 0.0001,
        "trinity.cache_hit": False, "http.response.status_code": 200,
    }  # fmt: skip

    failed, answered = children
    for child in children:
        assert child.trace_id == root.trace_id
        assert child.parent_span_id == root.span_id
        assert root.start_time_unix_nano <= child.start_time_unix_nano <= child.end_time_unix_nano
        assert child.end_time_unix_nano <= root.end_time_unix_nano
    # Laid end to end from span.upstream(), each as long as its attempt took.
    assert failed.end_time_unix_nano == answered.start_time_unix_nano
    assert failed.end_time_unix_nano - failed.start_time_unix_nano == 50_000_000
    assert answered.end_time_unix_nano - answered.start_time_unix_nano == 200_000_000
    assert failed.name == "chat gpt-4o-mini"
    assert failed.status.code == Status.STATUS_CODE_ERROR
    assert attributes(failed) == {
        "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.system": "openai",
        "trinity.provider": "openai", "trinity.attempt.outcome": "failure", "gen_ai.request.model": "gpt-4o-mini",
        "http.response.status_code": 429, "error.type": "RateLimitError",
    }  # fmt: skip
    assert answered.name == "chat llama-3.3-70b-versatile"
    assert answered.status.code != Status.STATUS_CODE_ERROR
    assert attributes(answered) == {
        "gen_ai.operation.name": "chat", "gen_ai.provider.name": "groq", "gen_ai.system": "groq",
        "trinity.provider": "groq", "trinity.attempt.outcome": "success",
        "gen_ai.request.model": "llama-3.3-70b-versatile", "http.response.status_code": 200,
        "gen_ai.response.model": "llama-3.3-70b-versatile", "gen_ai.usage.input_tokens": 11,
        "gen_ai.usage.output_tokens": 7, "gen_ai.response.finish_reasons": ["stop", "length"],
    }  # fmt: skip
    # No free text enters a span: the key in the attempt's error text was never sent.
    assert all(PROVIDER_KEY.encode() not in body and PROVIDER_KEY[:12].encode() not in body for body in receiver.raw)


def test_a_failed_request_is_an_error_span_with_failed_children(receiver: OtlpReceiver) -> None:
    tracing = tracing_to(receiver)
    attempts = (
        Attempt("anthropic", "failure", "overloaded", "TransientError", 0.1, 529),
        Attempt("openai", "skipped", "breaker open", None, 0.0, None),
    )
    with tracing.request("POST", "/v1/messages") as span:
        span.requested("anthropic/claude-sonnet-4", stream=True)
        span.failed(attempts, "AllProvidersFailed", 502, models=MODELS.get)
    tracing.close()
    (root,) = [span for span in receiver.spans if span.kind == Span.SPAN_KIND_SERVER]
    assert root.name == "chat anthropic/claude-sonnet-4"
    assert attributes(root)["gen_ai.request.model"] == "anthropic/claude-sonnet-4"
    assert attributes(root)["gen_ai.request.stream"] is True
    assert root.status.code == Status.STATUS_CODE_ERROR
    assert attributes(root)["error.type"] == "AllProvidersFailed"
    assert attributes(root)["http.response.status_code"] == 502
    children = {attributes(span)["trinity.provider"]: span for span in receiver.spans if span.parent_span_id}
    assert children["anthropic"].status.code == Status.STATUS_CODE_ERROR
    assert attributes(children["anthropic"])["error.type"] == "TransientError"
    assert children["openai"].status.code != Status.STATUS_CODE_ERROR
    assert attributes(children["openai"])["trinity.attempt.outcome"] == "skipped"
    assert "error.type" not in attributes(children["openai"])


def test_a_stream_a_callers_trace_and_an_escaping_exception(receiver: OtlpReceiver) -> None:
    tracing = tracing_to(receiver)
    caller_trace, caller_span = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    last = StreamChunk("", "groq", usage=Usage(5, 9), finish_reason="stop", done=True, cost_usd=0.0,
                       attempts=(Attempt("groq", "success", latency_s=0.3, status_code=200),))  # fmt: skip
    with tracing.request(
        "POST", "/v1/chat/completions", "fast", stream=True, traceparent=f"00-{caller_trace}-{caller_span}-01".encode()
    ) as span:
        span.answered(last, "groq/llama-3.3-70b-versatile")
        span.status(200)
    with pytest.raises(KeyError), tracing.request("POST", "/v1/chat/completions", "auto"):
        raise KeyError(f"secret text {PROVIDER_KEY}")
    tracing.close()

    roots = {span.name: span for span in receiver.spans if span.kind == Span.SPAN_KIND_SERVER}
    streamed = roots["chat fast"]
    assert streamed.trace_id.hex() == caller_trace
    assert streamed.parent_span_id.hex() == caller_span
    assert attributes(streamed)["gen_ai.usage.output_tokens"] == 9
    assert attributes(streamed)["gen_ai.response.finish_reasons"] == ["stop"]
    (child,) = [span for span in receiver.spans if span.parent_span_id == streamed.span_id]
    assert attributes(child)["gen_ai.response.model"] == "groq/llama-3.3-70b-versatile"
    broken = roots["chat auto"]
    assert broken.status.code == Status.STATUS_CODE_ERROR
    assert attributes(broken)["error.type"] == "KeyError"
    assert all(PROVIDER_KEY[:12].encode() not in body for body in receiver.raw)


def test_a_4xx_is_not_the_server_spans_error_a_5xx_is(receiver: OtlpReceiver) -> None:
    tracing = tracing_to(receiver)
    with tracing.request("POST", "/v1/chat/completions", "no-such-model") as span:
        span.status(404)
    with tracing.request("POST", "/v1/chat/completions", "auto") as span:
        span.status(503)
    tracing.close()
    spans = {span.name: span for span in receiver.spans}
    assert spans["chat no-such-model"].status.code == Status.STATUS_CODE_UNSET
    assert "error.type" not in attributes(spans["chat no-such-model"])
    assert spans["chat auto"].status.code == Status.STATUS_CODE_ERROR
    assert attributes(spans["chat auto"])["error.type"] == "503"


def test_off_when_no_endpoint_sends_nothing(receiver: OtlpReceiver) -> None:
    for environ in (
        {},
        {"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{receiver.port}"},
        {"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{receiver.port}"},
    ):
        tracing = Tracing.from_env(environ)
        assert tracing is Tracing.OFF
        with tracing.request("POST", "/v1/chat/completions") as span:
            span.requested("auto", stream=False)
            span.upstream()
            span.answered(response((Attempt("groq", "success"),)), "groq/m")
            span.failed((Attempt("groq", "failure"),), "AllProvidersFailed", 502)
            span.status(200)
            assert span.trace_id is None
        tracing.close()
    assert receiver.requests == []


OFF_PROBE = """
import json, sys, time
started = time.perf_counter()
from trinity_hybrid.gateway import _request_log, _tracing
tracing = _tracing.Tracing.from_env({"OTEL_SERVICE_NAME": "x"})
with tracing.request("POST", "/v1/chat/completions", "auto") as span:
    span.status(200)
print(json.dumps({"enabled": tracing.enabled,
                  "otel": sorted(m for m in sys.modules if m.split(".")[0] == "opentelemetry")}))
"""


def test_off_imports_nothing_of_opentelemetry() -> None:
    environ = {name: value for name, value in os.environ.items() if not name.startswith("OTEL_")}
    completed = subprocess.run(
        [sys.executable, "-c", OFF_PROBE], capture_output=True, text=True, timeout=120, env=environ, check=True
    )
    found = json.loads(completed.stdout.splitlines()[-1])
    assert found == {"enabled": False, "otel": []}


def test_the_endpoint_comes_from_the_standard_variables() -> None:
    assert otlp_settings({}) is None
    base = otlp_settings({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/"})
    assert base is not None and base["endpoint"] == "http://collector:4318/v1/traces"
    assert base["timeout_s"] == 10.0 and base["service_name"] == "trinity-hybrid-gateway"
    traces = otlp_settings({
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://traces.example.invalid/custom/path",
        "OTEL_EXPORTER_OTLP_TIMEOUT": "2500",
        "OTEL_EXPORTER_OTLP_HEADERS": "x-a=1, X-Token=a%3Db",
    })  # fmt: skip
    assert traces is not None
    assert traces["endpoint"] == "https://traces.example.invalid/custom/path"
    assert traces["timeout_s"] == 2.5
    assert traces["headers"] == {"x-a": "1", "x-token": "a=b"}


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4318"}, "OTEL_EXPORTER_OTLP_ENDPOINT"),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "ftp://x/v1/traces"}, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, "PROTOCOL"),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_EXPORTER_OTLP_TIMEOUT": "soon"}, "TIMEOUT"),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_EXPORTER_OTLP_HEADERS": "tok3n"}, "HEADERS"),
    ],
)
def test_a_bad_setting_is_named(environ: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigurationError, match=named) as raised:
        Tracing.from_env(environ)
    assert "tok3n" not in str(raised.value)


def test_a_missing_extra_is_one_line_naming_its_pip_command(monkeypatch: pytest.MonkeyPatch) -> None:
    import trinity_hybrid.gateway

    monkeypatch.delitem(sys.modules, "trinity_hybrid.gateway._tracing_otel", raising=False)
    monkeypatch.delattr(trinity_hybrid.gateway, "_tracing_otel", raising=False)
    monkeypatch.setitem(sys.modules, "opentelemetry", None)
    with pytest.raises(ConfigurationError, match=r"pip install 'trinity-hybrid\[otel\]'"):
        Tracing.from_env({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"})
