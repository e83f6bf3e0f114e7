"""``infer`` and ``ainfer``: the provider chain walked, one HTTP call at a time.

The decisions (which provider next, what an error means, what to record) live in ``_Call`` and
``_StreamState``, which do no I/O; ``infer_sync`` / ``stream_sync`` and their async twins only
send requests and read bytes. Data flows one way: route (native) → call (here) → outcome
recorded (native).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Executor, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
from httpx_sse import EventSource, SSEError

from ._exceptions import (
    AllProvidersFailed,
    CircuitOpenError,
    ClientRequestError,
    ContextLengthExceededError,
    NoProviderAvailable,
    ProviderError,
    StreamInterruptedError,
    TransientError,
)
from .providers import ChatRequest, Completion, Endpoint, HttpRequest, StreamDelta, Usage, WireFormat

if TYPE_CHECKING:
    from ._cache import ResponseCache
    from ._node import Route, TrinityHybridNode

# A provider's p95 means little before this many successes; until then a hedge waits for it.
HEDGE_SAMPLES_MIN = 10

__all__ = ["Attempt", "Response", "StreamChunk", "Timeouts"]

# One record per provider attempt, with its fields in `extra` for structured handlers (JSON
# logging): provider, outcome, latency_ms, error_type. Messages come from our own errors, whose
# provider text has already had any key scrubbed out.
logger = logging.getLogger("trinity_hybrid")

# What the native breaker calls each of our failure kinds; a context-length error says nothing
# about the provider's health, so it is recorded like any other client error.
NATIVE_FAILURE_KIND = {
    "transient": "transient",
    "rate_limited": "rate_limited",
    "credential": "credential",
    "client": "client",
    "quota_exhausted": "quota_exhausted",
    "context_length": "client",
}


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds. ``read_s`` bounds a non-stream answer's silence and a stream's gap between
    chunks; ``first_token_s`` bounds a stream's wait for its first piece of text."""

    connect_s: float = 10.0
    read_s: float = 120.0
    first_token_s: float = 60.0

    @classmethod
    def of(cls, timeout: float | Timeouts | None) -> Timeouts:
        if timeout is None:
            return cls()
        if isinstance(timeout, Timeouts):
            return timeout
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
            from ._exceptions import InvalidInputError

            raise InvalidInputError(f"timeout must be a positive number of seconds, got {timeout!r}")
        return cls(connect_s=min(10.0, float(timeout)), read_s=float(timeout), first_token_s=float(timeout))

    def httpx(self) -> httpx.Timeout:
        return httpx.Timeout(self.read_s, connect=self.connect_s)


# One shared instance (it is frozen): transports may cache what they derive from it by identity.
TIMEOUTS_DEFAULT = Timeouts()


@dataclass(frozen=True, slots=True)
class Attempt:
    """One provider of the chain: ``success``, ``failure``, ``skipped`` (breaker open) or
    ``cancelled`` (a hedged request that lost the race: not the provider's failure)."""

    provider: str
    outcome: str
    error: str | None = None
    error_type: str | None = None
    latency_s: float = 0.0
    status_code: int | None = None  # the provider's HTTP status, when it answered with one


@dataclass(frozen=True, slots=True)
class Response:
    """A whole answer and how it was obtained."""

    text: str
    provider: str
    model: str
    usage: Usage
    latency_s: float
    cost_usd: float
    attempts: tuple[Attempt, ...]
    # The route that chose the providers; the prompt's language is detected from it on first
    # use (about 4 µs the gateway, which never asks, no longer spends per request).
    route: Route = dataclasses.field(repr=False, compare=False)
    finish_reason: str | None = None
    # Served from the response cache: no provider was called, nothing was spent.
    cached: bool = False

    @property
    def language(self) -> str:
        """The prompt's language (ISO 639-1, or ``und``)."""
        return self.route.language

    @property
    def fallback(self) -> bool:
        return len(self.attempts) > 1


@dataclass(frozen=True, slots=True)
class StreamChunk:
    """A piece of a streamed answer. The last chunk has ``done`` set and carries ``usage``,
    ``cost_usd`` and the ``attempts``."""

    text: str
    provider: str
    usage: Usage | None = None
    finish_reason: str | None = None
    done: bool = False
    cost_usd: float = 0.0
    attempts: tuple[Attempt, ...] = ()


