"""Faults a loopback server can inject, and the script that hands them to the next requests.

A `Fault` says what goes wrong; each provider module decides what that looks like on its wire (the
error JSON, the in-stream error event). Faults are consumed one per request, in order; when the
script is empty, an optional seeded chaos mode may draw one at random.
"""

from __future__ import annotations

import enum
import random
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

# Bounds, so a mistaken test cannot queue or sleep without end.
FAULTS_QUEUED_MAX = 10_000
DELAY_S_MAX = 30.0


class FaultKind(enum.Enum):
    STATUS = "status"  # an HTTP error status with the provider's own error JSON
    QUOTA = "quota"  # the provider's "out of credit / quota" error, which retrying does not cure
    CONTEXT_LENGTH = "context_length"  # 400: the prompt is longer than the model's context window
    GATEWAY_PAGE = "gateway_page"  # an HTML error page, as a proxy in front of the provider sends
    RESET = "reset"  # the connection is reset before any response byte
    HANG = "hang"  # the request is accepted and never answered, until the client or server gives up
    SLOW_FIRST_BYTE = "slow_first_byte"  # a delay before the response headers, then a normal answer
    MALFORMED_JSON = "malformed_json"  # 200 with a body (or stream event) that is not valid JSON
    STREAM_CUT = "stream_cut"  # the stream stops after N text deltas, without its terminal event
    STREAM_ERROR = "stream_error"  # the provider's in-stream error event after N text deltas
    SLOW_CHUNKS = "slow_chunks"  # a delay before every stream event


@dataclass(frozen=True)
class Fault:
    """One injected failure. Build it with the class methods, not the constructor."""

    kind: FaultKind
    status_code: int = 0
    retry_after_s: float | None = None
    delay_s: float = 0.0
    after_deltas: int = 0
    clean: bool = False
    prompt_tokens: int = 0
    limit_tokens: int = 0

    @classmethod
    def status(cls, status_code: int, *, retry_after_s: float | None = None) -> Fault:
        """An error status (400-599) with the provider's error JSON; `Retry-After` when given."""
        assert 400 <= status_code <= 599, status_code
        assert retry_after_s is None or retry_after_s >= 0, retry_after_s
        return cls(FaultKind.STATUS, status_code=status_code, retry_after_s=retry_after_s)

    @classmethod
    def quota(cls) -> Fault:
        """The provider's out-of-quota error (OpenAI: 429 `insufficient_quota`)."""
        return cls(FaultKind.QUOTA)

    @classmethod
    def context_length(cls, *, prompt_tokens: int = 210_000, limit_tokens: int = 200_000) -> Fault:
        """400: the prompt exceeds the context window, in the provider's own wording."""
        assert prompt_tokens > limit_tokens > 0, (prompt_tokens, limit_tokens)
        return cls(FaultKind.CONTEXT_LENGTH, status_code=400, prompt_tokens=prompt_tokens, limit_tokens=limit_tokens)

    @classmethod
    def gateway_page(cls, status_code: int = 502) -> Fault:
        """An HTML error page from a proxy (no provider JSON at all)."""
        assert 500 <= status_code <= 599, status_code
        return cls(FaultKind.GATEWAY_PAGE, status_code=status_code)

    @classmethod
    def reset(cls) -> Fault:
        """A TCP reset before any response byte."""
        return cls(FaultKind.RESET)

    @classmethod
    def hang(cls) -> Fault:
        """Accept and never answer; ends when the client disconnects or the server closes."""
        return cls(FaultKind.HANG)

    @classmethod
    def slow_first_byte(cls, delay_s: float) -> Fault:
        """Wait `delay_s` before the response headers, then answer normally."""
        assert 0 <= delay_s <= DELAY_S_MAX, delay_s
        return cls(FaultKind.SLOW_FIRST_BYTE, delay_s=delay_s)

    @classmethod
    def malformed_json(cls) -> Fault:
        """200 with a truncated JSON body; in a stream, one event whose data is not JSON."""
        return cls(FaultKind.MALFORMED_JSON)

    @classmethod
    def stream_cut(cls, after_deltas: int, *, clean: bool = False) -> Fault:
        """Stop the stream after `after_deltas` text deltas, without the terminal event.

        By default the connection is dropped mid-body (the chunked encoding is left unfinished).
        With `clean=True` the HTTP body ends properly, only the provider's terminal events are
        missing, as when a proxy times out an idle stream. On a non-stream request the body is cut
        half-way through its declared Content-Length.
        """
        assert after_deltas >= 0, after_deltas
        return cls(FaultKind.STREAM_CUT, after_deltas=after_deltas, clean=clean)

    @classmethod
    def stream_error(cls, after_deltas: int) -> Fault:
        """The provider's in-stream error event (Anthropic: `overloaded_error`) after N deltas.

        On a non-stream request this is the same error as a status: 529 for Anthropic, else 503.
        """
        assert after_deltas >= 0, after_deltas
        return cls(FaultKind.STREAM_ERROR, after_deltas=after_deltas)

    @classmethod
    def slow_chunks(cls, delay_s: float) -> Fault:
        """Wait `delay_s` before each stream event (no effect on a non-stream request)."""
        assert 0 <= delay_s <= DELAY_S_MAX, delay_s
        return cls(FaultKind.SLOW_CHUNKS, delay_s=delay_s)


class FaultScript:
    """The faults for the next requests, in order, then an optional seeded random draw.

    Tests push from their own thread while the server pops from its thread, hence the lock.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: deque[Fault] = deque()
        self._chaos_random: random.Random | None = None
        self._chaos_rate = 0.0
        self._chaos_pool: tuple[Fault, ...] = ()

    def push(self, *faults: Fault) -> None:
        """Queue faults for the next requests, one per request, in order."""
        with self._lock:
            assert len(self._queue) + len(faults) <= FAULTS_QUEUED_MAX, "fault script too long"
            self._queue.extend(faults)

    def clear(self) -> None:
        """Drop the queued faults and turn chaos mode off."""
        with self._lock:
            self._queue.clear()
            self._chaos_random = None

    def chaos(self, pool: Sequence[Fault], *, rate: float, seed: int) -> None:
        """When the queue is empty, inject a fault with probability `rate`, drawn from `pool`.

        The draws come from `random.Random(seed)`, so a sequential run is reproducible.
        """
        assert 0.0 <= rate <= 1.0, rate
        assert len(pool) > 0, "chaos needs at least one fault to draw"
        with self._lock:
            self._chaos_random = random.Random(seed)
            self._chaos_rate = rate
            self._chaos_pool = tuple(pool)

    @property
    def pending(self) -> int:
        """How many scripted faults are still queued."""
        with self._lock:
            return len(self._queue)

    def next(self) -> Fault | None:
        """The fault for the request now arriving, if any (called by the server)."""
        with self._lock:
            if self._queue:
                return self._queue.popleft()
            if self._chaos_random is None:
                return None
            if self._chaos_random.random() >= self._chaos_rate:
                return None
            return self._chaos_random.choice(self._chaos_pool)
