"""The gateway against bad clients and bad providers, over real sockets: limits on the request's
head and body, deadlines for slow clients, a cap on connections, requests that smuggle a second
length, hang-ups that must stop the provider's work, answers too large to keep, and keys that must
never come back out. Bad JSON at volume (nested 100,000 deep, over the size limit) is
tests/test_gateway_bad_input.py's; each error's exact shape, tests/test_gateway_errors.py's.

The deadlines here are a second (configured short): a test asserts that the connection got closed,
never how fast anything was.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from gateway_harness import GATEWAY_KEY, RunningGateway, provider_environment, running_gateway
from gateway_process import GatewayProcess
from hypothesis import given
from hypothesis import strategies as st
from loopback import AnthropicServer, Fault, OpenAIServer
from raw_provider import RawProvider, RawRequest, chunk, endless_answer, hold
from trinity_hybrid.gateway._protocol import GatewayProtocol
from trinity_hybrid.gateway._server_limits import ServerLimits

PROMPT = "What is the capital of France?"
BODY = b'{"model":"auto","messages":[{"role":"user","content":"What is the capital of France?"}]}'
STREAM_BODY = BODY[:-1] + b',"stream":true}'
CLOSE_TIMEOUT_S = 15.0  # how long a test waits for a close it expects (the deadlines are 1 s)
AUTH = f"Authorization: Bearer {GATEWAY_KEY}\r\n".encode()


class QuickProtocol(GatewayProtocol):
    limits = ServerLimits(head_bytes_max=8192, headers_max=50, head_timeout_s=1.0, body_timeout_s=1.0)


@pytest.fixture
def gateway(groq: OpenAIServer) -> Iterator[RunningGateway]:
    with running_gateway(provider_environment(groq=groq), body_bytes_max=4096, http=QuickProtocol) as running:
        yield running


def connect(gateway: RunningGateway) -> socket.socket:
    connection = socket.create_connection(("127.0.0.1", int(gateway.url.rsplit(":", 1)[1])), timeout=CLOSE_TIMEOUT_S)
    return connection


def read_until_closed(connection: socket.socket) -> bytes:
    """Everything the gateway sends until it closes the connection (a socket timeout fails)."""
    received = b""
    while True:
        try:
            data = connection.recv(65536)
        except ConnectionResetError:
            return received
        if not data:
            return received
        received += data


def post_head(path: bytes = b"/v1/chat/completions", extra: bytes = b"") -> bytes:
    return b"POST " + path + b" HTTP/1.1\r\nHost: gateway\r\n" + AUTH + extra


# Request size and framing ---------------------------------------------------------------------


def test_a_chunked_body_over_the_limit_without_a_length_is_refused_with_413(gateway: RunningGateway) -> None:
    with connect(gateway) as connection:
        connection.sendall(post_head(extra=b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"))
        connection.sendall(chunk(b'{"model":"auto","messages":"' + b"x" * 3000))
        connection.sendall(chunk(b"y" * 3000))
        answer = read_answer(connection)
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert b"request_too_large" in answer


def test_content_length_with_transfer_encoding_is_refused_with_400(gateway: RunningGateway, groq: OpenAIServer) -> None:
    with connect(gateway) as connection:
        connection.sendall(
            post_head(extra=b"Content-Length: %d\r\nTransfer-Encoding: chunked\r\n\r\n" % len(BODY)) + chunk(BODY) + chunk(b"")
        )  # fmt: skip
        answer = read_until_closed(connection)
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:200]
    assert groq.requests == []


def test_headers_over_the_size_limit_get_431_and_a_closed_connection(gateway: RunningGateway) -> None:
    with connect(gateway) as connection:
        connection.sendall(post_head(extra=b"X-Padding: " + b"p" * 20_000 + b"\r\n"))
        answer = read_until_closed(connection)
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]


def test_one_endless_header_line_is_cut_off_at_the_limit(gateway: RunningGateway) -> None:
    with connect(gateway) as connection:
        connection.sendall(post_head(extra=b"X-Padding: "))
        try:
            for _ in range(200):  # 2 MB, never a line end: refused long before the end
                connection.sendall(b"p" * 10_000)
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer = read_until_closed(connection)
    assert answer.startswith(b"HTTP/1.1 431 ") or answer == b"", answer[:200]


def test_too_many_header_lines_get_431(gateway: RunningGateway, groq: OpenAIServer) -> None:
    lines = b"".join(b"X-H%d: v\r\n" % index for index in range(60))
    with connect(gateway) as connection:
        connection.sendall(post_head(extra=lines + b"Content-Length: %d\r\n\r\n" % len(BODY)) + BODY)
        answer = read_until_closed(connection)
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
    assert groq.requests == []


def test_headers_under_the_limits_are_served(gateway: RunningGateway) -> None:
    lines = b"".join(b"X-H%d: %s\r\n" % (index, b"v" * 100) for index in range(40))
    with connect(gateway) as connection:
        connection.sendall(
            post_head(extra=lines + b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(BODY)) + BODY
        )
        answer = read_until_closed(connection)
    assert answer.startswith(b"HTTP/1.1 200 "), answer[:300]


# Slow clients -----------------------------------------------------------------------------------


def trickle(connection: socket.socket, data: bytes, pause_s: float = 0.2) -> bool:
    """Sends ``data`` a byte at a time; False once the gateway has closed the connection."""
    for index in range(len(data)):
        try:
            connection.sendall(data[index : index + 1])
        except (BrokenPipeError, ConnectionResetError):
            return False
        time.sleep(pause_s)
    return True


def test_a_head_trickled_a_byte_at_a_time_is_closed_with_408(gateway: RunningGateway) -> None:
    with connect(gateway) as connection:
        finished = trickle(connection, post_head(extra=b"Content-Length: 2\r\n\r\n{}"))
        answer = read_until_closed(connection)
    assert not finished  # the head is 100-odd bytes: 20 s at this pace, against a 1 s deadline
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]


def test_a_connection_that_sends_nothing_is_closed(gateway: RunningGateway) -> None:
    with connect(gateway) as connection:
        answer = read_until_closed(connection)
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]


def test_a_body_trickled_a_byte_at_a_time_is_closed_with_408(gateway: RunningGateway, groq: OpenAIServer) -> None:
    with connect(gateway) as connection:
        connection.sendall(post_head(extra=b"Content-Length: %d\r\n\r\n" % len(BODY)))
        finished = trickle(connection, BODY)
        answer = read_until_closed(connection)
    assert not finished
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
    assert groq.requests == []


def read_answer(connection: socket.socket) -> bytes:
    """One whole answer with a Content-Length, head and body."""
    received = b""
    while b"\r\n\r\n" not in received:
        received += connection.recv(65536)
    head, _, body = received.partition(b"\r\n\r\n")
    length = int(next(line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:"))[15:])
    while len(body) < length:
        body += connection.recv(65536)
    return head + b"\r\n\r\n" + body


def test_a_keep_alive_connection_serves_a_second_request_after_the_first(gateway: RunningGateway) -> None:
    request = post_head(extra=b"Content-Length: %d\r\n\r\n" % len(BODY)) + BODY
    with connect(gateway) as connection:
        connection.sendall(request)
        first = read_answer(connection)
        time.sleep(1.5)  # longer than the head deadline: it runs only while a head is being read
        connection.sendall(request)
        second = read_answer(connection)
    assert first.startswith(b"HTTP/1.1 200 ") and second.startswith(b"HTTP/1.1 200 "), (first[:100], second[:100])


@pytest.mark.parametrize(
    "variable, value", [("TRINITY_MAX_CONNECTIONS", "many"), ("TRINITY_HEADER_TIMEOUT_S", "-1"),
                        ("TRINITY_MAX_UPSTREAM_BYTES", "0"), ("TRINITY_BODY_TIMEOUT_S", "inf")],
)  # fmt: skip
def test_serve_refuses_a_bad_limit_naming_its_variable(variable: str, value: str) -> None:
    environment = {name: os.environ[name] for name in ("PATH", "HOME", "LANG") if name in os.environ}
    completed = subprocess.run(
        [sys.executable, "-m", "trinity_hybrid", "serve", "--port", "0"],
        env={**environment, variable: value}, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert completed.returncode == 1, completed.stderr
    assert f"{variable}={value!r}" in completed.stderr, completed.stderr


# Connections ------------------------------------------------------------------------------------


def test_connections_beyond_the_cap_get_503(groq: OpenAIServer) -> None:
    with running_gateway(provider_environment(groq=groq), limit_concurrency=4, http=GatewayProtocol) as gateway:
        idle = [connect(gateway) for _ in range(4)]
        try:
            deadline_s = time.monotonic() + CLOSE_TIMEOUT_S
            while True:  # until the server has taken in the idle connections
                refused = httpx.get(gateway.url + "/health", timeout=CLOSE_TIMEOUT_S)
                if refused.status_code == 503 or time.monotonic() > deadline_s:
                    break
                time.sleep(0.05)
        finally:
            for connection in idle:
                connection.close()
        time.sleep(0.2)
        served = httpx.get(gateway.url + "/health", timeout=CLOSE_TIMEOUT_S)
    assert refused.status_code == 503, refused.text
    assert served.status_code == 200


# Hang-ups stop the provider's work --------------------------------------------------------------


def through_raw_provider(behaviour: object) -> tuple[RawProvider, OpenAIServer]:
    return RawProvider(behaviour), OpenAIServer()  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "body, first_bytes",
    [(BODY, None), (STREAM_BODY, b"data: "), (STREAM_BODY, None)],
    ids=["whole_answer", "mid_stream", "stream_before_its_first_token"],
)
def test_a_client_that_hangs_up_cancels_the_provider_request(body: bytes, first_bytes: bytes | None) -> None:
    async def silent(request: RawRequest, writer: asyncio.StreamWriter) -> bool:
        return False

    provider = RawProvider(hold if first_bytes is not None or body is BODY else silent)
    errors = ErrorLines()
    uvicorn_errors = logging.getLogger("uvicorn.error")
    try:
        with running_gateway(provider_environment(groq=provider), http=QuickProtocol) as gateway:
            uvicorn_errors.addHandler(errors)  # after the server's start, which sets its logging up
            with connect(gateway) as connection:
                connection.sendall(post_head(extra=b"Content-Length: %d\r\n\r\n" % len(body)) + body)
                received = b""
                while first_bytes is not None and first_bytes not in received:
                    received += connection.recv(65536)
                deadline_s = time.monotonic() + CLOSE_TIMEOUT_S
                while not provider.requests and time.monotonic() < deadline_s:
                    time.sleep(0.02)
                assert provider.requests, "the request never reached the provider"
                assert provider.requests[0].closed_s is None  # held open while the client waits
            # The gateway's own read timeout is 120 s and its first-token timeout 60 s: only the
            # hang-up can end the provider's request within this wait.
            assert provider.wait_closed(0, CLOSE_TIMEOUT_S), "the provider's request was not cancelled"
            assert gateway.request("GET", "/health").status_code == 200
    finally:
        uvicorn_errors.removeHandler(errors)
        provider.close()
    assert errors.lines == []  # a hang-up is the request's end, not an error of the application


class ErrorLines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


# Answers too large to keep ----------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["whole_answer", "stream_event"])
def test_an_endless_answer_fails_its_attempt_and_the_next_provider_answers(
    stream: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRINITY_MAX_UPSTREAM_BYTES", "1000000")  # the whole answers' bound, read by the pool
    provider = RawProvider(endless_answer)
    try:
        with OpenAIServer() as backup, running_gateway(provider_environment(groq=provider, openai=backup)) as gateway:
            answer = gateway.request("POST", "/v1/chat/completions", content=STREAM_BODY if stream else BODY)
            assert provider.wait_closed(0, CLOSE_TIMEOUT_S)
    finally:
        provider.close()
    assert not provider.requests[0].exhausted  # the client gave up, not the server
    assert answer.status_code == 200, answer.text[:300]
    assert (answer.headers["x-trinity-provider"], answer.headers["x-trinity-attempts"]) == ("openai", "2")
    assert f"echo: {PROMPT}" in answer.text.replace('"', "").replace("\\", "") or "echo:" in answer.text


async def gzip_bomb(request: RawRequest, writer: asyncio.StreamWriter) -> bool:
    """A 200 whose 60 KB of gzip inflate to a valid completion of 60 MB."""
    head = b'{"id":"bomb","object":"chat.completion","created":0,"model":"m","choices":[{"index":0,'
    answer = head + b'"message":{"role":"assistant","content":"' + b" " * 60_000_000 + b'"},"finish_reason":"stop"}]}'
    packed = gzip.compress(answer, compresslevel=9)
    writer.write(
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-encoding: gzip\r\nconnection: close\r\n"
        b"content-length: %d\r\n\r\n%s" % (len(packed), packed)
    )
    return True


def test_a_compressed_answer_is_bounded_once_inflated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRINITY_MAX_UPSTREAM_BYTES", "1000000")
    provider = RawProvider(gzip_bomb)
    try:
        with OpenAIServer() as backup, running_gateway(provider_environment(groq=provider, openai=backup)) as gateway:
            answer = gateway.request("POST", "/v1/chat/completions", content=BODY)
    finally:
        provider.close()
    assert len(provider.requests) == 1
    assert answer.status_code == 200, answer.text[:300]
    assert (answer.headers["x-trinity-provider"], answer.headers["x-trinity-attempts"]) == ("openai", "2")


# No key comes back out ---------------------------------------------------------------------------

KEYS = {
    "groq": "gsk_LEAKPROBEgroq7f3a9c2e1d0b4a59",
    "openai": "sk-LEAKPROBEopenai0c1d2e3f4a5b6c7d",
    "anthropic": "sk-ant-LEAKPROBEanthropic99aa88bb77",
}
LEAK_CONFIG = """
[timeouts]
connect_s = 1
read_s = 1
first_token_s = 1

