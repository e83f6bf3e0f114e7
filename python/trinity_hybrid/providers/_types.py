"""The small interface every wire format implements, and the values that cross it.

A wire format is sans-I/O: it turns an ``Endpoint`` and a ``ChatRequest`` (the one request
model, ``trinity_hybrid._request``) into an ``HttpRequest`` and turns bytes (a response body) or
server-sent events back into a ``Completion`` or ``StreamDelta`` values, or into a
``ProviderError``. Sending and receiving is the caller's job.

Answers speak OpenAI's vocabulary whatever the provider: ``finish_reason`` is ``stop``,
``length``, ``tool_calls`` or ``content_filter``; tool calls carry OpenAI's ids and JSON
argument text; reasoning (Anthropic's thinking, DeepSeek's ``reasoning_content``) is carried
beside the text, never in it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from .._exceptions import ProviderError
from .._request import ChatRequest, Message, ThinkingBlock, ToolCall, parse_messages
from .._secret import Secret, mask_key

__all__ = [
    "ChatRequest",
    "Choice",
    "Completion",
    "EmbeddingRequest",
    "Embeddings",
    "Endpoint",
    "HttpRequest",
    "Message",
    "Prompt",
    "StreamDelta",
    "StreamParser",
    "ThinkingBlock",
    "ToolCall",
    "ToolCallDelta",
    "Usage",
    "WireFormat",
    "normalize_messages",
]

Prompt = str | Sequence[Mapping[str, Any]]

# The in-process local model's address (``_local``): an OpenAI-compatible API that takes text
# and the sampling parameters only, so the wire format carries nothing else to it.
EMBEDDED_BASE_URL = "http://trinity-local.invalid/v1"

# Header values shown only masked in a repr. Lower case: header names are case-insensitive.
_SECRET_HEADERS = frozenset({"authorization", "x-api-key", "x-goog-api-key", "api-key"})


def normalize_messages(prompt: object) -> tuple[Message, ...]:
    """A prompt string or OpenAI-style messages as checked ``Message`` values."""
    return parse_messages(prompt)


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


# Not frozen, though nothing changes it after it is built: a frozen dataclass's __init__ sets
# each field through object.__setattr__, and every attempt builds one.
@dataclass(slots=True)
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


# Not frozen, though nothing changes it after it is built: a frozen dataclass's __init__ sets
# each field through object.__setattr__, which cost every answer's reading microseconds.
@dataclass(slots=True)
class Usage:
    """Tokens of one call. ``prompt_tokens`` counts the whole prompt (cached parts included);
    ``completion_tokens`` counts everything generated (reasoning or thinking included).
    ``cached_tokens`` (prompt tokens read from the provider's cache), ``reasoning_tokens`` (of
    the completion), ``cache_write_tokens`` (prompt tokens written to the cache at a
    breakpoint: Anthropic's ``cache_creation_input_tokens``) and ``cache_write_1h_tokens`` (of
    those, the ones written for an hour rather than five minutes, which cost more) are set where
    the provider reports them."""

    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int | None = None
    reasoning_tokens: int | None = None
    cache_write_tokens: int | None = None
    cache_write_1h_tokens: int | None = None

    def cache_writes_by_ttl(self) -> tuple[int, int]:
        """(tokens written for 5 minutes, for an hour): the hour's count held to the writes'."""
        written = self.cache_write_tokens or 0
        written_1h = min(written, self.cache_write_1h_tokens or 0)
        return written - written_1h, written_1h


# Not frozen, though nothing changes it after it is built: a frozen dataclass's __init__ sets
# each field through object.__setattr__, which cost every answer's reading microseconds.
@dataclass(slots=True)
class Choice:
    """One answer of a completion (several with ``n > 1``)."""

    text: str
    finish_reason: str | None
    tool_calls: tuple[ToolCall, ...] = ()
    reasoning: str | None = None
    # OpenAI's ``choices[].logprobs`` object, where the provider sent one.
    logprobs: Mapping[str, Any] | None = None
    refusal: str | None = None
    # Anthropic's thinking blocks with their signatures (``reasoning`` is their text), to give
    # back with the conversation's next turn.
    thinking_blocks: tuple[ThinkingBlock, ...] = ()


# Not frozen, though nothing changes it after it is built: a frozen dataclass's __init__ sets
# each field through object.__setattr__, which cost every answer's reading microseconds.
@dataclass(slots=True)
class Completion:
    """A whole answer: its choices (one unless ``n > 1``), the model that gave it, usage."""

    choices: tuple[Choice, ...]
    model: str
    usage: Usage | None

    @classmethod
    def single(
        cls,
        text: str,
        model: str,
        usage: Usage | None,
        finish_reason: str | None,
        tool_calls: tuple[ToolCall, ...] = (),
        reasoning: str | None = None,
        logprobs: Mapping[str, Any] | None = None,
        refusal: str | None = None,
    ) -> Completion:
        return cls((Choice(text, finish_reason, tool_calls, reasoning, logprobs, refusal),), model, usage)

    @property
    def text(self) -> str:
        return self.choices[0].text

    @property
    def finish_reason(self) -> str | None:
        return self.choices[0].finish_reason

    @property
    def tool_calls(self) -> tuple[ToolCall, ...]:
        return self.choices[0].tool_calls


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    """A piece of a streamed tool call, as OpenAI streams them: the first piece of call
    ``index`` has its ``id`` and ``name``, later ones only ``arguments`` fragments."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


