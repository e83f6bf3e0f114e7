"""The request log and the traces fed with what the real planner returns: a node over loopback
provider servers falls back from a failing provider (one that rejects the key, one that answers
503), whole and streamed, and each answer goes to an SQLite request log and to a real OTLP/HTTP
receiver the way the gateway will hand it over (see the docstrings of gateway/_request_log and
gateway/_tracing). No key sent to or configured for a provider reaches either."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("opentelemetry.sdk", reason="the otel extra is not installed")
pytest.importorskip("opentelemetry.proto", reason="opentelemetry-proto is not installed")

from loopback import AnthropicServer, Fault, OpenAIServer
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status
from otlp_receiver import OtlpReceiver, attributes
from trinity_hybrid import TrinityHybridNode
from trinity_hybrid.gateway._log_sinks import TABLE
from trinity_hybrid.gateway._request_log import RequestLog, RequestRecord, request_id_of
from trinity_hybrid.gateway._tracing import Tracing

GROQ_KEY = "gsk_loopbackGroqKey0123456789abcdefXYZ"  # the key the server expects
WRONG_KEY = "sk-wrong-key-sent-upstream-0123456789abcdef"  # the key the node sends instead
OPENAI_KEY = "sk-loopback-openai-key-0123456789abcdef"
ANTHROPIC_KEY = "sk-ant-loopback-key-0123456789abcdef"


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    server = OtlpReceiver()
    server.start()
    yield server
    server.stop()


def test_a_fallback_through_real_providers_is_logged_and_traced(tmp_path: Path, receiver: OtlpReceiver) -> None:
    environ = {
        "GROQ_API_KEY": WRONG_KEY, "OPENAI_API_KEY": OPENAI_KEY, "ANTHROPIC_API_KEY": ANTHROPIC_KEY,
        "TRINITY_REQUEST_LOG_SQLITE": str(tmp_path / "requests.db"), "TRINITY_REQUEST_LOG_STDOUT": "0",
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{receiver.port}",
        "TRINITY_RETRIES": "0",  # one 503 shows the fallback; same-provider retries: test_retries.py
    }  # fmt: skip
    with (
        OpenAIServer(api_key=GROQ_KEY) as groq,
        OpenAIServer(api_key=OPENAI_KEY) as openai,
        AnthropicServer(api_key=ANTHROPIC_KEY) as anthropic,
    ):
        environ |= {"GROQ_BASE_URL": groq.base_url, "OPENAI_BASE_URL": openai.base_url,
                    "ANTHROPIC_BASE_URL": anthropic.base_url}  # fmt: skip
        node = TrinityHybridNode.from_env(environ)
        node.set_unavailable("local")
        secrets = [key.reveal() for provider in node.status()["providers"] if (key := node.key(provider))]
        log = RequestLog.from_env(environ, secrets=secrets)
        tracing = Tracing.from_env(environ)
        model_of = lambda provider: node.provider_info(provider)["model"]

        def serve(request_id: str, *, stream: bool) -> None:
            """What the gateway does around one chat request."""
            arrived_s, started_s = time.time(), time.perf_counter()
            with tracing.request("POST", "/v1/chat/completions", "auto", stream=stream, request_id=request_id) as span:
                span.upstream()
                if stream:
                    result = list(node.infer("Hello there, how are you?", stream=True))[-1]
                else:
                    result = node.infer("Hello there, how are you?")
                model = f"{result.provider}/{model_of(result.provider)}"
                span.answered(result, model, models=model_of)
                span.status(200)
            assert result.usage is not None
            log.submit(
                RequestRecord(
                    request_id=request_id,
                    time_s=arrived_s,
                    endpoint="chat",
                    status=200,
                    outcome="success",
                    latency_ms=(time.perf_counter() - started_s) * 1000,
                    key_name="team-a",
                    model_requested="auto",
                    provider=result.provider,
                    model=model,
                    stream=stream,
                    tokens_input=result.usage.prompt_tokens,
                    tokens_output=result.usage.completion_tokens,
                    cost_usd=result.cost_usd,
                    attempts=result.attempts,
                    trace_id=span.trace_id,
                )
            )

        openai.faults.push(Fault.status(503))
        serve("whole-1", stream=False)
        openai.faults.push(Fault.status(503))
        serve(request_id_of(b"not a sane id"), stream=True)
        assert log.close()
        tracing.close()
        node.close()

    rows = (
        sqlite3.connect(tmp_path / "requests.db")
        .execute(f"SELECT request_id, provider, stream, attempts, tokens_input, tokens_output, trace_id FROM {TABLE}")
        .fetchall()
    )
    assert len(rows) == 2
    assert rows[0][0] == "whole-1" and len(rows[1][0]) == 32
    spans = receiver.spans
    roots = sorted((span for span in spans if span.kind == Span.SPAN_KIND_SERVER), key=lambda s: s.start_time_unix_nano)
    assert [root.trace_id.hex() for root in roots] == [row[6] for row in rows]
    # The router ranks groq, openai, anthropic for this prompt. The first request meets groq's
    # rejection of the key and openai's 503; by the second, the credential failure has taken
    # groq out of the chain, and openai answers 503 again.
    expected = [
        [("groq", "failure", "CredentialError", 401), ("openai", "failure", "TransientError", 503),
         ("anthropic", "success", None, None)],
        [("openai", "failure", "TransientError", 503), ("anthropic", "success", None, None)],
    ]  # fmt: skip
    for row, root, chain in zip(rows, roots, expected):
        tried = [
            (attempt["provider"], attempt["outcome"], attempt["error_type"], attempt["status_code"])
            for attempt in json.loads(row[3])
        ]
        assert tried == chain
        assert row[1] == "anthropic" and row[4] > 0 and row[5] > 0
        children = sorted(
            (span for span in spans if span.parent_span_id == root.span_id), key=lambda s: s.start_time_unix_nano
        )
        assert [attributes(child)["trinity.provider"] for child in children] == [step[0] for step in chain]
        for child, (provider, outcome, error_type, status_code) in zip(children, chain):
            found = attributes(child)
            assert found["gen_ai.request.model"] == model_of(provider)
            assert found.get("error.type") == error_type
            assert found.get("http.response.status_code") == status_code
            assert (child.status.code == Status.STATUS_CODE_ERROR) == (outcome == "failure")
        assert attributes(children[-1])["gen_ai.usage.output_tokens"] == row[5]
        assert attributes(root)["gen_ai.usage.input_tokens"] == row[4]
        assert attributes(root)["gen_ai.provider.name"] == "anthropic"
        assert attributes(root)["gen_ai.request.stream"] == row[2]

    written = repr(rows) + "".join(body.decode("latin-1") for body in receiver.raw)
    for key in (GROQ_KEY, WRONG_KEY, OPENAI_KEY, ANTHROPIC_KEY):
        assert key not in written
        assert key[10:22] not in written