def transport_error(provider: str, error: httpx.HTTPError | SSEError) -> TransientError:
    """The one place where the HTTP layer's errors become ours."""
    if isinstance(error, httpx.TimeoutException):
        return TransientError(f"timed out ({type(error).__name__})", provider=provider, cause=error)
    return TransientError(f"connection failed ({type(error).__name__})", provider=provider, cause=error)


class _Call:
    """The decisions of one ``infer``: the chain, each admission, each outcome's meaning."""

    def __init__(self, node: TrinityHybridNode, prompt: Any, options: dict[str, Any]) -> None:
        self.node = node
        self.request = ChatRequest.from_prompt(
            prompt, max_tokens=options["max_tokens"], temperature=options["temperature"], stream=options["stream"]
        )
        self.forced = options["force_provider"] is not None
        timeout = options["timeout"]
        self.timeouts = Timeouts.of(timeout) if timeout is not None else node.timeouts or TIMEOUTS_DEFAULT
        # Routed on the normalized messages: the text judged is exactly the text sent.
        self.route = node.route(
            "\n".join(message["content"] for message in self.request.messages),
            quality=options["quality"],
            force_provider=options["force_provider"],
            strategy=options["strategy"],
            max_tokens=options["max_tokens"],
        )
        if not self.route.providers:
            raise NoProviderAvailable(
                f"no available provider can take this request (about {self.route.tokens_estimated} tokens; "
                f"available: {', '.join(node.available_providers) or 'none'})",
                reason=self.route.reason,
            )
        self.attempts: list[Attempt] = []
        self.started_s = time.monotonic()
        # After a context-length error only larger windows are worth trying.
        self.window_min_tokens = 0
        # The admission of the provider ``candidates`` yielded last (a hedge that cancels a
        # half-open probe gives the probe back).
        self.admission = "allowed"
        self.cache_key = self._cache_key(node, options)
        self.hedge = bool(options.get("hedge", False))
        if self.hedge and self.request.stream:
            from ._exceptions import InvalidInputError

            raise InvalidInputError("hedge applies to non-stream requests only")

    def _cache_key(self, node: TrinityHybridNode, options: dict[str, Any]) -> str | None:
        if options.get("cache") is None and node.cache is None:
            return None  # the common case, decided without importing the cache
        from ._cache import cache_mode

        mode = cache_mode(options.get("cache"))
        if mode and node.cache is None:
            node.enable_cache()
        cache: ResponseCache | None = node.cache
        if cache is None or not cache.wants(mode, self.request):
            return None
        forced = options["force_provider"]
        return cache.key(self.request, force_provider=forced, model=node.provider_info(forced)["model"] if forced else None,
                         strategy=options["strategy"], quality=options["quality"])

    def cached(self, answer: dict[str, Any] | None) -> Response | None:
        """The cached answer as a Response, or None on a miss."""
        if answer is None:
            return None
        usage = answer["usage"]
        return Response(
            text=answer["text"],
            provider=answer["provider"],
            model=answer["model"],
            usage=Usage(prompt_tokens=usage[0], completion_tokens=usage[1]),
            latency_s=time.monotonic() - self.started_s,
            cost_usd=0.0,
            attempts=(),
            route=self.route,
            finish_reason=answer["finish_reason"],
            cached=True,
        )

    def remember(self, response: Response) -> Response:
        """Stores a successful answer when this request uses the cache; returns it."""
        if self.cache_key is not None:
            self.node.cache.put(self.cache_key, {
                "text": response.text, "provider": response.provider, "model": response.model,
                "usage": [response.usage.prompt_tokens, response.usage.completion_tokens],
                "finish_reason": response.finish_reason,
            })
        return response

    def hedge_delay_s(self, provider: str) -> float | None:
        """How long ``provider`` may take before the next one starts beside it: its own p95
        latency, once it has enough successes for a p95 to mean something."""
        stats = self.node.stats(provider)
        if stats.calls_successful < HEDGE_SAMPLES_MIN or stats.latency_ms_p95 <= 0:
            return None
        return stats.latency_ms_p95 / 1000

    def cancelled(self, provider: str, started_s: float, admission: str) -> None:
        """A hedged attempt that lost: recorded in the attempts, not as a provider failure."""
        if admission == "allowed_probe":
            self.node.release_probe(provider)
        latency_s = time.monotonic() - started_s
        self.attempts.append(Attempt(provider, "cancelled", "another provider answered first", None, latency_s))
        logger.info(
            "%s cancelled after %.0f ms: another provider answered first",
            provider,
            latency_s * 1000,
            extra={"provider": provider, "outcome": "cancelled", "latency_ms": round(latency_s * 1000)},
        )

    def candidates(self) -> Iterator[tuple[str, WireFormat, Endpoint, HttpRequest]]:
        """Each provider worth calling now, with the request to send it."""
        for provider in self.route.providers:
            if self.window_min_tokens and self.node.provider_info(provider)["context_window_tokens"] <= self.window_min_tokens:
                continue
            admission = self.node.admit(provider)
            if admission.startswith("denied"):
                self.attempts.append(Attempt(provider, "skipped", f"circuit breaker: {admission}", "CircuitOpenError"))
                if self.forced:
                    raise CircuitOpenError(f"circuit breaker refused the call ({admission})", provider=provider)
                continue
            self.admission = admission
            try:
                endpoint = self.node.endpoint(provider)
            except ProviderError as error:
                self.failed(provider, time.monotonic(), error)
                continue
            wire_format = self.node.wire_format(provider)
            yield provider, wire_format, endpoint, wire_format.build_request(endpoint, self.request)

    def succeeded(self, provider: str, started_s: float, usage: Usage | None) -> tuple[float, Usage]:
        """Records a success; returns (cost in USD, usage) — usage estimated when not reported."""
        latency_s = time.monotonic() - started_s
        if usage is None:
            usage = Usage(prompt_tokens=self.route.tokens_estimated, completion_tokens=0)
        cost_usd = self.node.record_success(
            provider,
            latency_ms=round(latency_s * 1000),
            tokens_input=usage.prompt_tokens,
            tokens_output=usage.completion_tokens,
        )
        self.attempts.append(Attempt(provider, "success", latency_s=latency_s))
        # Checked first: the record's fields would otherwise be built for every answer, logged or not.
        if logger.isEnabledFor(logging.INFO):
            logger.info(
                "%s answered in %.0f ms",
                provider,
                latency_s * 1000,
                extra={"provider": provider, "outcome": "success", "latency_ms": round(latency_s * 1000)},
            )
        return cost_usd, usage

    def record_failure(self, provider: str, started_s: float, error: ProviderError) -> float:
        """The failure in the provider's stats and among the attempts; returns its latency."""
        latency_s = time.monotonic() - started_s
        retry_after_ms = round(error.retry_after_s * 1000) if error.retry_after_s else 0
        self.node.record_failure(
            provider,
            NATIVE_FAILURE_KIND.get(error.failure_kind, "transient"),
            latency_ms=round(latency_s * 1000),
            retry_after_ms=retry_after_ms,
        )
        self.attempts.append(Attempt(provider, "failure", str(error), type(error).__name__, latency_s, error.status_code))
        return latency_s

    def failed(self, provider: str, started_s: float, error: ProviderError) -> None:
        """Records a failure. Returns when the next provider should be tried; raises otherwise."""
        latency_s = self.record_failure(provider, started_s, error)
        logger.warning(
            "%s failed: %s",
            provider,
            error,
            extra={
                "provider": provider,
                "outcome": "failure",
                "latency_ms": round(latency_s * 1000),
                "error_type": type(error).__name__,
            },
        )
        if self.forced:
            raise error
        if isinstance(error, ContextLengthExceededError):
            self.window_min_tokens = self.node.provider_info(provider)["context_window_tokens"]
            return
        if isinstance(error, ClientRequestError):
            raise error

    def exhausted(self) -> AllProvidersFailed:
        return AllProvidersFailed(self.attempts)

    def response(self, provider: str, completion: Completion, cost_usd: float, usage: Usage) -> Response:
        return Response(
            text=completion.text,
            provider=provider,
            model=completion.model,
            usage=usage,
            latency_s=time.monotonic() - self.started_s,
            cost_usd=cost_usd,
            attempts=tuple(self.attempts),
            route=self.route,
            finish_reason=completion.finish_reason,
        )


