"""Anthropic's answer shapes for ``POST /v1/messages``: the Message, the stream's events, errors.

Field for field what the ``anthropic`` SDK's types declare, so its clients (and its
``messages.stream`` accumulator) read them as Anthropic's own. The request side is
``_anthropic_request``; routing, fallback and I/O are the same as for chat completions
(``_app.Gateway._answer``). Sans-I/O: values in, bytes out.

- A Message: ``content`` blocks in the order the model produced them (thinking with its
  signature, or redacted, then text, then
  ``tool_use`` with ``input`` as a JSON object), ``stop_reason`` from the finish reason
  (stop → end_turn, length → max_tokens, tool_calls → tool_use, content_filter → refusal), and
  ``usage`` with ``input_tokens`` counting neither cache reads nor cache writes, each given
  apart (``cache_read_input_tokens``, ``cache_creation_input_tokens``), as Anthropic counts them.
- A stream: ``message_start``, then per block ``content_block_start``, its deltas
  (``text_delta``, ``thinking_delta``, ``input_json_delta`` carrying the tool call's argument
  fragments as they came) and ``content_block_stop``; a new kind of piece closes the open block.
  Anthropic's thinking blocks keep their signatures: a thinking block's ``signature_delta``
  comes last, before its stop, and a ``redacted_thinking`` block is started whole; another
  provider's reasoning is a thinking block with an empty signature.
  Then ``message_delta`` (stop_reason, usage) and ``message_stop``. Input tokens are known only
  at the end: ``message_start`` says 0 and ``message_delta`` carries the count.
- An error: ``{"type": "error", "error": {"type", "message"}}``, the type by status; mid-stream,
  an ``error`` event.
- ``count_tokens``: the router's own estimate; the model list in Anthropic's page shape.
"""

from __future__ import annotations

import json
import random
from typing import Any

from .._request import ChatRequest, ThinkingBlock
from .._results import Response, StreamChunk
from .._text import estimate_tokens
from ..providers import Usage
from ._errors import ApiError

__all__ = [
    "COUNT_TOKENS_PATH",
    "MESSAGES_PATH",
    "MessageStream",
    "anthropic_error_body",
    "message_document",
    "message_id",
    "model_list",
    "token_count",
]

MESSAGES_PATH = "/v1/messages"
COUNT_TOKENS_PATH = "/v1/messages/count_tokens"

STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use", "content_filter": "refusal"}
# Anthropic's error types by HTTP status; any other 5xx is an api_error.
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "request_too_large",
    429: "rate_limit_error",
    503: "overloaded_error",
    529: "overloaded_error",
}


def token_count(request: ChatRequest) -> bytes:
    """``count_tokens``'s answer: the router's own estimate of the prompt (messages, and the
    tools as the JSON they are sent as), the figure it routes by; a provider's tokenizer may
    count a little differently."""
    tools = [{"name": tool.name, "description": tool.description, "parameters": tool.parameters}
             for tool in request.tools]  # fmt: skip
    text = request.text + ("\n" + json.dumps(tools, ensure_ascii=False) if tools else "")
    return json.dumps({"input_tokens": estimate_tokens(text)}).encode()


def model_list(models: dict[str, str | None]) -> bytes:
    """``GET /v1/models`` as Anthropic's clients read it (they send ``anthropic-version``)."""
    names = [name for name, provider in models.items() if provider is None or "/" in name]
    data = [{"type": "model", "id": name, "display_name": name, "created_at": "1970-01-01T00:00:00Z"}
            for name in names]  # fmt: skip
    page = {"data": data, "has_more": False, "first_id": names[0] if names else None,
            "last_id": names[-1] if names else None}  # fmt: skip
    return json.dumps(page).encode()


def message_id() -> str:
    # An identifier, not a secret (as completion_id).
    return f"msg_{random.getrandbits(96):024x}"


def anthropic_error_body(error: ApiError) -> bytes:
    kind = ERROR_TYPES.get(error.status, "api_error" if error.status >= 500 else "invalid_request_error")
    return json.dumps({"type": "error", "error": {"type": kind, "message": error.message}}, ensure_ascii=False).encode()


def message_document(model: str, response: Response) -> bytes:
    """The Message for a whole answer."""
    content: list[dict[str, Any]] = []
    if response.thinking_blocks:  # Anthropic's own, signed: the client gives them back as they are
        content.extend(block.to_json() for block in response.thinking_blocks)
    elif response.reasoning:  # another provider's reasoning, which no signature seals
        content.append({"type": "thinking", "thinking": response.reasoning, "signature": ""})
    if response.text or not response.tool_calls:
        content.append({"type": "text", "text": response.text})
    content.extend(
        {"type": "tool_use", "id": call.id, "name": call.name, "input": tool_input(call.arguments)}
        for call in response.tool_calls
    )
    document = {
        "id": message_id(),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason(response.finish_reason, bool(response.tool_calls)),
        "stop_sequence": None,
        "usage": usage_json(response.usage),
    }
    return json.dumps(document, ensure_ascii=False).encode()


def stop_reason(finish_reason: str | None, called_tools: bool) -> str:
    if finish_reason is None or (called_tools and finish_reason == "stop"):
        return "tool_use" if called_tools else "end_turn"
    return STOP_REASONS.get(finish_reason, "end_turn")


