"""The one server framework: an aiohttp app on 127.0.0.1, in a thread with its own event loop.

What differs between providers (paths, auth headers, JSON shapes, SSE events, error wording) lives
in a `Wire` subclass, one module per provider. This module owns everything else: recording the
requests, computing the deterministic reply, applying faults, writing streams, and shutting down
without leaving a thread or a hanging handler behind.
"""

from __future__ import annotations

import abc
import asyncio
import enum
import json
import re
import socket
import struct
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from types import TracebackType
from typing import Any

from aiohttp import web
from typing_extensions import Self

from ._faults import Fault, FaultKind, FaultScript

STARTUP_TIMEOUT_S = 10.0
CLOSE_TIMEOUT_S = 5.0
# How long aiohttp may wait for running handlers at shutdown; ours return as soon as `_closing` is
# set, so this only bounds a bug.
HANDLERS_SHUTDOWN_TIMEOUT_S = 2.0
# aiohttp refuses bodies over 1 MiB by default; a long-context prompt in a test can be larger.
REQUEST_BYTES_MAX = 64 * 1024 * 1024

_GATEWAY_PAGE = (
    "<html>\r\n<head><title>{status} {phrase}</title></head>\r\n<body>\r\n"
    "<center><h1>{status} {phrase}</h1></center>\r\n<hr><center>cloudflare</center>\r\n"
    "</body>\r\n</html>\r\n"
)


_HTTP_STATUSES = frozenset(status.value for status in HTTPStatus)


class Endpoint(enum.Enum):
    GENERATE = "generate"  # the chat endpoint; streams when the body asks to
    STREAM_GENERATE = "stream_generate"  # an endpoint that always streams (Gemini)
    LIST_MODELS = "list_models"


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # an aiohttp route pattern
    endpoint: Endpoint


@dataclass
class Request:
    """One request as the server received it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # names in lower case
    path_params: dict[str, str]
    body: bytes
    json: Any  # None when the body is empty or not JSON
    user_text: str = ""  # the text of the last user message, as the provider's wire carries it
    fault: Fault | None = None  # the fault applied to this request


@dataclass(frozen=True)
class ToolCallReply:
    """A responder's answer that calls tools instead of writing text: each call is (id, name,
    arguments as a JSON object). Each wire renders them in its own shape (OpenAI ``tool_calls``,
    Anthropic ``tool_use`` blocks, Gemini ``functionCall`` parts, Cohere ``tool_calls``), whole
    or streamed as that provider streams them."""

    calls: tuple[tuple[str, str, dict[str, Any]], ...]
    # Text the model writes before its calls (Anthropic text blocks, Cohere's tool_plan).
    preface: str = ""


@dataclass(frozen=True)
class Reply:
    """The model's deterministic answer to one request. ``tool_calls`` is set when the
    responder called tools (then ``text`` is the preface, often empty)."""

    id: str
    model: str
    text: str
    pieces: tuple[str, ...]  # the stream's text deltas, one token each; they join to `text`
    prompt_tokens: int
    completion_tokens: int
    truncated: bool  # stopped by the request's output-token limit
    tool_calls: tuple[tuple[str, str, dict[str, Any]], ...] = ()

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class ErrorReply:
    status: int
    body: dict[str, Any]
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StreamPlan:
    """A stream's SSE events: the opening ones, one per text delta, the closing ones."""

    head: list[bytes]
    deltas: list[bytes]
    tail: list[bytes]


# A responder answers with text, or with tool calls (``ToolCallReply``).
Responder = Callable[[Request], "str | ToolCallReply"]


def echo(request: Request) -> str:
    """The default responder: the answer shows it was computed from this request."""
    return f"echo: {request.user_text}"


def sse(data: Any, *, event: str | None = None) -> bytes:
    """One Server-Sent Event; `data` is JSON-encoded unless it is already a string."""
    text = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    assert "\n" not in text, "a multi-line SSE data field is not produced by any provider we serve"
    head = f"event: {event}\n" if event is not None else ""
    return f"{head}data: {text}\n\n".encode()


def count_words(texts: list[str]) -> int:
    """Our stand-in tokenizer: one token per whitespace-separated word."""
    return sum(len(text.split()) for text in texts)


