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
a stream's response is closed), and the request ends as ``client_gone`` (``_cycle``). Watching
``receive`` from the app instead costs a task per request: measured at 70,000 instructions a
request (+16 % of the gateway's whole path) with bench/gateway_instructions.py.

Every request pays for what is overridden here, so only ``data_received`` and
``on_headers_complete`` are: the phase of the request (head, body, between requests) is read
from uvicorn's own state once a piece is parsed, rather than followed by parser callbacks.
``on_headers_complete`` is uvicorn's, making a ``_cycle.GatewayCycle`` (whole answers in one
write).
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import urllib.parse
from typing import Any, ClassVar

import httptools
from uvicorn.protocols.http.flow_control import service_unavailable
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

from ._cycle import CYCLE_ARGUMENTS_MATCH, GatewayCycle
from ._server_limits import ServerLimits, read_server_limits

__all__ = ["GatewayProtocol"]

_HEAD, _BODY = "head", "body"


def _answer(status: int, reason: str, message: str) -> bytes:
    body = f'{{"error":{{"message":"{message}","type":"invalid_request_error","param":null,"code":null}}}}'
    return (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n{body}"
    ).encode()


class _Refused:
    """The cycle of a request refused while its head was parsed: uvicorn's body callbacks see a
    finished answer and drop what follows."""

    response_started = False
    response_complete = True


_REFUSED: Any = _Refused()


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

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(_HEAD)  # a connection that never sends a byte is a slow head too

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)  # marks an unfinished answer's request disconnected
        if self._answering is not None:
            cycle, task = self._answering
            if cycle.disconnected and not task.done():
                cycle.hung_up = True  # type: ignore[attr-defined]  # GatewayCycle: a quiet end
                task.cancel()

    def _start_asgi_task(self, cycle: RequestResponseCycle, app: Any) -> None:
        # uvicorn's, keeping the task: the request that a hang-up cancels.
        if getattr(self.config, "reset_contextvars", False):
            task = self.loop.create_task(cycle.run_asgi(app), context=contextvars.Context())
        else:
            task = self.loop.create_task(cycle.run_asgi(app))
        task.add_done_callback(self.tasks.discard)
        self.tasks.add(task)
        self._answering = (cycle, task)

    def data_received(self, data: bytes) -> None:
        was_head = self._phase is _HEAD
        super().data_received(data)
        if self.transport.is_closing():
            return
        if self._too_many_headers:
            self._refuse(431, "Request Header Fields Too Large", "the request's headers are too large")
            return
        # The phase once this piece is parsed: a message begun without a cycle yet (uvicorn
        # makes a new scope when a message begins, and a cycle when its head ends) is in its
        # head; a cycle still taking its body is in its body; else the connection is between
        # requests.
        cycle = self.cycle
        if cycle is None or cycle.scope is not self.scope:
            phase: str | None = _HEAD
            # The whole piece counts while a head is unfinished (a piece may also carry the end
            # of the request before: over-counted by one piece at most).
            self._head_bytes = self._head_bytes + len(data) if was_head else len(data)
            if self._head_bytes > self._limits.head_bytes_max:
                self._refuse(431, "Request Header Fields Too Large", "the request's headers are too large")
                return
        else:
            phase = _BODY if cycle.more_body else None
        self._phase = phase
        if phase is not self._deadline_phase:
            self._disarm()
            if phase is not None:
                self._arm(phase)

    def on_headers_complete(self) -> None:
        # Headers are counted once the head is complete, not one by one (on_header is called
        # per header, on every request): until then what uvicorn keeps of them is bounded by the
        # head's size, which data_received checks.
        if len(self.headers) > self._limits.headers_max:
            self._too_many_headers = True  # refused once this piece is parsed; no request starts
            self.cycle = _REFUSED
            return
        if not CYCLE_ARGUMENTS_MATCH:  # another uvicorn: its own cycle (a hang-up is logged)
            super().on_headers_complete()
            return
        # uvicorn's (0.55), making a GatewayCycle. (Assigning the class of the cycle uvicorn
        # made instead turns its attributes into a dictionary: slower than uvicorn's own send.)
        parser, scope = self.parser, self.scope
        http_version = parser.get_http_version()
        scope["method"] = parser.get_method().decode("ascii")
        if http_version != "1.1":
            scope["http_version"] = http_version
        if parser.should_upgrade() and self._should_upgrade():
            return
        parsed_url = httptools.parse_url(self.url)
        raw_path = parsed_url.path
        path = raw_path.decode("ascii")
        if "%" in path:
            path = urllib.parse.unquote(path)
        scope["path"] = self.root_path + path
        scope["raw_path"] = self.root_path.encode("ascii") + raw_path
        scope["query_string"] = parsed_url.query or b""
        limit = self.limit_concurrency
        if limit is not None and (len(self.connections) >= limit or len(self.tasks) >= limit):
            app = service_unavailable
            self.logger.warning("Exceeded concurrency limit.")
        else:
            app = self.app
        existing_cycle = self.cycle
        self.cycle = cycle = GatewayCycle(
            scope=scope,
            transport=self.transport,
            flow=self.flow,
            logger=self.logger,
            access_logger=self.access_logger,
            access_log=self.access_log,
            default_headers=self.server_state.default_headers,
            message_event=asyncio.Event(),
            expect_100_continue=self.expect_100_continue,
            keep_alive=http_version != "1.0" and parser.should_keep_alive(),
            on_response=self.on_response_complete,
        )
        if existing_cycle is None or existing_cycle.response_complete:
            self._start_asgi_task(cycle, app)
        else:  # a pipelined request waits for the one before
            self.flow.pause_reading()
            self.pipeline.appendleft((cycle, app))

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
