"""A provider on a loopback port that answers at the byte level, for what the aiohttp loopback
servers cannot do: hold a request and note the moment the gateway hangs up, send an answer that
never ends, echo a key back. Asyncio streams in a thread of their own.

``behaviour(request, writer)`` writes the answer and returns True (the connection is then
closed: one request per connection), or writes part of one or nothing and returns False (the
server then waits for the gateway to hang up and records when, in the request's ``closed_s``).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

STARTUP_TIMEOUT_S = 10.0
# Far above every bound the tests set (1 MB, 100 KB, 8 MiB per event), far below a hang.
ENDLESS_BYTES_MAX = 256 * 1024 * 1024


@dataclass
class RawRequest:
    head: bytes
    body: bytes
    arrived_s: float
    closed_s: float | None = None  # when the gateway closed or reset the connection
    # An endless answer that reached ENDLESS_BYTES_MAX: the client never gave up (a bound that
    # regressed), and the server stopped so that the test fails instead of hanging.
    exhausted: bool = False

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def stream(self) -> bool:
        return bool(self.json.get("stream"))


Behaviour = Callable[[RawRequest, asyncio.StreamWriter], Awaitable[bool]]


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def sse_head() -> bytes:
    return b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"


def openai_delta(text: str) -> bytes:
    document = {"id": "raw1", "object": "chat.completion.chunk", "created": 0, "model": "raw",
                "choices": [{"index": 0, "delta": {"role": "assistant", "content": text}, "finish_reason": None}]}  # fmt: skip
    return f"data: {json.dumps(document)}\n\n".encode()


def json_answer(status: int, document: Any) -> bytes:
    body = json.dumps(document).encode()
    return b"HTTP/1.1 %d X\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: %d\r\n\r\n%s" % (
        status,
        len(body),
        body,
    )


@dataclass
class RawProvider:
    behaviour: Behaviour
    api_key: str = "raw-provider-key-0123456789abcdef"
    requests: list[RawRequest] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        assert self._ready.wait(STARTUP_TIMEOUT_S)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._server = server
        self._ready.set()
        self._loop.run_forever()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                (int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")),
                0,
            )  # fmt: skip
            request = RawRequest(head, await reader.readexactly(length), time.monotonic())
            self.requests.append(request)
            if await self.behaviour(request, writer):
                await writer.drain()
                return
            await writer.drain()
            await self._wait_hang_up(reader, request)
        except (asyncio.IncompleteReadError, ConnectionError):
            if self.requests and self.requests[-1].closed_s is None:
                self.requests[-1].closed_s = time.monotonic()
        finally:
            writer.close()

    async def _wait_hang_up(self, reader: asyncio.StreamReader, request: RawRequest) -> None:
        try:
            while await reader.read(65536):
                pass
        except ConnectionError:
            pass
        request.closed_s = time.monotonic()

    def wait_closed(self, index: int, timeout_s: float) -> bool:
        deadline_s = time.monotonic() + timeout_s
        while time.monotonic() < deadline_s:
            if len(self.requests) > index and self.requests[index].closed_s is not None:
                return True
            time.sleep(0.02)
        return False

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._server.close)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


async def hold(request: RawRequest, writer: asyncio.StreamWriter) -> bool:
    """Accept the request and never answer (a stream gets its head and one delta first)."""
    if request.stream:
        writer.write(sse_head() + chunk(openai_delta("first")))
    return False


async def endless_answer(request: RawRequest, writer: asyncio.StreamWriter) -> bool:
    """An answer that never ends: a JSON body of one endless string, or one endless SSE event."""
    if request.stream:
        writer.write(sse_head() + chunk(b'data: {"choices": "'))
    else:
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n")
        writer.write(chunk(b'{"choices": "'))
    piece = chunk(b"x" * 65536)
    try:
        for _ in range(ENDLESS_BYTES_MAX // 65536):
            writer.write(piece)
            await writer.drain()
    except ConnectionError:
        return False
    request.exhausted = True
    return True