def text_of(content: Any) -> str:
    """The text of a message content that is a string or a list of `{type: text, text}` blocks."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(block.get("text", "") for block in content if isinstance(block, dict))
    return ""


class Wire(abc.ABC):
    """One provider's wire format. Subclasses are stateless."""

    name: str
    base_path: str  # what the official SDK's base_url adds to the server's origin
    malformed_event_name: str | None = None  # the SSE event name a malformed stream event carries

    @abc.abstractmethod
    def routes(self) -> list[Route]: ...

    @abc.abstractmethod
    def check(self, request: Request, endpoint: Endpoint, api_key: str) -> ErrorReply | None:
        """Authentication, then request validation, as the provider does them."""

    @abc.abstractmethod
    def model(self, request: Request) -> str: ...

    @abc.abstractmethod
    def user_text(self, body: Any) -> str: ...

    @abc.abstractmethod
    def prompt_texts(self, body: Any) -> list[str]:
        """Every text the prompt carries (system and all messages), for the token count."""

    @abc.abstractmethod
    def max_output_tokens(self, body: Any) -> int | None: ...

    @abc.abstractmethod
    def render(self, request: Request, reply: Reply) -> dict[str, Any]: ...

    @abc.abstractmethod
    def render_stream(self, request: Request, reply: Reply) -> StreamPlan: ...

    @abc.abstractmethod
    def error_for_status(self, status: int, retry_after_s: float | None = None) -> ErrorReply:
        """The provider's error for this status; the server adds the `Retry-After` header itself."""

    @abc.abstractmethod
    def error_quota(self) -> ErrorReply: ...

    @abc.abstractmethod
    def error_context_length(self, prompt_tokens: int, limit_tokens: int) -> ErrorReply: ...

    @abc.abstractmethod
    def stream_error_event(self) -> bytes: ...

    stream_error_status = 503  # the status the in-stream error stands for on a non-stream request

    def is_stream(self, request: Request, endpoint: Endpoint) -> bool:
        if endpoint is Endpoint.STREAM_GENERATE:
            return True
        return isinstance(request.json, dict) and request.json.get("stream") is True

    def list_models(self, model_ids: tuple[str, ...]) -> dict[str, Any]:
        raise NotImplementedError(f"{self.name} serves no model list")

    def response_headers(self, reply_id: str) -> dict[str, str]:
        return {}

    def malformed_event(self) -> bytes:
        head = f"event: {self.malformed_event_name}\n" if self.malformed_event_name else ""
        return f'{head}data: {{"truncated": \n\n'.encode()

    def stream_headers(self) -> dict[str, str]:
        return {"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache"}


class MessagesWire(Wire):
    """A wire whose body names a `model` and carries `messages` of `{role, content}` (OpenAI,
    Anthropic, Cohere), the content a string or a list of text blocks."""

    def model(self, request: Request) -> str:
        return str(request.json["model"])

    def user_text(self, body: Any) -> str:
        messages = body.get("messages") if isinstance(body, dict) else None
        for message in reversed(messages if isinstance(messages, list) else []):
            if isinstance(message, dict) and message.get("role") == "user":
                return text_of(message.get("content"))
        return ""

    def prompt_texts(self, body: Any) -> list[str]:
        return [text_of(message.get("content")) for message in body["messages"] if isinstance(message, dict)]


def _split_tokens(text: str) -> list[str]:
    pieces = re.findall(r"\s*\S+\s*", text)
    if not pieces and text:
        pieces = [text]
    return pieces


