"""The small interface every wire format implements, and the values that cross it.

A wire format is sans-I/O: it turns an ``Endpoint`` and a ``ChatRequest`` into an ``HttpRequest``
and turns bytes (a response body) or server-sent events back into a ``Completion`` or
``StreamDelta`` values, or into a ``ProviderError``. Sending and receiving is the caller's job.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypedDict

from .._exceptions import InvalidInputError, ProviderError
from .._node import Secret, mask_key

__all__ = [
    "ChatRequest",
    "Completion",
    "Endpoint",
    "HttpRequest",
    "Message",
    "Prompt",
    "Role",
    "StreamDelta",
    "StreamParser",
    "Usage",
    "WireFormat",
    "normalize_messages",
]

Role = Literal["system", "user", "assistant"]
ROLES: tuple[Role, ...] = ("system", "user", "assistant")


class Message(TypedDict):
    """One OpenAI-style chat message, reduced to what every provider can carry."""

    role: Role
    content: str


Prompt = str | Sequence[Mapping[str, Any]]

# Header values shown only masked in a repr. Lower case: header names are case-insensitive.
_SECRET_HEADERS = frozenset({"authorization", "x-api-key", "x-goog-api-key", "api-key"})


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where and as whom to call one provider's model.

    ``api_version`` is the version of the provider's API to speak where the wire format has one:
    the ``anthropic-version`` header for Anthropic, the path segment (``v1beta``) for Gemini.
    ``None`` means the wire format's default.
    """

    provider: str
    base_url: str
    model: str
    key: Secret | None
    api_version: str | None = None

    def url(self, path: str) -> str:
        """``path`` under ``base_url``, however many slashes either side brings."""
        return f"{self.base_url.rstrip('/')}/{path.lstrip('/')}"


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """One chat call. ``messages`` are normalized on construction (see ``normalize_messages``),
    so a ``ChatRequest`` is valid by the time a wire format sees it."""

    messages: tuple[Message, ...]
    max_tokens: int | None = None
    temperature: float | None = None
    stream: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "messages", normalize_messages(self.messages))
        if self.max_tokens is not None and (
            isinstance(self.max_tokens, bool) or not isinstance(self.max_tokens, int) or self.max_tokens < 1
        ):
            raise InvalidInputError(f"max_tokens must be a positive int or None, got {self.max_tokens!r}")
        if self.temperature is not None and (
            isinstance(self.temperature, bool)
            or not isinstance(self.temperature, (int, float))
            or not math.isfinite(self.temperature)
            or self.temperature < 0
        ):
            raise InvalidInputError(f"temperature must be a non-negative number or None, got {self.temperature!r}")
        if not isinstance(self.stream, bool):
            raise InvalidInputError(f"stream must be a bool, not {type(self.stream).__name__}")

    @classmethod
    def from_prompt(
        cls, prompt: Prompt, *, max_tokens: int | None = None, temperature: float | None = None, stream: bool = False
    ) -> ChatRequest:
        """A request for a prompt string or an OpenAI-style message list."""
        # Construction normalizes the prompt: normalizing it here as well would do it twice.
        return cls(prompt, max_tokens=max_tokens, temperature=temperature, stream=stream)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """The HTTP request a wire format built: the I/O layer sends ``json`` as the body."""

    method: str
    url: str
    headers: dict[str, str]
    json: dict[str, Any]

    def __repr__(self) -> str:
        shown = {name: _masked_header(name, value) for name, value in self.headers.items()}
        return f"HttpRequest(method={self.method!r}, url={self.url!r}, headers={shown!r}, json={self.json!r})"

    __str__ = __repr__


