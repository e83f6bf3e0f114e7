"""The async driver: runs a ``_planner.Plan`` on asyncio.

Each attempt is an async iterator of planner events (``AsyncEvents``): the node's is httpx over
aiohttp (``httpx_async_events``), the gateway's sends whole answers through its own upstream
client. One attempt at a time is read inline, on the caller's task; when the plan hedges (it
waits with a deadline while an attempt runs), every running attempt is read by a task of its
own that queues its events, and a closed attempt's task is cancelled, so a loser's request is
stopped, not merely ignored.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from typing import Any

import httpx
from httpx_sse import SSEError

from ._environment import UPSTREAM_BYTES_MAX_DEFAULT
from ._http import transport_error
from ._plan_steps import (
    AttemptRun,
    CacheAnswer,
    CacheGet,
    CachePut,
    Close,
    Emit,
    Event,
    Fail,
    Finish,
    Replied,
    Send,
    StreamEnded,
    StreamEvent,
    TimedOut,
    TransportFailed,
    Wait,
    failed_event,
)
from ._planner import Plan
from ._results import EmbeddingResponse, Response, StreamChunk, Timeouts
from ._sse import WHOLE_ANSWER, aiter_events, aread_capped

__all__ = [
    "AsyncAttempts",
    "AsyncChunks",
    "AsyncEvents",
    "AsyncWhole",
    "complete_async",
    "drive_async",
    "httpx_async_events",
    "httpx_async_whole",
]

AsyncEvents = Callable[[AttemptRun], AsyncIterator[Event]]
# A whole (non-stream) answer's one event, read by a plain coroutine: cheaper per request than an
# async generator's first step and close (the gateway's hot path).
AsyncWhole = Callable[[AttemptRun], Awaitable[Event]]

logger = logging.getLogger("trinity_hybrid")


def httpx_async_events(
    client: httpx.AsyncClient,
    timeouts: Timeouts,
    bytes_max: int = UPSTREAM_BYTES_MAX_DEFAULT,
    whole: AsyncWhole | None = None,
) -> AsyncEvents:
    """The events of one attempt sent over ``client``; a whole answer as ``httpx_async_whole``
    (or ``whole``, one already made for the same client, timeouts and bound)."""
    timeout = timeouts.httpx()
    whole = whole or httpx_async_whole(client, timeouts, bytes_max)

    async def events(attempt: AttemptRun) -> AsyncIterator[Event]:
        request = attempt.http
        try:
            if not attempt.stream:
                yield await whole(attempt)
                return
            async with client.stream("POST", request.url, headers=request.headers, json=request.json,
                                     timeout=timeout) as response:  # fmt: skip
                if response.status_code >= 300:
                    yield Replied(attempt, response.status_code, response.headers, await aread_capped(response))
                    return
                async for sse in aiter_events(response):
                    yield StreamEvent(attempt, sse.event, sse.data)
            yield StreamEnded(attempt)
        except (httpx.HTTPError, SSEError) as error:
            yield TransportFailed(attempt, transport_error(attempt.provider, error))

    return events


def httpx_async_whole(
    client: httpx.AsyncClient, timeouts: Timeouts, bytes_max: int = UPSTREAM_BYTES_MAX_DEFAULT
) -> AsyncWhole:
    """The one event of a whole answer sent over ``client``: its body read as it comes, and the
    attempt failed (``transport_error``) once past ``bytes_max`` (``TRINITY_MAX_UPSTREAM_BYTES``)."""
    timeout = timeouts.httpx()

    async def whole(attempt: AttemptRun) -> Event:
        request = attempt.http
        try:
            async with client.stream("POST", request.url, headers=request.headers, json=request.json,
                                     timeout=timeout) as response:  # fmt: skip
                body = await aread_capped(response, bytes_max, WHOLE_ANSWER)
        except httpx.HTTPError as error:
            return TransportFailed(attempt, transport_error(attempt.provider, error))
        return Replied(attempt, response.status_code, response.headers, body)

    return whole


class AsyncAttempts:
    """The attempts of one call: read inline, or by a task each once the plan hedges. Whole
    answers are read by ``whole`` when given, streams (and whole answers otherwise) by
    ``events``."""

    def __init__(self, events: AsyncEvents, clock: Callable[[], float], whole: AsyncWhole | None = None) -> None:
        self._events = events
        self._whole = whole
        self._clock = clock
        # attempt -> its reader; None for a whole answer read by ``whole``, not begun yet.
        self._inline: dict[AttemptRun, AsyncIterator[Event] | None] = {}
        self._tasks: dict[AttemptRun, asyncio.Task[None]] = {}
        self._queue: asyncio.Queue[Event] | None = None

    def start(self, attempt: AttemptRun) -> None:
        self._inline[attempt] = None if self._whole is not None and not attempt.stream else self._events(attempt)

    async def wait(self, deadline_s: float | None) -> Event:
        if deadline_s is None and not self._tasks and len(self._inline) == 1:
            attempt, iterator = next(iter(self._inline.items()))
            try:
                if iterator is None:
                    del self._inline[attempt]
                    return await self._whole(attempt)  # type: ignore[misc]
                return await iterator.__anext__()
            except StopAsyncIteration:
                return failed_event(attempt, None)
            except Exception as error:  # noqa: BLE001  a reader's bug must not escape the call untyped
                return failed_event(attempt, error)
        if not self._inline and not self._tasks:
            if deadline_s is not None:
                await asyncio.sleep(max(0.0, deadline_s - self._clock()))
            return TimedOut()
        if self._queue is None:
            self._queue = asyncio.Queue()
        for attempt, iterator in self._inline.items():
            self._tasks[attempt] = asyncio.ensure_future(self._pump(attempt, iterator, self._queue))
        self._inline.clear()
        timeout_s = None if deadline_s is None else max(0.0, deadline_s - self._clock())
        try:
            return await asyncio.wait_for(self._queue.get(), timeout_s)
        except asyncio.TimeoutError:
            return TimedOut()

    async def _pump(self, attempt: AttemptRun, iterator: AsyncIterator[Event] | None,
                    events: asyncio.Queue[Event]) -> None:  # fmt: skip
        if iterator is None:
            try:
                events.put_nowait(await self._whole(attempt))  # type: ignore[misc]
            except Exception as error:  # noqa: BLE001  reported, or the call would wait for this attempt forever
                events.put_nowait(failed_event(attempt, error))
            return
        try:
            async for event in iterator:
                events.put_nowait(event)
        except Exception as error:  # noqa: BLE001  reported, or the call would wait for this attempt forever
            events.put_nowait(failed_event(attempt, error))
        finally:
            await _close_quietly(iterator)

    def holds(self, attempt: AttemptRun) -> bool:
        """Whether ``attempt`` has a reader or a task left to close."""
        return attempt in self._inline or attempt in self._tasks

    @property
    def idle(self) -> bool:
        """Whether no attempt has a reader or a task left to close."""
        return not self._inline and not self._tasks

    async def close(self, attempt: AttemptRun) -> None:
        if attempt in self._inline:
            iterator = self._inline.pop(attempt)
            if iterator is not None:
                await _close_quietly(iterator)
            return
        task = self._tasks.pop(attempt, None)
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def close_all(self) -> None:
        for attempt in [*self._inline, *self._tasks]:
            await self.close(attempt)


async def _close_quietly(iterator: AsyncIterator[Event]) -> None:
    """Closes an attempt's reader. The attempt is over (answered, failed or given up): an error
    while closing its connection (aiohttp's, httpx's) is no news for the call, and must not
    become its error, nor reach a gateway's client as a dropped connection."""
    try:
        await iterator.aclose()  # type: ignore[attr-defined]
    except Exception as error:  # noqa: BLE001  see the docstring
        logger.debug("closing an attempt's reader failed: %s", type(error).__name__)