[providers.local]
enabled = false
"""


async def echo_the_key(request: RawRequest, writer: asyncio.StreamWriter) -> bool:
    """A 401 that quotes the whole Authorization header back, in the body and in a header, as a
    careless proxy in front of a provider might."""
    sent = next(line for line in request.head.split(b"\r\n") if line.lower().startswith(b"authorization:"))
    quoted = sent.split(b":", 1)[1].strip().decode()
    body = json.dumps({"error": {"message": f"Incorrect API key provided: {quoted}", "type": "invalid_request_error",
                                 "code": "invalid_api_key"}}).encode()  # fmt: skip
    writer.write(
        b"HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\nx-echo: %s\r\nconnection: close\r\n"
        b"content-length: %d\r\n\r\n%s" % (quoted.encode(), len(body), body)
    )
    return True


def test_no_key_in_any_answer_log_trace_status_or_metrics(tmp_path: Path) -> None:
    from otlp_receiver import OtlpReceiver

    receiver = OtlpReceiver()
    receiver.start()
    groq = RawProvider(echo_the_key, api_key=KEYS["groq"])
    config = tmp_path / "trinity.toml"
    config.write_text(LEAK_CONFIG)
    seen: list[str] = []
    with OpenAIServer(api_key=KEYS["openai"]) as openai, AnthropicServer(api_key="sk-ant-another-key") as anthropic:
        environment = {
            "GROQ_API_KEY": KEYS["groq"], "GROQ_BASE_URL": groq.base_url,
            "OPENAI_API_KEY": KEYS["openai"], "OPENAI_BASE_URL": openai.base_url,
            "ANTHROPIC_API_KEY": KEYS["anthropic"], "ANTHROPIC_BASE_URL": anthropic.base_url,
            "TRINITY_API_KEYS": GATEWAY_KEY, "TRINITY_CONFIG": str(config), "TRINITY_RETRIES": "0",
            "TRINITY_REQUEST_LOG_STDOUT": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{receiver.port}",
        }  # fmt: skip
        gateway = GatewayProcess(tmp_path, "gateway", environment)
        try:
            gateway.wait_ready()
            headers = {"Authorization": f"Bearer {GATEWAY_KEY}"}
            # Every request meets the echoing 401 first, then one of openai's faults (a 500, a reset,
            # silence past the read timeout, a broken stream) or its answer, then anthropic's 401.
            faults = [None, Fault.status(500), Fault.reset(), Fault.hang(), Fault.stream_cut(1), Fault.status(401)]
            for fault in faults:
                for body in (BODY, STREAM_BODY):
                    if fault is not None:
                        openai.faults.push(fault)
                    answer = httpx.post(gateway.url + "/v1/chat/completions", content=body, headers=headers, timeout=30)
                    seen += [answer.text, json.dumps(dict(answer.headers))]
            for path in ("/status", "/metrics", "/v1/models", "/health"):
                seen.append(gateway.get(path).text)
        finally:
            gateway.stop()
            groq.close()
            receiver.stop()
    statuses = {text[:12] for text in seen}
    haystack = "\n".join(seen) + gateway.log_path.read_text(errors="replace")
    haystack += "\n".join(raw.decode("latin-1") for raw in receiver.raw)
    assert groq.requests, statuses  # the key was echoed at least once
    assert receiver.raw, "no trace reached the receiver"
    for key in KEYS.values():
        for piece in (key, key[8:], key[-12:]):
            assert piece not in haystack, f"a piece of a key ({piece[:4]}...) came out"


# The bounded SSE reader --------------------------------------------------------------------------

FIELD_LINES = st.sampled_from(["data: x", 'data: {"a":1}', "data: héllo", "data:", "data:  two", "event: e1",
                               "event: delta", ": a comment", "id: 7", "retry: 10", "", ""])  # fmt: skip


@given(st.lists(FIELD_LINES, max_size=30), st.sampled_from(["\n", "\r\n", "\r"]), st.lists(st.integers(1, 9)))
def test_the_bounded_reader_reads_what_httpx_sse_reads(lines: list[str], end: str, cuts: list[int]) -> None:
    from httpx_sse._decoders import SSEDecoder, SSELineDecoder
    from trinity_hybrid._sse import _Decoder

    text = end.join(lines) + end + end
    reference, decoder, line_decoder = [], SSEDecoder(), SSELineDecoder()
    for line in [*line_decoder.decode(text), *line_decoder.flush()]:
        event = decoder.decode(line.rstrip("\n"))
        if event is not None:
            reference.append((event.event, event.data))
    data, ours, bounded, start = text.encode(), [], _Decoder(1 << 20), 0
    for cut in [*cuts, len(data)]:
        ours += [(event.event, event.data) for event in bounded.feed(data[start : start + cut])]
        start += cut
    ours += [(event.event, event.data) for event in bounded.feed(data[start:])]
    ours += [(event.event, event.data) for event in bounded.finish()]
    assert ours == reference


@pytest.mark.parametrize("piece", [b"x" * 100, b"data: x\n"], ids=["one_endless_line", "endless_data_lines"])
def test_the_bounded_reader_refuses_an_event_over_its_bound(piece: bytes) -> None:
    from httpx_sse import SSEError
    from trinity_hybrid._sse import _Decoder

    bounded = _Decoder(10_000)
    bounded.feed(b"data: ")
    with pytest.raises(SSEError, match="exceeds 10000 bytes"):
        for _ in range(5000):  # 40,000 bytes or more
            bounded.feed(piece)