class _StreamState:
    """Reads one provider's stream: turns server-sent events into chunks, enforces the
    time-to-first-token bound, and knows whether the answer ended properly."""

    def __init__(self, call: _Call, provider: str, wire_format: WireFormat, endpoint: Endpoint) -> None:
        self.call = call
        self.provider = provider
        self.parser = wire_format.new_stream_parser(endpoint)
        self.started_s = time.monotonic()
        self.first_token_deadline_s = self.started_s + call.timeouts.first_token_s
        self.text_started = False
        self.usage: Usage | None = None
        self.finish_reason: str | None = None
        self.done = False

    def on_event(self, event: str, data: str) -> list[StreamChunk]:
        if not self.text_started and time.monotonic() > self.first_token_deadline_s:
            raise TransientError(
                f"no first token within {self.call.timeouts.first_token_s:g} s", provider=self.provider
            )
        chunks: list[StreamChunk] = []
        for delta in self.parser.feed(event, data):
            self._absorb(delta)
            if delta.text:
                self.text_started = True
                chunks.append(StreamChunk(delta.text, self.provider))
        return chunks

    def _absorb(self, delta: StreamDelta) -> None:
        if delta.usage is not None:
            self.usage = delta.usage
        if delta.finish_reason is not None:
            self.finish_reason = delta.finish_reason
        if delta.done:
            self.done = True

    def finish(self) -> StreamChunk:
        """The closing chunk, after the stream ended; an unfinished stream is an error."""
        if not self.done:
            raise TransientError("the stream ended before the answer was complete", provider=self.provider)
        cost_usd, usage = self.call.succeeded(self.provider, self.started_s, self.usage)
        return StreamChunk(
            "", self.provider, usage, self.finish_reason, True, cost_usd, tuple(self.call.attempts)
        )

    def failed(self, error: ProviderError) -> None:
        """Before the first token the next provider may take over (``_Call.failed`` decides).
        After it, no other provider may: the caller would get two answers spliced together, so
        the failure is recorded and raised, typed."""
        if not self.text_started:
            self.call.failed(self.provider, self.started_s, error)
            return
        self.call.record_failure(self.provider, self.started_s, error)
        interrupted = StreamInterruptedError(
            f"stream failed after its first token: {error}", provider=self.provider, cause=error
        )
        interrupted.attempts = tuple(self.call.attempts)
        raise interrupted from None


