"""What a call gives back: ``Response``, ``StreamChunk``, each provider ``Attempt``; and the
``Timeouts`` a call runs under."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._exceptions import InvalidInputError
from .providers._types import Choice, ThinkingBlock, ToolCall, ToolCallDelta, Usage

if TYPE_CHECKING:
    import httpx

    from ._route import Route

__all__ = ["Attempt", "EmbeddingResponse", "Response", "StreamChunk", "Timeouts"]


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds. ``read_s`` bounds a non-stream answer's silence and a stream's gap between
    chunks; ``first_token_s`` bounds a stream's wait for its first piece of answer;
    ``total_s``, when set, bounds the whole call (every attempt, fallbacks included)."""

    connect_s: float = 10.0
    read_s: float = 120.0
    first_token_s: float = 60.0
    total_s: float | None = None

    @classmethod
    def of(cls, timeout: float | Timeouts | None) -> Timeouts:
        if timeout is None:
            return cls()
        if isinstance(timeout, Timeouts):
            return timeout
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
            raise InvalidInputError(f"timeout must be a positive number of seconds, got {timeout!r}")
        seconds = float(timeout)
        return cls(connect_s=min(10.0, seconds), read_s=seconds, first_token_s=seconds)

    def httpx(self) -> httpx.Timeout:
        import httpx

        return httpx.Timeout(self.read_s, connect=self.connect_s)


# One shared instance (it is frozen): transports may cache what they derive from it by identity.
TIMEOUTS_DEFAULT = Timeouts()


# Not frozen (hashed and compared all the same): a frozen dataclass's __init__ sets each field
# through object.__setattr__, and every call builds at least one.
@dataclass(slots=True, unsafe_hash=True)
class Attempt:
    """One provider of the chain: ``success``, ``failure``, ``skipped`` (breaker open, or the
    provider lacks a feature the request uses) or ``cancelled`` (a hedged request that lost the
    race: not the provider's failure)."""

    provider: str
    outcome: str
    error: str | None = None
    error_type: str | None = None
    latency_s: float = 0.0
    status_code: int | None = None  # the provider's HTTP status, when it answered with one


# Not frozen, though nothing changes it after it is built: a frozen dataclass's __init__ sets
# each field through object.__setattr__, which cost the gateway's request microseconds.
@dataclass(slots=True)
class Response:
    """A whole answer and how it was obtained. ``text``, ``tool_calls``, ``finish_reason`` and
    ``reasoning`` are the first choice's; ``choices`` holds all of them (``n > 1``)."""

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
    tool_calls: tuple[ToolCall, ...] = ()
    reasoning: str | None = None
    choices: tuple[Choice, ...] = ()
    # Anthropic's thinking blocks, signatures and all: ``message`` carries them into the next turn.
    thinking_blocks: tuple[ThinkingBlock, ...] = ()

    @property
    def language(self) -> str:
        """The prompt's language (ISO 639-1, or ``und``)."""
        return self.route.language

    @property
    def fallback(self) -> bool:
        return len(self.attempts) > 1

    @property
    def message(self) -> dict[str, Any]:
        """The answer as an OpenAI assistant message, ready to append to the conversation."""
        message: dict[str, Any] = {"role": "assistant", "content": self.text or None}
        if self.tool_calls:
            message["tool_calls"] = [
                {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}}
                for call in self.tool_calls
            ]
        elif message["content"] is None:
            message["content"] = ""
        if self.thinking_blocks:
            message["thinking_blocks"] = [block.to_json() for block in self.thinking_blocks]
        return message


# Not frozen, though nothing changes it after it is built: a frozen dataclass's __init__ sets
# each field through object.__setattr__, which cost the gateway's request microseconds.
@dataclass(slots=True)
class StreamChunk:
    """A piece of a streamed answer: ``text``, ``reasoning`` or ``tool_calls`` pieces (OpenAI's
    shape: the first piece of a call has its id and name) of choice ``index``. The last chunk
    has ``done`` set and carries ``usage``, ``cost_usd`` and the ``attempts``."""

    text: str
    provider: str
    usage: Usage | None = None
    finish_reason: str | None = None
    done: bool = False
    cost_usd: float = 0.0
    attempts: tuple[Attempt, ...] = ()
    tool_calls: tuple[ToolCallDelta, ...] = ()
    reasoning: str = ""
    index: int = 0
    logprobs: Mapping[str, Any] | None = None
    # A thinking block, whole, once the stream closed it (its text came as ``reasoning``).
    thinking_blocks: tuple[ThinkingBlock, ...] = ()


@dataclass(frozen=True, slots=True)
class EmbeddingResponse:
    """The vectors of an embeddings call, one per text in order, and how they were obtained.
    ``usage.prompt_tokens`` is estimated where the provider reports none (Gemini)."""

    vectors: tuple[tuple[float, ...], ...]
    provider: str
    model: str
    usage: Usage
    latency_s: float
    cost_usd: float
    attempts: tuple[Attempt, ...]