async def _act(action: Any, attempts: AsyncAttempts, cache: Any) -> Any:
    """Carries out one of the plan's actions that neither ends the call nor hands a chunk out;
    returns the event to send back (None for most)."""
    kind = type(action)
    if kind is Wait:
        return await attempts.wait(action.deadline_s)
    if kind is Send:
        attempts.start(action.attempt)
    elif kind is Close:
        await attempts.close(action.attempt)
    elif kind is CacheGet:
        return CacheAnswer(await cache.aget(action.key))
    elif kind is CachePut:
        cache.put(action.key, action.answer)
    return None


async def drive_async(
    plan: Plan, attempts: AsyncAttempts, cache: Any
) -> AsyncIterator[StreamChunk | Response | EmbeddingResponse]:
    """Runs ``plan``: yields each streamed chunk, and last the result (a ``Response``, or a
    stream's closing chunk). A failure is raised, typed."""
    steps = plan.run()
    event: Any = None
    try:
        while True:
            action = steps.send(event)
            kind = type(action)
            if kind is Emit:
                event = None
                yield action.chunk  # type: ignore[union-attr]
            elif kind is Finish:
                yield action.result  # type: ignore[union-attr]
                return
            elif kind is Fail:
                raise action.error  # type: ignore[union-attr]
            else:
                event = await _act(action, attempts, cache)
    finally:
        await attempts.close_all()
        steps.close()


