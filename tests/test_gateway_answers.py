"""How the gateway's server writes answers and reads requests (``gateway/_cycle.py``,
``gateway/_protocol.py``): a whole answer leaves in one write with exactly the bytes uvicorn's own
cycle would have written, and a request is read the same however its bytes are cut into pieces.

The cycle is compared with uvicorn's on a recording transport (the one place I/O is replaced:
both cycles write to it, and the test compares them with each other, not with expected bytes);
the protocol is driven over real sockets.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from gateway_harness import GATEWAY_KEY, RunningGateway, provider_environment, running_gateway
from hypothesis import given, settings
from hypothesis import strategies as st
from loopback import OpenAIServer
from trinity_hybrid.gateway._cycle import CYCLE_ARGUMENTS_MATCH, GatewayCycle
from uvicorn.protocols.http.flow_control import FlowControl
from uvicorn.protocols.http.httptools_impl import RequestResponseCycle

BODY = b'{"model":"auto","messages":[{"role":"user","content":"What is the capital of France?"}]}'


class RecordingTransport:
    """What a cycle writes, piece by piece, and whether it closed the connection."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def pause_reading(self) -> None:
        return None

    def resume_reading(self) -> None:
        return None


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def run_cycle(cycle_class: type[RequestResponseCycle], method: str, keep_alive: bool,
              defaults: list[tuple[bytes, bytes]], messages: list[dict[str, Any]],
              access_log: bool = False) -> dict[str, Any]:  # fmt: skip
    """Sends ``messages`` through a cycle of ``cycle_class``: what it wrote, raised, logged and
    ended as."""
    transport = RecordingTransport()
    finished: list[bool] = []
    access = logging.getLogger(f"test_gateway_answers.access.{cycle_class.__name__}")
    access.propagate, access.handlers, lines = False, [], Lines()
    access.addHandler(lines)
    access.setLevel(logging.INFO)

    async def send_all() -> str | None:
        cycle = cycle_class(
            scope={
                "method": method,
                "client": ("127.0.0.1", 5000),
                "path": "/v1/chat/completions",
                "raw_path": b"/v1/chat/completions",  # type: ignore[arg-type]
                "query_string": b"",
                "http_version": "1.1",
            },  # all a cycle's send reads
            transport=transport,  # type: ignore[arg-type]
            flow=FlowControl(transport),  # type: ignore[arg-type]
            logger=logging.getLogger("test"),
            access_logger=access,
            access_log=access_log,
            default_headers=defaults,
            message_event=asyncio.Event(),
            expect_100_continue=False,
            keep_alive=keep_alive,
            on_response=lambda: finished.append(True),
        )
        try:
            for message in messages:
                await cycle.send(dict(message))
        except (RuntimeError, ValueError) as error:  # uvicorn's refusals of a bad answer
            return f"{type(error).__name__}: {error}"
        return None

    error = asyncio.run(send_all())
    return {"bytes": b"".join(transport.writes), "error": error, "closed": transport.closed,
            "finished": finished, "logged": lines.lines, "writes": len(transport.writes)}  # fmt: skip


header_names = st.sampled_from(
    [b"content-type", b"x-request-id", b"x-trinity-provider", b"Content-Type", b"retry-after", b"bad name", b"a:b"]
)
header_values = st.sampled_from([b"application/json", b"groq", b"0123abcd", b"1", b"", b"tab\there", b"cr\rlf\n"])


@st.composite
def answers(draw: st.DrawFn) -> tuple[str, bool, list[tuple[bytes, bytes]], list[dict[str, Any]], bool]:
    body = draw(st.binary(max_size=64))
    headers = draw(st.lists(st.tuples(header_names, header_values), max_size=5))
    framing = draw(st.sampled_from(["length", "wrong_length", "bad_length", "none", "chunked", "close"]))
    if framing == "length":
        headers.insert(draw(st.integers(0, len(headers))), (b"content-length", str(len(body)).encode()))
    elif framing == "wrong_length":
        headers.append((b"content-length", str(len(body) + draw(st.sampled_from([-1, 1]))).encode()))
    elif framing == "bad_length":
        headers.append((b"content-length", b"12a"))
    elif framing == "chunked":
        headers.append((b"transfer-encoding", b"chunked"))
    elif framing == "close":
        headers += [(b"content-length", str(len(body)).encode()), (b"connection", b"close")]
    cuts = sorted(draw(st.lists(st.integers(0, len(body)), max_size=2)))
    parts = [body[start:end] for start, end in itertools.pairwise([0, *cuts, len(body)])]
    status = draw(st.sampled_from([200, 201, 204, 304, 400, 404, 429, 500]))
    messages: list[dict[str, Any]] = [{"type": "http.response.start", "status": status, "headers": headers}]
    messages += [{"type": "http.response.body", "body": part, "more_body": True} for part in parts[:-1]]
    messages.append({"type": "http.response.body", "body": parts[-1], "more_body": False})
    method = draw(st.sampled_from(["POST", "GET", "HEAD"]))
    defaults = draw(st.sampled_from([[], [(b"server", b"uvicorn")]]))
    return method, draw(st.booleans()), defaults, messages, draw(st.booleans())