# What one provider sent back: (HTTP status, headers, body).
Sent = tuple[int, Any, bytes]
# Sends one request, async, over whatever I/O the caller chose (the node's httpx client, or the
# gateway's plain aiohttp session); a transport failure is raised as a ``ProviderError``.
AsyncPost = Callable[[str, HttpRequest, Timeouts], Awaitable[Sent]]


def _answer(
    call: _Call, provider: str, started_s: float, wire_format: WireFormat, endpoint: Endpoint, sent: Sent | ProviderError
) -> Response | None:
    """What one provider's reply means: the answer, or None after a failure the next provider
    may make up for (``call.failed`` raises when none may). Shared by the sync and async paths."""
    try:
        if isinstance(sent, ProviderError):
            raise sent
        status, headers, body = sent
        if status >= 300:
            raise wire_format.classify_error(endpoint, status, headers, body)
        completion = wire_format.parse_response(endpoint, body)
    except ProviderError as error:
        call.failed(provider, started_s, error)
        return None
    cost_usd, usage = call.succeeded(provider, started_s, completion.usage)
    return call.response(provider, completion, cost_usd, usage)


def _post_sync(client: httpx.Client, provider: str, request: HttpRequest, timeouts: Timeouts) -> Sent | ProviderError:
    """Sends one request; a transport failure comes back as a ``ProviderError``, not raised, so
    that a hedged attempt's worker thread hands it over like an answer."""
    try:
        response = client.post(request.url, headers=request.headers, json=request.json, timeout=timeouts.httpx())
    except httpx.HTTPError as error:
        return transport_error(provider, error)
    return response.status_code, response.headers, response.content


