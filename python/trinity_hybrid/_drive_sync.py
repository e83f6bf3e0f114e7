"""The sync driver: runs a ``_planner.Plan`` over httpx's sync client.

One attempt at a time runs on the caller's thread (the plan waits with no deadline). When the
plan hedges (it waits with a deadline while an attempt runs), every running attempt is read on
a worker thread that queues its events, and the caller's thread takes them from the queue: the
outcomes are still decided and recorded on the caller's side, in the order they are read. A
thread blocked in a request cannot be interrupted: a loser's reply is dropped when it comes.
"""

from __future__ import annotations

import logging
import queue
import time
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import Executor
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
from ._results import EmbeddingResponse, Response, StreamChunk
from ._sse import WHOLE_ANSWER, iter_events, read_capped

__all__ = ["SyncAttempts", "drive_sync", "httpx_events"]

Events = Callable[[AttemptRun], Iterator[Event]]

logger = logging.getLogger("trinity_hybrid")


def httpx_events(client: httpx.Client, timeouts: Any, bytes_max: int = UPSTREAM_BYTES_MAX_DEFAULT) -> Events:
    """The events of one attempt sent over ``client``; a whole answer's body past ``bytes_max``
    (``TRINITY_MAX_UPSTREAM_BYTES``) stops being read and fails the attempt."""
    timeout = timeouts.httpx()

    def events(attempt: AttemptRun) -> Iterator[Event]:
        request = attempt.http
        try:
            if not attempt.stream:
                with client.stream("POST", request.url, headers=request.headers, json=request.json,
                                   timeout=timeout) as response:  # fmt: skip
                    body = read_capped(response, bytes_max, WHOLE_ANSWER)
                yield Replied(attempt, response.status_code, response.headers, body)
                return
            with client.stream("POST", request.url, headers=request.headers, json=request.json,
                               timeout=timeout) as response:  # fmt: skip
                if response.status_code >= 300:
                    yield Replied(attempt, response.status_code, response.headers, read_capped(response))
                    return
                for sse in iter_events(response):
                    yield StreamEvent(attempt, sse.event, sse.data)
            yield StreamEnded(attempt)
        except (httpx.HTTPError, SSEError) as error:
            yield TransportFailed(attempt, transport_error(attempt.provider, error))

    return events


class SyncAttempts:
    """The attempts of one call: read inline, or on worker threads once the plan hedges."""

    def __init__(self, events: Events, executor: Callable[[], Executor], clock: Callable[[], float]) -> None:
        self._events = events
        self._executor = executor
        self._clock = clock
        self._inline: dict[AttemptRun, Iterator[Event]] = {}
        self._pumped: set[AttemptRun] = set()
        self._closed: set[AttemptRun] = set()
        self._queue: queue.SimpleQueue[Event] | None = None

    def start(self, attempt: AttemptRun) -> None:
        self._inline[attempt] = self._events(attempt)

    def wait(self, deadline_s: float | None) -> Event:
        if deadline_s is None and not self._pumped and len(self._inline) == 1:
            attempt, iterator = next(iter(self._inline.items()))
            try:
                return next(iterator)
            except StopIteration:
                return failed_event(attempt, None)
            except Exception as error:  # noqa: BLE001  a reader's bug must not escape the call untyped
                return failed_event(attempt, error)
        if not self._inline and not self._pumped:
            if deadline_s is not None:
                time.sleep(max(0.0, deadline_s - self._clock()))
            return TimedOut()
        if self._queue is None:
            self._queue = queue.SimpleQueue()
        for attempt, iterator in self._inline.items():
            self._pumped.add(attempt)
            self._executor().submit(self._pump, attempt, iterator, self._queue)
        self._inline.clear()
        try:
            timeout_s = None if deadline_s is None else max(0.0, deadline_s - self._clock())
            return self._queue.get(timeout=timeout_s)
        except queue.Empty:
            return TimedOut()

    def _pump(self, attempt: AttemptRun, iterator: Iterator[Event], events: queue.SimpleQueue[Event]) -> None:
        try:
            for event in iterator:
                if attempt in self._closed:
                    break
                events.put(event)
        except Exception as error:  # noqa: BLE001  reported, or the caller would wait for this attempt forever
            events.put(failed_event(attempt, error))
        finally:
            _close_quietly(iterator)

    def close(self, attempt: AttemptRun) -> None:
        iterator = self._inline.pop(attempt, None)
        if iterator is not None:
            _close_quietly(iterator)
        elif attempt in self._pumped:
            self._closed.add(attempt)  # its thread stops at its next event

    def close_all(self) -> None:
        for attempt in [*self._inline, *self._pumped]:
            self.close(attempt)


def _close_quietly(iterator: Iterator[Event]) -> None:
    """Closes an attempt's reader. The attempt is over (answered, failed or given up): an error
    while closing its connection is no news for the call, and must not become its error."""
    try:
        iterator.close()  # type: ignore[attr-defined]
    except Exception as error:  # noqa: BLE001  see the docstring
        logger.debug("closing an attempt's reader failed: %s", type(error).__name__)


def drive_sync(
    plan: Plan, attempts: SyncAttempts, cache: Any
) -> Generator[StreamChunk | Response | EmbeddingResponse, None, None]:
    """Runs ``plan``: yields each streamed chunk, and last the result (a ``Response``, or a
    stream's closing chunk). A failure is raised, typed."""
    steps = plan.run()
    event: Any = None
    try:
        while True:
            action = steps.send(event)
            event = None
            kind = type(action)
            if kind is Wait:
                event = attempts.wait(action.deadline_s)  # type: ignore[union-attr]
            elif kind is Emit:
                yield action.chunk  # type: ignore[union-attr]
            elif kind is Send:
                attempts.start(action.attempt)  # type: ignore[union-attr]
            elif kind is Close:
                attempts.close(action.attempt)  # type: ignore[union-attr]
            elif kind is Finish:
                yield action.result  # type: ignore[union-attr]
                return
            elif kind is Fail:
                raise action.error  # type: ignore[union-attr]
            elif kind is CacheGet:
                event = CacheAnswer(cache.get(action.key))  # type: ignore[union-attr]
            elif kind is CachePut:
                cache.put(action.key, action.answer)  # type: ignore[union-attr]
    finally:
        attempts.close_all()
        steps.close()
