"""uvicorn's httptools protocol with the limits it lacks: a deadline for the request's head and
one for its body, a bound on the head's size and number of lines (``_server_limits``), and a
request whose client hangs up before its answer is complete cancelled.

Without them one client holds a connection (and its buffers) as long as it likes: uvicorn's
keep-alive timer is reset by every byte, so a head sent a byte a second is never closed, and
httptools buffers a header line of any length. The deadlines are armed only when a read spans
more than one ``data_received`` (a request that arrives in one piece costs no timer), and both
phases end with a 408 (when no answer has begun) and the connection closed.

A hang-up: uvicorn only marks the request disconnected, and the app learns it when it next
calls ``receive`` (or never: ``send`` is silently dropped), so a gateway waiting on a provider
would keep waiting, and a stream keep reading, for nobody. Here the lost connection cancels the
request's task; the cancel unwinds the upstream call (the pool aborts the provider's connection,
a stream's response is closed), and the request ends as ``client_gone``. Watching ``receive``
from the app instead costs a task per request: measured at 70,000 instructions a request (+16 %
of the gateway's whole path) with bench/gateway_instructions.py; this costs a coroutine frame.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
from typing import Any, ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

from ._server_limits import ServerLimits, read_server_limits

__all__ = ["GatewayProtocol"]

_HEAD, _BODY = "head", "body"


def _answer(status: int, reason: str, message: str) -> bytes:
    body = f'{{"error":{{"message":"{message}","type":"invalid_request_error","param":null,"code":null}}}}'
    return (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n{body}"
    ).encode()


class GatewayProtocol(HttpToolsProtocol):
    """Each connection's HTTP/1.1; ``limits`` is read from the environment once per process
    (a subclass may set its own)."""

    limits: ClassVar[ServerLimits | None] = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cls = type(self)
        if cls.limits is None:
            cls.limits = read_server_limits(os.environ)  # checked by ``serve`` before it starts
        self._limits: ServerLimits = cls.limits
        self._phase: str | None = _HEAD  # reading the head, the body, or neither
        self._head_bytes = 0
        self._too_many_headers = False
        self._deadline: asyncio.TimerHandle | None = None
        self._deadline_phase: str | None = None
        self._answering: tuple[RequestResponseCycle, asyncio.Task[None]] | None = None
        self._hung_up = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(_HEAD)  # a connection that never sends a byte is a slow head too

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)  # marks an unfinished answer's request disconnected
        if self._answering is not None:
            cycle, task = self._answering
            if cycle.disconnected and not task.done():
                self._hung_up = True
                task.cancel()

    def _start_asgi_task(self, cycle: RequestResponseCycle, app: Any) -> None:
        # uvicorn's, keeping the task: the request that a hang-up cancels.
        if app is self.app:
            app = self._app_until_hang_up
        if getattr(self.config, "reset_contextvars", False):
            task = self.loop.create_task(cycle.run_asgi(app), context=contextvars.Context())
        else:
            task = self.loop.create_task(cycle.run_asgi(app))
        task.add_done_callback(self.tasks.discard)
        self.tasks.add(task)
        self._answering = (cycle, task)

    async def _app_until_hang_up(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await self.app(scope, receive, send)
        except asyncio.CancelledError:
            if not self._hung_up:
                raise
            # Cancelled here because the client left: nothing is left to answer or to log.

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.transport.is_closing():
            return
        phase = self._phase
        if phase is _HEAD:
            # The whole piece counts while the head is unfinished (a pipelined request's piece
            # may carry the end of the one before: over-counted by one piece at most).
            self._head_bytes += len(data)
        if self._head_bytes > self._limits.head_bytes_max or self._too_many_headers:
            self._refuse(431, "Request Header Fields Too Large", "the request's headers are too large")
            return
        if phase is not self._deadline_phase:
            self._disarm()
            if phase is not None:
                self._arm(phase)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._phase = _HEAD
        self._head_bytes = 0
        self._too_many_headers = False

    # Headers are counted once the head is complete, not one by one (on_header is called per
    # header, on every request): until then what uvicorn keeps of them is bounded by the head's
    # size, which data_received checks.
    def on_headers_complete(self) -> None:
        if len(self.headers) > self._limits.headers_max:
            self._too_many_headers = True
            self._phase = None  # refused once this piece is parsed; no request starts
            return
        self._phase = _BODY
        self._head_bytes = 0
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if self._phase is _BODY:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if self._phase is _BODY:
            self._phase = None
            super().on_message_complete()

    def _arm(self, phase: str) -> None:
        timeout_s = self._limits.head_timeout_s if phase is _HEAD else self._limits.body_timeout_s
        self._deadline = self.loop.call_later(timeout_s, self._expired)
        self._deadline_phase = phase

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        self._deadline_phase = None

    def _expired(self) -> None:
        self._deadline = None
        if self._phase is _HEAD:
            self._refuse(408, "Request Timeout", "the request's headers did not arrive in time")
        elif self._phase is _BODY:
            self._refuse(408, "Request Timeout", "the request's body did not arrive in time")

    def _refuse(self, status: int, reason: str, message: str) -> None:
        """Answers ``status`` when no answer has begun on this connection, and closes it; a
        request already handed to the app sees a disconnect."""
        self._disarm()
        self._phase = None
        cycle = self.cycle
        answering = cycle is not None and cycle.response_started and not cycle.response_complete
        if cycle is not None and not cycle.response_complete:
            cycle.disconnected = True  # the app's sends are dropped from here on
            cycle.message_event.set()
        if not answering and not self.transport.is_closing():
            self.transport.write(_answer(status, reason, message))
        self.transport.close()