def _attempt_sync(
    client: httpx.Client, call: _Call, provider: str, wire_format: WireFormat, endpoint: Endpoint, request: HttpRequest
) -> Response | None:
    started_s = time.monotonic()
    sent = _post_sync(client, provider, request, call.timeouts)
    return _answer(call, provider, started_s, wire_format, endpoint, sent)


def httpx_post(client: httpx.AsyncClient) -> AsyncPost:
    """An ``AsyncPost`` over an httpx client (the node's own I/O)."""

    async def post(provider: str, request: HttpRequest, timeouts: Timeouts) -> Sent:
        try:
            response = await client.post(request.url, headers=request.headers, json=request.json, timeout=timeouts.httpx())
        except httpx.HTTPError as error:
            raise transport_error(provider, error) from None
        return response.status_code, response.headers, response.content

    return post


async def _post_async(post: AsyncPost, provider: str, request: HttpRequest, timeouts: Timeouts) -> Sent | ProviderError:
    try:
        return await post(provider, request, timeouts)
    except ProviderError as error:
        return error


async def _attempt_async(
    post: AsyncPost, call: _Call, provider: str, wire_format: WireFormat, endpoint: Endpoint, request: HttpRequest
) -> Response | None:
    started_s = time.monotonic()
    sent = await _post_async(post, provider, request, call.timeouts)
    return _answer(call, provider, started_s, wire_format, endpoint, sent)


def infer_sync(client: httpx.Client, call: _Call, executor: Callable[[], Executor]) -> Response:
    """``infer_async`` for threads: ``executor`` gives the threads that hedged attempts run on."""
    if call.cache_key is not None:
        hit = call.cached(call.node.cache.get(call.cache_key))
        if hit is not None:
            return hit
    if call.hedge:
        return call.remember(_hedged_sync(client, call, executor()))
    for candidate in call.candidates():
        response = _attempt_sync(client, call, *candidate)
        if response is not None:
            return call.remember(response)
    raise call.exhausted()


async def infer_async(post: AsyncPost, call: _Call) -> Response:
    """Walks the chain (through the cache and hedging when the call asks for them) over ``post``."""
    if call.cache_key is not None:
        hit = call.cached(await call.node.cache.aget(call.cache_key))
        if hit is not None:
            return hit
    if call.hedge:
        return call.remember(await _hedged(post, call))
    for candidate in call.candidates():
        response = await _attempt_async(post, call, *candidate)
        if response is not None:
            return call.remember(response)
    raise call.exhausted()


class _Race:
    """The bookkeeping of a hedged call, shared by its async and sync loops, which only start,
    wait for and stop attempts: which attempts run, how long the newest may take before the next
    starts beside it (its own p95 latency), and which reply wins. Replies are read here, on the
    caller's side, so the outcomes are recorded in the order they are read."""

    def __init__(self, call: _Call, start: Callable[[str, HttpRequest], Any]) -> None:
        self.call = call
        # Sends one attempt's request; returns a handle (a task, a future) whose result is the
        # reply, ``Sent`` or a ``ProviderError``.
        self.start = start
        self.candidates = call.candidates()
        self.running: dict[Any, tuple[str, float, str, WireFormat, Endpoint]] = {}
        self.newest = ""
        self.more = True
        self.winner: Response | None = None

    def launch(self) -> None:
        """Starts the next provider of the chain, if any is left."""
        candidate = next(self.candidates, None)
        if candidate is None:
            self.more = False
            return
        provider, wire_format, endpoint, request = candidate
        self.running[self.start(provider, request)] = (
            provider, time.monotonic(), self.call.admission, wire_format, endpoint
        )  # fmt: skip
        self.newest = provider

    def delay_s(self) -> float | None:
        """How long to wait for a reply before starting the next provider (None: for good)."""
        return self.call.hedge_delay_s(self.newest) if self.more else None

    def settle(self, handle: Any, sent: Sent | ProviderError) -> None:
        """Reads one finished attempt's reply. A ClientRequestError ends the call (it raises)."""
        provider, started_s, _, wire_format, endpoint = self.running.pop(handle)
        response = _answer(self.call, provider, started_s, wire_format, endpoint, sent)
        if response is not None and self.winner is None:
            self.winner = response

    def go_on(self) -> bool:
        """After the replies of one wait: whether to wait again (no winner yet, something runs)."""
        if self.winner is not None:
            return False
        if not self.running:
            self.launch()
        return bool(self.running)

    def give_up_losers(self) -> None:
        """Every attempt still running lost: recorded as cancelled, not as a failure."""
        for provider, started_s, admission, _, _ in self.running.values():
            self.call.cancelled(provider, started_s, admission)
        self.running.clear()

    def result(self) -> Response:
        if self.winner is None:
            raise self.call.exhausted()
        return dataclasses.replace(self.winner, attempts=tuple(self.call.attempts))