def test_the_cycle_is_made_with_the_installed_uvicorn() -> None:
    # GatewayProtocol builds GatewayCycle with the arguments uvicorn 0.55 gives its own cycle;
    # an uvicorn whose cycle takes others gets its own cycle back (slower, hang-ups logged).
    assert CYCLE_ARGUMENTS_MATCH


@settings(max_examples=300, deadline=None)
@given(answers())
def test_the_cycle_writes_what_uvicorns_writes(answer: tuple[str, bool, list[Any], list[Any], bool]) -> None:
    method, keep_alive, defaults, messages, access_log = answer
    ours = run_cycle(GatewayCycle, method, keep_alive, defaults, messages, access_log)
    theirs = run_cycle(RequestResponseCycle, method, keep_alive, defaults, messages, access_log)
    assert {k: v for k, v in ours.items() if k != "writes"} == {k: v for k, v in theirs.items() if k != "writes"}


def test_a_whole_answer_is_one_write() -> None:
    body = b'{"id":"x"}'
    headers = [(b"content-type", b"application/json"), (b"content-length", b"10"), (b"x-request-id", b"ab12")]
    messages = [{"type": "http.response.start", "status": 200, "headers": headers},
                {"type": "http.response.body", "body": body}]  # fmt: skip
    ours = run_cycle(GatewayCycle, "POST", True, [], messages)
    theirs = run_cycle(RequestResponseCycle, "POST", True, [], messages)
    assert (ours["writes"], theirs["writes"]) == (1, 2)
    assert ours["bytes"] == theirs["bytes"] and ours["bytes"].endswith(b"\r\n\r\n" + body)
    assert ours["finished"] == [True]


# Over real sockets --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gateway() -> Iterator[RunningGateway]:
    with OpenAIServer() as groq, running_gateway(provider_environment(groq=groq)) as running:
        yield running


def request_bytes(body: bytes = BODY, version: bytes = b"1.1") -> bytes:
    return (
        b"POST /v1/chat/completions HTTP/" + version + b"\r\nHost: gateway\r\nContent-Type: application/json\r\n"
        b"Authorization: Bearer " + GATEWAY_KEY.encode() + b"\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    )


def read_answers(connection: socket.socket, count: int) -> list[tuple[bytes, dict[bytes, bytes], bytes]]:
    """``count`` whole answers (status line, headers, body) read off a keep-alive connection."""
    buffer, answers_read = b"", []
    while len(answers_read) < count:
        while b"\r\n\r\n" not in buffer:
            piece = connection.recv(65536)
            assert piece, f"closed after {len(answers_read)} answers"
            buffer += piece
        head, buffer = buffer.split(b"\r\n\r\n", 1)
        status, *lines = head.split(b"\r\n")
        headers = dict(line.split(b": ", 1) for line in lines)
        length = int(headers[b"content-length"])
        while len(buffer) < length:
            piece = connection.recv(65536)
            assert piece, "closed mid-body"
            buffer += piece
        answers_read.append((status, headers, buffer[:length]))
        buffer = buffer[length:]
    return answers_read


def connect(gateway: RunningGateway) -> socket.socket:
    return socket.create_connection(("127.0.0.1", int(gateway.url.rsplit(":", 1)[1])), timeout=15.0)


@settings(max_examples=25, deadline=None)
@given(cuts=st.lists(st.integers(1, len(request_bytes()) - 1), max_size=4, unique=True))
def test_a_request_cut_into_any_pieces_is_answered_once(gateway: RunningGateway, cuts: list[int]) -> None:
    whole = request_bytes()
    bounds = [0, *sorted(cuts), len(whole)]
    with connect(gateway) as connection:
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for start, end in itertools.pairwise(bounds):
            connection.sendall(whole[start:end])
        ((status, headers, body),) = read_answers(connection, 1)
        connection.sendall(request_bytes())  # and the connection serves the next one
        ((second_status, _, _),) = read_answers(connection, 1)
    assert status == second_status == b"HTTP/1.1 200 OK"
    assert json.loads(body)["object"] == "chat.completion" and headers[b"x-trinity-provider"] == b"groq"


def test_pipelined_requests_are_answered_in_order(gateway: RunningGateway) -> None:
    bodies = [BODY.replace(b"France", country) for country in (b"Peru", b"Chad", b"Iran")]
    with connect(gateway) as connection:
        connection.sendall(b"".join(request_bytes(body) for body in bodies))
        answered = read_answers(connection, 3)
    contents = [json.loads(body)["choices"][0]["message"]["content"] for _, _, body in answered]
    assert [country in content for country, content in zip(("Peru", "Chad", "Iran"), contents, strict=True)] == [
        True
    ] * 3


def test_an_http_1_0_request_is_answered_and_closed(gateway: RunningGateway) -> None:
    with connect(gateway) as connection:
        connection.sendall(request_bytes(version=b"1.0"))
        ((status, headers, _),) = read_answers(connection, 1)
        assert connection.recv(65536) == b""  # closed after the answer
    assert status == b"HTTP/1.1 200 OK" and headers[b"connection"] == b"close"