def _masked_header(name: str, value: str) -> str:
    if name.lower() not in _SECRET_HEADERS:
        return value
    scheme, separator, credential = value.partition(" ")
    if separator and scheme.lower() == "bearer":
        return f"{scheme} {mask_key(credential)}"
    return mask_key(value)


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens of one call. ``prompt_tokens`` counts the whole prompt (cached parts included);
    ``completion_tokens`` counts everything generated (reasoning or thinking included)."""

    prompt_tokens: int
    completion_tokens: int


@dataclass(frozen=True, slots=True)
class Completion:
    """A whole answer. ``finish_reason`` speaks OpenAI's vocabulary (``stop``, ``length``,
    ``content_filter``, ``tool_calls``) whatever the provider; other reasons pass through in
    lower case."""

    text: str
    model: str
    usage: Usage | None
    finish_reason: str | None


@dataclass(frozen=True, slots=True)
class StreamDelta:
    """One step of a streamed answer: new ``text``, the call's total ``usage`` (reported once,
    near the end), the ``finish_reason``, and ``done`` once the answer is complete."""

    text: str = ""
    usage: Usage | None = None
    finish_reason: str | None = None
    done: bool = False


class StreamParser(Protocol):
    """Turns one stream's server-sent events into deltas. It keeps state across events (usage
    arrives in pieces), so each stream gets a fresh parser."""

    def feed(self, event: str, data: str) -> list[StreamDelta]:
        """Takes one event (its name, ``"message"`` when the server sent none, and its data) and
        returns the deltas it carries. Raises a ``ProviderError`` for an error inside the stream
        and a ``TransientError`` for an event it cannot read."""
        ...


class WireFormat(Protocol):
    """One provider API's request and response format."""

    def build_request(self, endpoint: Endpoint, request: ChatRequest) -> HttpRequest: ...

    def parse_response(self, endpoint: Endpoint, body: bytes) -> Completion:
        """Reads the body of a 2xx answer; a garbled body raises ``TransientError``."""
        ...

    def new_stream_parser(self, endpoint: Endpoint) -> StreamParser: ...

    def classify_error(
        self, endpoint: Endpoint, status_code: int, headers: Mapping[str, str], body: bytes
    ) -> ProviderError:
        """The error a non-2xx answer stands for (returned, not raised)."""
        ...


_SEQUENCES = (list, tuple)


def normalize_messages(prompt: object) -> tuple[Message, ...]:
    """A prompt as a tuple of ``{"role", "content"}`` messages: a string becomes one user
    message; a sequence of OpenAI-style messages is checked and copied. Content may be a string
    or a list of text parts (joined by newlines); other keys (``name``) are dropped. At least one
    user or assistant message is required, since no provider answers a system prompt alone."""
    if isinstance(prompt, str):
        return (Message(role="user", content=prompt),)
    # Lists and tuples skip the abstract-class checks, which cost more than the rest on the gateway's path.
    if type(prompt) not in _SEQUENCES and (
        isinstance(prompt, (bytes, bytearray, memoryview, Mapping)) or not isinstance(prompt, Sequence)
    ):
        raise InvalidInputError(f"prompt must be a str or a sequence of messages, not {type(prompt).__name__}")
    messages = tuple(_message(position, message) for position, message in enumerate(prompt))
    if not any(message["role"] != "system" for message in messages):
        raise InvalidInputError("prompt needs at least one user or assistant message")
    return messages


def _message(position: int, message: object) -> Message:
    if type(message) is not dict and not isinstance(message, Mapping):
        raise InvalidInputError(
            f"messages[{position}] must be a mapping with role and content, not {type(message).__name__}"
        )
    role = message.get("role")
    if role not in ROLES:
        raise InvalidInputError(f"messages[{position}].role must be one of {', '.join(ROLES)}, got {role!r}")
    content = message.get("content")
    if isinstance(content, str):
        return Message(role=role, content=content)
    if isinstance(content, (list, tuple)):
        return Message(
            role=role, content="\n".join(_text_part(position, index, part) for index, part in enumerate(content))
        )
    raise InvalidInputError(
        f"messages[{position}].content must be a str or a list of text parts, not {type(content).__name__}"
    )


def _text_part(position: int, index: int, part: object) -> str:
    if isinstance(part, Mapping) and part.get("type") == "text" and isinstance(part.get("text"), str):
        text: str = part["text"]
        return text
    kind = part.get("type") if isinstance(part, Mapping) else type(part).__name__
    raise InvalidInputError(f"messages[{position}].content[{index}] must be a text part, got {kind!r}")