def usage_json(usage: Usage | None) -> dict[str, Any]:
    if usage is None:
        return {"input_tokens": 0, "output_tokens": 0}
    cached, written = usage.cached_tokens or 0, usage.cache_write_tokens or 0
    document: dict[str, Any] = {
        "input_tokens": max(0, usage.prompt_tokens - cached - written),
        "output_tokens": usage.completion_tokens,
    }
    if usage.cache_write_tokens is not None:
        document["cache_creation_input_tokens"] = usage.cache_write_tokens
    if usage.cache_write_1h_tokens is not None:
        written_5m, written_1h = usage.cache_writes_by_ttl()
        document["cache_creation"] = {"ephemeral_5m_input_tokens": written_5m, "ephemeral_1h_input_tokens": written_1h}
    if usage.cached_tokens is not None:
        document["cache_read_input_tokens"] = usage.cached_tokens
    return document


def tool_input(arguments: str) -> dict[str, Any]:
    """A tool call's JSON argument text as the object Anthropic's ``input`` is; a model's text
    that is no JSON object (rare: a truncated answer) is kept whole under ``_arguments``."""
    if not arguments.strip():
        return {}
    try:
        value = json.loads(arguments)
    except (ValueError, RecursionError):
        return {"_arguments": arguments}
    return value if isinstance(value, dict) else {"_arguments": arguments}


def _event(name: str, data: dict[str, Any]) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + json.dumps(data, ensure_ascii=False).encode() + b"\n\n"


class MessageStream:
    """One stream's events: ``opening`` once, ``chunk`` per chunk, then ``closing`` (with the
    last, ``done`` chunk) or ``error``. Only the first choice is streamed (Anthropic has no n)."""

    __slots__ = ("_blocks", "_called", "_calls", "_open", "identifier", "model")

    def __init__(self, model: str) -> None:
        self.identifier = message_id()
        self.model = model
        self._blocks = 0  # blocks started so far; the open one, if any, is the last
        self._open: str | None = None  # the open block's kind: text, thinking or tool_use
        self._calls: dict[int, int] = {}  # a tool call's index in the stream -> its block's index
        self._called = False

    def opening(self) -> bytes:
        message: dict[str, Any] = {
            "id": self.identifier,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 0, "output_tokens": 0},
        }
        return _event("message_start", {"type": "message_start", "message": message})

    def chunk(self, chunk: StreamChunk) -> bytes:
        if chunk.index != 0:
            return b""
        events: list[bytes] = []
        if chunk.reasoning:
            events += self._piece("thinking", {"type": "thinking_delta", "thinking": chunk.reasoning})
        for thinking in chunk.thinking_blocks:
            events += self._thinking_end(thinking)
        if chunk.text:
            events += self._piece("text", {"type": "text_delta", "text": chunk.text})
        for piece in chunk.tool_calls:
            block = self._calls.get(piece.index)
            if block is None or piece.id is not None:  # a new call: its own tool_use block
                identifier = piece.id or f"toolu_{self.identifier[4:]}_{piece.index}"
                events += self._start({"type": "tool_use", "id": identifier, "name": piece.name or "", "input": {}})
                block = self._calls[piece.index] = self._blocks - 1
                self._called = True
            if piece.arguments:
                events.append(self._delta(block, {"type": "input_json_delta", "partial_json": piece.arguments}))
        return b"".join(events)

    def closing(self, last: StreamChunk) -> bytes:
        delta = {"stop_reason": stop_reason(last.finish_reason, self._called), "stop_sequence": None}
        return b"".join(
            [
                *self._close(),
                _event("message_delta", {"type": "message_delta", "delta": delta, "usage": usage_json(last.usage)}),
                _event("message_stop", {"type": "message_stop"}),
            ]
        )

    def error(self, error: ApiError) -> bytes:
        return b"event: error\ndata: " + anthropic_error_body(error) + b"\n\n"

    def _piece(self, kind: str, delta: dict[str, Any]) -> list[bytes]:
        """A text or thinking piece: into the open block of its kind, else into a new one."""
        events: list[bytes] = []
        if self._open != kind:
            events += self._start({"type": "text", "text": ""} if kind == "text" else
                                  {"type": "thinking", "thinking": "", "signature": ""})  # fmt: skip
        events.append(self._delta(self._blocks - 1, delta))
        return events

    def _thinking_end(self, block: ThinkingBlock) -> list[bytes]:
        """A thinking block, whole, at its end: its signature closes the open thinking block (one
        is opened if its text was empty); a redacted block is a block of its own."""
        if block.type == "redacted_thinking":
            return self._start(block.to_json()) + self._close()
        events = [] if self._open == "thinking" else self._start({"type": "thinking", "thinking": "", "signature": ""})
        events.append(self._delta(self._blocks - 1, {"type": "signature_delta", "signature": block.signature}))
        return events + self._close()

    def _start(self, block: dict[str, Any]) -> list[bytes]:
        """Closes the open block, then starts ``block``."""
        events = self._close()
        events.append(_event("content_block_start", {"type": "content_block_start", "index": self._blocks,
                                                     "content_block": block}))  # fmt: skip
        self._blocks += 1
        self._open = block["type"]
        return events

    def _close(self) -> list[bytes]:
        if self._open is None:
            return []
        self._open = None
        return [_event("content_block_stop", {"type": "content_block_stop", "index": self._blocks - 1})]

    @staticmethod
    def _delta(index: int, delta: dict[str, Any]) -> bytes:
        return _event("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})