async def _hedged(post: AsyncPost, call: _Call) -> Response:
    """Walks the chain like ``infer_async``, but when the provider started last has not answered
    within its own p95 latency the next one starts beside it; the first answer wins and the
    others are cancelled."""
    race = _Race(call, lambda provider, request: asyncio.ensure_future(_post_async(post, provider, request, call.timeouts)))
    try:
        race.launch()
        while race.running:
            done, _ = await asyncio.wait(race.running, timeout=race.delay_s(), return_when=asyncio.FIRST_COMPLETED)
            if not done:
                race.launch()
                continue
            for task in done:
                race.settle(task, task.result())
            if not race.go_on():
                break
    finally:
        for task in race.running:
            task.cancel()
        if race.running:
            await asyncio.gather(*race.running, return_exceptions=True)
        race.give_up_losers()
    return race.result()


def _hedged_sync(client: httpx.Client, call: _Call, executor: Executor) -> Response:
    """``_hedged`` on threads: each attempt's request is sent from a worker. A thread blocked in
    a request cannot be stopped: a loser's reply is dropped when it comes, and its connection
    goes back to the pool."""
    race = _Race(call, lambda provider, request: executor.submit(_post_sync, client, provider, request, call.timeouts))
    try:
        race.launch()
        while race.running:
            done, _ = wait(race.running, timeout=race.delay_s(), return_when=FIRST_COMPLETED)
            if not done:
                race.launch()
                continue
            for future in done:
                race.settle(future, future.result())
            if not race.go_on():
                break
    finally:
        for future in race.running:
            future.cancel()  # never sent if it had not started
        race.give_up_losers()
    return race.result()


def stream_sync(client: httpx.Client, call: _Call) -> Iterator[StreamChunk]:
    for provider, wire_format, endpoint, request in call.candidates():
        state = _StreamState(call, provider, wire_format, endpoint)
        try:
            try:
                with client.stream(
                    "POST", request.url, headers=request.headers, json=request.json, timeout=call.timeouts.httpx()
                ) as response:
                    if response.status_code >= 300:
                        raise wire_format.classify_error(endpoint, response.status_code, response.headers, response.read())
                    for event in EventSource(response).iter_sse():
                        yield from state.on_event(event.event, event.data)
                        if state.done:
                            break
            except (httpx.HTTPError, SSEError) as error:
                raise transport_error(provider, error) from None
            closing = state.finish()
        except ProviderError as error:
            state.failed(error)
            continue
        yield closing
        return
    raise call.exhausted()


async def stream_async(client: httpx.AsyncClient, call: _Call) -> AsyncIterator[StreamChunk]:
    for provider, wire_format, endpoint, request in call.candidates():
        state = _StreamState(call, provider, wire_format, endpoint)
        try:
            try:
                async with client.stream(
                    "POST", request.url, headers=request.headers, json=request.json, timeout=call.timeouts.httpx()
                ) as response:
                    if response.status_code >= 300:
                        body = await response.aread()
                        raise wire_format.classify_error(endpoint, response.status_code, response.headers, body)
                    async for event in EventSource(response).aiter_sse():
                        for chunk in state.on_event(event.event, event.data):
                            yield chunk
                        if state.done:
                            break
            except (httpx.HTTPError, SSEError) as error:
                raise transport_error(provider, error) from None
            closing = state.finish()
        except ProviderError as error:
            state.failed(error)
            continue
        yield closing
        return
    raise call.exhausted()