@dataclass(frozen=True, slots=True)
class StreamDelta:
    """One step of a streamed answer: new ``text`` (or ``reasoning``, or tool-call pieces) of
    choice ``index``, the call's total ``usage`` (reported once, near the end), the
    ``finish_reason``, and ``done`` once the answer is complete."""

    text: str = ""
    usage: Usage | None = None
    finish_reason: str | None = None
    done: bool = False
    tool_calls: tuple[ToolCallDelta, ...] = ()
    reasoning: str = ""
    index: int = 0
    logprobs: Mapping[str, Any] | None = None
    # A thinking block, whole, once the stream has closed it (its text came as ``reasoning``).
    thinking_blocks: tuple[ThinkingBlock, ...] = ()

    @property
    def started(self) -> bool:
        """Whether this delta is part of the answer itself (the first token of a stream)."""
        return bool(self.text or self.tool_calls or self.reasoning or self.thinking_blocks)


@dataclass(frozen=True, slots=True)
class EmbeddingRequest:
    """Texts to embed; ``dimensions`` where the model can shorten its vectors. Build it with
    ``embedding_request`` (``_embedding_request``), which checks it."""

    texts: tuple[str, ...]
    dimensions: int | None = None
    # search_document / search_query and the like, for providers that ask (Cohere, Gemini).
    input_type: str | None = None
    # The planner's attempts read this of every request: an embeddings call is never streamed.
    stream: ClassVar[bool] = False

    @property
    def text(self) -> str:
        """What the router judges language and size on."""
        return "\n".join(self.texts)


@dataclass(frozen=True, slots=True)
class Embeddings:
    vectors: tuple[tuple[float, ...], ...]
    model: str
    prompt_tokens: int | None


class StreamParser(Protocol):
    """Turns one stream's server-sent events into deltas. It keeps state across events (usage
    arrives in pieces, tool calls are numbered), so each stream gets a fresh parser."""

    def feed(self, event: str, data: str) -> list[StreamDelta]:
        """Takes one event (its name, ``"message"`` when the server sent none, and its data) and
        returns the deltas it carries. Raises a ``ProviderError`` for an error inside the stream
        and a ``TransientError`` for an event it cannot read."""
        ...


class WireFormat(Protocol):
    """One provider API's request and response format."""

    def unsupported(self, endpoint: Endpoint, request: ChatRequest) -> str | None:
        """Why this provider cannot take ``request`` as asked (a parameter it lacks, with no
        documented rule to drop it), or None. The planner skips the provider for it rather
        than send a request whose meaning would change."""
        ...

    def build_request(self, endpoint: Endpoint, request: ChatRequest) -> HttpRequest: ...

    def parse_response(self, endpoint: Endpoint, request: ChatRequest, body: bytes) -> Completion:
        """Reads the body of a 2xx answer; a garbled body raises ``TransientError``."""
        ...

    def new_stream_parser(self, endpoint: Endpoint, request: ChatRequest) -> StreamParser: ...

    def classify_error(
        self, endpoint: Endpoint, status_code: int, headers: Mapping[str, str], body: bytes
    ) -> ProviderError:
        """The error a non-2xx answer stands for (returned, not raised)."""
        ...


class EmbeddingFormat(Protocol):
    """A provider API's embeddings call (OpenAI-compatible, Gemini, Cohere)."""

    def build_embeddings(self, endpoint: Endpoint, request: EmbeddingRequest) -> HttpRequest: ...

    def parse_embeddings(self, endpoint: Endpoint, body: bytes) -> Embeddings: ...
