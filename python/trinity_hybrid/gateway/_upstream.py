"""The gateway's HTTP/1.1 client for whole (non-stream) provider answers.

One POST with its whole body, one answer read to its end: keep-alive connections pooled per
origin, TLS with the default context, a connect timeout and a read timeout that bounds the
silence between bytes (aiohttp's ``sock_read``, which it replaces). The response is parsed by
httptools (llhttp), the parser uvicorn uses on the gateway's server side; bodies may be sized by
``Content-Length``, chunked, or end with the connection.

Why not aiohttp, which this replaced: measured on this machine against nginx, an aiohttp POST
cost 140-210 µs of CPU and 210-350 µs of wall time one after another; this client, 14 µs and
29 µs. At one connection the gateway's latency is its CPU on the critical path, and this was
the largest single item of it (see the README's Gateway section).

What it leaves out, on purpose: redirects (a 3xx is answered as is, as before: following a POST
elsewhere could send the key there), proxies from the environment (ignored before as well),
compression (none is asked for; a gzip or deflate body sent anyway is decoded), ``Expect:
100-continue``, and retries (a failure is the node's to judge and fall back from).
"""

from __future__ import annotations

import asyncio
import os
import ssl
import zlib
from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, version
from urllib.parse import urlsplit

import httptools

from ._server_limits import read_server_limits

__all__ = ["UpstreamError", "UpstreamPool", "UpstreamTimeout"]

# Parsed targets kept; URLs are one per provider and model, so this is never reached in practice.
TARGETS_MAX = 1024

try:
    _USER_AGENT = f"trinity-hybrid/{version('trinity-hybrid')}"
except PackageNotFoundError:  # run from a source tree
    _USER_AGENT = "trinity-hybrid"


class UpstreamError(Exception):
    """The request did not get a complete HTTP answer; the message names what went wrong."""


class UpstreamTimeout(UpstreamError):
    """No connection within the connect timeout, or silence longer than the read timeout."""


class _Target:
    """What a URL means to the pool, parsed once per URL."""

    __slots__ = ("host", "origin", "port", "request_line", "tls")

    def __init__(self, url: str) -> None:
        # urlsplit would drop a CR or LF silently; a space would split the request line.
        if any(character <= " " or character == "\x7f" for character in url):
            raise UpstreamError("the URL contains a space, a line break or another control character")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UpstreamError(f"unsupported URL scheme {parts.scheme!r}")
        try:
            port = parts.port
        except ValueError:
            raise UpstreamError("the URL's port is not a number from 0 to 65535") from None
        self.tls = parts.scheme == "https"
        self.host = parts.hostname
        self.port = port or (443 if self.tls else 80)
        self.origin = (parts.scheme, self.host, self.port)
        default_port = port is None or port == (443 if self.tls else 80)
        host_header = parts.netloc.rpartition("@")[2] if not default_port else _bracketed(self.host)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        head = f"POST {path} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: {_USER_AGENT}\r\n"
        _refuse_line_breaks(head, lines=3)
        self.request_line = head.encode("utf-8")


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _refuse_line_breaks(text: str, lines: int) -> None:
    """``text`` is ``lines`` lines, each ending in CRLF: a CR or LF inside a header or the URL
    would end it and start another line the sender never meant."""
    if text.count("\n") != lines or text.count("\r") != lines:
        raise UpstreamError("a header or the URL contains a line break")


