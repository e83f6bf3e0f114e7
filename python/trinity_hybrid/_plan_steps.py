"""What the planner and its drivers say to each other: the actions a ``Plan`` yields and the
events a driver sends back (see ``_planner``'s table), and ``AttemptRun``, one provider attempt
in flight. Plain values: nothing here decides or does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ._exceptions import ProviderError, TrinityError
from ._results import EmbeddingResponse, Response, StreamChunk
from .providers._types import Endpoint, HttpRequest, Usage

__all__ = [
    "Action",
    "AttemptRun",
    "CacheAnswer",
    "CacheGet",
    "CachePut",
    "Close",
    "Emit",
    "Event",
    "Fail",
    "Finish",
    "Replied",
    "Send",
    "StreamEnded",
    "StreamEvent",
    "TimedOut",
    "TransportFailed",
    "Wait",
    "failed_event",
]


class AttemptRun:
    """One provider attempt in flight: what the driver sends (``http``, ``stream``) and what the
    plan keeps of it (the parser, whether its answer has started)."""

    __slots__ = (
        "admission",
        "done",
        "endpoint",
        "finish_reason",
        "first_token_deadline_s",
        "http",
        "key",
        "parser",
        "provider",
        "started",
        "started_s",
        "stream",
        "usage",
        "wire_format",
    )  # fmt: skip

    def __init__(self, provider: str, wire_format: Any, endpoint: Endpoint, http: HttpRequest, stream: bool,
                 started_s: float, admission: str) -> None:  # fmt: skip
        self.provider = provider
        self.wire_format = wire_format
        self.endpoint = endpoint
        self.http = http
        self.stream = stream
        self.started_s = started_s
        self.admission = admission
        self.parser: Any = None
        self.started = False
        self.usage: Usage | None = None
        self.finish_reason: str | None = None
        self.done = False
        self.first_token_deadline_s = 0.0
        self.key: int | None = None  # which of the provider's keys (``_keyring``), when it has several

    def __repr__(self) -> str:
        return f"AttemptRun({self.provider!r}, stream={self.stream})"


@dataclass(slots=True)
class Send:
    attempt: AttemptRun


@dataclass(slots=True)
class Wait:
    deadline_s: float | None  # on the plan's clock; None: until the next event


@dataclass(slots=True)
class Close:
    attempt: AttemptRun


@dataclass(slots=True)
class CacheGet:
    key: str


@dataclass(slots=True)
class CachePut:
    key: str
    answer: dict[str, Any]


@dataclass(slots=True)
class Emit:
    chunk: StreamChunk


@dataclass(slots=True)
class Finish:
    result: Response | StreamChunk | EmbeddingResponse


@dataclass(slots=True)
class Fail:
    error: TrinityError


Action = Send | Wait | Close | CacheGet | CachePut | Emit | Finish | Fail


@dataclass(slots=True)
class Replied:
    """A whole answer, or a stream's answer with an error status (its body read)."""

    attempt: AttemptRun
    status: int
    headers: Any
    body: bytes


@dataclass(slots=True)
class TransportFailed:
    attempt: AttemptRun
    error: ProviderError


@dataclass(slots=True)
class StreamEvent:
    attempt: AttemptRun
    event: str
    data: str


@dataclass(slots=True)
class StreamEnded:
    attempt: AttemptRun


@dataclass(slots=True)
class TimedOut:
    pass


@dataclass(slots=True)
class CacheAnswer:
    payload: dict[str, Any] | None


Event = Replied | TransportFailed | StreamEvent | StreamEnded | TimedOut | CacheAnswer


def failed_event(attempt: AttemptRun, error: BaseException | None) -> TransportFailed:
    """What a driver reports when reading an attempt raised (or its events ended with no
    answer, ``error`` None): the attempt's failure, typed, so that the plan goes on to the next
    provider instead of the exception escaping the call (or the call waiting for an event that
    never comes)."""
    from ._exceptions import TransientError

    if isinstance(error, ProviderError):
        return TransportFailed(attempt, error)
    reason = "ended without an answer" if error is None else f"failed ({type(error).__name__})"
    return TransportFailed(attempt, TransientError(f"the attempt {reason}", provider=attempt.provider))
