"""One request on a connection of ``GatewayProtocol``: uvicorn's request cycle with two changes
that the gateway's own time per request pays for.

- **A whole answer leaves in one write.** uvicorn writes the head on ``http.response.start``
  and the body apart (two system calls and, on a quiet connection, two TCP segments), and checks
  each header by two regular expressions, which cost more than the rest of its ``send``. When
  the head carries ``content-length`` (every whole answer of the gateway's), ``GatewayCycle``
  checks the head's bytes in one pass, holds the head, and writes it with the body. Anything
  else (streams, framing headers the app set, a paused transport) takes uvicorn's own path,
  byte for byte. (The access log's line is uvicorn's.)
- **A hang-up ends the request quietly.** ``GatewayProtocol`` cancels the request's task when the
  client goes away (``hung_up``); the cancellation is then the request's end, not an "Exception in
  ASGI application". Done here rather than by a coroutine around the app: a frame less.

Measured with bench/serve_instructions.py (bench/results/architecture.md).
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

from uvicorn.protocols.http.httptools_impl import HEADER_RE, HEADER_VALUE_RE, STATUS_LINE, RequestResponseCycle
from uvicorn.protocols.utils import get_client_addr, get_path_with_query_string

__all__ = ["CYCLE_ARGUMENTS_MATCH", "GatewayCycle", "whole_answer_head"]

# GatewayProtocol.on_headers_complete makes this class with the arguments uvicorn (0.55) passes
# its own; with another uvicorn whose cycle takes others, uvicorn's cycle is used instead
# (tests/test_gateway_answers.py checks that this one is used here).
CYCLE_ARGUMENTS_MATCH = list(inspect.signature(RequestResponseCycle.__init__).parameters) == [
    "self", "scope", "transport", "flow", "logger", "access_logger", "access_log", "default_headers",
    "message_event", "expect_100_continue", "keep_alive", "on_response",
]  # fmt: skip


# The bytes uvicorn's header checks allow (each is a class of single bytes).
_NAME_BYTES_ALLOWED = bytes(byte for byte in range(256) if HEADER_RE.search(bytes([byte])) is None)
_VALUE_BYTES_ALLOWED = bytes(byte for byte in range(256) if HEADER_VALUE_RE.search(bytes([byte])) is None)


class GatewayCycle(RequestResponseCycle):
    """uvicorn's request cycle, with a whole answer written at once and a hang-up's quiet end."""

    held_head: bytes | None = None  # a whole answer's head, until its body comes
    hung_up = False  # set by the protocol before it cancels the request's task

    async def run_asgi(self, app: Any) -> None:
        # uvicorn's (0.55), with the hang-up's cancellation as a normal end.
        try:
            result = await app(self.scope, self.receive, self.send)
        except BaseException as error:
            if self.hung_up and isinstance(error, asyncio.CancelledError):
                return  # the client left: nothing is left to answer or to log
            self.logger.error("Exception in ASGI application\n", exc_info=error)
            if not self.response_started:
                await self.send_500_response()
            else:
                self.transport.close()
        else:
            if result is not None:
                self.logger.error("ASGI callable should return None, but returned '%s'.", result)
                self.transport.close()
            elif not self.response_started and not self.disconnected:
                self.logger.error("ASGI callable returned without starting response.")
                await self.send_500_response()
            elif not self.response_complete and not self.disconnected:
                self.logger.error("ASGI callable returned without completing response.")
                self.transport.close()
        finally:
            self.on_response = _nothing

    async def send(self, message: Any) -> None:
        if self.held_head is not None:
            await self._send_after_head(message)
            return
        if (
            self.response_started
            or message["type"] != "http.response.start"
            or self.disconnected
            or self.flow.write_paused
        ):
            await super().send(message)
            return
        head = whole_answer_head(message["status"], self.default_headers, message.get("headers", ()))
        if head is None:
            await super().send(message)
            return
        held, self.expected_content_length = head
        if self.access_log:  # uvicorn's line
            scope = self.scope
            self.access_logger.info('%s - "%s %s HTTP/%s" %d', get_client_addr(scope), scope["method"],
                                    get_path_with_query_string(scope), scope["http_version"], message["status"])  # fmt: skip
        if not self.keep_alive:
            held = held[:-2] + b"connection: close\r\n\r\n"
        self.held_head = held
        self.response_started = True
        self.waiting_for_100_continue = False
        self.chunked_encoding = False

    async def _send_after_head(self, message: Any) -> None:
        head, self.held_head = self.held_head, None
        assert head is not None
        if (
            message["type"] == "http.response.body"
            and not message.get("more_body", False)
            and not self.disconnected
            and not self.flow.write_paused  # else uvicorn's send waits for the buffer to drain first
            and self.scope["method"] != "HEAD"
            and len(body := message.get("body", b"")) == self.expected_content_length
        ):
            self.transport.write(head + body)
            self.expected_content_length = 0
            self.response_complete = True
            self.message_event.set()
            if not self.keep_alive:
                self.transport.close()
            self.on_response()
            return
        if not self.disconnected:
            self.transport.write(head)
        await super().send(message)  # a body in parts, a HEAD request, or uvicorn's length error


def whole_answer_head(status: int, defaults: list[tuple[bytes, bytes]], headers: Any) -> tuple[bytes, int] | None:
    """A whole answer's head and its body's length; None when uvicorn's own send must decide
    (no ``content-length``, framing the app set itself, a byte uvicorn would refuse)."""
    lines = [STATUS_LINE[status]]
    names: list[bytes] = []
    values: list[bytes] = []
    length = None
    for name, value in [*defaults, *headers] if defaults else headers:
        name = name.lower()
        if name == b"content-length":
            length = value
        elif name == b"transfer-encoding" or name == b"connection":
            return None
        names.append(name)
        values.append(value)
        lines += (name, b": ", value, b"\r\n")
    # uvicorn's checks, once over all names and once over all values: a byte either refuses
    # appears in the joined bytes exactly when it appears in one of them. Deleting the allowed
    # bytes leaves the refused ones (a table lookup a byte; the expressions cost ten times more).
    if length is None or not length.isdigit() or b"".join(names).translate(None, _NAME_BYTES_ALLOWED):
        return None
    if b"".join(values).translate(None, _VALUE_BYTES_ALLOWED):
        return None
    lines.append(b"\r\n")
    return b"".join(lines), int(length)


def _nothing() -> None:
    return None
