"""``x-request-id`` and the request log through a running gateway: the id echoed on every answer
(a client's own kept, one of ours otherwise), one record per chat, messages and embeddings
request with its attempts, tokens and status, no provider key in it, and the log's counts on
/metrics."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest
from gateway_harness import GATEWAY_KEY, RunningGateway, provider_environment, running_gateway
from loopback import Fault, OpenAIServer
from loopback._embeddings import EmbeddingServer
from trinity_hybrid.gateway._log_sinks import COLUMNS, TABLE

MESSAGES = [{"role": "user", "content": "What is the capital of France?"}]


@pytest.fixture
def embedder() -> Iterator[EmbeddingServer]:
    with EmbeddingServer() as server:
        yield server


@pytest.fixture
def gateway(
    groq: OpenAIServer, backup: OpenAIServer, embedder: EmbeddingServer, tmp_path: Path
) -> Iterator[RunningGateway]:
    environment = provider_environment(groq=groq, openai=backup)
    environment.update(
        {"COHERE_API_KEY": embedder.api_key, "COHERE_BASE_URL": embedder.origin,
         "TRINITY_REQUEST_LOG_STDOUT": "false", "TRINITY_REQUEST_LOG_SQLITE": str(tmp_path / "log.db")}
    )  # fmt: skip
    with running_gateway(environment) as running:
        yield running


def records(gateway: RunningGateway, path: Path) -> list[dict[str, Any]]:
    assert gateway.app.observer.log.flush()
    rows = sqlite3.connect(path).execute(f"SELECT {', '.join(COLUMNS)} FROM {TABLE} ORDER BY time").fetchall()
    return [dict(zip(COLUMNS, row, strict=True)) for row in rows]


def test_every_answer_carries_a_request_id(gateway: RunningGateway) -> None:
    mine = gateway.request("GET", "/v1/models", headers={"x-request-id": "req-123.abc"})
    assert mine.headers["x-request-id"] == "req-123.abc"
    ours = gateway.request("GET", "/health")
    assert len(ours.headers["x-request-id"]) == 32
    forged = gateway.request("POST", "/v1/chat/completions", content=b"{", headers={"x-request-id": "a b"})
    assert forged.status_code == 400
    assert forged.headers["x-request-id"] != "a b"
    missing = gateway.request("GET", "/nowhere", headers={"x-request-id": "r-404"})
    assert (missing.status_code, missing.headers["x-request-id"]) == (404, "r-404")
    unauthorized = gateway.request("POST", "/v1/embeddings", authorize=False, headers={"x-request-id": "r-401"})
    assert (unauthorized.status_code, unauthorized.headers["x-request-id"]) == (401, "r-401")


def test_one_record_per_request_with_attempts_tokens_and_no_key(
    gateway: RunningGateway, groq: OpenAIServer, backup: OpenAIServer, tmp_path: Path
) -> None:
    client = openai.OpenAI(base_url=gateway.url + "/v1", api_key=GATEWAY_KEY, max_retries=0)
    groq.faults.push(Fault.status(503))
    whole = client.chat.completions.with_raw_response.create(
        model="auto", messages=MESSAGES, extra_headers={"x-request-id": "chat-1"}
    )
    assert whole.headers["x-request-id"] == "chat-1"
    streamed = client.chat.completions.with_raw_response.create(model="groq", messages=MESSAGES, stream=True)
    list(streamed.parse())
    with pytest.raises(openai.BadRequestError) as bad:
        client.chat.completions.create(model="auto", messages=[], extra_headers={"x-request-id": "bad-1"})
    assert bad.value.response.headers["x-request-id"] == "bad-1"
    message = anthropic.Anthropic(base_url=gateway.url, api_key=GATEWAY_KEY, max_retries=0)
    message.messages.with_raw_response.create(model="auto", max_tokens=50, messages=MESSAGES)  # type: ignore[arg-type]
    embedded = gateway.request("POST", "/v1/embeddings", json={"model": "cohere", "input": "x"})
    assert embedded.status_code == 200
    gateway.request("GET", "/v1/models")  # not logged

    rows = records(gateway, tmp_path / "log.db")
    assert [(row["endpoint"], row["status"], row["outcome"]) for row in rows] == [
        ("chat", 200, "success"), ("chat", 200, "success"), ("chat", 400, "client_error"),
        ("messages", 200, "success"), ("embeddings", 200, "success"),
    ]  # fmt: skip
    first, stream, failed, messages, embedding = rows
    assert first["request_id"] == "chat-1"
    assert first["provider"] == "openai" and first["model"].startswith("openai/")
    assert [(item["provider"], item["outcome"]) for item in json.loads(first["attempts"])] == [
        ("groq", "failure"),
        ("openai", "success"),
    ]
    assert first["tokens_input"] > 0 and first["tokens_output"] > 0
    assert first["key_name"] is None and first["model_requested"] == "auto" and not first["stream"]
    assert stream["stream"] and stream["provider"] == "groq" and stream["model_requested"] == "groq"
    assert stream["request_id"] == streamed.headers["x-request-id"]
    assert failed["request_id"] == "bad-1" and failed["error_type"] is not None
    assert messages["tokens_output"] > 0
    assert embedding["provider"] == "cohere" and embedding["tokens_input"] > 0
    dump = json.dumps(rows)
    for secret in (groq.api_key, backup.api_key, GATEWAY_KEY):
        assert secret not in dump
    exposition = gateway.request("GET", "/metrics").text
    assert 'trinity_request_log_records_total{result="written",sink="sqlite"} 5.0' in exposition


def test_an_unanswered_request_keeps_its_attempts(gateway: RunningGateway, groq: OpenAIServer, tmp_path: Path) -> None:
    groq.faults.push(Fault.status(500))
    answer = gateway.request("POST", "/v1/chat/completions", json={"model": "groq", "messages": MESSAGES})
    assert answer.status_code >= 500
    (row,) = records(gateway, tmp_path / "log.db")
    assert row["status"] == answer.status_code and row["outcome"] == "upstream_error"
    assert [item["provider"] for item in json.loads(row["attempts"])] == ["groq"]
    assert row["request_id"] == answer.headers["x-request-id"]


def test_a_traced_request_ties_its_span_to_its_record(groq: OpenAIServer, backup: OpenAIServer, tmp_path: Path) -> None:
    pytest.importorskip("opentelemetry.sdk", reason="the otel extra is not installed")
    pytest.importorskip("opentelemetry.proto", reason="opentelemetry-proto is not installed")
    from opentelemetry.proto.trace.v1.trace_pb2 import Span
    from otlp_receiver import OtlpReceiver, attributes

    receiver = OtlpReceiver()
    receiver.start()
    try:
        environment = provider_environment(groq=groq, openai=backup)
        environment.update(
            {"TRINITY_REQUEST_LOG_STDOUT": "0", "TRINITY_REQUEST_LOG_SQLITE": str(tmp_path / "log.db"),
             "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{receiver.port}"}
        )  # fmt: skip
        groq.faults.push(Fault.status(503))
        with running_gateway(environment) as gateway:
            answer = gateway.request("POST", "/v1/chat/completions", json={"model": "auto", "messages": MESSAGES})
            assert answer.status_code == 200
            (row,) = records(gateway, tmp_path / "log.db")
        # The gateway's shutdown closed the tracing: its spans are exported by now.
        spans = receiver.spans
    finally:
        receiver.stop()
    (root,) = [span for span in spans if span.kind == Span.SPAN_KIND_SERVER]
    assert root.trace_id.hex() == row["trace_id"]
    assert attributes(root)["http.response.status_code"] == 200
    children = [attributes(span)["gen_ai.provider.name"] for span in spans if span.kind == Span.SPAN_KIND_CLIENT]
    assert len(children) == 2