async def complete_async(plan: Plan, attempts: AsyncAttempts, cache: Any) -> Response:
    """Runs a non-stream ``plan`` to its answer: a ``Response`` (an embeddings plan's is an
    ``EmbeddingResponse``). A plain coroutine, not ``drive_async``'s generator: a whole answer
    hands out no chunks, and the generator's steps cost the gateway's hot path."""
    steps = plan.run()
    event: Any = None
    try:
        while True:
            action = steps.send(event)
            # Every call's actions first (Wait, Send, Finish, Close), tested in that order,
            # carried out here rather than through _act's call.
            kind = type(action)
            if kind is Wait:
                event = await attempts.wait(action.deadline_s)  # type: ignore[union-attr]
            elif kind is Send:
                attempts.start(action.attempt)  # type: ignore[union-attr]
                event = None
            elif kind is Finish:
                return action.result  # type: ignore[union-attr, return-value]
            elif kind is Close:
                # A whole answer read by ``whole`` leaves nothing to close behind it.
                if attempts.holds(action.attempt):  # type: ignore[union-attr]
                    await attempts.close(action.attempt)  # type: ignore[union-attr]
                event = None
            elif kind is Fail:
                raise action.error  # type: ignore[union-attr]
            else:
                assert kind is not Emit, "a non-stream plan hands out no chunks"
                event = await _act(action, attempts, cache)
    finally:
        if not attempts.idle:
            await attempts.close_all()
        steps.close()


class AsyncChunks:
    """A stream's chunks for ``async for``; awaiting it gives itself, so that both
    ``async for chunk in node.ainfer(..., stream=True)`` and the older
    ``async for chunk in await node.ainfer(..., stream=True)`` read the same stream."""

    __slots__ = ("_chunks",)

    def __init__(self, chunks: AsyncIterator[Any]) -> None:
        self._chunks = chunks

    def __aiter__(self) -> AsyncChunks:
        return self

    async def __anext__(self) -> StreamChunk:
        chunk: StreamChunk = await self._chunks.__anext__()
        return chunk

    def __await__(self) -> Generator[Any, None, AsyncChunks]:
        if False:  # a generator that returns at once: awaiting costs no event-loop turn
            yield
        return self

    async def aclose(self) -> None:
        """Stops the stream: the provider's request is closed."""
        await self._chunks.aclose()  # type: ignore[attr-defined]