class LoopbackServer:
    """A provider's API on 127.0.0.1, on an ephemeral port, served from a background thread.

    `requests` lists what arrived, `faults` scripts what goes wrong next, `responder` computes the
    answer text from a `Request`. Use it as a context manager or call `close()`.
    """

    def __init__(
        self,
        wire: Wire,
        *,
        api_key: str,
        responder: Responder = echo,
        model_ids: tuple[str, ...] = (),
    ) -> None:
        self.wire = wire
        self.api_key = api_key
        self.responder = responder
        self.model_ids = model_ids
        self.requests: list[Request] = []
        self._requests_changed = threading.Condition()
        self.faults = FaultScript()
        self._replies_count = 0
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", 0))
        self.port: int = self._socket.getsockname()[1]
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closing: asyncio.Event | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        self._closed = False
        self._thread = threading.Thread(target=self._serve, name=f"loopback-{wire.name}-{self.port}", daemon=True)
        self._thread.start()
        if not self._ready.wait(STARTUP_TIMEOUT_S):
            raise RuntimeError(f"loopback {wire.name} server did not start")
        if self._startup_error is not None:
            raise RuntimeError(f"loopback {wire.name} server failed to start") from self._startup_error

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """The base URL in the form the provider's official SDK takes."""
        return self.origin + self.wire.base_path

    def wait_requests(self, count: int, timeout_s: float = 5.0) -> bool:
        """Wait until at least `count` requests have arrived; False if `timeout_s` passed first."""
        with self._requests_changed:
            return self._requests_changed.wait_for(lambda: len(self.requests) >= count, timeout_s)

    def close(self) -> None:
        """Stop serving: hanging and delayed requests end, the thread is joined."""
        if self._closed:
            return
        self._closed = True
        loop, closing = self._loop, self._closing
        assert loop is not None and closing is not None
        loop.call_soon_threadsafe(closing.set)
        self._thread.join(CLOSE_TIMEOUT_S)
        assert not self._thread.is_alive(), f"loopback {self.wire.name} server thread did not stop"

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # The server thread.

    def _serve(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._main())
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()

    async def _main(self) -> None:
        self._closing = asyncio.Event()
        app = web.Application(client_max_size=REQUEST_BYTES_MAX)
        for route in self.wire.routes():
            app.router.add_route(route.method, route.path, self._handler(route))
        runner = web.AppRunner(
            app,
            access_log=None,
            handler_cancellation=True,  # a client that gives up ends its hanging handler
            shutdown_timeout=HANDLERS_SHUTDOWN_TIMEOUT_S,
        )
        try:
            await runner.setup()
            await web.SockSite(runner, self._socket).start()
        except BaseException as error:
            self._startup_error = error
            self._ready.set()
            await runner.cleanup()
            self._socket.close()
            raise
        self._ready.set()
        await self._closing.wait()
        await runner.cleanup()

    def _handler(self, route: Route) -> Callable[[web.Request], Any]:
        async def handle(http_request: web.Request) -> web.StreamResponse:
            return await self._handle(http_request, route)

        return handle

    async def _handle(self, http_request: web.Request, route: Route) -> web.StreamResponse:
        request = await self._record(http_request)
        fault = self.faults.next()
        request.fault = fault
        if fault is not None:
            early = await self._apply_early_fault(http_request, fault)
            if early is not None:
                return early
        error = self.wire.check(request, route.endpoint, self.api_key)
        if error is not None:
            return _error_response(error)
        if route.endpoint is Endpoint.LIST_MODELS:
            return web.json_response(self.wire.list_models(self.model_ids))
        reply = self._reply(request)
        if self.wire.is_stream(request, route.endpoint):
            return await self._stream(http_request, request, reply, fault)
        return await self._complete(http_request, request, reply, fault)

    async def _record(self, http_request: web.Request) -> Request:
        body = await http_request.read()
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = None
        request = Request(
            method=http_request.method,
            path=http_request.path,
            query=dict(http_request.query),
            headers={name.lower(): value for name, value in http_request.headers.items()},
            path_params=dict(http_request.match_info),
            body=body,
            json=parsed,
        )
        request.user_text = self.wire.user_text(parsed)
        with self._requests_changed:
            self.requests.append(request)
            self._requests_changed.notify_all()
        return request

    def _reply(self, request: Request) -> Reply:
        answer = self.responder(request)
        tool_calls: tuple[tuple[str, str, dict[str, Any]], ...] = ()
        if isinstance(answer, ToolCallReply):
            answer, tool_calls = answer.preface, answer.calls
        text = answer
        pieces = _split_tokens(text)
        limit = self.wire.max_output_tokens(request.json)
        truncated = limit is not None and len(pieces) > limit
        if truncated:
            assert limit is not None
            pieces = pieces[:limit]
        self._replies_count += 1
        return Reply(
            id=f"loopback{self._replies_count:06d}",
            model=self.wire.model(request),
            text="".join(pieces),
            pieces=tuple(pieces),
            prompt_tokens=count_words(self.wire.prompt_texts(request.json)),
            completion_tokens=len(pieces) + len(tool_calls),
            truncated=truncated,
            tool_calls=tool_calls,
        )

    async def _apply_early_fault(self, http_request: web.Request, fault: Fault) -> web.StreamResponse | None:
        """Faults that act before the request is looked at; None lets the request go on."""
        kind = fault.kind
        if kind is FaultKind.STATUS:
            error = self.wire.error_for_status(fault.status_code, fault.retry_after_s)
            if fault.retry_after_s is not None:
                error = ErrorReply(error.status, error.body, {**error.headers, "Retry-After": _seconds(fault)})
            return _error_response(error)
        if kind is FaultKind.QUOTA:
            return _error_response(self.wire.error_quota())
        if kind is FaultKind.CONTEXT_LENGTH:
            return _error_response(self.wire.error_context_length(fault.prompt_tokens, fault.limit_tokens))
        if kind is FaultKind.GATEWAY_PAGE:
            phrase = HTTPStatus(fault.status_code).phrase if fault.status_code in _HTTP_STATUSES else "Error"
            page = _GATEWAY_PAGE.format(status=fault.status_code, phrase=phrase)
            return web.Response(status=fault.status_code, text=page, content_type="text/html")
        if kind is FaultKind.RESET:
            return _reset(http_request)
        if kind is FaultKind.HANG:
            await self._wait_closing(None)
            return _reset(http_request)
        if kind is FaultKind.SLOW_FIRST_BYTE and await self._wait_closing(fault.delay_s):
            return _reset(http_request)
        return None

    async def _wait_closing(self, timeout_s: float | None) -> bool:
        """Sleep up to `timeout_s` (None: without end); True if the server began to close."""
        assert self._closing is not None
        try:
            await asyncio.wait_for(self._closing.wait(), timeout_s)
        except asyncio.TimeoutError:
            return False
        return True

    async def _complete(
        self, http_request: web.Request, request: Request, reply: Reply, fault: Fault | None
    ) -> web.StreamResponse:
        kind = fault.kind if fault is not None else None
        if kind is FaultKind.STREAM_ERROR:
            return _error_response(self.wire.error_for_status(self.wire.stream_error_status))
        body = json.dumps(self.wire.render(request, reply)).encode()
        headers = self.wire.response_headers(reply.id)
        if kind is FaultKind.MALFORMED_JSON:
            return web.Response(body=body[: len(body) // 2], content_type="application/json", headers=headers)
        if kind is FaultKind.STREAM_CUT:
            response = web.StreamResponse(headers={**headers, "Content-Type": "application/json"})
            response.content_length = len(body)
            await response.prepare(http_request)
            await response.write(body[: len(body) // 2])
            return _cut(http_request, response)
        return web.Response(body=body, content_type="application/json", headers=headers)

    async def _stream(
        self, http_request: web.Request, request: Request, reply: Reply, fault: Fault | None
    ) -> web.StreamResponse:
        plan = self.wire.render_stream(request, reply)
        kind = fault.kind if fault is not None else None
        delay_s = fault.delay_s if fault is not None and kind is FaultKind.SLOW_CHUNKS else 0.0
        deltas = plan.deltas
        if fault is not None and kind in (FaultKind.STREAM_CUT, FaultKind.STREAM_ERROR):
            deltas = deltas[: fault.after_deltas]
        if kind is FaultKind.MALFORMED_JSON:
            deltas = [self.wire.malformed_event(), *deltas]
        response = web.StreamResponse(headers={**self.wire.stream_headers(), **self.wire.response_headers(reply.id)})
        await response.prepare(http_request)
        for event in [*plan.head, *deltas]:
            if delay_s > 0 and await self._wait_closing(delay_s):
                return _cut(http_request, response)
            await response.write(event)
        if fault is not None and kind is FaultKind.STREAM_CUT:
            if fault.clean:
                await response.write_eof()
                return response
            return _cut(http_request, response)
        tail = [self.wire.stream_error_event()] if kind is FaultKind.STREAM_ERROR else plan.tail
        for event in tail:
            if delay_s > 0 and await self._wait_closing(delay_s):
                return _cut(http_request, response)
            await response.write(event)
        await response.write_eof()
        return response


def _seconds(fault: Fault) -> str:
    assert fault.retry_after_s is not None
    return f"{fault.retry_after_s:g}"  # 2 -> "2", 0.5 -> "0.5"


def _error_response(error: ErrorReply) -> web.Response:
    return web.Response(
        status=error.status,
        body=json.dumps(error.body).encode(),
        content_type="application/json",
        headers=dict(error.headers),
    )


def _reset(http_request: web.Request) -> web.StreamResponse:
    """Reset the connection (RST, not FIN) without a response."""
    transport = http_request.transport
    if transport is not None:
        raw_socket = transport.get_extra_info("socket")
        if raw_socket is not None:
            raw_socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
    return web.Response()


def _cut(http_request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
    """Close the connection in the middle of a response body."""
    transport = http_request.transport
    if transport is not None:
        transport.close()
    return response
