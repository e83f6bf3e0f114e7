"""Server-sent events read from an httpx response with a bound on each event's size.

httpx-sse, which this replaces on the stream path, keeps a line until its end comes and an event
until its blank line comes, without limit: a provider (or whatever stands in its place) that
sends one endless line would fill the memory. Here an event (its lines so far, and the line being
read) over ``EVENT_BYTES_MAX`` raises ``SSEError``, which fails that attempt like a broken
connection (the planner falls back); so does an error answer's body over the same bound, and a
whole answer's body over ``TRINITY_MAX_UPSTREAM_BYTES`` (``AnswerTooLarge``, read as it comes). The
parsing follows the WHATWG rules httpx-sse follows: lines end in CRLF, LF or CR, ``data`` lines
join with LF, ``event`` names the event (``message`` when none), a line starting with ``:`` is a
comment, and a blank line ends the event.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import httpx
from httpx_sse import SSEError

__all__ = [
    "EVENT_BYTES_MAX",
    "WHOLE_ANSWER",
    "AnswerTooLarge",
    "Event",
    "aiter_events",
    "aread_capped",
    "iter_events",
    "read_capped",
]

# A chat stream's event is a delta of a few hundred bytes; a whole tool call's arguments or a
# provider's final event with usage may be kilobytes.
EVENT_BYTES_MAX = 8 * 1024 * 1024
# How a whole answer past its bound is named (the drivers' ``read_capped(..., what=)``).
WHOLE_ANSWER = "the answer (TRINITY_MAX_UPSTREAM_BYTES)"

_LINE_END = re.compile(rb"\r\n|\r|\n")


class AnswerTooLarge(SSEError):
    """A body past its bound; caught where SSEError is, its message says which bound."""


@dataclass(frozen=True, slots=True)
class Event:
    event: str
    data: str


class _Decoder:
    """Bytes in, whole events out; holds at most ``bytes_max`` of one event."""

    __slots__ = (
        "_buffer",
        "_bytes_max",
        "_data",
        "_event",
        "_held",
        "_id",
        "_pending",
        "_pieces",
        "_retry",
        "_started",
    )

    def __init__(self, bytes_max: int) -> None:
        self._bytes_max = bytes_max
        self._buffer = b""
        self._event = ""
        self._data: list[str] = []
        # As httpx-sse: a block with only an id or a retry is an event too, and the last id stays.
        self._id = ""
        self._retry = False
        self._held = 0  # the bytes of the event so far, its lines' ends included
        self._pieces: list[bytes] = []  # the rest of an unfinished line, not yet joined to _buffer
        self._pending = 0
        self._started = False

    def feed(self, chunk: bytes) -> list[Event]:
        if self._buffer and not self._buffer.endswith(b"\r") and _LINE_END.search(chunk) is None:
            # Still the same line: kept in pieces, so that a long line costs no quadratic copying.
            self._pieces.append(chunk)
            self._pending += len(chunk)
            if self._held + len(self._buffer) + self._pending > self._bytes_max:
                raise SSEError(f"a server-sent event exceeds {self._bytes_max} bytes")
            return []
        if self._pieces:
            self._buffer += b"".join(self._pieces)
            self._pieces, self._pending = [], 0
        buffer = self._buffer + chunk if self._buffer else chunk
        if not self._started and buffer:
            self._started = True
            buffer = buffer.removeprefix(b"\xef\xbb\xbf")
        events: list[Event] = []
        start = 0
        for end in _LINE_END.finditer(buffer):
            if end.group() == b"\r" and end.end() == len(buffer):
                break  # a CR at the end may be the first half of CRLF: wait for the next byte
            self._held += end.end() - start
            self._line(buffer[start : end.start()], events)
            start = end.end()
        self._buffer = buffer[start:]
        if self._held + len(self._buffer) > self._bytes_max:
            raise SSEError(f"a server-sent event exceeds {self._bytes_max} bytes")
        return events

    def finish(self) -> list[Event]:
        """At the stream's end: a last CR ends its line (no LF can follow it any more)."""
        return self.feed(b"\n") if self._buffer.endswith(b"\r") and not self._pieces else []

    def _line(self, line: bytes, events: list[Event]) -> None:
        if not line:
            if self._data or self._event or self._id or self._retry:
                events.append(Event(self._event or "message", "\n".join(self._data)))
            self._event, self._data, self._held, self._retry = "", [], 0, False
            return
        if line[:1] == b":":
            return
        name, _, value = line.partition(b":")
        value = value.removeprefix(b" ")
        if name == b"data":
            self._data.append(value.decode("utf-8", "replace"))
        elif name == b"event":
            self._event = value.decode("utf-8", "replace")
        elif name == b"id" and b"\0" not in value:
            self._id = value.decode("utf-8", "replace")
        elif name == b"retry" and value.isdigit():
            self._retry = True
        if self._held > self._bytes_max:
            raise SSEError(f"a server-sent event exceeds {self._bytes_max} bytes")


def _check_content_type(response: httpx.Response) -> None:
    content_type = response.headers.get("content-type", "").partition(";")[0]
    if "text/event-stream" not in content_type:
        raise SSEError(f"Expected response header Content-Type to contain 'text/event-stream', got {content_type!r}")


async def aiter_events(response: httpx.Response, bytes_max: int = EVENT_BYTES_MAX) -> AsyncIterator[Event]:
    """The events of a streamed ``response``; ``SSEError`` past ``bytes_max`` in one event."""
    _check_content_type(response)
    decoder = _Decoder(bytes_max)
    async for chunk in response.aiter_bytes():
        for event in decoder.feed(chunk):
            yield event
    for event in decoder.finish():
        yield event


def iter_events(response: httpx.Response, bytes_max: int = EVENT_BYTES_MAX) -> Iterator[Event]:
    """The same, for a sync client's response."""
    _check_content_type(response)
    decoder = _Decoder(bytes_max)
    for chunk in response.iter_bytes():
        yield from decoder.feed(chunk)
    yield from decoder.finish()


async def aread_capped(
    response: httpx.Response, bytes_max: int = EVENT_BYTES_MAX, what: str = "the error answer"
) -> bytes:
    """A streamed response's body (decoded), refused past ``bytes_max``: reading stops there."""
    parts: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > bytes_max:
            raise AnswerTooLarge(f"{what} exceeds {bytes_max} bytes")
        parts.append(chunk)
    return b"".join(parts)


def read_capped(response: httpx.Response, bytes_max: int = EVENT_BYTES_MAX, what: str = "the error answer") -> bytes:
    parts: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > bytes_max:
            raise AnswerTooLarge(f"{what} exceeds {bytes_max} bytes")
        parts.append(chunk)
    return b"".join(parts)