class _Connection(asyncio.Protocol):
    """One keep-alive connection; at most one request on it at a time."""

    def __init__(self, loop: asyncio.AbstractEventLoop, body_bytes_max: int) -> None:
        self._loop = loop
        self._body_bytes_max = body_bytes_max
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since_s = 0.0
        self._parser = httptools.HttpResponseParser(self)
        self._waiter: asyncio.Future[tuple[int, dict[str, str], bytes]] | None = None
        self._headers: dict[str, str] = {}
        self._body: list[bytes] = []
        self._body_bytes = 0
        self._headers_done = False
        self._close_delimited = False
        self._keep_alive = False
        self._last_data_s = 0.0
        self._read_s = 0.0
        self._timer: asyncio.TimerHandle | None = None

    # Protocol -------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self._last_data_s = self._loop.time()
        if self._waiter is None:
            self._abort(None)  # bytes nobody asked for: the connection cannot be trusted again
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as error:
            self._abort(UpstreamError(f"invalid HTTP answer: {type(error).__name__}"))

    def eof_received(self) -> bool:
        return False  # close our side too; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        if self._headers_done and self._close_delimited:
            self._finish()  # the body ended with the connection, as its headers announced
        else:
            self._fail(UpstreamError("the connection closed before the answer was complete"))

    # httptools callbacks ---------------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._waiter is None:
            return  # a second answer in the same bytes: the headers returned stay as they were
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        known = self._headers.get(key)
        self._headers[key] = text if known is None else f"{known}, {text}"

    def on_headers_complete(self) -> None:
        self._headers_done = True
        headers = self._headers
        status = self._parser.get_status_code()
        self._close_delimited = (
            "content-length" not in headers
            and "chunked" not in headers.get("transfer-encoding", "").lower()
            and status >= 200
            and status not in (204, 304)
        )

    def on_body(self, body: bytes) -> None:
        if self._waiter is None:
            return  # after an abort, or a second answer: nothing more is kept
        self._body_bytes += len(body)
        if self._body_bytes > self._body_bytes_max:
            # Refused as it arrives, not buffered: a chat completion is kilobytes.
            self._abort(UpstreamError(f"the answer exceeds {self._body_bytes_max} bytes"))
            return
        self._body.append(body)

    def on_message_complete(self) -> None:
        if self._parser.get_status_code() < 200:
            self._reset_message()  # an interim answer (100 Continue): the real one follows
            return
        # Read here: the parser's flags are those of this message only until the next begins.
        self._keep_alive = self._parser.should_keep_alive()
        self._finish()

    # The request -----------------------------------------------------------------------------

    def send(self, data: bytes, read_s: float) -> asyncio.Future[tuple[int, dict[str, str], bytes]]:
        assert self._waiter is None and self.transport is not None
        self._reset_message()
        self._waiter = waiter = self._loop.create_future()
        self._read_s = read_s
        self._last_data_s = self._loop.time()
        self._timer = self._loop.call_at(self._last_data_s + read_s, self._check_silence)
        self.transport.write(data)
        return waiter

    def reusable(self) -> bool:
        return not self.closed and self.transport is not None and not self.transport.is_closing()

    def keeps_alive(self) -> bool:
        return not self.closed and self._keep_alive

    def retire(self) -> None:
        """Closes a connection with no request in flight: a FIN, not a reset."""
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def abandon(self) -> None:
        """The caller stopped waiting (cancelled): the answer still in flight would confuse the
        next request, so the connection goes."""
        self._abort(None)

    def _reset_message(self) -> None:
        self._headers = {}
        self._body = []
        self._body_bytes = 0
        self._headers_done = False
        self._close_delimited = False
        self._keep_alive = False

    def _check_silence(self) -> None:
        # One timer per request, moved forward only when it fires: cheaper than rescheduling it
        # on every chunk of data, and the same bound on silence.
        if self._waiter is None or self._waiter.done():
            return
        silent_until_s = self._last_data_s + self._read_s
        if self._loop.time() >= silent_until_s:
            self._abort(UpstreamTimeout(f"no data for {self._read_s:g} s"))
        else:
            self._timer = self._loop.call_at(silent_until_s, self._check_silence)

    def _finish(self) -> None:
        if self._waiter is None:
            self._abort(None)  # a second answer to one request
            return
        body = b"".join(self._body)
        encoding = self._headers.get("content-encoding", "").lower()
        if encoding in ("gzip", "deflate"):
            # Inflated under the same bound: a few kilobytes of gzip can stand for gigabytes.
            inflater = zlib.decompressobj(16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS)
            try:
                body = inflater.decompress(body, self._body_bytes_max + 1)
            except zlib.error:
                body = b""
            if len(body) > self._body_bytes_max:
                self._abort(UpstreamError(f"the answer exceeds {self._body_bytes_max} bytes once decompressed"))
                return
            if not inflater.eof:
                self._abort(UpstreamError(f"the {encoding} body does not decompress"))
                return
        result = (self._parser.get_status_code(), self._headers, body)
        self._settle()
        waiter, self._waiter = self._waiter, None
        if not waiter.done():
            waiter.set_result(result)

    def _fail(self, error: UpstreamError) -> None:
        self._settle()
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)

    def _abort(self, error: UpstreamError | None) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()
        if error is not None:
            self._fail(error)
        else:
            self._settle()
            self._waiter = None

    def _settle(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


class UpstreamPool:
    """Keep-alive connections per origin. ``connections_max`` bounds the connections in use at
    once (a request beyond it waits for one to come free); ``idle_max`` bounds those kept idle,
    each for at most ``idle_s``. ``ssl_context`` defaults to ``ssl.create_default_context()``. An
    answer's body over ``body_bytes_max`` (by default ``TRINITY_MAX_UPSTREAM_BYTES``, 50 MB) fails
    the request with ``UpstreamError`` as soon as it is seen; its bytes are not kept."""

    def __init__(
        self,
        connections_max: int,
        idle_max: int,
        idle_s: float,
        ssl_context: ssl.SSLContext | None = None,
        body_bytes_max: int | None = None,
    ) -> None:
        assert connections_max > 0 and idle_max >= 0 and idle_s > 0
        if body_bytes_max is None:
            body_bytes_max = read_server_limits(os.environ).upstream_bytes_max
        assert body_bytes_max > 0
        self._body_bytes_max = body_bytes_max
        self._connections_max = connections_max
        self._idle_max = idle_max
        self._idle_s = idle_s
        self._idle: dict[tuple[str, str, int], list[_Connection]] = {}
        self._idle_count = 0
        self._busy = 0
        self._waiting: list[asyncio.Future[None]] = []
        self._targets: dict[str, _Target] = {}
        # The system's trusted certificates, as aiohttp (which this replaced) used; loaded on the
        # first https origin, since loading them reads files.
        self._ssl = ssl_context

    async def post(
        self, url: str, headers: Mapping[str, str], body: bytes, *, connect_s: float, read_s: float
    ) -> tuple[int, dict[str, str], bytes]:
        """(status, headers with lower-case names, body). Raises ``UpstreamTimeout`` or
        ``UpstreamError``; the status, whatever it is, is the caller's to judge."""
        target = self._target(url)
        lines = [f"{name}: {value}\r\n" for name, value in headers.items()]
        lines.append(f"Content-Length: {len(body)}\r\n\r\n")
        header_block = "".join(lines)
        _refuse_line_breaks(header_block, lines=len(lines) + 1)
        data = target.request_line + header_block.encode("utf-8") + body
        if self._busy >= self._connections_max:
            await self._wait_for_room()
        self._busy += 1
        connection: _Connection | None = None
        try:
            connection = self._idle_connection(target.origin) or await self._connect(target, connect_s)
            answer = await connection.send(data, read_s)
        except BaseException:
            if connection is not None:
                connection.abandon()
            raise
        finally:
            self._busy -= 1
            if self._waiting:
                waiter = self._waiting.pop(0)
                if not waiter.done():
                    waiter.set_result(None)
        self._release(target.origin, connection)
        return answer

    async def _wait_for_room(self) -> None:
        waiter = asyncio.get_running_loop().create_future()
        self._waiting.append(waiter)
        try:
            await waiter
        except BaseException:
            if waiter in self._waiting:
                self._waiting.remove(waiter)
            raise

    def _target(self, url: str) -> _Target:
        target = self._targets.get(url)
        if target is None:
            if len(self._targets) >= TARGETS_MAX:
                self._targets.clear()
            target = self._targets[url] = _Target(url)
        return target

    def _idle_connection(self, origin: tuple[str, str, int]) -> _Connection | None:
        idle = self._idle.get(origin)
        if not idle:
            return None
        now_s = asyncio.get_running_loop().time()
        while idle:
            connection = idle.pop()
            self._idle_count -= 1
            if connection.reusable() and now_s - connection.idle_since_s < self._idle_s:
                return connection
            connection.retire()
        return None

    async def _connect(self, target: _Target, connect_s: float) -> _Connection:
        loop = asyncio.get_running_loop()
        context = None
        if target.tls:
            if self._ssl is None:
                self._ssl = ssl.create_default_context()
            context = self._ssl
        try:
            _, connection = await asyncio.wait_for(
                loop.create_connection(
                    lambda: _Connection(loop, self._body_bytes_max),
                    target.host,
                    target.port,
                    ssl=context,
                    server_hostname=target.host if context else None,
                ),
                connect_s,
            )
        except asyncio.TimeoutError:
            raise UpstreamTimeout(f"no connection within {connect_s:g} s") from None
        except (OSError, ssl.SSLError) as error:
            raise UpstreamError(f"cannot connect: {type(error).__name__}") from None
        return connection

    def _release(self, origin: tuple[str, str, int], connection: _Connection) -> None:
        if not connection.keeps_alive() or self._idle_count >= self._idle_max:
            connection.retire()
            return
        connection.idle_since_s = asyncio.get_running_loop().time()
        self._idle.setdefault(origin, []).append(connection)
        self._idle_count += 1

    def close(self) -> None:
        for idle in self._idle.values():
            for connection in idle:
                connection.retire()
        self._idle.clear()
        self._idle_count = 0

    @property
    def idle_connections(self) -> int:
        return self._idle_count

    def __repr__(self) -> str:
        return f"UpstreamPool(busy={self._busy}, idle={self._idle_count})"
